/**
 * A repodata file written as a sequence of gzip members (RFC 1952 §2.2: a gzip file is a series
 * of members; zlib's gzread, libsolv, librepo and createrepo_c read them all as one stream). Each
 * member is compressed on its own, so a caller can keep the compressed members of unchanged parts
 * and write them again without recompressing: `writeMember(raw, gz)` appends a member and accounts
 * for both the open (uncompressed) and the compressed bytes (checksums and sizes for repomd.xml).
 * close() renames the file to its checksum-prefixed name, as MetadataFileWriter does.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { StagepushError } from '../../errors.js';
import { CHECKSUM_TYPES, type RepodataChecksumType } from './file.js';
import type { RepomdRecord } from './types.js';

const gzipAsync = promisify(gzip);

/** Compress one member (on libuv's thread pool). */
export function gzipMember(raw: Buffer, level = 6): Promise<Buffer> {
  return gzipAsync(raw, { level });
}

export interface GzipMembersFileOptions {
  dir: string;
  /** repomd data type, e.g. `primary`. */
  type: string;
  /** Base name without `.gz`, e.g. `primary.xml`. */
  name: string;
  checksumType?: RepodataChecksumType;
  /** repomd timestamp (seconds); default now. */
  timestamp?: number;
  /** Prefix of the location href (default `repodata/`). */
  hrefPrefix?: string;
}

export class GzipMembersFileWriter {
  private readonly checksumType: RepodataChecksumType;
  private readonly tmpPath: string;
  private readonly openHash: Hash;
  private readonly fileHash: Hash;
  private fd: number | null;
  private openSize = 0;
  private size = 0;

  constructor(private readonly opts: GzipMembersFileOptions) {
    const ct = opts.checksumType ?? 'sha256';
    if (!(CHECKSUM_TYPES as readonly string[]).includes(ct)) {
      throw new StagepushError('REPODATA_BAD_CHECKSUM_TYPE', `checksum type "${ct}" is not one of ${CHECKSUM_TYPES.join(', ')}`, { field: 'checksum_type' });
    }
    this.checksumType = ct;
    this.openHash = createHash(ct);
    this.fileHash = createHash(ct);
    this.tmpPath = path.join(opts.dir, `.${opts.name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    try {
      this.fd = openSync(this.tmpPath, 'wx', 0o644);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown): StagepushError {
    if (e instanceof StagepushError) return e;
    return new StagepushError('REPODATA_WRITE_FAILED', `cannot write ${path.join(this.opts.dir, this.opts.name)}.gz: ${(e as Error).message}`, { kind: 'failed', cause: e, file: this.tmpPath });
  }

  /** Append one member: `gz` must be the gzip compression of `raw`. */
  writeMember(raw: Buffer, gz: Buffer): void {
    if (this.fd === null) throw new StagepushError('REPODATA_WRITER_CLOSED', `${this.opts.name}: write after close`, { kind: 'internal' });
    this.openHash.update(raw);
    this.openSize += raw.length;
    this.fileHash.update(gz);
    this.size += gz.length;
    try {
      let off = 0;
      while (off < gz.length) off += writeSync(this.fd, gz, off, gz.length - off);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Finish: rename to `<checksum>-<name>.gz` and return the repomd record. */
  async close(): Promise<RepomdRecord & { path: string }> {
    if (this.fd === null) throw new StagepushError('REPODATA_WRITER_CLOSED', `${this.opts.name}: closed twice`, { kind: 'internal' });
    closeSync(this.fd);
    this.fd = null;
    const checksum = this.fileHash.digest('hex');
    const fname = `${checksum}-${this.opts.name}.gz`;
    const finalPath = path.join(this.opts.dir, fname);
    try {
      await rename(this.tmpPath, finalPath);
    } catch (e) {
      throw this.wrap(e);
    }
    return {
      type: this.opts.type,
      checksumType: this.checksumType,
      checksum,
      location: (this.opts.hrefPrefix ?? 'repodata/') + fname,
      timestamp: this.opts.timestamp ?? Math.floor(Date.now() / 1000),
      size: this.size,
      openChecksum: this.openHash.digest('hex'),
      openChecksumType: this.checksumType,
      openSize: this.openSize,
      path: finalPath,
    };
  }

  /** Give up: remove the temporary file. */
  async abort(): Promise<void> {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
    }
    await rm(this.tmpPath, { force: true });
  }
}
