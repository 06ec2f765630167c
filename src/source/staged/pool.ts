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
   * Bytes the jobs will hash, when known (a header read alone counts 0: it reads a bounded part of
   * the file). Without it, every job goes to the threads.
   */
  bytes?: number;
  /** How many of the jobs read RPM headers (when known). */
  headerJobs?: number;
  /** Bytes each job reads (when known): batches are cut by size as well as by count. */
  sizes?: number[];
  onResult(index: number, result: WorkerResult): void;
}

export interface PoolRunOutcome {
  /** Indexes of jobs that had not finished when the timeout fired (empty when all finished). */
  unfinished: number[];
  aborted: boolean;
}

export const DEFAULT_WORKER_URL = new URL('./worker.js', import.meta.url).href;

/**
 * Up to this many jobs (or any number with up to INLINE_MAX_HEADERS header reads) run on the main
 * thread, one after the other, when together they hash at most INLINE_MAX_BYTES: starting worker
 * threads costs more than reading a few headers (the incremental cron push of a few new packages
 * and rewritten errata). A large file always goes to a thread, where the timeout can stop it (on
 * the main thread nothing could). The worker opens files without blocking and refuses anything but
 * regular files, so a FIFO cannot hang it.
 */
export const INLINE_MAX_JOBS = 16;
export const INLINE_MAX_HEADERS = 32;
export const INLINE_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Jobs of the default worker go to the threads in batches (the worker's `batch` export): a task
 * per file cost a message round trip per file, and with files of a few hundred KiB the threads
 * spent more time waiting for their next task than hashing. A batch holds at most this many
 * jobs and about BATCH_MAX_BYTES of file data, and is smaller when there are few jobs per thread
 * (each thread still gets several batches, so none waits for a straggler at the end).
 */
export const BATCH_MAX_JOBS = 64;
export const BATCH_MAX_BYTES = 16 * 1024 * 1024;
const BATCHES_PER_THREAD = 8;

/** Cut job indexes into consecutive batches (by count, and by size when sizes are known). */
export function cutBatches(count: number, threads: number, sizes?: number[]): number[][] {
  const maxJobs = Math.max(1, Math.min(BATCH_MAX_JOBS, Math.ceil(count / (Math.max(1, threads) * BATCHES_PER_THREAD))));
  const out: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const size = sizes?.[i] ?? 0;
    if (cur.length && (cur.length >= maxJobs || bytes + size > BATCH_MAX_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

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
  const small = opts.bytes !== undefined && opts.bytes <= INLINE_MAX_BYTES && (jobs.length <= INLINE_MAX_JOBS || (opts.headerJobs !== undefined && opts.headerJobs <= INLINE_MAX_HEADERS));
  if (!opts.workerUrl && small) return runInline(jobs, opts);
  const mod = (await import('piscina')) as unknown as { Piscina: typeof import('piscina').Piscina };
  const Piscina = mod.Piscina;
  const threads = Math.max(1, Math.min(opts.threads, jobs.length));
  // Two batches in flight per thread: the next one is already queued in the worker when it
  // finishes one, so it does not wait for the main thread (busy with the results: a push stages
  // each header in push.sqlite) to hand it another. A batch runs to its end before the worker
  // reads the next message (its jobs are synchronous).
  const pool = new Piscina({ filename: opts.workerUrl ?? DEFAULT_WORKER_URL, minThreads: threads, maxThreads: threads, idleTimeout: 1000, concurrentTasksPerWorker: opts.workerUrl ? 1 : 2 });
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
  const settleJob = (i: number, r: WorkerResult) => {
    if (over || done[i]) return;
    done[i] = 1;
    last = Date.now();
    opts.onResult(i, r);
    if (--remaining === 0) stop({ unfinished: [], aborted: false });
  };
  const failed = (e: unknown): WorkerResult => ({ ok: false, code: 'STAGED_WORKER_FAILED', message: String((e as Error)?.message ?? e) });
  // A worker module of the caller's own (tests) takes one job per task; the default one batches.
  const runBatch = opts.workerUrl
    ? (batch: number[]): Promise<WorkerResult[]> => pool.run(jobs[batch[0]!]).then((r: WorkerResult) => [r])
    : (batch: number[]): Promise<WorkerResult[]> => pool.run(batch.map((i) => jobs[i]), { name: 'batch' });
  const batches = opts.workerUrl ? jobs.map((_, i) => [i]) : cutBatches(jobs.length, threads, opts.sizes);
  for (const batch of batches) {
    runBatch(batch).then(
      (rs) => batch.forEach((i, k) => settleJob(i, rs[k] ?? failed(new Error('no result from the worker')))),
      (e: unknown) => batch.forEach((i) => settleJob(i, failed(e))),
    );
  }
  return finished;
}
