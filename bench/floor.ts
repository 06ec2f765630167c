/**
 * The least work a push has to do, run as its own node process so that the push bench can put
 * it beside the push and createrepo_c (the same start-up cost as `stagepush`):
 *
 *   node dist/bench/floor.js fresh RPM_DIR OUT_DIR THREADS
 *     read and sha256 every RPM on THREADS worker threads (what createrepo_c does too), then
 *     hard-link each into a content store by digest and into a published Packages/ tree. No header
 *     parsing, no database, no XML, no compression.
 *   node dist/bench/floor.js update ENGINE_DB AREA_DIR
 *     load better-sqlite3, open the engine database and read one figure, stat every staged file
 *     (what tells a new or changed file from an unchanged one). Nothing hashed, nothing written.
 *
 * Prints one line of its own timings; the bench measures the whole process from outside.
 */
import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const CHUNK = 1024 * 1024;

function sha256Of(file: string, buf: Buffer): string {
  const fd = openSync(file, 'r');
  try {
    const h = createHash('sha256');
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) h.update(buf.subarray(0, n));
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

async function fresh(rpmDir: string, out: string, threads: number): Promise<string> {
  rmSync(out, { recursive: true, force: true });
  const files = readdirSync(rpmDir).filter((f) => f.endsWith('.rpm')).sort().map((f) => path.join(rpmDir, f));
  const t0 = performance.now();
  // Interleaved shares, one per thread, as a pool hands out work.
  const shares = Array.from({ length: threads }, (_, t) => files.filter((_f, i) => i % threads === t));
  const digests = await Promise.all(
    shares.map(
      (share) =>
        new Promise<string[]>((resolve, reject) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: share });
          w.once('message', (m: string[]) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  const digestOf = new Map<string, string>();
  shares.forEach((share, t) => share.forEach((f, i) => digestOf.set(f, digests[t]![i]!)));
  const t1 = performance.now();
  const store = path.join(out, 'content');
  const tree = path.join(out, 'published', 'Packages');
  mkdirSync(tree, { recursive: true });
  const shards = new Set<string>();
  for (const f of files) {
    const d = digestOf.get(f)!;
    const shard = path.join(store, d.slice(0, 2));
    if (!shards.has(shard)) {
      mkdirSync(shard, { recursive: true });
      shards.add(shard);
    }
    linkSync(f, path.join(shard, d));
  }
  const t2 = performance.now();
  for (const f of files) {
    const d = digestOf.get(f)!;
    linkSync(path.join(store, d.slice(0, 2), d), path.join(tree, path.basename(f)));
  }
  const t3 = performance.now();
  return `${files.length} files: sha256 on ${threads} thread(s) ${(t1 - t0).toFixed(0)} ms, store links ${(t2 - t1).toFixed(0)} ms, tree links ${(t3 - t2).toFixed(0)} ms`;
}

function update(engineDb: string, area: string): string {
  const t0 = performance.now();
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string, opts: { readonly: boolean }) => { prepare(sql: string): { get(): unknown }; close(): void };
  const db = new Database(engineDb, { readonly: true });
  const units = (db.prepare('SELECT count(*) AS n FROM units').get() as { n: number }).n;
  db.close();
  const t1 = performance.now();
  let files = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        statSync(p);
        files++;
      }
    }
  };
  walk(area);
  const t2 = performance.now();
  return `${units} units in the database (${(t1 - t0).toFixed(0)} ms to load sqlite and read it), ${files} staged files stat'ed in ${(t2 - t1).toFixed(0)} ms`;
}

if (!isMainThread) {
  const buf = Buffer.allocUnsafe(CHUNK);
  parentPort!.postMessage((workerData as string[]).map((f) => sha256Of(f, buf)));
} else {
  const [mode, a, b, threads] = process.argv.slice(2);
  if (mode === 'fresh' && a && b) console.log(await fresh(a, b, Math.max(1, Number(threads) || 2)));
  else if (mode === 'update' && a && b) console.log(update(a, b));
  else {
    console.error('usage: floor.js fresh RPM_DIR OUT_DIR THREADS | floor.js update ENGINE_DB AREA_DIR');
    process.exit(2);
  }
}
