/**
 * The yum distributor's block cache (`<working dir>/repodata-blocks/`, one file per block): for a
 * block of consecutive packages, the primary/filelists/other XML it produced and each as a
 * compressed gzip member. A block is keyed by a signature of everything its XML depends on (each
 * unit's id, stamp — which changes with its stored metadata and file — and published location,
 * the checksum type, the changelog limit, and FORMAT), so a cached block is always exactly what
 * computing it again would give. A republish after adding 10 packages recomputes and recompresses
 * only the blocks those packages fall into.
 *
 * It also records the last publish's sequence of block signatures and the repomd records of the
 * files those blocks made (`last.json`; the files themselves are kept beside it, see packages.ts):
 * a publish whose blocks are the same, in the same order, takes those files as they are.
 *
 * Plain files, written whole and renamed into place: a block is tens of MiB of XML for packages
 * with long file lists, and a SQLite database wrote it twice (its write-ahead log, then the
 * checkpoint) with a page of overhead per 64 KiB. It is a cache: a file that is unreadable, short
 * or of another FORMAT is a miss; blocks no publish used last time are deleted at the end of
 * each publish; the SQLite file of earlier versions (`repodata-blocks.db`) is removed.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Bump whenever the XML a package produces changes (src/formats/repodata/{package,dump}.ts), so
 * blocks cached by an older stagepush are not reused.
 */
export const FORMAT = 2; // 2: weak dependencies from the old tags (rpm < 4.12)
const DIR = 'repodata-blocks';
const LAST = 'last.json';
/** Block file header: magic, FORMAT, then the six lengths (uint32 BE each). */
const MAGIC = 0x53424c4b; // "SBLK"
const HEADER = 8 * 4;
const SIG_RE = /^[0-9a-f]{64}$/;

export interface CachedBlock {
  primary: { raw: Buffer; gz: Buffer };
  filelists: { raw: Buffer; gz: Buffer };
  other: { raw: Buffer; gz: Buffer };
}

/** The last publish's package files: the block signatures in order and what each file was. */
export interface LastFiles {
  total: number;
  sigs: string[];
  /** Per kind (primary, filelists, other): the repomd record (without timestamp) and the kept file's name. */
  files: Record<string, { record: Record<string, string | number>; file: string }>;
}

const parts = (b: CachedBlock): Buffer[] => [b.primary.raw, b.primary.gz, b.filelists.raw, b.filelists.gz, b.other.raw, b.other.gz];

export class BlockCache {
  private lastSet: { variant: string; value: LastFiles } | null = null;
  private readonly used = new Set<string>();
  hits = 0;
  misses = 0;

  private constructor(private readonly dir: string) {}

  /** Open (or create) the cache in `dir` (a distributor's working directory). */
  static open(workingDir: string): BlockCache {
    const dir = path.join(workingDir, DIR);
    mkdirSync(dir, { recursive: true });
    // The SQLite cache of earlier versions, and temporary files a killed publish left.
    for (const f of ['repodata-blocks.db', 'repodata-blocks.db-wal', 'repodata-blocks.db-shm']) rmSync(path.join(workingDir, f), { force: true });
    for (const f of readdirSync(dir)) if (f.includes('.tmp-')) rmSync(path.join(dir, f), { force: true });
    return new BlockCache(dir);
  }

  get(sig: string): CachedBlock | null {
    this.used.add(sig);
    const b = SIG_RE.test(sig) ? this.read(sig) : null;
    if (b) this.hits++;
    else this.misses++;
    return b;
  }

  private read(sig: string): CachedBlock | null {
    let buf: Buffer;
    try {
      buf = readFileSync(path.join(this.dir, sig));
    } catch {
      return null;
    }
    if (buf.length < HEADER || buf.readUInt32BE(0) !== MAGIC || buf.readUInt32BE(4) !== FORMAT) return null;
    const views: Buffer[] = [];
    let at = HEADER;
    for (let i = 0; i < 6; i++) {
      const len = buf.readUInt32BE(8 + 4 * i);
      if (at + len > buf.length) return null;
      views.push(buf.subarray(at, at + len));
      at += len;
    }
    if (at !== buf.length) return null;
    const [pr, pg, fr, fg, or, og] = views as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    return { primary: { raw: pr, gz: pg }, filelists: { raw: fr, gz: fg }, other: { raw: or, gz: og } };
  }

  /** Keep a block this publish uses without reading it. */
  touch(sig: string): void {
    this.used.add(sig);
  }

  /** What the last publish of this variant made (null when unknown or unreadable). */
  last(variant: string): LastFiles | null {
    try {
      const r = JSON.parse(readFileSync(path.join(this.dir, LAST), 'utf8')) as { format?: unknown; variant?: unknown; value?: LastFiles };
      const v = r.value;
      if (r.format !== FORMAT || r.variant !== variant || !v) return null;
      return Number.isInteger(v.total) && Array.isArray(v.sigs) && v.files && typeof v.files === 'object' ? v : null;
    } catch {
      return null;
    }
  }

  /** Record what this publish made (saved by commit(); the only variant kept). */
  setLast(variant: string, value: LastFiles): void {
    this.lastSet = { variant, value };
  }

  put(sig: string, b: CachedBlock): void {
    if (!SIG_RE.test(sig)) return;
    this.used.add(sig);
    const bufs = parts(b);
    const header = Buffer.alloc(HEADER);
    header.writeUInt32BE(MAGIC, 0);
    header.writeUInt32BE(FORMAT, 4);
    bufs.forEach((x, i) => header.writeUInt32BE(x.length, 8 + 4 * i));
    const dest = path.join(this.dir, sig);
    const tmp = `${dest}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      for (const x of [header, ...bufs]) {
        for (let off = 0; off < x.length; ) off += writeSync(fd, x, off, x.length - off);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
  }

  /** Keep only the blocks this publish used, and save what it made. */
  commit(): void {
    for (const f of readdirSync(this.dir)) {
      if (SIG_RE.test(f) && !this.used.has(f)) rmSync(path.join(this.dir, f), { force: true });
    }
    if (this.lastSet) {
      const file = path.join(this.dir, LAST);
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, JSON.stringify({ format: FORMAT, variant: this.lastSet.variant, value: this.lastSet.value }));
      renameSync(tmp, file);
    }
  }

  /** After a failed or canceled publish: keep what was added (blocks are valid whatever happens next), drop nothing. */
  close(): void {}
}

