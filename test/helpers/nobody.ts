/**
 * Running the CLI as an unprivileged user (nobody, through setpriv) for the tests of permission
 * problems: root reads and writes every file whatever its mode, so only another user sees them.
 * The tests using it skip themselves when they are not run as root (CI runs as root).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { BIN } from './cli.js';

export const NOBODY_UID = 65534;
export const NOBODY_GID = 65534;

/** Why a test running as nobody cannot run here (undefined when it can). */
export function cannotRunAsNobody(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (to run the CLI as nobody)';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'needs setpriv (util-linux)';
  // The checkout itself must be readable by nobody (not under a 0700 home).
  if (runCliAsNobody(['--version']).status !== 0) return `nobody cannot run ${BIN}`;
  return undefined;
}

/** Let nobody reach what is below `dirs` (temp dirs are made 0700). */
export function traversable(...dirs: string[]): void {
  for (const d of dirs) chmodSync(d, 0o755);
}

/** Run the CLI as nobody:nogroup, with HOME=/tmp and the given environment on top of this one. */
export function runCliAsNobody(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync('setpriv', [`--reuid=${NOBODY_UID}`, `--regid=${NOBODY_GID}`, '--clear-groups', process.execPath, BIN, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, HOME: '/tmp', ...env },
  });
}
