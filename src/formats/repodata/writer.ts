/**
 * RepodataWriter: primary.xml.gz, filelists.xml.gz and other.xml.gz written side by side, one
 * package entry at a time (memory stays flat), each with checksum/open-checksum/size/open-size.
 * The package count goes in each file's header, so it is given up front and checked at close.
 */
import { StagepushError } from '../../errors.js';
import { MetadataFileWriter, type RepodataChecksumType } from '../repomd/file.js';
import type { RepomdRecord } from '../repomd/types.js';
import {
  dumpFilelistsPackage,
  dumpOtherPackage,
  dumpPrimaryPackage,
  FILELISTS_FOOTER,
  filelistsHeader,
  OTHER_FOOTER,
  otherHeader,
  PRIMARY_FOOTER,
  primaryHeader,
} from './dump.js';
import type { RepodataPackage } from './package.js';

export interface RepodataWriterOptions {
  /** The repodata/ directory to write into. */
  dir: string;
  /** Exact number of packages that will be added (written in the headers). */
  packageCount: number;
  /** Checksum of the metadata files (default sha256). */
  checksumType?: RepodataChecksumType;
  /** gzip level (default 6). */
  level?: number;
  /** repomd timestamp of the three records (default: now at close). */
  timestamp?: number;
  /** Checksum-prefixed file names (default true). */
  checksumNames?: boolean;
}

export interface RepodataResult {
  primary: RepomdRecord & { path: string };
  filelists: RepomdRecord & { path: string };
  other: RepomdRecord & { path: string };
}

export class RepodataWriter {
  private readonly primary: MetadataFileWriter;
  private readonly filelists: MetadataFileWriter;
  private readonly other: MetadataFileWriter;
  private readonly expected: number;
  private added = 0;
  private started = false;

  constructor(opts: RepodataWriterOptions) {
    if (!Number.isInteger(opts.packageCount) || opts.packageCount < 0) {
      throw new StagepushError('REPODATA_BAD_COUNT', `package count must be a non-negative integer, got ${opts.packageCount}`, { field: 'packageCount', kind: 'internal' });
    }
    this.expected = opts.packageCount;
    const common = { dir: opts.dir, checksumType: opts.checksumType, level: opts.level, timestamp: opts.timestamp, checksumNames: opts.checksumNames };
    this.primary = new MetadataFileWriter({ ...common, type: 'primary', name: 'primary.xml' });
    this.filelists = new MetadataFileWriter({ ...common, type: 'filelists', name: 'filelists.xml' });
    this.other = new MetadataFileWriter({ ...common, type: 'other', name: 'other.xml' });
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all([
      this.primary.write(primaryHeader(this.expected)),
      this.filelists.write(filelistsHeader(this.expected)),
      this.other.write(otherHeader(this.expected)),
    ]);
  }

  /** Add one package entry (from toRepodataPackage). */
  async add(pkg: RepodataPackage): Promise<void> {
    await this.start();
    if (this.added >= this.expected) {
      throw new StagepushError('REPODATA_COUNT_MISMATCH', `more packages added than the ${this.expected} announced (at ${pkg.locationHref})`, { kind: 'internal', entry: pkg.locationHref });
    }
    this.added++;
    await Promise.all([this.primary.write(dumpPrimaryPackage(pkg)), this.filelists.write(dumpFilelistsPackage(pkg)), this.other.write(dumpOtherPackage(pkg))]);
  }

  /** Number of packages added so far. */
  get count(): number {
    return this.added;
  }

  /** Finish the three files (renamed to `<checksum>-<type>.xml.gz`) and return their repomd records. */
  async close(): Promise<RepodataResult> {
    await this.start();
    if (this.added !== this.expected) {
      await this.abort();
      throw new StagepushError('REPODATA_COUNT_MISMATCH', `${this.added} packages added, ${this.expected} announced`, { kind: 'internal' });
    }
    await Promise.all([this.primary.write(PRIMARY_FOOTER), this.filelists.write(FILELISTS_FOOTER), this.other.write(OTHER_FOOTER)]);
    const [primary, filelists, other] = await Promise.all([this.primary.close(), this.filelists.close(), this.other.close()]);
    return { primary, filelists, other };
  }

  /** Stop and remove the partial files. */
  async abort(): Promise<void> {
    await Promise.all([this.primary.abort(), this.filelists.abort(), this.other.abort()]);
  }
}
