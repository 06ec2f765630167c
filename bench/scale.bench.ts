/**
 * Growth with the repository (no target in the issue; the product is for repositories of tens of
 * thousands of packages): what a small change costs in a repository of N and of 4N units, which
 * must grow with N no faster than a listing does (a cost per added item that scanned the whole
 * repository grew with N times the items), and the first sync of an N-package feed with its peak
 * RSS. N = 5,000 × STAGEPUSH_BENCH_SCALE, 12 KiB packages.
 */
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, discardDir, fmt, generateRpms, runMeasured, type BenchContext } from './lib.js';

const ADVISORIES = 250;

function advisory(i: number, names: string[]): string {
  const pk = names.map((n) => `  - {arch: noarch, epoch: 0, filename: ${n}-1.0-1.noarch.rpm, name: ${n}, version: '1.0', release: '1', src: x.src.rpm}`);
  return [
    `id: RHBA-2030:${String(i).padStart(5, '0')}`, 'type: RHBA', 'release: 0', 'status: final', 'pushcount: 1', 'reboot_suggested: false', 'from: re@example.com',
    'rights: c', 'title: t', 'description: d', 'version: 1', 'issued: 2024-01-15 10:00:00 UTC', 'updated: 2024-01-15 10:00:00 UTC', 'severity: None', 'summary: s',
    'solution: s', 'references: []', 'pkglist:', '- name: c', "  short: ''", '  packages:', ...pk, '',
  ].join('\n');
}

async function stagepush(args: string[]) {
  const r = await runMeasured(process.execPath, [BIN, ...args]);
  if (r.status !== 0) throw new Error(`stagepush ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('growth with the repository (no target): small changes to N and 4N units, a first sync');
  const n = Math.max(50, Math.round(5000 * ctx.scale));
  const t0 = Date.now();
  const rpms = generateRpms(ctx.cacheDir, { count: 4 * n, size: 12 * 1024, prefix: 'scalebench' });
  ctx.row('generate inputs (cached after the first run)', fmt.ms(Date.now() - t0), `${4 * n} × 12 KiB`);
  const config = path.join(ctx.tmpDir, 'scale-config.yaml');
  writeFileSync(config, 'allow_unsigned: true\nlog_retention_days: 0\n');
  const names = rpms.files.map((f) => path.basename(f).replace(/-1\.0-1\.noarch\.rpm$/, ''));

  const perSize: Array<{ size: number; cpu: number | null; ms: number }> = [];
  for (const size of [n, 4 * n]) {
    const dir = path.join(ctx.tmpDir, `scale-${size}`);
    const area = path.join(dir, 'rpms', 'dest1', 'RPMS');
    mkdirSync(area, { recursive: true });
    for (const f of rpms.files.slice(0, size)) linkSync(f, path.join(area, path.basename(f)));
    const data = path.join(dir, 'data');
    await stagepush(['--config', config, '--data-dir', data, 'push', '-q', '--progress', 'none', path.join(dir, 'rpms')]);
    // New advisories, each listing 20 of the repository's packages: each looks up its stored
    // version by id and its packages by name.
    const errata = path.join(dir, 'errata', 'dest1', 'ERRATA');
    mkdirSync(errata, { recursive: true });
    for (let i = 0; i < ADVISORIES; i++) writeFileSync(path.join(errata, `RHBA-2030-${i}.yaml`), advisory(i, names.slice((i * 20) % size, ((i * 20) % size) + 20)));
    const r = await stagepush(['--config', config, '--data-dir', data, 'push', '-q', '--progress', 'none', path.join(dir, 'errata')]);
    perSize.push({ size, cpu: r.cpuMs, ms: r.ms });
    ctx.row(`push of ${ADVISORIES} new advisories into ${size} packages`, fmt.ms(r.ms), r.cpuMs === null ? '' : `cpu ${fmt.ms(r.cpuMs)}`);
    discardDir(ctx, data);
  }
  const [a, b] = perSize;
  if (a?.cpu && b?.cpu) ctx.row('  growth of that push, 4× the packages', `${(b.cpu / a.cpu).toFixed(2)}×`, 'cpu; a listing of the repository grows 4×, a scan per advisory would grow far more with more advisories');

  // The first sync of an N-package createrepo_c feed (file://): time and peak RSS.
  const feed = path.join(ctx.tmpDir, 'scale-feed');
  mkdirSync(feed, { recursive: true });
  for (const f of rpms.files.slice(0, 4 * n)) linkSync(f, path.join(feed, path.basename(f)));
  const cr = await runMeasured('createrepo_c', ['--no-database', '--workers', '2', '-q', feed]);
  if (cr.status !== 0) throw new Error(`createrepo_c: ${cr.stderr}`);
  const data = path.join(ctx.tmpDir, 'scale-sync');
  await stagepush(['--config', config, '--data-dir', data, 'repo', 'create', 'mirror', '--importer', 'yum_importer', '--importer-config', `feed=file://${feed}/`]);
  const s = await stagepush(['--config', config, '--data-dir', data, '-q', 'repo', 'sync', 'mirror']);
  ctx.row(`first sync of a ${4 * n}-package createrepo_c feed (file://)`, fmt.ms(s.ms), `${s.cpuMs === null ? '' : `cpu ${fmt.ms(s.cpuMs)}, `}peak RSS ${fmt.kb(s.maxRssKb)}`);
  discardDir(ctx, data);
}
