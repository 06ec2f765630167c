import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'bin', 'stagepush');
/** Fixtures built once by fixtures/build-all.sh. */
export const FIXTURES_BUILD = path.join(ROOT, 'fixtures', '.build');

/** Run the CLI in a fresh process (what a script or cron would do). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd,
    input: opts.input,
    timeout: opts.timeout ?? 300_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
}

/** Run the CLI asynchronously (for concurrent runs, signals). */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A temp dir removed when the test process exits. */
export function tempDir(prefix = 'stagepush-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  });
  return dir;
}
