/**
 * Yum publish (src/plugins/yum): stagepush's full yum publish against
 * `createrepo_c --workers 2 --no-database` on the same generated RPMs (5,000 of 12 KB and 5,000 of
 * 256 KiB; warm, median of 3), the republish after adding 10 RPMs against `createrepo_c --update`,
 * and the peak RSS of a publish process at 1,000, 5,000 and 20,000 packages.
 * Uploads (not timed) go through the CLI in batches; publishes are `repo publish --force`.
 */
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BIN, fmt, generateRpms, runMeasured, type BenchContext, type MeasuredRun } from './lib.js';

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

async function upload(dataDir: string, files: string[]): Promise<void> {
  for (let i = 0; i < files.length; i += 500) await stagepush(dataDir, ['content', 'upload', '--repo', 'bench', ...files.slice(i, i + 500)]);
}

async function newRepo(ctx: BenchContext, label: string): Promise<string> {
  const dataDir = path.join(ctx.tmpDir, `engine-${label}`);
  rmSync(dataDir, { recursive: true, force: true });
  await stagepush(dataDir, ['repo', 'create', 'bench', '--importer', 'yum_importer']);
  await stagepush(dataDir, ['repo', 'distributor', 'add', 'bench', 'yum_distributor', '--id', 'yum']);
  return dataDir;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function fullAndUpdate(ctx: BenchContext, label: string, count: number, size: number, target: number): Promise<void> {
  const set = generateRpms(ctx.cacheDir, { count, size, prefix: `yumbench-${label}` });
  const extra = generateRpms(ctx.cacheDir, { count: 10, size, prefix: `yumbench-${label}-extra` });
  const dataDir = await newRepo(ctx, label);
  await upload(dataDir, set.files);
  await stagepush(dataDir, ['repo', 'publish', 'bench', '--force']); // warm
  const ours: number[] = [];
  for (let i = 0; i < 3; i++) ours.push((await stagepush(dataDir, ['repo', 'publish', 'bench', '--force'])).ms);

  const crDir = path.join(ctx.tmpDir, `cr-${label}`);
  rmSync(crDir, { recursive: true, force: true });
  cpSync(set.dir, crDir, { recursive: true });
  await createrepo([crDir]); // warm
  const cr: number[] = [];
  for (let i = 0; i < 3; i++) {
    rmSync(path.join(crDir, 'repodata'), { recursive: true, force: true });
    cr.push((await createrepo([crDir])).ms);
  }
  const o = median(ours);
  const c = median(cr);
  ctx.row(`full publish, ${count} × ${size % 1024 === 0 ? `${size / 1024} KiB` : `${Math.round(size / 1000)} KB`}`, fmt.ms(o), `createrepo_c ${fmt.ms(c)}  ratio ${(o / c).toFixed(2)}× (target ≤ ${target}×)`);

  await upload(dataDir, extra.files);
  const oursUpd = (await stagepush(dataDir, ['repo', 'publish', 'bench'])).ms;
  for (const f of extra.files) cpSync(f, path.join(crDir, path.basename(f)));
  const crUpd = (await createrepo(['--update', crDir])).ms;
  ctx.row(`republish after adding 10 RPMs (${label})`, fmt.ms(oursUpd), `createrepo_c --update ${fmt.ms(crUpd)}  ratio ${(oursUpd / crUpd).toFixed(2)}×`);
  rmSync(crDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}

async function peakRss(ctx: BenchContext, count: number): Promise<number | null> {
  const set = generateRpms(ctx.cacheDir, { count, size: 4096, prefix: 'yumbench-rss' });
  const dataDir = await newRepo(ctx, `rss-${count}`);
  await upload(dataDir, set.files);
  const r = await stagepush(dataDir, ['repo', 'publish', 'bench', '--force']);
  ctx.row(`peak RSS of a publish, ${count} packages`, fmt.kb(r.maxRssKb), `${fmt.ms(r.ms)}`);
  rmSync(dataDir, { recursive: true, force: true });
  return r.maxRssKb;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('Yum publish (src/plugins/yum) vs createrepo_c --workers 2 --no-database');
  const n = (x: number) => Math.max(10, Math.round(x * ctx.scale));
  await fullAndUpdate(ctx, 'small', n(5000), 12 * 1000, 1.0);
  await fullAndUpdate(ctx, 'large', n(5000), 256 * 1024, 0.5);
  const rss: Array<number | null> = [];
  for (const c of [1000, 5000, 20000]) rss.push(await peakRss(ctx, n(c)));
  if (rss[0] !== null && rss[2] !== null) ctx.row(`peak RSS ${n(20000)} minus ${n(1000)} packages`, fmt.kb(rss[2]! - rss[0]!), 'target < 64 MiB');
}
