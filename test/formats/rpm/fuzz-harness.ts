/**
 * Runs fuzz cases in worker threads with small heaps, batched, under a per-case time budget: a
 * watchdog terminates a worker whose current case runs longer and records that case as failed;
 * a crashed worker (e.g. out of memory) fails its current case. The rest continues on a new worker.
 */
import { Worker } from 'node:worker_threads';
import type { FuzzOutcome } from './fuzz-worker.js';

export interface FuzzRunOptions {
  seed: number;
  from: number;
  to: number;
  files: Array<{ name: string; path: string }>;
  workers: number;
  batch: number;
  budgetMs: number;
  resourceLimits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number };
  inject?: { index: number; kind: 'hang' | 'oom' };
}

export interface FuzzRunResult {
  counts: { record: number; 'rpm-error': number; bad: number; timeout: number; crash: number };
  codes: Map<string, number>;
  failures: Array<{ index: number; kind: 'bad' | 'timeout' | 'crash'; detail: string }>;
  ms: number;
}

export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunResult> {
  const queue: Array<[number, number]> = [];
  for (let i = o.from; i < o.to; i += o.batch) queue.push([i, Math.min(o.to, i + o.batch)]);
  const res: FuzzRunResult = { counts: { record: 0, 'rpm-error': 0, bad: 0, timeout: 0, crash: 0 }, codes: new Map(), failures: [], ms: 0 };

  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL('./fuzz-worker.js', import.meta.url), {
        workerData: { files: o.files, seed: o.seed, inject: o.inject },
        resourceLimits: o.resourceLimits,
      });
      let batch: [number, number] | null = null;
      let next = 0; // the case in progress
      let lastProgress = Date.now();
      let finished = false;
      const finish = (err?: unknown) => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        if (err) reject(err);
        else resolve();
      };
      const take = () => {
        batch = queue.shift() ?? null;
        if (!batch) {
          void w.terminate().then(() => finish());
          return;
        }
        next = batch[0];
        lastProgress = Date.now();
        w.postMessage({ from: batch[0], to: batch[1] });
      };
      const abandon = (kind: 'timeout' | 'crash', detail: string) => {
        if (finished || !batch) return;
        const b = batch;
        batch = null;
        res.counts[kind]++;
        res.failures.push({ index: next, kind, detail });
        if (next + 1 < b[1]) queue.unshift([next + 1, b[1]]);
        clearInterval(watchdog);
        void w.terminate();
        runWorker().then(() => finish(), finish);
      };
      // If this (main) thread itself was stalled, results may be waiting in the queue behind the
      // timer: skip that round rather than blame the worker.
      let lastTick = Date.now();
      const watchdog = setInterval(() => {
        const now = Date.now();
        const stalled = now - lastTick > 200;
        lastTick = now;
        if (stalled) {
          if (batch) lastProgress = Math.max(lastProgress, now - 100);
          return;
        }
        if (batch && now - lastProgress > o.budgetMs) abandon('timeout', `no result within ${o.budgetMs} ms`);
      }, 25);
      w.on('message', (m: FuzzOutcome | { type: 'ready' } | { type: 'batch'; to: number }) => {
        if (m.type === 'ready' || m.type === 'batch') return take();
        if (!batch) return;
        res.counts[m.result]++;
        if (m.code) res.codes.set(m.code, (res.codes.get(m.code) ?? 0) + 1);
        if (m.result === 'bad') res.failures.push({ index: m.index, kind: 'bad', detail: m.detail ?? '' });
        next = m.index + 1;
        lastProgress = Date.now();
      });
      w.on('error', (err) => abandon('crash', `worker error: ${(err as Error).message}`));
      w.on('exit', (code) => {
        if (batch) abandon('crash', `worker exited with status ${code}`);
      });
    });

  const started = Date.now();
  await Promise.all(Array.from({ length: Math.max(1, o.workers) }, () => runWorker()));
  res.ms = Date.now() - started;
  return res;
}
