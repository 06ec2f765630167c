/**
 * Reading packages from disk: positioned reads for the headers, one sequential pass for digests.
 *
 * The reads are synchronous system calls (an async round-trip through libuv's thread pool per
 * read costs several times more than the read itself on small files); `readRpmFile` yields to the
 * event loop between 16 MiB of hashing so timers and signals stay responsive. For parallelism,
 * call it from worker threads (the staged source does).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { StagepushError } from '../../errors.js';
import { parseHeaders, requiredLength, rpmError, type ParsedRpm } from './header.js';
import { buildRecord } from './record.js';
import { SIGTAG } from './tags.js';
import type { RpmRecord } from './types.js';

export type RpmChecksumAlgo = 'md5' | 'sha256';

export interface ReadRpmOptions {
  /** Digests of the whole file to compute (in one sequential pass). */
  checksums?: RpmChecksumAlgo[];
}

export interface ReadRpmResult {
  record: RpmRecord;
  /** Lower-case hex digests of the whole file, for the algorithms asked. */
  checksums: { md5?: string; sha256?: string };
}

/** First read: enough for the headers of most packages. */
const FIRST_READ = 64 * 1024;
/** Chunk size of the checksum pass. */
const HASH_CHUNK = 1024 * 1024;
/** The async reader yields to the event loop after this many bytes hashed. */
const YIELD_EVERY = 16 * 1024 * 1024;

function ioError(err: unknown, file: string, what: string): StagepushError {
  const e = err as NodeJS.ErrnoException;
  const code = e && e.code === 'ENOENT' ? 'RPM_NOT_FOUND' : 'RPM_READ';
  return rpmError(code, `cannot ${what}: ${e && e.message ? e.message : String(err)}`, { file }, err);
}

function describeType(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Read file bytes [pos, pos + len) into buf at bufOffset, completely. */
function readFull(fd: number, buf: Buffer, bufOffset: number, len: number, pos: number, file: string): void {
  let done = 0;
  while (done < len) {
    let n: number;
    try {
      n = readSync(fd, buf, bufOffset + done, len - done, pos + done);
    } catch (err) {
      throw ioError(err, file, `read at offset ${pos + done}`);
    }
    if (n === 0) throw rpmError('RPM_TRUNCATED', `truncated: the file ended at ${pos + done} while reading up to ${pos + len} (did it shrink while being read?)`, { file });
    done += n;
  }
}

/** Grow `prefix` (holding bytes [0, have)) until the headers are complete; returns the buffer. */
function readHeaders(fd: number, prefix: Buffer, have: number, size: number, file: string): Buffer {
  let buf = prefix;
  let got = have;
  for (;;) {
    const need = requiredLength(buf.subarray(0, got), size, { file });
    if (need <= got) return buf.subarray(0, got);
    if (need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(size, Math.max(need, buf.length * 2)));
      buf.copy(bigger, 0, 0, got);
      buf = bigger;
    }
    const to = Math.min(buf.length, size);
    readFull(fd, buf, got, to - got, got, file);
    got = to;
  }
}

/**
 * The signature header's SIZE (LONGSIZE past 4 GiB) is the byte count of the main header and the
 * payload: a file of another size is not the package that was built and signed. The headers alone
 * do not show it: a copy cut short in the payload (an interrupted transfer into the staging area)
 * or with bytes appended parses, and was pushed and published, where dnf refused it ("does not
 * verify: Payload SHA256 digest: BAD"). Only a file on disk is checked, whose size is known: an
 * in-memory parse may hold the headers alone.
 */
function checkPackageSize(parsed: ParsedRpm, size: number, file: string): ParsedRpm {
  const declared = parsed.signature.getNumber(SIGTAG.LONGSIZE) ?? parsed.signature.getNumber(SIGTAG.SIZE);
  if (declared === undefined) return parsed;
  const expected = parsed.layout.headerStart + declared;
  const tag = parsed.signature.has(SIGTAG.LONGSIZE) ? 'LONGSIZE' : 'SIZE';
  if (size < expected) {
    throw rpmError('RPM_TRUNCATED', `truncated: the file has ${size} bytes but the package is ${expected} (main header at offset ${parsed.layout.headerStart} + ${declared} bytes of header and payload, the signature header's ${tag}): ${expected - size} bytes of the payload are missing`, { file });
  }
  if (size > expected) {
    throw rpmError('RPM_TRAILING_DATA', `the file has ${size} bytes but the package ends at ${expected} (main header at offset ${parsed.layout.headerStart} + ${declared} bytes of header and payload, the signature header's ${tag}): ${size - expected} bytes follow it`, { file });
  }
  return parsed;
}

/**
 * The reader as a generator: it yields (nothing) between hashing chunks so the async wrapper can
 * give the event loop a turn; the sync wrapper just runs it through.
 */
function* readCore(path: string, opts: ReadRpmOptions, scratch?: Buffer): Generator<void, ReadRpmResult, void> {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw ioError(err, path, 'stat the file');
  }
  if (!st.isFile()) throw rpmError('RPM_NOT_A_FILE', `not a regular file: it is ${describeType(st)}`, { file: path });
  let fd: number;
  try {
    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open must not block.
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw ioError(err, path, 'open the file');
  }
  try {
    let fst: Stats;
    try {
      fst = fstatSync(fd);
    } catch (err) {
      throw ioError(err, path, 'stat the open file');
    }
    if (!fst.isFile()) throw rpmError('RPM_NOT_A_FILE', `not a regular file: it is ${describeType(fst)}`, { file: path });
    const size = fst.size;
    const algos = [...new Set(opts.checksums ?? [])];
    const checksums: ReadRpmResult['checksums'] = {};
    if (!algos.length) {
      const first = Buffer.allocUnsafe(Math.max(1, Math.min(FIRST_READ, size)));
      const firstLen = Math.min(first.length, size);
      readFull(fd, first, 0, firstLen, 0, path);
      const headerBuf = readHeaders(fd, first, firstLen, size, path);
      return { record: buildRecord(checkPackageSize(parseHeaders(headerBuf, { fileSize: size, file: path }), size, path), { file: path }), checksums };
    }
    // One sequential pass: the first chunk also serves the header parse, which runs before the rest
    // is hashed so that a non-RPM fails fast.
    const hashes: Hash[] = algos.map((a) => createHash(a));
    const chunkSize = Math.max(1, Math.min(HASH_CHUNK, size));
    const chunk = scratch && scratch.length >= chunkSize ? scratch : Buffer.allocUnsafe(chunkSize);
    const firstLen = Math.min(chunkSize, size);
    readFull(fd, chunk, 0, firstLen, 0, path);
    for (const h of hashes) h.update(chunk.subarray(0, firstLen));
    const headerBuf = readHeaders(fd, chunk, firstLen, size, path);
    // The record holds copies of everything: the chunk buffer can be reused.
    const record = buildRecord(checkPackageSize(parseHeaders(headerBuf, { fileSize: size, file: path }), size, path), { file: path });
    let pos = firstLen;
    let sinceYield = firstLen;
    while (pos < size) {
      const len = Math.min(chunkSize, size - pos);
      readFull(fd, chunk, 0, len, pos, path);
      const view = chunk.subarray(0, len);
      for (const h of hashes) h.update(view);
      pos += len;
      sinceYield += len;
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        yield;
      }
    }
    algos.forEach((a, i) => (checksums[a] = hashes[i].digest('hex')));
    return { record, checksums };
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* nothing to do */
    }
  }
}

/**
 * Read a package's headers (and, when asked, md5/sha256 of the whole file in one pass). The path
 * is stat'ed first: anything but a regular file (FIFO, device, directory) is refused with
 * RPM_NOT_A_FILE before it is opened, so a FIFO named x.rpm never blocks.
 */
export async function readRpmFile(path: string, opts: ReadRpmOptions = {}): Promise<ReadRpmResult> {
  const it = readCore(path, opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * The sync reader's chunk buffer, reused from one file to the next: a fresh buffer per file (256
 * KiB for a 256 KiB package) is a fresh mapping whose pages fault in while the file is read, which
 * made hashing a staging area of small packages about twice as slow as the hash itself. Only the
 * sync reader may share it (the async one yields mid-file); the record is built before the buffer
 * is overwritten and holds copies.
 */
let syncChunk: Buffer | undefined;

/** readRpmFile without yielding (for worker threads and scripts). */
export function readRpmFileSync(path: string, opts: ReadRpmOptions = {}): ReadRpmResult {
  const it = readCore(path, opts, (syncChunk ??= Buffer.allocUnsafe(HASH_CHUNK)));
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}
