import type { Command } from 'commander';

/** Registers the `repo` command group. Heavy modules are imported inside the actions only. */
export function register(_program: Command): void {
  // filled in by the issue that builds this command group
}
