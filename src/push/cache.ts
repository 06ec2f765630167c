/**
 * The push's own database, `<data-dir>/push.sqlite` (WAL): the stat cache (device, inode, size,
 * mtime → checksums) that spares re-hashing unchanged staged files on the next cron run, and the
 * staging table that parsed RPM headers are streamed into as the workers produce them (memory
 * stays flat; validation and import read them back one at a time).
 *
 * A dry run opens it read-only (or not at all when it does not exist) and stages headers in memory.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);

export interface StatKey {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface Sums {
  sha256?: string;
  md5?: string;
}

export class PushCache {
  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly staging: BetterSqlite3.Database,
    readonly readOnly: boolean,
  ) {}

  static open(dataDir: string, opts: { readOnly?: boolean } = {}): PushCache {
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    const file = path.join(dataDir, 'push.sqlite');
    let db: BetterSqlite3.Database;
    if (opts.readOnly) {
      db = existsSync(file) ? new Database(file, { readonly: true, fileMustExist: true }) : new Database(':memory:');
      if (!existsSync(file)) initSchema(db);
    } else {
      mkdirSync(dataDir, { recursive: true });
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 30000');
      initSchema(db);
    }
    // Headers of this run: a private temporary database (on disk, not in memory) so a push of
    // 20,000 packages does not hold them all.
    const staging = new Database('');
    staging.exec('CREATE TABLE staging (src TEXT PRIMARY KEY, record TEXT NOT NULL)');
    return new PushCache(db, staging, Boolean(opts.readOnly));
  }

  /** The checksum cache in the shape the staged source expects. */
  checksumCache(): { get(p: string, st: StatKey): Sums | undefined; set(p: string, st: StatKey, sums: Sums): void } {
    const get = this.db.prepare('SELECT dev, ino, size, mtime_ms, sha256, md5 FROM stat_cache WHERE path = ?');
    const set = this.readOnly
      ? null
      : this.db.prepare(
          'INSERT INTO stat_cache (path, dev, ino, size, mtime_ms, sha256, md5, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT(path) DO UPDATE SET dev=excluded.dev, ino=excluded.ino, size=excluded.size, mtime_ms=excluded.mtime_ms, ' +
            'sha256=COALESCE(excluded.sha256, CASE WHEN stat_cache.dev=excluded.dev AND stat_cache.ino=excluded.ino AND stat_cache.size=excluded.size AND stat_cache.mtime_ms=excluded.mtime_ms THEN stat_cache.sha256 END), ' +
            'md5=COALESCE(excluded.md5, CASE WHEN stat_cache.dev=excluded.dev AND stat_cache.ino=excluded.ino AND stat_cache.size=excluded.size AND stat_cache.mtime_ms=excluded.mtime_ms THEN stat_cache.md5 END), seen=excluded.seen',
        );
    return {
      get(p: string, st: StatKey): Sums | undefined {
        const row = get.get(p) as { dev: number; ino: number; size: number; mtime_ms: number; sha256: string | null; md5: string | null } | undefined;
        if (!row) return undefined;
        if (row.dev !== st.dev || row.ino !== st.ino || row.size !== st.size || row.mtime_ms !== st.mtimeMs) return undefined;
        const out: Sums = {};
        if (row.sha256) out.sha256 = row.sha256;
        if (row.md5) out.md5 = row.md5;
        return out;
      },
      set(p: string, st: StatKey, sums: Sums): void {
        set?.run(p, st.dev, st.ino, st.size, st.mtimeMs, sums.sha256 ?? null, sums.md5 ?? null, Date.now());
      },
    };
  }

  private insertStaging?: BetterSqlite3.Statement;
  /** Stream a parsed header into the staging table. */
  stageRecord(src: string, record: unknown): void {
    this.insertStaging ??= this.staging.prepare('INSERT OR REPLACE INTO staging (src, record) VALUES (?, ?)');
    this.insertStaging.run(src, JSON.stringify(record));
  }

  private selectStaging?: BetterSqlite3.Statement;
  stagedRecord<T>(src: string): T | undefined {
    this.selectStaging ??= this.staging.prepare('SELECT record FROM staging WHERE src = ?');
    const row = this.selectStaging.get(src) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as T) : undefined;
  }

  stagedCount(): number {
    return (this.staging.prepare('SELECT COUNT(*) AS n FROM staging').get() as { n: number }).n;
  }

  /** Forget stat cache rows not seen for `days` days (gc); with `dryRun`, only count them. */
  prune(days: number, opts: { dryRun?: boolean } = {}): number {
    const before = Date.now() - days * 86400_000;
    if (opts.dryRun || this.readOnly) return (this.db.prepare('SELECT COUNT(*) AS n FROM stat_cache WHERE seen < ?').get(before) as { n: number }).n;
    return this.db.prepare('DELETE FROM stat_cache WHERE seen < ?').run(before).changes;
  }

  close(): void {
    try {
      this.staging.close();
    } finally {
      this.db.close();
    }
  }
}

function initSchema(db: BetterSqlite3.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');
    CREATE TABLE IF NOT EXISTS stat_cache (
      path TEXT PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL, sha256 TEXT, md5 TEXT, seen INTEGER NOT NULL)`);
}
