/**
 * A small tmpfs mounted for a test (a full disk, a read-only mount): root only, so the tests using
 * it skip themselves when they cannot mount (CI runs as root). Unmounted by the test, and at exit
 * in any case.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Remount read-only (or back read-write). */
  remount(mode: 'ro' | 'rw'): void;
  /** Fill it up: a file taking every free block (what a full disk looks like). */
  fill(): void;
  unmount(): void;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/** A new empty directory to mount on; unmounted (if still mounted) and removed at exit. */
function mountPoint(prefix: string): string {
  const parent = mkdtempSync(path.join(os.tmpdir(), prefix));
  const dir = path.join(parent, 'mnt');
  mkdirSync(dir);
  process.on('exit', () => {
    spawnSync('umount', [dir], { stdio: 'ignore' });
    try {
      rmSync(parent, { recursive: true, force: true });
    } catch {
      /* still mounted: left */
    }
  });
  return dir;
}

/** Why a tmpfs cannot be mounted here (undefined when it can). */
export function cannotMountTmpfs(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (to mount a tmpfs)';
  const dir = mountPoint('stagepush-tmpfs-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot mount a tmpfs: ${r.stderr || r.error?.message}`;
  run('umount', [dir]);
  return undefined;
}

/** Mount a tmpfs of `size` (mount's size=, e.g. "1m") at a new directory. */
export function mountTmpfs(size: string): Tmpfs {
  const dir = mountPoint('stagepush-tmpfs-');
  run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  return {
    dir,
    remount: (mode) => run('mount', ['-o', `remount,${mode}`, dir]),
    fill: () => {
      try {
        writeFileSync(path.join(dir, '.filler'), Buffer.alloc(64 << 20));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    },
    unmount: () => run('umount', [dir]),
  };
}
