import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BATCH_MAX_BYTES, BATCH_MAX_JOBS, cutBatches, runPool } from '../../../src/source/staged/pool.js';
import type { WorkerJob, WorkerResult } from '../../../src/source/staged/worker.js';

const slowWorker = new URL('./slow-worker.js', import.meta.url).href;

test('timeout: no job completing for `timeout` seconds stops the pool and names the unfinished jobs', async () => {
  const jobs = [{ path: 'a' }, { path: 'slow' }, { path: 'b' }, { path: 'slow' }];
  const results: string[] = [];
  const t0 = Date.now();
  const done: number[] = [];
  const out = await runPool(jobs, { threads: 2, timeoutSec: 2, workerUrl: slowWorker, onResult: (i) => (done.push(i), results.push(jobs[i]!.path)) });
  // The slow jobs never finish; the fast ones normally do (on a very loaded machine worker start-up
  // alone may exceed the timeout: then they are listed as unfinished too).
  assert.ok(out.unfinished.includes(1) && out.unfinished.includes(3), JSON.stringify(out));
  assert.deepEqual([...out.unfinished, ...done].sort(), [0, 1, 2, 3]);
  assert.ok(results.every((p) => p !== 'slow'));
  assert.equal(out.aborted, false);
  assert.ok(Date.now() - t0 < 30_000);
});

test('every job completes: results for each, nothing unfinished', async () => {
  const jobs = Array.from({ length: 50 }, (_, i) => ({ path: `p${i}` }));
  const seen = new Set<number>();
  const out = await runPool(jobs, { threads: 3, timeoutSec: 30, workerUrl: slowWorker, onResult: (i, r) => {
    assert.ok(r.ok);
    seen.add(i);
  } });
  assert.deepEqual(out.unfinished, []);
  assert.equal(seen.size, 50);
});

test('an abort signal stops the run', async () => {
  const ctrl = new AbortController();
  setTimeout(() => ctrl.abort(), 200);
  const out = await runPool([{ path: 'slow' }], { threads: 1, timeoutSec: 60, signal: ctrl.signal, workerUrl: slowWorker, onResult: () => {} });
  assert.equal(out.aborted, true);
  assert.deepEqual(out.unfinished, [0]);
});

test('batches: consecutive, every job once, bounded by count and by bytes, several per thread', () => {
  const check = (count: number, threads: number, sizes?: number[]) => {
    const b = cutBatches(count, threads, sizes);
    assert.deepEqual(b.flat(), Array.from({ length: count }, (_, i) => i));
    for (const x of b) {
      assert.ok(x.length >= 1 && x.length <= BATCH_MAX_JOBS);
      const bytes = x.reduce((n, i) => n + (sizes?.[i] ?? 0), 0);
      assert.ok(x.length === 1 || bytes <= BATCH_MAX_BYTES, `batch of ${bytes} bytes`);
    }
    return b;
  };
  assert.equal(check(5000, 4).length, Math.ceil(5000 / BATCH_MAX_JOBS));
  assert.ok(check(100, 4).length >= 4 * 4, 'few jobs: small batches, each thread gets several');
  assert.deepEqual(check(3, 4), [[0], [1], [2]]);
  // Large files: a batch holds what fits in BATCH_MAX_BYTES; a file larger than that is alone.
  const sizes = Array.from({ length: 1000 }, (_, i) => (i === 7 ? 5 * BATCH_MAX_BYTES : 4 * 1024 * 1024));
  const b = check(1000, 2, sizes);
  assert.ok(b.some((x) => x.length === 1 && x[0] === 7));
  assert.ok(b.every((x) => x.length <= 4));
  assert.deepEqual(cutBatches(0, 4), []);
});

test('the default worker in batches: each job its own result, a failing file does not fail its batch', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sp-pool-'));
  try {
    const jobs: WorkerJob[] = [];
    for (let i = 0; i < 200; i++) {
      const p = path.join(dir, `f${i}`);
      if (i !== 77) writeFileSync(p, `content ${i}`);
      jobs.push({ op: 'hash', path: p, checksums: ['sha256'] });
    }
    const got = new Map<number, WorkerResult>();
    const out = await runPool(jobs, { threads: 2, timeoutSec: 60, sizes: jobs.map(() => 10), onResult: (i, r) => got.set(i, r) });
    assert.deepEqual(out, { unfinished: [], aborted: false });
    assert.equal(got.size, 200);
    for (let i = 0; i < 200; i++) {
      const r = got.get(i)!;
      if (i === 77) {
        assert.equal(r.ok, false);
        continue;
      }
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.sums.sha256, createHash('sha256').update(`content ${i}`).digest('hex'), `job ${i}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a few large files go to the threads, where the timeout can stop them (on the main thread nothing could)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sp-pool-'));
  try {
    const big = path.join(dir, 'big');
    const size = 8 * 1024 ** 3; // sparse: hashing it takes seconds, storing it nothing
    writeFileSync(big, '');
    truncateSync(big, size);
    const t0 = Date.now();
    const out = await runPool([{ op: 'hash', path: big, checksums: ['sha256'] } satisfies WorkerJob], { threads: 1, timeoutSec: 1, bytes: size, headerJobs: 0, onResult: () => assert.fail('8 GiB hashed within the 1 s timeout') });
    assert.deepEqual(out, { unfinished: [0], aborted: false });
    assert.ok(Date.now() - t0 < 4000, `stopped after ${Date.now() - t0} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
