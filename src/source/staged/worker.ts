/**
 * Worker-thread job of the staged source's pool (piscina): read an RPM header (and optionally
 * checksum it in the same pass) or hash any file (md5 and sha256 in one pass). Errors come back as
 * data ({ok: false, code, message}) so their codes survive the thread boundary.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { RpmRecord } from '../../formats/rpm/types.js';
import { readRpmFileSync } from '../../formats/rpm/read.js';
import { rpmRecordSummary, type RpmRecordSummary } from './summary.js';

export type ChecksumAlgo = 'md5' | 'sha256';

export interface WorkerJob {
  op: 'rpm' | 'hash';
  path: string;
  checksums: ChecksumAlgo[];
  /**
   * Send the whole RpmRecord back (else only its signing key: cloning records costs time);
   * 'json': as JSON text with a small summary (cheaper to pass between threads and to store).
   */
  record?: boolean | 'json';
}

export type { RpmRecordSummary } from './summary.js';

export type WorkerResult =
  | { ok: true; record?: RpmRecord; recordJson?: string; summary?: RpmRecordSummary; signingKey?: string | null; sums: { md5?: string; sha256?: string } }
  | { ok: false; code: string; message: string };

const CHUNK = 1024 * 1024;
let buffer: Buffer | undefined;

/** Open without blocking (a FIFO must not hang the thread) and refuse anything but a regular file. */
function openRegular(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    const what = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw Object.assign(new Error(`${path} is ${what}, not a regular file`), { code: 'STAGED_NOT_REGULAR_FILE' });
  }
  return fd;
}

export function hashFile(path: string, algos: ChecksumAlgo[]): { md5?: string; sha256?: string } {
  const fd = openRegular(path);
  try {
    const md5 = algos.includes('md5') ? createHash('md5') : undefined;
    const sha256 = algos.includes('sha256') ? createHash('sha256') : undefined;
    buffer ??= Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n <= 0) break;
      const chunk = buffer.subarray(0, n);
      md5?.update(chunk);
      sha256?.update(chunk);
    }
    const out: { md5?: string; sha256?: string } = {};
    if (md5) out.md5 = md5.digest('hex');
    if (sha256) out.sha256 = sha256.digest('hex');
    return out;
  } finally {
    closeSync(fd);
  }
}

export default async function run(job: WorkerJob): Promise<WorkerResult> {
  try {
    if (job.op === 'hash') return { ok: true, sums: hashFile(job.path, job.checksums) };
    // Synchronous reads: this is a worker thread (no event loop to keep responsive). The reader
    // stats first and opens without blocking: a FIFO (swapped in after the walk) is refused
    // without being opened, under the staged source's code.
    let read: ReturnType<typeof readRpmFileSync>;
    try {
      read = readRpmFileSync(job.path, { checksums: job.checksums });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'RPM_NOT_A_FILE') throw Object.assign(new Error((e as Error).message), { code: 'STAGED_NOT_REGULAR_FILE' });
      throw e;
    }
    const { record, checksums } = read;
    if (job.record === 'json') {
      const recordJson = JSON.stringify(record);
      const summary = rpmRecordSummary(record, recordJson);
      return { ok: true, recordJson, summary, signingKey: record.signingKey, sums: checksums ?? {} };
    }
    return job.record ? { ok: true, record, signingKey: record.signingKey, sums: checksums ?? {} } : { ok: true, signingKey: record.signingKey, sums: checksums ?? {} };
  } catch (e) {
    const err = e as { code?: unknown; message?: string };
    // An errno (ENOENT, EACCES, EISDIR…) is a file the loader could not read: said with a code
    // of ours and a readable reason, not the raw errno.
    if (typeof err.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)) {
      const why: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', EISDIR: 'is a directory', EIO: 'input/output error' };
      return { ok: false, code: err.code === 'ENOENT' ? 'STAGED_FILE_NOT_FOUND' : 'STAGED_FILE_UNREADABLE', message: `cannot read: ${why[err.code] ?? err.code}` };
    }
    const code = typeof err.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(err.code) ? err.code : 'STAGED_READ_FAILED';
    return { ok: false, code, message: err.message ?? String(e) };
  }
}

/** Several jobs in one task (the pool's batches): results in job order, each job's error its own. */
export async function batch(jobs: WorkerJob[]): Promise<WorkerResult[]> {
  const out: WorkerResult[] = [];
  for (const job of jobs) out.push(await run(job));
  return out;
}
