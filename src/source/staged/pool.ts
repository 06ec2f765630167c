/**
 * Runs worker jobs on a piscina pool of `threads` worker threads. `timeoutSec`: when no job
 * completes for that long, the run stops, the pool is destroyed (workers terminated) and the
 * unfinished jobs are returned, so the caller can name them; nothing is left running.
 */
import type { WorkerJob, WorkerResult } from './worker.js';

export interface PoolRunOptions {
  threads: number;
  timeoutSec: number;
  signal?: AbortSignal;
  /** Worker module URL (tests pass their own). */
  workerUrl?: string;
  /**
   * Bytes the jobs will read, when known: a batch of few headers and little data (new packages
   * plus rewritten small files, e.g. errata) runs on the main thread too.
   */
  bytes?: number;
  /** How many of the jobs read RPM headers (when known). */
  headerJobs?: number;
  onResult(index: number, result: WorkerResult): void;
}

export interface PoolRunOutcome {
  /** Indexes of jobs that had not finished when the timeout fired (empty when all finished). */
  unfinished: number[];
  aborted: boolean;
}

export const DEFAULT_WORKER_URL = new URL('./worker.js', import.meta.url).href;

/**
 * Up to this many jobs run on the main thread (the default worker module, one after the other)
 * instead of starting a pool: starting worker threads costs more than reading a few headers (the
 * incremental cron push of a few new packages). The worker opens files without blocking and refuses
 * anything but regular files, so a FIFO cannot hang it.
 */
export const INLINE_MAX_JOBS = 16;
/** ... or up to this many header reads when all jobs together read at most INLINE_MAX_BYTES. */
export const INLINE_MAX_HEADERS = 32;
export const INLINE_MAX_BYTES = 32 * 1024 * 1024;

async function runInline<J extends WorkerJob | object>(jobs: J[], opts: PoolRunOptions): Promise<PoolRunOutcome> {
  const worker = (await import('./worker.js')) as { default: (job: WorkerJob) => Promise<WorkerResult> };
  for (let i = 0; i < jobs.length; i++) {
    if (opts.signal?.aborted) return { unfinished: jobs.map((_, j) => j).slice(i), aborted: true };
    let r: WorkerResult;
    try {
      r = await worker.default(jobs[i] as WorkerJob);
    } catch (e) {
      r = { ok: false, code: 'STAGED_WORKER_FAILED', message: String((e as Error)?.message ?? e) };
    }
    opts.onResult(i, r);
    // Let signal handlers run between files.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { unfinished: [], aborted: false };
}

export async function runPool<J extends WorkerJob | object>(jobs: J[], opts: PoolRunOptions): Promise<PoolRunOutcome> {
  if (!jobs.length) return { unfinished: [], aborted: false };
  const small = jobs.length <= INLINE_MAX_JOBS || (opts.bytes !== undefined && opts.headerJobs !== undefined && opts.bytes <= INLINE_MAX_BYTES && opts.headerJobs <= INLINE_MAX_HEADERS);
  if (!opts.workerUrl && small) return runInline(jobs, opts);
  const mod = (await import('piscina')) as unknown as { Piscina: typeof import('piscina').Piscina };
  const Piscina = mod.Piscina;
  const threads = Math.max(1, Math.min(opts.threads, jobs.length));
  const pool = new Piscina({ filename: opts.workerUrl ?? DEFAULT_WORKER_URL, minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  const done = new Uint8Array(jobs.length);
  let remaining = jobs.length;
  let last = Date.now();
  let settle!: (o: PoolRunOutcome) => void;
  const finished = new Promise<PoolRunOutcome>((resolve) => (settle = resolve));
  let over = false;
  const stop = (outcome: PoolRunOutcome) => {
    if (over) return;
    over = true;
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    // Terminate the workers (pending tasks are rejected, ignored above); do not wait for a worker
    // stuck in a system call.
    void pool.destroy().catch(() => undefined);
    settle(outcome);
  };
  const onAbort = () => stop({ unfinished: unfinishedList(), aborted: true });
  const unfinishedList = () => {
    const out: number[] = [];
    for (let i = 0; i < jobs.length; i++) if (!done[i]) out.push(i);
    return out;
  };
  const timeoutMs = opts.timeoutSec * 1000;
  const timer = setInterval(() => {
    if (Date.now() - last >= timeoutMs) stop({ unfinished: unfinishedList(), aborted: false });
  }, Math.max(20, Math.min(1000, timeoutMs / 10)));
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  jobs.forEach((job, i) => {
    pool.run(job).then(
      (r: WorkerResult) => {
        if (over) return;
        done[i] = 1;
        last = Date.now();
        opts.onResult(i, r);
        if (--remaining === 0) stop({ unfinished: [], aborted: false });
      },
      (e: unknown) => {
        if (over) return;
        done[i] = 1;
        last = Date.now();
        opts.onResult(i, { ok: false, code: 'STAGED_WORKER_FAILED', message: String((e as Error)?.message ?? e) });
        if (--remaining === 0) stop({ unfinished: [], aborted: false });
      },
    );
  });
  return finished;
}
