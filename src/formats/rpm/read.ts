/** Reading packages from disk: positioned reads for the headers, one sequential pass for digests. */
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StagepushError } from '../../errors.js';
import { parseHeaders, requiredLength, rpmError, type ParsedRpm, type RpmSource } from './header.js';
import { buildRecord } from './record.js';
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

function ioError(err: unknown, file: string, what: string): StagepushError {
  const e = err as NodeJS.ErrnoException;
  const code = e && e.code === 'ENOENT' ? 'RPM_NOT_FOUND' : 'RPM_READ';
  return rpmError(code, `cannot ${what}: ${e && e.code ? e.code + ' ' : ''}${e && e.message ? e.message : String(err)}`, { file }, err);
}

function describeType(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Read file bytes [pos, pos + len) into buf at bufOffset, completely. */
async function readFull(fh: FileHandle, buf: Buffer, bufOffset: number, len: number, pos: number, file: string): Promise<void> {
  let done = 0;
  while (done < len) {
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, bufOffset + done, len - done, pos + done));
    } catch (err) {
      throw ioError(err, file, `read at offset ${pos + done}`);
    }
    if (n === 0) throw rpmError('RPM_TRUNCATED', `truncated: the file ended at ${pos + done} while reading up to ${pos + len} (did it shrink while being read?)`, { file });
    done += n;
  }
}

/** Grow `prefix` (holding bytes [0, have)) until the headers are complete; returns the buffer. */
async function readHeaders(fh: FileHandle, prefix: Buffer, have: number, size: number, file: string): Promise<Buffer> {
  const src: RpmSource = { file };
  let buf = prefix;
  let got = have;
  for (;;) {
    const need = requiredLength(buf.subarray(0, got), size, src);
    if (need <= got) return buf.subarray(0, got);
    if (need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, Math.min(size, buf.length * 2)));
      buf.copy(bigger, 0, 0, got);
      buf = bigger;
    }
    const to = Math.min(buf.length, size);
    await readFull(fh, buf, got, to - got, got, file);
    got = to;
  }
}

/**
 * Read a package's headers (and, when asked, digests of the whole file). The path is stat'ed
 * first: anything but a regular file (FIFO, device, directory) is refused with RPM_NOT_A_FILE
 * before it is opened, so a FIFO named x.rpm never blocks.
 */
export async function readRpmFile(path: string, opts: ReadRpmOptions = {}): Promise<ReadRpmResult> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw ioError(err, path, 'stat the file');
  }
  if (!st.isFile()) throw rpmError('RPM_NOT_A_FILE', `not a regular file: it is ${describeType(st)}`, { file: path });

  let fh: FileHandle;
  try {
    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open must not block.
    fh = await open(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw ioError(err, path, 'open the file');
  }
  try {
    let fst;
    try {
      fst = await fh.stat();
    } catch (err) {
      throw ioError(err, path, 'stat the open file');
    }
    if (!fst.isFile()) throw rpmError('RPM_NOT_A_FILE', `not a regular file: it is ${describeType(fst)}`, { file: path });
    const size = fst.size;
    const algos = [...new Set(opts.checksums ?? [])];
    const checksums: ReadRpmResult['checksums'] = {};

    if (algos.length) {
      // One sequential pass: the first chunk also serves the header parse, which runs before the
      // rest is hashed so that a non-RPM fails fast.
      const hashes: Array<[RpmChecksumAlgo, Hash]> = algos.map((a) => [a, createHash(a)]);
      const chunkSize = Math.max(1, Math.min(HASH_CHUNK, size));
      const first = Buffer.allocUnsafe(chunkSize);
      const firstLen = Math.min(chunkSize, size);
      await readFull(fh, first, 0, firstLen, 0, path);
      for (const [, h] of hashes) h.update(first.subarray(0, firstLen));
      const headerBuf = await readHeaders(fh, first, firstLen, size, path);
      const record = buildRecord(parseHeaders(headerBuf, { fileSize: size, file: path }), { file: path });
      if (size > firstLen) {
        const chunk = first; // the record holds copies: the first chunk can be reused
        let pos = firstLen;
        while (pos < size) {
          const len = Math.min(chunkSize, size - pos);
          await readFull(fh, chunk, 0, len, pos, path);
          for (const [, h] of hashes) h.update(chunk.subarray(0, len));
          pos += len;
        }
      }
      for (const [a, h] of hashes) checksums[a] = h.digest('hex');
      return { record, checksums };
    }
    const first = Buffer.allocUnsafe(Math.max(1, Math.min(FIRST_READ, size)));
    const firstLen = Math.min(first.length, size);
    await readFull(fh, first, 0, firstLen, 0, path);
    const headerBuf = await readHeaders(fh, first, firstLen, size, path);
    const parsed: ParsedRpm = parseHeaders(headerBuf, { fileSize: size, file: path });
    return { record: buildRecord(parsed, { file: path }), checksums };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
