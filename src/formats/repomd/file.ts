/**
 * Streaming writer of one repodata file (`<checksum>-<name>[.gz]`): the data is gzip-compressed
 * on the fly while the checksum and size of both the open and the compressed bytes are computed,
 * so memory stays flat whatever the size. close() renames the file to its checksum-prefixed name
 * and returns the repomd record for it.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import { StagepushError } from '../../errors.js';
import type { RepomdRecord } from './types.js';

export type RepodataChecksumType = 'sha256' | 'sha1' | 'sha512' | 'sha384' | 'sha224' | 'md5';
export const CHECKSUM_TYPES: readonly RepodataChecksumType[] = ['sha256', 'sha1', 'sha512', 'sha384', 'sha224', 'md5'];

export interface MetadataFileOptions {
  /** Directory the file is written into (created if missing): the `repodata/` directory. */
  dir: string;
  /** repomd data type, e.g. `primary`, `updateinfo`, `group`, `modules`. */
  type: string;
  /** Base file name without compression suffix, e.g. `primary.xml`, `comps.xml`, `modules.yaml`. */
  name: string;
  /** gzip (default) or none. */
  compression?: 'gz' | 'none';
  checksumType?: RepodataChecksumType;
  /** zlib level (default 6). */
  level?: number;
  /** Name the file `<checksum>-<name>` (default true) or just `<name>`. */
  checksumNames?: boolean;
  /** Prefix of location href (default `repodata/`). */
  hrefPrefix?: string;
  /** repomd timestamp (seconds); default now. */
  timestamp?: number;
}

const FLUSH_AT = 256 * 1024;

function checkType(t: string): RepodataChecksumType {
  if (!(CHECKSUM_TYPES as readonly string[]).includes(t)) {
    throw new StagepushError('REPODATA_BAD_CHECKSUM_TYPE', `checksum type "${t}" is not one of ${CHECKSUM_TYPES.join(', ')}`, { field: 'checksum_type' });
  }
  return t as RepodataChecksumType;
}

export class MetadataFileWriter {
  readonly type: string;
  private readonly opts: Required<Omit<MetadataFileOptions, 'timestamp'>> & { timestamp?: number };
  private readonly tmpPath: string;
  private readonly openHash: Hash;
  private readonly fileHash: Hash;
  private openSize = 0;
  private size = 0;
  private pending: string[] = [];
  private pendingLen = 0;
  private readonly head: Gzip | Transform;
  private readonly done: Promise<void>;
  private failed: unknown = null;
  private closed = false;

  constructor(opts: MetadataFileOptions) {
    this.type = opts.type;
    this.opts = {
      dir: opts.dir,
      type: opts.type,
      name: opts.name,
      compression: opts.compression ?? 'gz',
      checksumType: checkType(opts.checksumType ?? 'sha256'),
      level: opts.level ?? 6,
      checksumNames: opts.checksumNames ?? true,
      hrefPrefix: opts.hrefPrefix ?? 'repodata/',
      timestamp: opts.timestamp,
    };
    this.openHash = createHash(this.opts.checksumType);
    this.fileHash = createHash(this.opts.checksumType);
    this.tmpPath = path.join(opts.dir, `.${opts.name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.fileHash.update(chunk);
        this.size += chunk.length;
        cb(null, chunk);
      },
    });
    const gz = this.opts.compression === 'gz';
    this.head = gz ? createGzip({ level: this.opts.level }) : new Transform({ transform: (c, _e, cb) => cb(null, c) });
    const mk = mkdir(opts.dir, { recursive: true });
    this.done = mk
      .then(() => pipeline(this.head, counter, createWriteStream(this.tmpPath, { mode: 0o644 })))
      .catch((e: unknown) => {
        this.failed = e;
        throw e;
      });
    this.done.catch(() => undefined);
  }

  /** Append data (strings are UTF-8 encoded). Await it: it applies backpressure. */
  async write(data: string | Buffer): Promise<void> {
    if (this.closed) throw new StagepushError('REPODATA_WRITER_CLOSED', `${this.opts.name}: write after close`, { kind: 'internal' });
    if (typeof data === 'string') {
      this.pending.push(data);
      this.pendingLen += data.length;
      if (this.pendingLen >= FLUSH_AT) await this.flush();
    } else {
      await this.flush();
      await this.push(data);
    }
  }

  private async flush(): Promise<void> {
    if (!this.pending.length) return;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingLen = 0;
    await this.push(buf);
  }

  private async push(buf: Buffer): Promise<void> {
    if (this.failed) throw this.wrap(this.failed);
    this.openHash.update(buf);
    this.openSize += buf.length;
    if (!this.head.write(buf)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.head.off('error', onErr);
          resolve();
        };
        const onErr = (e: unknown) => {
          this.head.off('drain', onDrain);
          reject(this.wrap(e));
        };
        this.head.once('drain', onDrain);
        this.head.once('error', onErr);
      });
    }
  }

  private wrap(e: unknown): StagepushError {
    if (e instanceof StagepushError) return e;
    return new StagepushError('REPODATA_WRITE_FAILED', `cannot write ${path.join(this.opts.dir, this.opts.name)}: ${(e as Error).message}`, { kind: 'failed', cause: e, file: this.tmpPath });
  }

  /** Finish the file, rename it to its final name and return its repomd record. */
  async close(): Promise<RepomdRecord & { path: string }> {
    await this.flush();
    this.closed = true;
    this.head.end();
    try {
      await this.done;
    } catch (e) {
      await rm(this.tmpPath, { force: true });
      throw this.wrap(e);
    }
    const checksum = this.fileHash.digest('hex');
    const openChecksum = this.openHash.digest('hex');
    const fname = (this.opts.checksumNames ? `${checksum}-` : '') + this.opts.name + (this.opts.compression === 'gz' ? '.gz' : '');
    const finalPath = path.join(this.opts.dir, fname);
    await rename(this.tmpPath, finalPath);
    const rec: RepomdRecord & { path: string } = {
      type: this.opts.type,
      checksumType: this.opts.checksumType,
      checksum,
      location: this.opts.hrefPrefix + fname,
      timestamp: this.opts.timestamp ?? Math.floor(Date.now() / 1000),
      size: this.size,
      path: finalPath,
    };
    if (this.opts.compression === 'gz') {
      rec.openChecksum = openChecksum;
      rec.openChecksumType = this.opts.checksumType;
      rec.openSize = this.openSize;
    }
    return rec;
  }

  /** Give up: stop writing and remove the temporary file. */
  async abort(): Promise<void> {
    this.closed = true;
    this.head.destroy();
    await this.done.catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }
}

/** Write one whole metadata file from a string or chunks (small files: updateinfo, comps, modules). */
export async function writeMetadataFile(opts: MetadataFileOptions, content: string | Buffer | Iterable<string> | AsyncIterable<string>): Promise<RepomdRecord & { path: string }> {
  const w = new MetadataFileWriter(opts);
  try {
    if (typeof content === 'string' || Buffer.isBuffer(content)) await w.write(content);
    else for await (const c of content) await w.write(c);
    return await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
