/**
 * Yum publish benchmark (not run in CI): stagepush's full yum publish against
 * `createrepo_c --workers 2 --no-database` on the same synthetic RPMs (5,000 of 12 KB and 5,000 of
 * 256 KiB; warm, median of 3), the republish after adding 10 RPMs against `createrepo_c --update`,
 * and the peak RSS of a publish at 1,000, 5,000 and 20,000 packages.
 *
 *   node dist/bench/yum.bench.js [--quick]      (or through `npm run bench`)
 *
 * RPMs are generated with the rpm helper's buildRpm (random payloads) into a cache directory
 * ($STAGEPUSH_BENCH_DIR, default /tmp/stagepush-bench) and reused between runs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRpm } from '../src/formats/rpm/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'stagepush');
const CACHE = process.env.STAGEPUSH_BENCH_DIR ?? path.join(os.tmpdir(), 'stagepush-bench');

export interface BenchRow {
  name: string;
  ours: number | null;
  createrepo: number | null;
  unit: 's' | 'MB';
  ratio?: number | null;
  note?: string;
}

/** N synthetic RPMs of about `size` bytes each in a cached directory. */
function rpmSet(label: string, n: number, size: number, start = 0): string {
  const dir = path.join(CACHE, `rpms-${label}-${n}-${size}-${start}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = start; i < start + n; i++) {
    const name = `bench-${label}-${String(i).padStart(6, '0')}`;
    const data = randomBytes(Math.max(1, size - 2048));
    const rpm = buildRpm({ name, version: '1.0', release: '1', summary: `bench package ${i}`, description: 'synthetic package for the yum publish benchmark', license: 'MIT', files: [{ path: `/usr/share/${name}/data.bin`, data }, { path: `/usr/bin/${name}`, data: Buffer.from('#!/bin/sh\n'), mode: 0o100755 }] });
    writeFileSync(path.join(dir, `${name}-1.0-1.noarch.rpm`), rpm);
  }
  writeFileSync(path.join(dir, '.complete'), '');
  return dir;
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { secs: number; rssMb: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} … exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const lines = r.stderr.trim().split('\n');
  const rssKb = Number(lines[lines.length - 1]);
  return { secs, rssMb: rssKb / 1024, stdout: r.stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function stagepush(dataDir: string, args: string[]): { secs: number; rssMb: number; stdout: string } {
  return sh(process.execPath, [BIN, '--data-dir', dataDir, ...args], { STAGEPUSH_CONFIG: path.join(dataDir, 'none.yaml') });
}

/** Upload a directory of RPMs in batches (not timed). */
function upload(dataDir: string, repo: string, dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.rpm')).map((f) => path.join(dir, f));
  for (let i = 0; i < files.length; i += 500) stagepush(dataDir, ['content', 'upload', '--repo', repo, ...files.slice(i, i + 500)]);
}

function newEngine(label: string): string {
  const dataDir = path.join(CACHE, `engine-${label}-${process.pid}`);
  rmSync(dataDir, { recursive: true, force: true });
  stagepush(dataDir, ['repo', 'create', 'bench', '--importer', 'yum_importer']);
  stagepush(dataDir, ['repo', 'distributor', 'add', 'bench', 'yum_distributor', '--id', 'yum']);
  return dataDir;
}

function fullPublish(label: string, n: number, size: number, runs: number): BenchRow[] {
  const src = rpmSet(label, n, size);
  const dataDir = newEngine(label);
  upload(dataDir, 'bench', src);
  stagepush(dataDir, ['repo', 'publish', 'bench', '--force']); // warm
  const ours: number[] = [];
  for (let i = 0; i < runs; i++) ours.push(stagepush(dataDir, ['repo', 'publish', 'bench', '--force']).secs);
  const crDir = path.join(CACHE, `cr-${label}-${process.pid}`);
  rmSync(crDir, { recursive: true, force: true });
  cpSync(src, crDir, { recursive: true });
  sh('createrepo_c', ['--workers', '2', '--no-database', '--quiet', crDir]); // warm
  const cr: number[] = [];
  for (let i = 0; i < runs; i++) {
    rmSync(path.join(crDir, 'repodata'), { recursive: true, force: true });
    cr.push(sh('createrepo_c', ['--workers', '2', '--no-database', '--quiet', crDir]).secs);
  }
  // Republish after adding 10 RPMs.
  const extra = rpmSet(`${label}-extra`, 10, size, n);
  upload(dataDir, 'bench', extra);
  const oursUpd = stagepush(dataDir, ['repo', 'publish', 'bench']).secs;
  for (const f of readdirSync(extra).filter((x) => x.endsWith('.rpm'))) cpSync(path.join(extra, f), path.join(crDir, f));
  const crUpd = sh('createrepo_c', ['--workers', '2', '--no-database', '--quiet', '--update', crDir]).secs;
  rmSync(crDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  const o = median(ours);
  const c = median(cr);
  return [
    { name: `full publish, ${n} RPMs of ${size >= 1024 * 1024 ? `${size / 1048576} MiB` : `${Math.round(size / 1024)} KiB`}`, ours: o, createrepo: c, unit: 's', ratio: o / c },
    { name: `republish after adding 10 RPMs (${label})`, ours: oursUpd, createrepo: crUpd, unit: 's', ratio: oursUpd / crUpd, note: 'createrepo_c --update' },
  ];
}

function peakRss(n: number): BenchRow {
  const src = rpmSet('rss', n, 4096);
  const dataDir = newEngine(`rss-${n}`);
  upload(dataDir, 'bench', src);
  const r = stagepush(dataDir, ['repo', 'publish', 'bench', '--force']);
  rmSync(dataDir, { recursive: true, force: true });
  return { name: `peak RSS of a publish, ${n} packages`, ours: r.rssMb, createrepo: null, unit: 'MB' };
}

export async function run(opts: { quick?: boolean } = {}): Promise<BenchRow[]> {
  mkdirSync(CACHE, { recursive: true });
  const runs = 3;
  const scale = opts.quick ? 10 : 1;
  const rows: BenchRow[] = [];
  rows.push(...fullPublish('small', 5000 / scale, 12 * 1024, runs));
  rows.push(...fullPublish('large', 5000 / scale, 256 * 1024, runs));
  const rss = [1000, 5000, 20000].map((n) => peakRss(n / scale));
  rows.push(...rss);
  rows.push({ name: `peak RSS growth ${20000 / scale} minus ${1000 / scale} packages (target < 64 MB)`, ours: rss[2]!.ours! - rss[0]!.ours!, createrepo: null, unit: 'MB' });
  return rows;
}

export function format(rows: BenchRow[]): string {
  const w = Math.max(...rows.map((r) => r.name.length));
  const f = (v: number | null | undefined, unit: string) => (v === null || v === undefined ? '-' : `${v.toFixed(unit === 's' ? 2 : 1)} ${unit}`);
  const lines = [`${'yum'.padEnd(w)}  ${'stagepush'.padStart(12)}  ${'createrepo_c'.padStart(12)}  ratio`];
  for (const r of rows) lines.push(`${r.name.padEnd(w)}  ${f(r.ours, r.unit).padStart(12)}  ${f(r.createrepo, r.unit).padStart(12)}  ${r.ratio ? r.ratio.toFixed(2) + '×' : ''}${r.note ? `  (${r.note})` : ''}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  run({ quick: process.argv.includes('--quick') }).then(
    (rows) => console.log(format(rows)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
