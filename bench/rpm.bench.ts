/**
 * RPM header reader: header-read throughput on generated packages (small and large: the cost must
 * not depend on the payload size), one-pass md5+sha256 next to openssl over the same files, the
 * in-memory parse of a 1,000-file header, `rpm -qp` for reference, and peak RSS of a reader process.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildRpm, parseRpm, readRpmFile } from '../src/formats/rpm/index.js';
import { fmt, generateRpms, runMeasured, timeMedian, type BenchContext } from './lib.js';

/** Run fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

function chunks<T>(a: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('RPM header reader (src/formats/rpm)');
  const nSmall = Math.max(10, Math.round(2000 * ctx.scale));
  const nLarge = Math.max(4, Math.round(64 * ctx.scale));
  let t0 = Date.now();
  const small = generateRpms(ctx.cacheDir, { count: nSmall, size: 16 * 1024, prefix: 'rpmbench-small' });
  const large = generateRpms(ctx.cacheDir, { count: nLarge, size: 8 * 1024 * 1024, prefix: 'rpmbench-large' });
  ctx.row('generate inputs (cached after the first run)', fmt.ms(Date.now() - t0), `${nSmall} × 16 KiB, ${nLarge} × 8 MiB`);

  // Warm the page cache once, then median of 3.
  await pool(small.files, 16, (f) => readRpmFile(f));
  let r = await timeMedian(() => pool(small.files, 16, (f) => readRpmFile(f)));
  ctx.row(`readRpmFile headers, ${nSmall} × 16 KiB`, fmt.ms(r.median), fmt.rate(nSmall, r.median, 'pkgs'));
  r = await timeMedian(() => pool(large.files, 16, (f) => readRpmFile(f)));
  ctx.row(`readRpmFile headers, ${nLarge} × 8 MiB`, fmt.ms(r.median), `${fmt.rate(nLarge, r.median, 'pkgs')} (payload size must not matter)`);

  await pool(large.files, 2, (f) => readRpmFile(f, { checksums: ['md5', 'sha256'] }));
  const ours = await timeMedian(() => pool(large.files, 1, (f) => readRpmFile(f, { checksums: ['md5', 'sha256'] })));
  ctx.row(`headers + md5 + sha256, ${nLarge} × 8 MiB, one pass`, fmt.ms(ours.median), fmt.mbps(large.totalBytes, ours.median));
  const openssl = await timeMedian(async () => {
    for (const c of chunks(large.files, 500)) {
      for (const algo of ['-sha256', '-md5']) {
        const res = await runMeasured('openssl', ['dgst', algo, ...c]);
        if (res.status !== 0) throw new Error(`openssl failed: ${res.stderr}`);
      }
    }
  });
  ctx.row('openssl dgst -sha256 + openssl dgst -md5, same files', fmt.ms(openssl.median), `ours/openssl = ${(ours.median / openssl.median).toFixed(2)}×`);

  // In-memory parse of a large header (1,200 files in 30 dirs, 3 changelogs).
  const files = Array.from({ length: 1200 }, (_, i) => ({ path: `/usr/share/bench/d${i % 30}/file-${i}.txt`, data: Buffer.from(String(i)) }));
  const big = buildRpm({ name: 'bench-many-files', version: '1', release: '1', files });
  const iters = Math.max(20, Math.round(500 * ctx.scale));
  r = await timeMedian(() => {
    for (let i = 0; i < iters; i++) parseRpm(big);
  });
  ctx.row(`parseRpm, 1,200-file header (${(big.length / 1024).toFixed(0)} KiB), ${iters}×`, fmt.ms(r.median), fmt.rate(iters, r.median, 'headers'));

  // rpm -qp for reference (one process over all small files).
  const listFile = path.join(ctx.tmpDir, 'rpm-bench-files.txt');
  writeFileSync(listFile, small.files.join('\n'));
  const rpmq = await timeMedian(async () => {
    for (const c of chunks(small.files, 1000)) {
      const res = await runMeasured('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', '%{NAME}\\n', ...c]);
      if (res.status !== 0) throw new Error(`rpm -qp failed: ${res.stderr}`);
    }
  });
  ctx.row(`rpm -qp --qf %{NAME}, same ${nSmall} packages`, fmt.ms(rpmq.median), 'reference');

  // Peak RSS of a process that reads every small package's header.
  const mod = new URL('../src/formats/rpm/index.js', import.meta.url).href;
  const script = `import { readFileSync } from 'node:fs'; const { readRpmFile } = await import(${JSON.stringify(mod)});
    const files = readFileSync(${JSON.stringify(listFile)}, 'utf8').split('\\n'); let n = 0;
    for (const f of files) { await readRpmFile(f); n++; } console.log(n);`;
  t0 = Date.now();
  const child = await runMeasured(process.execPath, ['--input-type=module', '-e', script]);
  if (child.status !== 0) throw new Error(`reader child failed: ${child.stderr}`);
  ctx.row(`peak RSS, one process reading ${nSmall} headers`, fmt.kb(child.maxRssKb), `${fmt.ms(child.ms)} incl. start-up`);
}
