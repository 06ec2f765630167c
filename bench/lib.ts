/**
 * Shared helpers of the benchmarks (`npm run bench`): the context handed to every
 * `bench/*.bench.ts` module, median-of-N timing, peak RSS of a child process, and a fast generator
 * of many real RPM packages (written by src/formats/rpm/writer.ts, cached between runs).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRpm } from '../src/formats/rpm/writer.js';
import { TAG } from '../src/formats/rpm/tags.js';

/** Repository root (bench runs from dist/bench). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'stagepush');

export interface BenchContext {
  root: string;
  /** Generated inputs kept between runs ($STAGEPUSH_BENCH_CACHE or <tmp>/stagepush-bench-cache). */
  cacheDir: string;
  /** A fresh directory for this run, removed at the end. */
  tmpDir: string;
  /** Multiplier for input sizes ($STAGEPUSH_BENCH_SCALE, default 1): 0.1 for a quick look. */
  scale: number;
  /** Start a section of figures. */
  section(title: string): void;
  /** One figure: label, value, optional note (target, comparison). */
  row(label: string, value: string, note?: string): void;
}

export function createContext(): BenchContext & { cleanup(): void } {
  const cacheDir = process.env.STAGEPUSH_BENCH_CACHE ?? path.join(os.tmpdir(), 'stagepush-bench-cache');
  mkdirSync(cacheDir, { recursive: true });
  const tmpDir = path.join(os.tmpdir(), `stagepush-bench-${process.pid}`);
  mkdirSync(tmpDir, { recursive: true });
  const scale = Number(process.env.STAGEPUSH_BENCH_SCALE ?? 1) || 1;
  return {
    root: ROOT,
    cacheDir,
    tmpDir,
    scale,
    section(title) {
      console.log(`\n== ${title} ==`);
    },
    row(label, value, note) {
      console.log(`  ${label.padEnd(52)} ${value.padStart(14)}${note ? '   ' + note : ''}`);
    },
    cleanup() {
      rmSync(tmpDir, { recursive: true, force: true });
    },
  };
}

/**
 * Put a directory out of the way until the end of the run (moved under the run's temporary
 * directory, deleted with it) instead of deleting it now. Deleting thousands of inodes (a data
 * dir's Packages/ symlinks, a copied repository) just before a timed run makes ext4's inode
 * allocator (no journal) skip each recently freed inode for every new one, for 60 s to 6 minutes
 * (`recently_deleted` in perf): 0.7-2 ms per symlink instead of 0.03 ms, seconds of a publish
 * that were the previous run's clean-up, not the run being timed.
 */
let discarded = 0;
export function discardDir(ctx: BenchContext, dir: string): void {
  if (!existsSync(dir)) return;
  const trash = path.join(ctx.tmpDir, '.trash');
  mkdirSync(trash, { recursive: true });
  renameSync(dir, path.join(trash, `${discarded++}-${path.basename(dir)}`));
}

/** Median of `runs` timings of fn (ms); fn may be async. */
export async function timeMedian(fn: () => unknown, runs = 3): Promise<{ median: number; runs: number[] }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], runs: times };
}

export interface MeasuredRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak resident set size of the child in KiB (from /usr/bin/time -v), null if unavailable. */
  maxRssKb: number | null;
  /** User + system CPU time of the child in ms (from /usr/bin/time -v), null if unavailable. */
  cpuMs: number | null;
}

/**
 * Read every byte of these files (discarded), so that the timed run that follows finds them in the
 * page cache: "warm" for both sides of a comparison. Called before each timed run of either tool
 * that reads them (on a VM whose host pages out idle guest memory, files written earlier are
 * otherwise read at disk speed by whichever tool comes first).
 */
export function warmFiles(files: string[]): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      while (readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

/** Run a command, measuring wall time and peak RSS (via /usr/bin/time -v when installed). */
export function runMeasured(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<MeasuredRun> {
  const useTime = existsSync('/usr/bin/time');
  const [c, a] = useTime ? ['/usr/bin/time', ['-v', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(c, a, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (status) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let stderr = Buffer.concat(err).toString('utf8');
      let maxRssKb: number | null = null;
      let cpuMs: number | null = null;
      if (useTime) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        if (m) maxRssKb = Number(m[1]);
        const u = /User time \(seconds\): ([\d.]+)/.exec(stderr);
        const sy = /System time \(seconds\): ([\d.]+)/.exec(stderr);
        if (u && sy) cpuMs = (Number(u[1]) + Number(sy[1])) * 1000;
        const cut = stderr.lastIndexOf('\tCommand being timed:');
        if (cut >= 0) stderr = stderr.slice(0, cut);
      }
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr, ms, maxRssKb, cpuMs });
    });
  });
}

export interface GeneratedRpms {
  dir: string;
  files: string[];
  totalBytes: number;
}

/**
 * `count` real binary RPMs of about `size` bytes each (random, incompressible payload stored in a
 * gzip'd cpio archive), named `<prefix>-<i>-1.0-1.noarch.rpm`, cached under
 * cacheDir/rpms-<prefix>-<count>-<size>. Generation runs at disk speed (no rpmbuild).
 */
export function generateRpms(cacheDir: string, opts: { count: number; size: number; prefix?: string }): GeneratedRpms {
  const prefix = opts.prefix ?? 'bench';
  const dir = path.join(cacheDir, `rpms-${prefix}-${opts.count}-${opts.size}-v2`);
  const done = path.join(dir, '.complete');
  const name = (i: number) => `${prefix}-${String(i).padStart(6, '0')}`;
  const files = Array.from({ length: opts.count }, (_, i) => path.join(dir, `${name(i)}-1.0-1.noarch.rpm`));
  if (!existsSync(done)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    // Measure the lead/header/cpio overhead once (names have a fixed width, so it is the same for all).
    const make = (i: number, len: number) =>
      buildRpm({ name: name(i), version: '1.0', release: '1', files: [{ path: `/usr/share/${prefix}/${name(i)}.bin`, data: randomBytes(Math.max(0, len)) }], compressionLevel: 0 });
    const guess = Math.max(0, opts.size - 2048);
    const dataLen = Math.max(0, guess + (opts.size - make(0, guess).length));
    for (let i = 0; i < opts.count; i++) writeFileSync(path.join(tmp, path.basename(files[i])), make(i, dataLen));
    writeFileSync(path.join(tmp, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0);
  return { dir, files, totalBytes };
}

/**
 * `count` RPMs whose headers look like a distribution's (the synthetic ones above hold one file):
 * `files` small files in directories of ten and `changelogs` changelog entries of three lines.
 * Their metadata, not their payload, is what a publish spends its time on.
 * Cached under cacheDir/rpms-realistic-<count>-<files>-<changelogs>.
 */
export function generateRealisticRpms(cacheDir: string, opts: { count: number; files: number; changelogs: number }): GeneratedRpms {
  const dir = path.join(cacheDir, `rpms-realistic-${opts.count}-${opts.files}-${opts.changelogs}-v1`);
  const name = (i: number) => `real-${String(i).padStart(6, '0')}`;
  const files = Array.from({ length: opts.count }, (_, i) => path.join(dir, `${name(i)}-2.4.1-3.el9.x86_64.rpm`));
  if (!existsSync(path.join(dir, '.complete'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const data = Buffer.alloc(16, 1);
    for (let i = 0; i < opts.count; i++) {
      const n = name(i);
      const payload = Array.from({ length: opts.files }, (_, k) => ({ path: `/usr/lib/python3.9/site-packages/${n}/module${Math.floor(k / 10)}/file-${k % 10}-with-a-longer-name.py`, data }));
      const times: number[] = [];
      const authors: string[] = [];
      const texts: string[] = [];
      for (let c = 0; c < opts.changelogs; c++) {
        times.push(1700000000 - c * 86400 * 30);
        authors.push(`Release Engineer <releng@example.com> - 2.4.${opts.changelogs - c}-1`);
        texts.push(`- Rebase to upstream 2.4.${opts.changelogs - c}\n- Fix CVE-2024-${1000 + c}: a description of the fix that goes on for a while\n- Resolves: RHEL-${20000 + c}`);
      }
      const rpm = buildRpm({
        name: n,
        version: '2.4.1',
        release: '3.el9',
        arch: 'x86_64',
        summary: 'A package with a distribution-like header',
        description: 'Hundreds of files, a changelog, dependencies. '.repeat(8),
        files: payload,
        extra: [
          { tag: TAG.CHANGELOGTIME, value: { type: 'INT32', value: times } },
          { tag: TAG.CHANGELOGNAME, value: { type: 'STRING_ARRAY', value: authors } },
          { tag: TAG.CHANGELOGTEXT, value: { type: 'STRING_ARRAY', value: texts } },
        ],
        compressionLevel: 1,
      });
      writeFileSync(path.join(tmp, path.basename(files[i]!)), rpm);
    }
    writeFileSync(path.join(tmp, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0);
  return { dir, files, totalBytes };
}

export const fmt = {
  ms: (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`),
  rate: (n: number, ms: number, unit: string) => `${((n * 1000) / ms).toFixed(0)} ${unit}/s`,
  mbps: (bytes: number, ms: number) => `${(bytes / 1048576 / (ms / 1000)).toFixed(0)} MiB/s`,
  kb: (kb: number | null) => (kb === null ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`),
};
