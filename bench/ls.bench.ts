/**
 * The staged source and `stagepush ls`: loading 10,000 FILES with staged.yaml entries (parse and
 * validation timed apart), `ls --with-checksums` of 5,000 RPMs of 256 KiB with threads=2 next to
 * `openssl dgst -sha256` + `openssl dgst -md5` over the same files (page cache warm), and
 * `--version` start-up.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, fmt, generateRpms, runMeasured, timeMedian, type BenchContext } from './lib.js';
import { loadStaged } from '../src/source/staged/index.js';
import { validateMetadata } from '../src/source/staged/metadata.js';
import { parseData } from '../src/formats/yaml/read.js';

function chunks<T>(a: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

/** A staging area with `n` FILES and their staged.yaml entries (cached). */
function filesArea(cacheDir: string, n: number): string {
  const root = path.join(cacheDir, `staged-files-${n}-v1`);
  if (existsSync(path.join(root, '.complete'))) return root;
  rmSync(root, { recursive: true, force: true });
  const dir = path.join(root, 'rhel-9-isos', 'FILES');
  mkdirSync(dir, { recursive: true });
  const lines = ['header:', '  version: "0.2"', 'payload:', '  files:'];
  for (let i = 0; i < n; i++) {
    const name = `file-${String(i).padStart(6, '0')}.bin`;
    writeFileSync(path.join(dir, name), `content ${i}\n`);
    lines.push(
      `  - relative_path: rhel-9-isos/FILES/${name}`,
      `    filename: ${name}`,
      `    version: "9.4"`,
      `    order: ${i % 1000}`,
      `    attributes:`,
      `      description: "File number ${i}"`,
    );
  }
  writeFileSync(path.join(root, 'staged.yaml'), lines.join('\n') + '\n');
  writeFileSync(path.join(root, '.complete'), '');
  return root;
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.section('Staged source and stagepush ls (src/source/staged)');

  // 1. 10,000 FILES with staged.yaml entries.
  const nFiles = Math.max(100, Math.round(10_000 * ctx.scale));
  const area = filesArea(ctx.cacheDir, nFiles);
  const text = readFileSync(path.join(area, 'staged.yaml'), 'utf8');
  let parsed: unknown;
  const parse = await timeMedian(async () => {
    parsed = (await parseData(text, false)).value;
  });
  ctx.row(`parse staged.yaml, ${nFiles} entries (${(text.length / 1024).toFixed(0)} KiB)`, fmt.ms(parse.median));
  const validate = await timeMedian(() => validateMetadata(parsed, 'staged.yaml', 'staged.yaml'));
  ctx.row(`validate ${nFiles} entries (linear; pushsource is quadratic)`, fmt.ms(validate.median));
  await loadStaged([`staged:${area}`]);
  const load = await timeMedian(async () => {
    const r = await loadStaged([`staged:${area}`]);
    if (r.problems.length || r.items.length !== nFiles) throw new Error(`unexpected load: ${r.items.length} items, ${JSON.stringify(r.problems.slice(0, 3))}`);
  });
  ctx.row(`loadStaged: ${nFiles} FILES with staged.yaml (in process)`, fmt.ms(load.median), 'target < 1 s (pushsource: 44 s)');
  const cli = await timeMedian(async () => {
    const res = await runMeasured(process.execPath, [BIN, 'ls', '--format', 'json', '-q', `staged:${area}`]);
    if (res.status !== 0) throw new Error(`ls failed: ${res.stderr}`);
  });
  ctx.row(`stagepush ls --format json, ${nFiles} FILES (whole process)`, fmt.ms(cli.median));

  // 2. ls --with-checksums of 5,000 RPMs of 256 KiB, threads=2, next to openssl.
  const nRpms = Math.max(50, Math.round(5000 * ctx.scale));
  const t0 = Date.now();
  const rpms = generateRpms(ctx.cacheDir, { count: nRpms, size: 256 * 1024, prefix: 'lsbench' });
  ctx.row('generate RPMs (cached after the first run)', fmt.ms(Date.now() - t0), `${nRpms} × 256 KiB`);
  const stagingRoot = path.join(ctx.tmpDir, 'rpm-area');
  mkdirSync(path.join(stagingRoot, 'rhel-9-appstream'), { recursive: true });
  symlinkSync(rpms.dir, path.join(stagingRoot, 'rhel-9-appstream', 'RPMS'));
  const url = `staged:${stagingRoot}?threads=2`;
  const lsRun = async () => {
    const res = await runMeasured(process.execPath, [BIN, 'ls', '--format', 'ndjson', '-q', '--with-checksums', url]);
    if (res.status !== 0) throw new Error(`ls failed: ${res.stderr.slice(0, 500)}`);
    return res;
  };
  await lsRun(); // warm the page cache
  let rss: number | null = null;
  const ours = await timeMedian(async () => {
    rss = (await lsRun()).maxRssKb;
  });
  ctx.row(`ls --with-checksums, ${nRpms} RPMs × 256 KiB, threads=2`, fmt.ms(ours.median), `${fmt.mbps(rpms.totalBytes, ours.median)}, peak RSS ${fmt.kb(rss)}`);
  const openssl = await timeMedian(async () => {
    for (const c of chunks(rpms.files, 1000)) {
      for (const algo of ['-sha256', '-md5']) {
        const res = await runMeasured('openssl', ['dgst', algo, ...c]);
        if (res.status !== 0) throw new Error(`openssl failed: ${res.stderr}`);
      }
    }
  });
  ctx.row('openssl dgst -sha256 + openssl dgst -md5, same files', fmt.ms(openssl.median), `ours/openssl = ${(ours.median / openssl.median).toFixed(2)}× (target ≤ 1.5×)`);
  const noSums = await timeMedian(async () => {
    const res = await runMeasured(process.execPath, [BIN, 'ls', '--format', 'ndjson', '-q', url]);
    if (res.status !== 0) throw new Error(`ls failed: ${res.stderr.slice(0, 500)}`);
  });
  ctx.row(`ls (headers only), ${nRpms} RPMs, threads=2`, fmt.ms(noSums.median), fmt.rate(nRpms, noSums.median, 'pkgs'));

  // 3. Start-up.
  const version = await timeMedian(async () => {
    const res = await runMeasured(process.execPath, [BIN, '--version']);
    if (res.status !== 0) throw new Error('--version failed');
  }, 5);
  ctx.row('stagepush --version (start-up)', fmt.ms(version.median));
}
