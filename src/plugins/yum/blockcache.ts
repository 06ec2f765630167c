/**
 * The yum distributor's block cache (`<working dir>/repodata-blocks.db`, SQLite): for a block of
 * consecutive packages, the primary/filelists/other XML it produced and each as a compressed gzip
 * member. A block is keyed by a signature of everything its XML depends on (each unit's id,
 * stamp — which changes with its stored metadata and file — and published location, the checksum
 * type, the changelog limit, and FORMAT), so a cached block is always exactly what computing it
 * again would give. A republish after adding 10 packages recomputes and recompresses only the
 * blocks those packages fall into.
 *
 * It also records the last publish's sequence of block signatures and the repomd records of the
 * files those blocks made (`last`; the files themselves are kept beside it, see packages.ts): a
 * publish whose blocks are the same, in the same order, takes those files as they are.
 *
 * It is a cache: an unreadable or foreign file is deleted and started afresh; blocks no publish
 * used last time are dropped at the end of each publish.
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Bump whenever the XML a package produces changes (src/formats/repodata/{package,dump}.ts), so
 * blocks cached by an older stagepush are not reused.
 */
export const FORMAT = 1;
const FILE = 'repodata-blocks.db';

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

interface Row {
  p_raw: Buffer;
  p_gz: Buffer;
  f_raw: Buffer;
  f_gz: Buffer;
  o_raw: Buffer;
  o_gz: Buffer;
}

export class BlockCache {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;
  private lastSet: { variant: string; value: LastFiles } | null = null;
  private readonly used = new Set<string>();
  hits = 0;
  misses = 0;

  private constructor(db: Database.Database) {
    this.db = db;
    this.getStmt = db.prepare('SELECT p_raw, p_gz, f_raw, f_gz, o_raw, o_gz FROM blocks WHERE sig = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO blocks (sig, p_raw, p_gz, f_raw, f_gz, o_raw, o_gz) VALUES (?, ?, ?, ?, ?, ?, ?)');
    db.exec('BEGIN');
  }

  /** Open (or create) the cache in `dir`; a damaged or foreign file is replaced. */
  static open(dir: string): BlockCache {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, FILE);
    for (let attempt = 0; ; attempt++) {
      let db: Database.Database | null = null;
      try {
        db = new Database(file);
        db.pragma('page_size = 65536'); // blocks are tens of KiB: short overflow chains (only takes effect on a new file)
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = OFF');
        // Each block is read once per publish: a page cache (16 MiB by default here) would only
        // grow the publish's memory with the repository.
        db.pragma('cache_size = -512');
        if ((db.pragma('user_version', { simple: true }) as number) !== FORMAT) {
          db.exec('DROP TABLE IF EXISTS blocks');
          db.exec('DROP TABLE IF EXISTS last');
          db.pragma(`user_version = ${FORMAT}`);
        }
        db.exec('CREATE TABLE IF NOT EXISTS blocks (sig TEXT PRIMARY KEY, p_raw BLOB NOT NULL, p_gz BLOB NOT NULL, f_raw BLOB NOT NULL, f_gz BLOB NOT NULL, o_raw BLOB NOT NULL, o_gz BLOB NOT NULL)');
        db.exec('CREATE TABLE IF NOT EXISTS last (variant TEXT PRIMARY KEY, value TEXT NOT NULL)');
        return new BlockCache(db);
      } catch (e) {
        db?.close();
        if (attempt > 0) throw e;
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      }
    }
  }

  get(sig: string): CachedBlock | null {
    this.used.add(sig);
    const r = this.getStmt.get(sig) as Row | undefined;
    if (!r) {
      this.misses++;
      return null;
    }
    this.hits++;
    return { primary: { raw: r.p_raw, gz: r.p_gz }, filelists: { raw: r.f_raw, gz: r.f_gz }, other: { raw: r.o_raw, gz: r.o_gz } };
  }

  /** Keep a block this publish uses without reading it. */
  touch(sig: string): void {
    this.used.add(sig);
  }

  /** What the last publish of this variant made (null when unknown or unreadable). */
  last(variant: string): LastFiles | null {
    const r = this.db.prepare('SELECT value FROM last WHERE variant = ?').get(variant) as { value: string } | undefined;
    if (!r) return null;
    try {
      const v = JSON.parse(r.value) as LastFiles;
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
    this.used.add(sig);
    this.putStmt.run(sig, b.primary.raw, b.primary.gz, b.filelists.raw, b.filelists.gz, b.other.raw, b.other.gz);
  }

  /** Keep only the blocks this publish used, and save. */
  commit(): void {
    this.db.prepare('DELETE FROM blocks WHERE sig NOT IN (SELECT value FROM json_each(?))').run(JSON.stringify([...this.used]));
    if (this.lastSet) {
      this.db.prepare('DELETE FROM last').run();
      this.db.prepare('INSERT INTO last (variant, value) VALUES (?, ?)').run(this.lastSet.variant, JSON.stringify(this.lastSet.value));
    }
    this.db.exec('COMMIT');
    this.db.close();
  }

  /** After a failed or canceled publish: keep what was added (blocks are valid whatever happens next), drop nothing. */
  close(): void {
    if (!this.db.open) return;
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }
}
