import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPool } from '../../../src/source/staged/pool.js';

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
