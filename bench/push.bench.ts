/**
 * stagepush push, side by side with createrepo_c (warm, median of 3):
 *  - a fresh push of N RPMs of 256 KiB plus errata, against `createrepo_c --no-database --workers 2`
 *    plus `modifyrepo_c` of the updateinfo on the same RPMs (target ≤ 1.5×: we also store content);
 *  - the push of the same staging area with 10 new RPMs, against `createrepo_c --update`
 *    (target ≤ 0.5×);
 *  - peak RSS of the push at N and at 4N packages;
 *  - beside each, the floor: the least work the push has to do, in a node process of its own
 *    (bench/floor.ts): for the fresh push, sha256 of every RPM on the push's threads and a hard link
 *    into the content store and into the published tree; for the +10 push, starting node, opening
 *    the engine database and stat'ing every staged file. What the push spends above it is ours;
 *    a target below it cannot be met by this design in node;
 *  - (no target) a fresh push of N/2.5 RPMs with distribution-like headers (400 files, 30
 *    changelog entries each) against createrepo_c: the RPMs above hold one file each, and a
 *    real repository's cost is in its metadata.
 * N = 5,000 × STAGEPUSH_BENCH_SCALE.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, discardDir, fmt, generateRealisticRpms, generateRpms, runMeasured, warmFiles, type BenchContext } from './lib.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A staging area `<root>/bench/RPMS/*.rpm` (hard links) + `bench/ERRATA/*.yaml`. */
function makeArea(root: string, rpms: string[], errata: number): void {
  rmSync(root, { recursive: true, force: true });
  const dir = path.join(root, 'bench', 'RPMS');
  mkdirSync(dir, { recursive: true });
  for (const f of rpms) linkSync(f, path.join(dir, path.basename(f)));
  const edir = path.join(root, 'bench', 'ERRATA');
  mkdirSync(edir, { recursive: true });
  for (let i = 0; i < errata; i++) writeFileSync(path.join(edir, `BENCH-${i}.yaml`), erratum(i, rpms));
}

function nvr(f: string): { name: string } {
  const b = path.basename(f).replace(/-1\.0-1\.noarch\.rpm$/, '');
  return { name: b };
}

function erratum(i: number, rpms: string[]): string {
  const pk = rpms.slice(i * 10, i * 10 + 10).map((f) => `      - {name: ${nvr(f).name}, epoch: "0", version: "1.0", release: "1", arch: noarch, src: x.src.rpm, filename: ${path.basename(f)}}`);
  return [
    `id: BENCH-2026:${String(i).padStart(4, '0')}`,
    'type: RHBA',
    'title: bench',
    'description: bench',
    'summary: bench',
    'solution: bench',
    'severity: Low',
    'from: bench@stagepush.invalid',
    'rights: bench',
    'issued: "2026-01-01 00:00:00"',
    'updated: "2026-01-01 00:00:00"',
    'release: "0"',
    'status: final',
    'pushcount: "1"',
    'version: "1"',
    'reboot_suggested: false',
    'references: []',
    'pkglist:',
    '  - name: bench',
    '    short: bench',
    '    packages:',
    ...pk,
    '',
  ].join('\n');
}

function updateinfo(errata: number, rpms: string[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', '<updates>'];
  for (let i = 0; i < errata; i++) {
    out.push(`<update from="bench@stagepush.invalid" status="final" type="bugfix" version="1"><id>BENCH-2026:${String(i).padStart(4, '0')}</id><title>bench</title><issued date="2026-01-01 00:00:00"/><updated date="2026-01-01 00:00:00"/><rights>bench</rights><release>0</release><severity>Low</severity><summary>bench</summary><description>bench</description><solution>bench</solution><references/><pkglist><collection short="bench"><name>bench</name>`);
    for (const f of rpms.slice(i * 10, i * 10 + 10)) out.push(`<package name="${nvr(f).name}" version="1.0" release="1" epoch="0" arch="noarch" src="x.src.rpm"><filename>${path.basename(f)}</filename></package>`);
    out.push('</collection></pkglist></update>');
  }
  out.push('</updates>');
  return out.join('\n');
}

const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor.js');

async function floorRun(args: string[]) {
  const r = await runMeasured(process.execPath, [FLOOR, ...args]);
  if (r.status !== 0) throw new Error(`floor ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r;
}

async function pushRun(dataDir: string, config: string, area: string, logFile?: string) {
  const r = await runMeasured(process.execPath, [BIN, '--data-dir', dataDir, '--config', config, 'push', '-q', '--progress', 'none', ...(logFile ? ['--log-file', logFile] : []), area]);
  if (r.status !== 0) throw new Error(`push failed (${r.status}): ${r.stderr}`);
  return r;
}

/** Phase durations (ms) from a push log: start → load end, import, publish, and the rest (startup, planning, report). */
function phases(logFile: string, totalMs: number): { load: number; import: number; publish: number; other: number } | null {
  if (!existsSync(logFile)) return null;
  const at: Record<string, number> = {};
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const m = /^(\S+) (\{.*\})$/.exec(line);
    if (!m) continue;
    const e = JSON.parse(m[2]!) as { type: string; phase?: string; repo?: string };
    if (e.repo !== undefined || (e.type !== 'phase-start' && e.type !== 'phase-end')) continue;
    at[`${e.type}:${e.phase}`] ??= Date.parse(m[1]!);
  }
  const span = (p: string) => (at[`phase-end:${p}`] ?? 0) - (at[`phase-start:${p}`] ?? 0);
  const load = span('load');
  const imp = span('import');
  const publish = span('publish');
  return { load, import: imp, publish, other: Math.max(0, totalMs - load - imp - publish) };
}

const phaseNote = (p: ReturnType<typeof phases>) => (p ? `load+checksum ${fmt.ms(p.load)}, import ${fmt.ms(p.import)}, publish ${fmt.ms(p.publish)}, startup/plan/other ${fmt.ms(p.other)}` : 'n/a');

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('stagepush push (src/push) vs createrepo_c');
  const n = Math.max(20, Math.round(5000 * ctx.scale));
  const errata = Math.max(1, Math.round(n / 50));
  let t0 = Date.now();
  const base = generateRpms(ctx.cacheDir, { count: n, size: 256 * 1024, prefix: 'pushbench' });
  const extra = generateRpms(ctx.cacheDir, { count: 10, size: 256 * 1024, prefix: 'pushbench-new' });
  ctx.row('generate inputs (cached after the first run)', fmt.ms(Date.now() - t0), `${n} + 10 × 256 KiB, ${errata} errata`);

  const config = path.join(ctx.tmpDir, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\nlog_retention_days: 0\n');
  const area = path.join(ctx.tmpDir, 'area');
  makeArea(area, base.files, errata);
  const uiFile = path.join(ctx.tmpDir, 'updateinfo.xml');
  writeFileSync(uiFile, updateinfo(errata, base.files));

  // Warm-up: one push and one createrepo_c, not counted.
  await pushRun(path.join(ctx.tmpDir, 'warm'), config, area);
  discardDir(ctx, path.join(ctx.tmpDir, 'warm'));

  const fresh: number[] = [];
  const freshRss: number[] = [];
  const cr: number[] = [];
  const inc: number[] = [];
  const crUpd: number[] = [];
  const freshFloor: number[] = [];
  const incFloor: number[] = [];
  const floorNotes = { fresh: '', inc: '' };
  // CPU time (user + system, every thread) of each run, by wall time: the medians' CPU is printed
  // beside them (on 2 cores, the wall time cannot go below half of it).
  const cpuOf = new Map<string, Map<number, number>>();
  const noteCpu = (what: string, ms: number, cpuMs: number | null) => {
    if (cpuMs === null) return;
    if (!cpuOf.has(what)) cpuOf.set(what, new Map());
    cpuOf.get(what)!.set(ms, cpuMs);
  };
  const cpuNote = (what: string, ms: number) => {
    const v = cpuOf.get(what)?.get(ms);
    return v === undefined ? '' : `, cpu ${fmt.ms(v)}`;
  };
  const freshPhases: Array<ReturnType<typeof phases>> = [];
  const incPhases: Array<ReturnType<typeof phases>> = [];
  for (let i = 0; i < 3; i++) {
    const dataDir = path.join(ctx.tmpDir, `data-${i}`);
    makeArea(area, base.files, errata);
    warmFiles(base.files);
    const p = await pushRun(dataDir, config, area, path.join(ctx.tmpDir, `fresh-${i}.log`));
    fresh.push(p.ms);
    noteCpu('fresh', p.ms, p.cpuMs);
    freshPhases.push(phases(path.join(ctx.tmpDir, `fresh-${i}.log`), p.ms));
    if (p.maxRssKb) freshRss.push(p.maxRssKb);

    const repo = path.join(ctx.tmpDir, `cr-${i}`);
    rmSync(repo, { recursive: true, force: true });
    mkdirSync(repo, { recursive: true });
    for (const f of base.files) linkSync(f, path.join(repo, path.basename(f)));
    warmFiles(base.files);
    const c1 = await runMeasured('createrepo_c', ['--no-database', '--workers', '2', '-q', repo]);
    if (c1.status !== 0) throw new Error(`createrepo_c: ${c1.stderr}`);
    const c2 = await runMeasured('modifyrepo_c', ['--mdtype', 'updateinfo', uiFile, path.join(repo, 'repodata')]);
    if (c2.status !== 0) throw new Error(`modifyrepo_c: ${c2.stderr}`);
    cr.push(c1.ms + c2.ms);
    noteCpu('cr', c1.ms + c2.ms, c1.cpuMs !== null && c2.cpuMs !== null ? c1.cpuMs + c2.cpuMs : null);

    // The fresh push's floor, on the same staged files (the push's thread count).
    warmFiles(base.files);
    const floorOut = path.join(ctx.tmpDir, `floor-${i}`);
    const ff = await floorRun(['fresh', path.join(area, 'bench', 'RPMS'), floorOut, String(Math.min(4, availableParallelism()))]);
    freshFloor.push(ff.ms);
    noteCpu('freshFloor', ff.ms, ff.cpuMs);
    floorNotes.fresh = ff.stdout.trim();
    discardDir(ctx, floorOut);

    // 10 new RPMs.
    makeArea(area, [...base.files, ...extra.files], errata);
    warmFiles([...base.files, ...extra.files]);
    const q = await pushRun(dataDir, config, area, path.join(ctx.tmpDir, `inc-${i}.log`));
    inc.push(q.ms);
    noteCpu('inc', q.ms, q.cpuMs);
    incPhases.push(phases(path.join(ctx.tmpDir, `inc-${i}.log`), q.ms));
    for (const f of extra.files) linkSync(f, path.join(repo, path.basename(f)));
    warmFiles([...base.files, ...extra.files]);
    const c3 = await runMeasured('createrepo_c', ['--update', '--no-database', '--workers', '2', '-q', repo]);
    if (c3.status !== 0) throw new Error(`createrepo_c --update: ${c3.stderr}`);
    crUpd.push(c3.ms);
    noteCpu('crUpd', c3.ms, c3.cpuMs);
    const fu = await floorRun(['update', path.join(dataDir, 'engine.db'), area]);
    incFloor.push(fu.ms);
    noteCpu('incFloor', fu.ms, fu.cpuMs);
    floorNotes.inc = fu.stdout.trim();
    discardDir(ctx, dataDir);
    discardDir(ctx, repo);
  }
  const f = median(fresh);
  const c = median(cr);
  ctx.row(`fresh push, ${n} × 256 KiB + ${errata} errata`, fmt.ms(f), `ours/createrepo_c = ${(f / c).toFixed(2)}× (target ≤ 1.5×)${cpuNote('fresh', f)}`);
  ctx.row('  phases of the median fresh push', '', phaseNote(freshPhases[fresh.indexOf(f)] ?? null));
  ctx.row('createrepo_c --no-database --workers 2 + modifyrepo_c', fmt.ms(c), cpuNote('cr', c).slice(2));
  const fl = median(freshFloor);
  ctx.row('  floor: sha256 + store and tree links, in node', fmt.ms(fl), `floor/createrepo_c = ${(fl / c).toFixed(2)}×${cpuNote('freshFloor', fl)}; push/floor = ${(f / fl).toFixed(2)}× (${floorNotes.fresh})`);
  const pi = median(inc);
  const cu = median(crUpd);
  ctx.row('push of the same area + 10 new RPMs', fmt.ms(pi), `ours/createrepo_c = ${(pi / cu).toFixed(2)}× (target ≤ 0.5×)${cpuNote('inc', pi)}`);
  ctx.row('  phases of the median +10 push', '', phaseNote(incPhases[inc.indexOf(pi)] ?? null));
  ctx.row('createrepo_c --update', fmt.ms(cu), cpuNote('crUpd', cu).slice(2));
  const il = median(incFloor);
  ctx.row('  floor: node start, open the database, stat the area', fmt.ms(il), `floor/createrepo_c --update = ${(il / cu).toFixed(2)}×${cpuNote('incFloor', il)}; push/floor = ${(pi / il).toFixed(2)}× (${floorNotes.inc})`);
  if (freshRss.length) ctx.row(`peak RSS, push of ${n} RPMs`, `${(median(freshRss) / 1024).toFixed(0)} MiB`);

  // Peak RSS at 4N packages (small RPMs: the header count is what matters for memory).
  const big = generateRpms(ctx.cacheDir, { count: 4 * n, size: 12 * 1024, prefix: 'pushbench-rss' });
  const bigArea = path.join(ctx.tmpDir, 'area-big');
  makeArea(bigArea, big.files, 0);
  t0 = Date.now();
  const r = await pushRun(path.join(ctx.tmpDir, 'data-big'), config, bigArea);
  ctx.row(`peak RSS, push of ${4 * n} RPMs (12 KiB)`, r.maxRssKb ? `${(r.maxRssKb / 1024).toFixed(0)} MiB` : 'n/a', `wall ${fmt.ms(Date.now() - t0)}`);
  discardDir(ctx, path.join(ctx.tmpDir, 'data-big'));

  // Distribution-like headers: what the push and createrepo_c spend on metadata.
  const rn = Math.max(20, Math.round(n / 2.5));
  t0 = Date.now();
  const real = generateRealisticRpms(ctx.cacheDir, { count: rn, files: 400, changelogs: 30 });
  const generated = Date.now() - t0;
  const realArea = path.join(ctx.tmpDir, 'area-real');
  makeArea(realArea, real.files, 0);
  const realRuns: Array<{ ms: number; cpuMs: number | null; rssKb: number | null; phases: ReturnType<typeof phases> }> = [];
  const realCr: Array<{ ms: number; cpuMs: number | null }> = [];
  for (let i = 0; i < 3; i++) {
    const dataDir = path.join(ctx.tmpDir, `data-real-${i}`);
    warmFiles(real.files);
    const p = await pushRun(dataDir, config, realArea, path.join(ctx.tmpDir, `real-${i}.log`));
    realRuns.push({ ms: p.ms, cpuMs: p.cpuMs, rssKb: p.maxRssKb, phases: phases(path.join(ctx.tmpDir, `real-${i}.log`), p.ms) });
    discardDir(ctx, dataDir);
    const repo = path.join(ctx.tmpDir, `cr-real-${i}`);
    mkdirSync(repo, { recursive: true });
    for (const f of real.files) linkSync(f, path.join(repo, path.basename(f)));
    warmFiles(real.files);
    const c1 = await runMeasured('createrepo_c', ['--no-database', '--workers', '2', '-q', repo]);
    if (c1.status !== 0) throw new Error(`createrepo_c: ${c1.stderr}`);
    realCr.push({ ms: c1.ms, cpuMs: c1.cpuMs });
    discardDir(ctx, repo);
  }
  const rm = realRuns.find((x) => x.ms === median(realRuns.map((y) => y.ms)))!;
  const rc = realCr.find((x) => x.ms === median(realCr.map((y) => y.ms)))!;
  const cpu = (v: number | null) => (v === null ? '' : `, cpu ${fmt.ms(v)}`);
  ctx.row(`fresh push, ${rn} RPMs × 400 files, 30 changelogs`, fmt.ms(rm.ms), `ours/createrepo_c = ${(rm.ms / rc.ms).toFixed(2)}× (no target)${cpu(rm.cpuMs)}, peak RSS ${fmt.kb(rm.rssKb)} (inputs: ${fmt.ms(generated)}, cached)`);
  ctx.row('  phases of that push', '', phaseNote(rm.phases));
  ctx.row('createrepo_c --no-database --workers 2 (same RPMs)', fmt.ms(rc.ms), cpu(rc.cpuMs).slice(2));
}
