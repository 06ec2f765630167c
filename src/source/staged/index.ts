/**
 * The staged source: `loadStaged(urls)` reads staging directories into typed push items, with
 * every problem of every staging area collected (nothing is written anywhere). RPM header reading
 * and hashing run on a worker pool (piscina), `threads` per URL; `timeout` = seconds without any
 * job completing before the load stops and names the unfinished files.
 */
import { promises as fsp } from 'node:fs';
import { StagepushError, type Problem } from '../../errors.js';
import type { EventSink } from '../../events.js';
import type { RpmRecord } from '../../formats/rpm/types.js';
import { ITEM_KINDS, type PushItem, type RpmPushItem } from '../../items/types.js';
import { parseStagedUrl, type StagedUrl } from './url.js';
import { walkTopdir, type FileStat, type WalkedItem } from './walk.js';
import { runPool } from './pool.js';
import type { ChecksumAlgo, RpmRecordSummary, WorkerJob, WorkerResult } from './worker.js';
import { problem } from './common.js';
import type { ParsedCache } from './errata.js';

export { parseStagedUrl, type StagedUrl } from './url.js';
export type { ChecksumAlgo, RpmRecordSummary } from './worker.js';
export type { ParsedCache } from './errata.js';

export interface ChecksumCache {
  /**
   * Sums of an unchanged file; `rpm` when the cache also holds the RPM's parsed header (its
   * signing key): such an RPM is neither opened nor parsed again.
   */
  get(path: string, st: FileStat): { md5?: string; sha256?: string; rpm?: { signingKey: string | null } } | undefined;
  set(path: string, st: FileStat, sums: { md5?: string; sha256?: string }): void;
  /** Told the paths about to be asked for, in one call before the first get (a cache may read them in bulk). */
  prefetch?(paths: string[]): void;
}

export interface LoadOptions {
  /** Fill md5sum / sha256sum (computed off the main thread); a staged sha256sum is verified. */
  checksums?: ChecksumAlgo[];
  events?: EventSink;
  signal?: AbortSignal;
  /**
   * Called for every RPM whose header was read, after its checksums were filled in (its
   * sha256sum is set when sha256 checksums are asked for). Not called for an RPM the checksum
   * cache knows with its header.
   */
  onRpmRecord?: (item: RpmPushItem, record: RpmRecord) => void;
  /**
   * The same as onRpmRecord with the record as JSON text and a summary of it (what a caller that
   * stores records wants: no object graph is cloned between threads). Wins over onRpmRecord.
   */
  onRpmRecordJson?: (item: RpmPushItem, json: string, summary: RpmRecordSummary) => void;
  checksumCache?: ChecksumCache;
  /** Advisories built by earlier runs (see ParsedCache in errata.ts). */
  parsedCache?: ParsedCache;
  /** `threads` / `timeout` for URLs that do not give them (else pushsource's defaults). */
  urlDefaults?: { threads?: number; timeout?: number };
  /** Worker module (tests). */
  workerUrl?: string;
}

export interface LoadedSource {
  url: string;
  dirs: string[];
  /** The metadata file of each directory (staged.yaml or pub-mapfile.json; null: none), in the order of `dirs`. */
  metadataFiles: Array<string | null>;
  /** The first directory's metadata file (kept for scripts that read it: a one-directory URL's file). */
  metadataFile: string | null;
}

export interface LoadResult {
  items: PushItem[];
  problems: Problem[];
  warnings: Problem[];
  sources: LoadedSource[];
  /** Items per source, in `sources` order (items = their concatenation). */
  itemsBySource: PushItem[][];
}

const KIND_ORDER = new Map<string, number>(ITEM_KINDS.map((k, i) => [k, i]));
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Deterministic order: destination, type, name, then src. */
export function compareItems(a: PushItem, b: PushItem): number {
  return (
    cmp(a.dest[0] ?? '', b.dest[0] ?? '') ||
    KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)! ||
    cmp(a.name, b.name) ||
    cmp(a.src ?? '', b.src ?? '')
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Wait until every path exists or `timeoutSec` elapsed; returns the paths still missing. */
async function waitExist(paths: string[], timeoutSec: number, rateSec: number, signal?: AbortSignal): Promise<string[]> {
  const deadline = Date.now() + timeoutSec * 1000;
  let missing = paths;
  for (;;) {
    const present = await Promise.all(missing.map(exists));
    missing = missing.filter((_, i) => !present[i]);
    if (!missing.length || Date.now() >= deadline || signal?.aborted) return missing;
    await sleep(Math.min(rateSec * 1000, Math.max(0, deadline - Date.now())), signal);
  }
}

function listNames(paths: string[], max = 10): string {
  const shown = paths.slice(0, max).join(', ');
  return paths.length > max ? `${shown} and ${paths.length - max} more` : shown;
}

async function loadOne(src: StagedUrl, opts: LoadOptions, out: { problems: Problem[]; warnings: Problem[] }, emit: EventSink): Promise<{ items: PushItem[]; metadataFiles: Array<string | null> }> {
  const checksums = opts.checksums ?? [];
  const walked: WalkedItem[] = [];
  const metadataFiles: Array<string | null> = [];
  for (const dir of src.dirs) {
    if (src.pollTimeout > 0) {
      const missing = await waitExist([dir], src.pollTimeout, src.pollRate, opts.signal);
      // Interrupted while waiting: the load stops below, no warning about a wait that did not end.
      if (missing.length && !opts.signal?.aborted) out.warnings.push(problem('STAGED_POLL_MISSING', `File ${dir} is missing after ${src.pollTimeout} seconds`, { file: dir }));
    }
    const r = await walkTopdir(dir, { wantStat: checksums.length > 0 || opts.checksumCache !== undefined, parsedCache: opts.parsedCache });
    walked.push(...r.items);
    out.problems.push(...r.problems);
    out.warnings.push(...r.warnings);
    metadataFiles.push(r.metadataFile);
    emit({ type: 'phase-progress', phase: 'load', done: walked.length, label: dir });
  }
  if (src.pollTimeout > 0) {
    const absent = walked.map((w) => w.item.src).filter((s): s is string => !!s && s.startsWith('/'));
    const missing = await waitExist([...new Set(absent)], src.pollTimeout, src.pollRate, opts.signal);
    if (!opts.signal?.aborted) for (const m of missing) out.warnings.push(problem('STAGED_POLL_MISSING', `File ${m} is missing after ${src.pollTimeout} seconds`, { file: m }));
  }

  // Jobs: RPM headers always; hashing of other files when checksums are asked for.
  const jobs: WorkerJob[] = [];
  const owners: WalkedItem[] = [];
  if (opts.checksumCache?.prefetch) opts.checksumCache.prefetch(walked.filter((w) => w.stat && w.item.src).map((w) => w.item.src!));
  const cachedSums: Array<{ md5?: string; sha256?: string; rpm?: unknown } | undefined> = [];
  for (const w of walked) {
    const item = w.item;
    if (!item.src) continue;
    let want: ChecksumAlgo[] = [];
    if (checksums.length && item.kind !== 'DirectoryPushItem') {
      want = [...checksums];
      // A staged sha256sum is verified whenever checksums are computed.
      if ((item.sha256sum || w.expectedSha256) && !want.includes('sha256')) want.push('sha256');
    }
    let cached = w.stat && opts.checksumCache ? opts.checksumCache.get(item.src, w.stat) : undefined;
    const expected = item.sha256sum ?? w.expectedSha256;
    if (cached?.sha256 !== undefined && expected && expected !== cached.sha256) {
      // A cached digest that contradicts the staged sha256sum is not believed: the file is hashed
      // again, and only its content refuses it. A file replaced under an identity the cache took
      // for the old one was otherwise refused on every run, whatever it held.
      cached = undefined;
    }
    if (cached && want.length) {
      applySums(w, cached, checksums, out.problems);
      if (!w.item) continue; // refused (checksum mismatch)
      want = want.filter((a) => cached[a] === undefined);
    }
    if (w.rpm && cached?.rpm && !want.length && item.kind === 'RpmPushItem') {
      // Unchanged RPM whose header is stored: a stat and a lookup, no open, no worker task.
      const key = cached.rpm.signingKey;
      item.signing_key = key ? key.toUpperCase() : null;
      continue;
    }
    if (w.rpm || want.length) {
      jobs.push({ op: w.rpm ? 'rpm' : 'hash', path: item.src, checksums: want, ...(w.rpm && opts.onRpmRecordJson ? { record: 'json' as const } : w.rpm && opts.onRpmRecord ? { record: true } : {}) });
      owners.push(w);
      cachedSums.push(cached);
    }
  }
  const phase = checksums.length ? 'checksum' : 'load';
  if (checksums.length) emit({ type: 'phase-start', phase: 'checksum', total: jobs.length });
  let done = 0;
  let bytes: number | undefined = 0;
  // Bytes to hash (a header read alone reads a bounded part of the file).
  owners.forEach((w, i) => {
    if (bytes !== undefined && jobs[i]!.checksums.length) bytes = w.stat ? bytes + w.stat.size : undefined;
  });
  const outcome = await runPool(jobs, {
    threads: src.threads,
    timeoutSec: src.timeout,
    signal: opts.signal,
    workerUrl: opts.workerUrl,
    bytes,
    sizes: owners.map((w) => w.stat?.size ?? 0),
    headerJobs: jobs.filter((j) => j.op === 'rpm').length,
    onResult(i, r: WorkerResult) {
      const w = owners[i]!;
      const job = jobs[i]!;
      done++;
      if (done % 64 === 0 || done === jobs.length) emit({ type: 'phase-progress', phase, done, total: jobs.length });
      if (!w.item) return;
      if (!r.ok) {
        // An item listed in a metadata file (a CLOUD_IMAGES image, a staged.yaml entry) is named there too.
        out.problems.push(problem(r.code, r.message, { file: job.path, ...(w.entry && w.metadataFile ? { entry: w.entry } : {}) }));
        w.item = null as unknown as PushItem;
        return;
      }
      if (job.op === 'rpm' && w.item.kind === 'RpmPushItem') {
        const key = r.signingKey ?? null;
        w.item.signing_key = key ? key.toUpperCase() : null;
      }
      if (job.checksums.length) {
        applySums(w, r.sums, checksums, out.problems);
        if (!w.item) return; // refused (checksum mismatch)
        const { rpm: _rpm, ...sums } = cachedSums[i] ?? {};
        if (w.stat && opts.checksumCache) opts.checksumCache.set(job.path, w.stat, { ...sums, ...r.sums });
      }
      if (job.op === 'rpm' && w.item.kind === 'RpmPushItem') {
        if (r.recordJson !== undefined && r.summary) opts.onRpmRecordJson?.(w.item, r.recordJson, r.summary);
        else if (r.record) opts.onRpmRecord?.(w.item, r.record);
      }
    },
  });
  if (checksums.length) emit({ type: 'phase-end', phase: 'checksum', done, total: jobs.length, ok: outcome.unfinished.length === 0 });
  if (outcome.aborted) {
    const reason: unknown = opts.signal?.reason;
    throw reason instanceof StagepushError ? reason : new StagepushError('INTERRUPTED_SIGINT', 'interrupted while loading the staging area', { kind: 'interrupted' });
  }
  if (outcome.unfinished.length) {
    const paths = outcome.unfinished.map((i) => jobs[i]!.path);
    out.problems.push(
      problem('STAGED_TIMEOUT', `no file finished loading within ${src.timeout} s (timeout=${src.timeout}); ${paths.length} (of ${jobs.length}) unfinished: ${listNames(paths)}`, {
        file: paths[0],
        entry: src.url,
      }),
    );
    for (const i of outcome.unfinished) owners[i]!.item = null as unknown as PushItem;
  }
  const items = walked.map((w) => w.item).filter((x): x is PushItem => x !== null);
  items.sort(compareItems);
  return { items, metadataFiles };
}

/** Verify a known sha256sum against computed sums, and fill the asked-for sums that are missing. */
function applySums(w: WalkedItem, sums: { md5?: string; sha256?: string }, fill: ChecksumAlgo[], problems: Problem[]): void {
  const item = w.item;
  if (!item) return;
  const expected = item.sha256sum ?? w.expectedSha256;
  if (sums.sha256 !== undefined && expected && expected !== sums.sha256) {
    problems.push(
      problem('STAGED_CHECKSUM_MISMATCH', `sha256sum ${expected} given for ${item.src} does not match its content (${sums.sha256})`, {
        file: w.metadataFile ?? item.src ?? undefined,
        ...(w.entry ? { entry: w.entry } : {}),
        field: 'sha256sum',
      }),
    );
    w.item = null as unknown as PushItem;
    return;
  }
  if (fill.includes('md5') && sums.md5 !== undefined && item.md5sum === null) item.md5sum = sums.md5;
  if (fill.includes('sha256') && sums.sha256 !== undefined && item.sha256sum === null) item.sha256sum = sums.sha256;
}

/** Load every URL (each `staged:DIR[,DIR…][?…]` or a bare directory). URL errors throw at once. */
export async function loadStaged(urls: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const parsed = urls.map((u) => parseStagedUrl(u, opts.urlDefaults));
  const emit: EventSink = opts.events ?? (() => {});
  const result: LoadResult = { items: [], problems: [], warnings: [], sources: [], itemsBySource: [] };
  emit({ type: 'phase-start', phase: 'load', label: urls.join(' ') });
  for (const src of parsed) {
    const { items, metadataFiles } = await loadOne(src, opts, result, emit);
    result.sources.push({ url: src.url, dirs: src.dirs, metadataFiles, metadataFile: metadataFiles[0] ?? null });
    result.itemsBySource.push(items);
    result.items.push(...items);
  }
  // Deterministic order (worker results arrive in completion order): by file, entry, field, code.
  const key = (p: Problem) => [p.file ?? '', p.entry ?? '', p.field ?? '', p.code];
  const byLocation = (a: Problem, b: Problem) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    return 0;
  };
  result.problems.sort(byLocation);
  for (const w of result.warnings) emit({ type: 'warning', code: w.code, message: w.message });
  emit({ type: 'phase-end', phase: 'load', done: result.items.length, ok: result.problems.length === 0 });
  return result;
}
