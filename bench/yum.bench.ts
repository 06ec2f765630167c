/**
 * Yum publish (src/plugins/yum): stagepush's full yum publish against
 * `createrepo_c --workers 2 --no-database` on the same generated RPMs (5,000 of 12 KB and 5,000 of
 * 256 KiB; warm, median of 3), the republish after adding 10 RPMs against `createrepo_c --update`,
 * and the peak RSS of a publish process at 1,000, 5,000 and 20,000 packages.
 *
 * Seeding is not timed: the RPMs are uploaded in-process through the public engine API
 * (openEngine + uploadMany, 2,000 files per transaction). Publishes are timed as CLI processes
 * (`repo publish --force`, start-up included), as an operator runs them. "Warm" means the
 * distributor's block cache is filled by an earlier publish (what a republish of a repository
 * always finds); the first publish of each set (cold: every package's XML computed and
 * compressed) is printed too. The peak RSS figures are of cold publishes (block cache removed),
 * the worst case for memory. Load averages are printed: the ratios against createrepo_c measured
 * in the same run are what count on a shared machine.
 */
import { linkSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEngine } from '../src/engine/index.js';
import { BIN, discardDir, fmt, generateRpms, runMeasured, warmFiles, type BenchContext, type MeasuredRun } from './lib.js';

async function must(p: Promise<MeasuredRun>, what: string): Promise<MeasuredRun> {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r;
}

function stagepush(dataDir: string, args: string[]): Promise<MeasuredRun> {
  return must(runMeasured(process.execPath, [BIN, '--data-dir', dataDir, ...args], { env: { STAGEPUSH_CONFIG: path.join(dataDir, 'none.yaml') } }), `stagepush ${args.slice(0, 3).join(' ')}`);
}

function createrepo(args: string[]): Promise<MeasuredRun> {
  return must(runMeasured('createrepo_c', ['--workers', '2', '--no-database', '--quiet', ...args]), 'createrepo_c');
}

const REPO = 'bench';
const DIST = 'yum';

/** Upload in-process (not timed): one engine transaction per 2,000 files. */
async function upload(dataDir: string, files: string[]): Promise<void> {
  const eng = await openEngine({ dataDir, configDir: dataDir });
  try {
    for (let i = 0; i < files.length; i += 2000) {
      await eng.uploadMany(
        REPO,
        files.slice(i, i + 2000).map((filePath) => ({ filePath })),
      );
    }
  } finally {
    eng.close();
  }
}

async function newRepo(ctx: BenchContext, label: string): Promise<string> {
  const dataDir = path.join(ctx.tmpDir, `engine-${label}`);
  rmSync(dataDir, { recursive: true, force: true });
  const eng = await openEngine({ dataDir, configDir: dataDir });
  try {
    await eng.createRepo({ id: REPO, importer: { typeId: 'yum_importer' }, distributors: [{ id: DIST, typeId: 'yum_distributor' }] });
  } finally {
    eng.close();
  }
  return dataDir;
}

/** Remove the distributor's block cache: the next publish computes every package's XML. */
function dropBlockCache(dataDir: string): void {
  const dir = path.join(dataDir, 'working', REPO, 'distributor', DIST);
  for (const f of ['repodata-blocks.db', 'repodata-blocks.db-wal', 'repodata-blocks.db-shm']) rmSync(path.join(dir, f), { force: true });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cpu = (r: MeasuredRun): string => (r.cpuMs === null ? '' : `  cpu ${fmt.ms(r.cpuMs)}`);
const load = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function fullAndUpdate(ctx: BenchContext, label: string, count: number, size: number, target: number): Promise<void> {
  const sizeLabel = size % 1024 === 0 ? `${size / 1024} KiB` : `${Math.round(size / 1000)} KB`;
  const set = generateRpms(ctx.cacheDir, { count, size, prefix: `yumbench-${label}` });
  const extra = generateRpms(ctx.cacheDir, { count: 10, size, prefix: `yumbench-${label}-extra` });
  const dataDir = await newRepo(ctx, label);
  await upload(dataDir, set.files);
  const cold = await stagepush(dataDir, ['repo', 'publish', REPO, '--force']);
  const ours: MeasuredRun[] = [];
  for (let i = 0; i < 3; i++) ours.push(await stagepush(dataDir, ['repo', 'publish', REPO, '--force']));

  const crDir = path.join(ctx.tmpDir, `cr-${label}`);
  discardDir(ctx, crDir);
  // Hard links (as the staging area of a push would be): no new inodes to delete afterwards.
  mkdirSync(crDir, { recursive: true });
  for (const f of readdirSync(set.dir)) if (f.endsWith('.rpm')) linkSync(path.join(set.dir, f), path.join(crDir, f));
  await createrepo([crDir]); // warm
  const cr: MeasuredRun[] = [];
  for (let i = 0; i < 3; i++) {
    rmSync(path.join(crDir, 'repodata'), { recursive: true, force: true });
    warmFiles(set.files.map((f) => path.join(crDir, path.basename(f))));
    cr.push(await createrepo([crDir]));
  }
  const o = median(ours.map((r) => r.ms));
  const c = median(cr.map((r) => r.ms));
  const oc = ours.find((r) => r.ms === o)!;
  const cc = cr.find((r) => r.ms === c)!;
  ctx.row(`full publish, ${count} × ${sizeLabel} (warm)`, fmt.ms(o), `createrepo_c ${fmt.ms(c)}  ratio ${(o / c).toFixed(2)}× (target ≤ ${target}×)${cpu(oc)} vs${cpu(cc)}`);
  ctx.row(`  first publish of the set (cold block cache)`, fmt.ms(cold.ms), `ratio ${(cold.ms / c).toFixed(2)}×${cpu(cold)}`);

  await upload(dataDir, extra.files);
  const oursUpd = await stagepush(dataDir, ['repo', 'publish', REPO]);
  for (const f of extra.files) linkSync(f, path.join(crDir, path.basename(f)));
  warmFiles([...set.files, ...extra.files].map((f) => path.join(crDir, path.basename(f))));
  const crUpd = await createrepo(['--update', crDir]);
  ctx.row(`republish after adding 10 RPMs (${label})`, fmt.ms(oursUpd.ms), `createrepo_c --update ${fmt.ms(crUpd.ms)}  ratio ${(oursUpd.ms / crUpd.ms).toFixed(2)}×${cpu(oursUpd)} vs${cpu(crUpd)}`);
  discardDir(ctx, crDir);
  discardDir(ctx, dataDir);
}

/** Peak RSS of cold publishes of one repository grown to each count in turn. */
async function peakRss(ctx: BenchContext, counts: number[]): Promise<Array<number | null>> {
  const set = generateRpms(ctx.cacheDir, { count: Math.max(...counts), size: 4096, prefix: 'yumbench-rss' });
  const dataDir = await newRepo(ctx, 'rss');
  const out: Array<number | null> = [];
  let have = 0;
  for (const n of counts) {
    await upload(dataDir, set.files.slice(have, n));
    have = n;
    dropBlockCache(dataDir);
    const r = await stagepush(dataDir, ['repo', 'publish', REPO, '--force']);
    const w = await stagepush(dataDir, ['repo', 'publish', REPO, '--force']);
    ctx.row(`peak RSS of a publish, ${n} packages`, fmt.kb(r.maxRssKb), `cold ${fmt.ms(r.ms)}; warm ${fmt.kb(w.maxRssKb)} ${fmt.ms(w.ms)}`);
    out.push(r.maxRssKb);
  }
  discardDir(ctx, dataDir);
  return out;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('Yum publish (src/plugins/yum) vs createrepo_c --workers 2 --no-database');
  ctx.row('load average (1, 5, 15 min) at start', load(), `${os.cpus().length} CPUs`);
  const n = (x: number) => Math.max(10, Math.round(x * ctx.scale));
  await fullAndUpdate(ctx, 'small', n(5000), 12 * 1000, 1.0);
  await fullAndUpdate(ctx, 'large', n(5000), 256 * 1024, 0.5);
  const counts = [n(1000), n(5000), n(20000)];
  const rss = await peakRss(ctx, counts);
  if (rss[0] !== null && rss[2] !== null) ctx.row(`peak RSS ${counts[2]} minus ${counts[0]} packages`, fmt.kb(rss[2]! - rss[0]!), 'target < 64 MiB');
  ctx.row('load average (1, 5, 15 min) at end', load());
}
