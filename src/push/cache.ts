/**
 * The push's own database, `<data-dir>/push.sqlite` (WAL):
 *  - the stat cache (device, inode, size, mtime, ctime → checksums) that spares re-hashing
 *    unchanged staged files on the next cron run;
 *  - the staging table of parsed RPM headers (`rpm_headers`, by sha256), written as the loader's
 *    workers produce them (memory stays flat: nothing keeps them in the main thread) and read back
 *    one at a time by validation, planning and import. It is kept between runs, so an unchanged
 *    staged RPM (stat cache hit + stored header) is neither opened nor parsed again;
 *  - advisories built by earlier runs (`parsed_items`, by a digest of the file's text, path,
 *    destinations, origin and the building code), taken instead of parsing the file again;
 *  - what earlier pushes owe: hooks that failed (`pending_hooks`), repositories they changed
 *    through a shared unit and did not publish (`pending_publishes`).
 *
 * Writes are grouped in transactions of a few hundred rows (call `flush()` at the end of a phase).
 * A dry run opens it read-only (or not at all when it does not exist) and stages new headers in a
 * private temporary database.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolvePath } from '../paths.js';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { enableWal } from '../engine/wal.js';
import { isPidAlive } from '../engine/store.js';
import { rpmRecordSummary, type RpmRecordSummary } from '../source/staged/summary.js';
import type { ParsedCache } from '../source/staged/index.js';

const require = createRequire(import.meta.url);

export interface StatKey {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** The inode's change time (see FileStat in src/source/staged/walk.ts). */
  ctimeMs: number;
  /** The file's mode, when the caller knows it (see FileStat in src/source/staged/walk.ts). */
  mode?: number;
}

/** A stat cache row: the file's identity when it was hashed, and its sums. */
export interface StatRow {
  dev: number;
  ino: number;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  md5: string | null;
}

export interface Sums {
  sha256?: string;
  md5?: string;
}

/** What a stat cache hit gives: sums, and for an RPM whose header is stored, its signing key. */
export interface CachedSums extends Sums {
  rpm?: { signingKey: string | null };
}

/** The few header fields planning needs (name, EVR, arch, source or binary). */
export type RpmSummary = RpmRecordSummary;

const BATCH = 500;
/** SQLite page cache per connection (KiB). */
const CACHE_KIB = 4096;
/** A stored header record and its summary, as the JSON texts they are stored as. */
interface RecordText {
  record: string;
  summary: string;
}

/**
 * How long a claim on an owed publish (see `claimPublish`) made on another host holds: its
 * claimant cannot be asked whether it lives. A day, as a crashed push's pins.
 */
const CLAIM_HOST_MS = 86400_000;

/** Header records read ahead in one query (see `expectRecords`). */
const RECORD_CHUNK = 256;

export class PushCache {
  private pending = 0;
  /**
   * Summaries (name, EVR, arch, key: ~150 bytes of JSON) of this run's RPMs, met while loading,
   * so planning does not look each up again. Not the header records: those stay in the table.
   */
  private summaries = new Map<string, string>();
  private statements = new Map<string, BetterSqlite3.Statement>();
  /**
   * Device, size and mode of each file the loader stat'ed in this run (by the path as the loader
   * gave it: the items' own strings): the free-space check needs them, and asking the filesystem
   * again cost a stat per staged file.
   */
  private loaded = new Map<string, { dev: number; size: number; mode?: number }>();

  private constructor(
    private readonly db: BetterSqlite3.Database,
    /** Where new headers go: the database itself, or a temporary one for a read-only (dry) run. */
    private readonly staging: BetterSqlite3.Database,
    readonly readOnly: boolean,
  ) {}

  static open(dataDir: string, opts: { readOnly?: boolean } = {}): PushCache {
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    const file = path.join(dataDir, 'push.sqlite');
    let db: BetterSqlite3.Database;
    // The file is a cache: one that is not a database (or whose header is damaged) is set aside
    // (write) or ignored (read-only) rather than failing the push.
    const damaged = (e: unknown) => ['SQLITE_NOTADB', 'SQLITE_CORRUPT'].includes(String((e as { code?: unknown })?.code));
    const empty = (): BetterSqlite3.Database => {
      const m = new Database(':memory:');
      initSchema(m);
      return m;
    };
    if (opts.readOnly) {
      if (existsSync(file)) {
        // Opened for writing (and never written): the last connection to close a WAL database
        // removes its -wal and -shm files, a read-only one cannot and would leave them behind.
        // Read-only where this user may not write (a dry run on someone else's data dir).
        try {
          db = new Database(file, { fileMustExist: true });
        } catch {
          db = new Database(file, { readonly: true, fileMustExist: true });
        }
        try {
          db.pragma('busy_timeout = 30000');
          db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
        } catch (e) {
          if (!damaged(e)) throw e;
          db.close();
          db = empty();
        }
      } else {
        db = empty();
      }
    } else {
      mkdirSync(dataDir, { recursive: true });
      const openRw = (): BetterSqlite3.Database => {
        const d = new Database(file);
        try {
          d.pragma('busy_timeout = 30000');
          enableWal(d);
          d.pragma('synchronous = NORMAL');
          initSchema(d);
          return d;
        } catch (e) {
          d.close();
          throw e;
        }
      };
      try {
        db = openRw();
      } catch (e) {
        if (!damaged(e)) throw e;
        const aside = `${file}.damaged-${Date.now()}`;
        renameSync(file, aside);
        for (const x of ['-wal', '-shm']) rmSync(file + x, { force: true });
        db = openRw();
      }
    }
    let staging = db;
    if (opts.readOnly) {
      // Headers of this run: a private temporary database (on disk, not in memory).
      staging = new Database('');
      initSchema(staging);
    }
    // Page caches bounded (better-sqlite3's build defaults to 16 MiB a connection): a push reads
    // and writes a row per staged file, and the cache only grew the push's memory with their number.
    for (const d of new Set([db, staging])) d.pragma(`cache_size = -${CACHE_KIB}`);
    const c = new PushCache(db, staging, Boolean(opts.readOnly));
    c.headerDbs = staging === db ? [db] : hasTable(db, 'rpm_headers') ? [staging, db] : [staging];
    return c;
  }

  /** Databases holding headers, newest first (a read-only run: its own temporary one, then the stored ones). */
  private headerDbs: BetterSqlite3.Database[] = [];

  private stmt(db: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement {
    const k = `${db === this.db ? 'db' : 'staging'}\u0000${sql}`;
    let s = this.statements.get(k);
    if (!s) {
      s = db.prepare(sql);
      this.statements.set(k, s);
    }
    return s;
  }

  /**
   * Count a write; group writes in transactions of BATCH rows. IMMEDIATE: the write lock is taken
   * (waiting busy_timeout) when the group starts. A deferred one that read first could not get it
   * once another push had written since (SQLITE_BUSY at once, busy_timeout or not): two pushes
   * started together on a fresh data dir failed with "database is locked".
   */
  private wrote(db: BetterSqlite3.Database): void {
    if (!db.inTransaction) db.exec(db === this.db ? 'BEGIN IMMEDIATE' : 'BEGIN');
    if (++this.pending >= BATCH) this.flush();
  }

  /** Commit grouped writes. */
  flush(): void {
    for (const d of new Set([this.db, this.staging])) if (d.open && d.inTransaction) d.exec('COMMIT');
    this.pending = 0;
  }

  /**
   * The checksum cache in the shape the staged source expects (paths are resolved).
   * `storedPath`: where the content store keeps a sha256's file (see `get`).
   */
  checksumCache(opts: { storedPath?: (sha256: string) => string } = {}): { get(p: string, st: StatKey): CachedSums | undefined; set(p: string, st: StatKey, sums: Sums): void; prefetch(paths: string[]): void } {
    // One lookup per file: the stat row and, for an RPM, whether its header is stored (and its key).
    const withHeaders = this.headerDbs.includes(this.db);
    // A dry run reads a push.sqlite of an older stagepush as it is: without ctimes, no row is
    // taken on its identity alone (see `get`).
    const ctime = hasColumn(this.db, 'stat_cache', 'ctime_ms') ? 's.ctime_ms' : 'NULL AS ctime_ms';
    const columns = withHeaders
      ? `s.path, s.dev, s.ino, s.size, s.mtime_ms, ${ctime}, s.sha256, s.md5, s.seen, h.signing_key, h.sha256 AS header, h.summary FROM stat_cache s LEFT JOIN rpm_headers h ON h.sha256 = s.sha256`
      : `s.path, s.dev, s.ino, s.size, s.mtime_ms, ${ctime}, s.sha256, s.md5, s.seen, NULL AS signing_key, NULL AS header, NULL AS summary FROM stat_cache s`;
    type Row = { path: string; dev: number; ino: number; size: number; mtime_ms: number; ctime_ms: number | null; sha256: string | null; md5: string | null; seen: number; signing_key: string | null; header: string | null; summary: string | null };
    // Rows of the files the loader is about to look at, read in one query per chunk (a lookup per
    // file cost more than the query it ran: ~50 ms for 5,000 files); a prefetched path without a
    // row is a known miss. Each row is used once.
    let prefetched: Map<string, Row | null> | null = null;
    const lookup = (p: string): Row | undefined => {
      const abs = resolvePath(p);
      if (prefetched?.has(abs)) {
        const row = prefetched.get(abs);
        prefetched.delete(abs);
        return row ?? undefined;
      }
      return this.stmt(this.db, `SELECT ${columns} WHERE s.path = ?`).get(abs) as Row | undefined;
    };
    const prefetch = (paths: string[]): void => {
      const abs = [...new Set(paths.map((p) => resolvePath(p)))];
      prefetched = new Map(abs.map((p) => [p, null]));
      for (const r of this.rowsByPath<Row>(`SELECT ${columns}`, abs)) prefetched.set(r.path, r);
    };
    // A sum this run did not compute is kept only for the very same file (ctime included).
    const same = 'stat_cache.dev=excluded.dev AND stat_cache.ino=excluded.ino AND stat_cache.size=excluded.size AND stat_cache.mtime_ms=excluded.mtime_ms AND stat_cache.ctime_ms IS excluded.ctime_ms';
    const set = this.readOnly
      ? null
      : this.stmt(
          this.db,
          'INSERT INTO stat_cache (path, dev, ino, size, mtime_ms, ctime_ms, sha256, md5, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT(path) DO UPDATE SET dev=excluded.dev, ino=excluded.ino, size=excluded.size, mtime_ms=excluded.mtime_ms, ctime_ms=excluded.ctime_ms, ' +
            `sha256=COALESCE(excluded.sha256, CASE WHEN ${same} THEN stat_cache.sha256 END), ` +
            `md5=COALESCE(excluded.md5, CASE WHEN ${same} THEN stat_cache.md5 END), seen=excluded.seen`,
        );
    // A hit is marked seen (with the ctime it adopts), at most once a day: gc forgets rows not seen
    // for log_retention_days, and without this it forgot the files pushed unchanged every day
    // (each then hashed again, its stored header pruned).
    const touchRow = this.readOnly ? null : this.stmt(this.db, 'UPDATE stat_cache SET ctime_ms = ?, seen = ? WHERE path = ?');
    /**
     * The file is the content store's own file for this digest (one inode: the store hard-linked
     * it, at this push's ingest or an earlier one's): its content is what was hashed.
     */
    const isStored = (sha256: string | null, st: StatKey): boolean => {
      if (!sha256 || !opts.storedPath) return false;
      try {
        const s = statSync(opts.storedPath(sha256), { throwIfNoEntry: false });
        return s !== undefined && s.dev === st.dev && s.ino === st.ino;
      } catch {
        return false;
      }
    };
    return {
      get: (p: string, st: StatKey): CachedSums | undefined => {
        this.loaded.set(p, { dev: st.dev, size: st.size, mode: st.mode });
        const row = lookup(p);
        if (!row) return undefined;
        if (row.dev !== st.dev || row.ino !== st.ino || row.size !== st.size || row.mtime_ms !== st.mtimeMs) return undefined;
        if (row.ctime_ms !== st.ctimeMs) {
          // The inode changed since it was hashed. Without the store holding it, nothing kept its
          // number from being reused: a file replaced by tar or cp -p (size and mtime restored)
          // in push.store_files: copy, or on another filesystem, looked unchanged, and was pushed
          // with the old digest (or refused against its new staged sha256sum). But a link made
          // or removed changes the ctime too: the store's and the published pool's hard links
          // (link mode), gc, anyone linking the file elsewhere. A file that is the store's own
          // file for the cached digest holds that content: taken, with its new ctime; any other
          // is hashed again.
          if (!isStored(row.sha256, st)) return undefined;
        }
        const now = Date.now();
        if (touchRow && (row.ctime_ms !== st.ctimeMs || now - row.seen > 86400_000)) {
          touchRow.run(st.ctimeMs, now, row.path);
          this.wrote(this.db);
        }
        const out: CachedSums = {};
        if (row.sha256) out.sha256 = row.sha256;
        if (row.md5) out.md5 = row.md5;
        if (row.header) {
          out.rpm = { signingKey: row.signing_key };
          if (row.summary) this.summaries.set(row.header, row.summary);
        }
        if (!row.header && this.staging !== this.db && row.sha256) {
          // A dry run may have staged it in its own temporary database.
          const h = this.summary(row.sha256);
          if (h) out.rpm = { signingKey: h.signingKey };
        }
        return out;
      },
      set: (p: string, st: StatKey, sums: Sums): void => {
        this.loaded.set(p, { dev: st.dev, size: st.size, mode: st.mode });
        prefetched?.delete(resolvePath(p));
        if (!set) return;
        set.run(resolvePath(p), st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, sums.sha256 ?? null, sums.md5 ?? null, Date.now());
        this.wrote(this.db);
      },
      prefetch,
    };
  }

  /**
   * Drop what this run learnt while loading (header summaries, the loader's stats): needed to
   * plan and to check free space, not after the import. Asked again, they come from the database
   * and the filesystem.
   */
  forgetLoad(): void {
    this.summaries.clear();
    this.loaded.clear();
  }

  /** Device, size and mode of a staged file as the loader saw it in this run (undefined: not seen under this path). */
  loadedStat(p: string): { dev: number; size: number; mode?: number } | undefined {
    return this.loaded.get(p);
  }

  /** The stat cache rows of many paths (resolved) in one query; a path without a row maps to null. */
  statMany(paths: string[]): Map<string, StatRow | null> {
    const abs = [...new Set(paths.map((p) => resolvePath(p)))];
    const out = new Map<string, StatRow | null>(abs.map((p) => [p, null]));
    for (const r of this.rowsByPath<StatRow & { path: string }>('SELECT s.path, s.dev, s.ino, s.size, s.mtime_ms, s.sha256, s.md5 FROM stat_cache s', abs)) {
      const { path: p, ...row } = r;
      out.set(p, row);
    }
    return out;
  }

  /** The rows of `select` (over `stat_cache s`) for these resolved paths, in one query (the list passed as JSON). */
  private rowsByPath<T>(select: string, abs: string[]): T[] {
    return this.stmt(this.db, `${select} WHERE s.path IN (SELECT value FROM json_each(?))`).all(JSON.stringify(abs)) as T[];
  }

  /** The stat cache row of a path (resolved). */
  stat(p: string): StatRow | undefined {
    return this.stmt(this.db, 'SELECT dev, ino, size, mtime_ms, sha256, md5 FROM stat_cache WHERE path = ?').get(resolvePath(p)) as StatRow | undefined;
  }

  /** Stream a parsed header into the staging table (by the file's sha256). */
  stageRecord(sha256: string, record: Parameters<typeof rpmRecordSummary>[0]): void {
    const json = JSON.stringify(record);
    this.stageRecordJson(sha256, json, rpmRecordSummary(record, json));
  }

  /** The same, with the record already as JSON text and its summary. */
  stageRecordJson(sha256: string, json: string, summary: RpmSummary): void {
    this.summaries.set(sha256, JSON.stringify(summary));
    this.stmt(this.staging, 'INSERT OR REPLACE INTO rpm_headers (sha256, signing_key, summary, record, seen) VALUES (?, ?, ?, ?, ?)').run(sha256, summary.signingKey, JSON.stringify(summary), json, Date.now());
    this.wrote(this.staging);
  }

  /** Planning's view of a stored header (small: no file lists, no changelogs). */
  summary(sha256: string): RpmSummary | undefined {
    const known = this.summaries.get(sha256);
    if (known !== undefined) return JSON.parse(known) as RpmSummary;
    for (const d of this.headerDbs) {
      const row = this.stmt(d, 'SELECT summary FROM rpm_headers WHERE sha256 = ?').get(sha256) as { summary: string } | undefined;
      if (row) return JSON.parse(row.summary) as RpmSummary;
    }
    return undefined;
  }

  /** The whole stored header record of a file's sha256. */
  stagedRecord<T>(sha256: string): T | undefined {
    const text = this.recordText(sha256);
    return text === undefined ? undefined : (JSON.parse(text.record) as T);
  }

  /**
   * The stored header record of a file's sha256 as its JSON text, with its summary: what the yum
   * importer stores as the unit's record without parsing it (FileFacts.extra, see knownRpm).
   */
  stagedRecordText(sha256: string): { json: string; summary: RpmSummary } | undefined {
    const text = this.recordText(sha256);
    return text === undefined ? undefined : { json: text.record, summary: JSON.parse(text.summary) as RpmSummary };
  }

  /** Records announced by `expectRecords`: their order, and the texts of the chunk read ahead. */
  private ahead: { pos: Map<string, number>; order: string[]; texts: Map<string, RecordText> } | null = null;

  /**
   * The header records of these sha256s will be asked for next, about in this order: they are
   * read a chunk at a time (one query per chunk, not one per record); only one chunk's texts are
   * held at a time.
   */
  expectRecords(sha256s: string[]): void {
    const order = [...new Set(sha256s)];
    this.ahead = { pos: new Map(order.map((s, i) => [s, i])), order, texts: new Map() };
  }

  private recordText(sha256: string): RecordText | undefined {
    const a = this.ahead;
    if (a) {
      let t = a.texts.get(sha256);
      if (t === undefined && a.pos.has(sha256)) {
        const i = a.pos.get(sha256)!;
        a.texts = this.readRecords(a.order.slice(i, i + RECORD_CHUNK));
        t = a.texts.get(sha256);
      }
      if (t !== undefined) {
        // Each text is handed out once from the chunk (asked again: read again).
        a.texts.delete(sha256);
        return t;
      }
    }
    for (const d of this.headerDbs) {
      const row = this.stmt(d, 'SELECT record, summary FROM rpm_headers WHERE sha256 = ?').get(sha256) as RecordText | undefined;
      if (row) return row;
    }
    return undefined;
  }

  /** Records of these sha256s, from the newest database holding each. */
  private readRecords(sha256s: string[]): Map<string, RecordText> {
    const out = new Map<string, RecordText>();
    let want = sha256s;
    for (const d of this.headerDbs) {
      if (!want.length) break;
      const rows = this.stmt(d, 'SELECT sha256, record, summary FROM rpm_headers WHERE sha256 IN (SELECT value FROM json_each(?))').all(JSON.stringify(want)) as Array<RecordText & { sha256: string }>;
      for (const r of rows) out.set(r.sha256, { record: r.record, summary: r.summary });
      want = want.filter((s) => !out.has(s));
    }
    return out;
  }

  /** Mark headers as used by this run (kept by `prune`). */
  touch(sha256s: Iterable<string>): void {
    if (this.readOnly) return;
    const st = this.stmt(this.db, 'UPDATE rpm_headers SET seen = ? WHERE sha256 = ?');
    const now = Date.now();
    for (const s of sha256s) {
      st.run(now, s);
      this.wrote(this.db);
    }
    this.flush();
  }

  stagedCount(): number {
    return (this.staging.prepare('SELECT COUNT(*) AS n FROM rpm_headers').get() as { n: number }).n;
  }

  /**
   * Advisories built by earlier runs, by the key the loader gives (see ParsedCache in
   * src/source/staged/errata.ts). A hit is marked seen at most once a day (gc forgets the others).
   */
  parsedCache(): ParsedCache {
    // A dry run reads a push.sqlite of an older stagepush as it is: without the table, no cache.
    if (!hasTable(this.db, 'parsed_items')) return { get: () => undefined, set: () => undefined };
    return {
      get: (key) => {
        const row = this.stmt(this.db, 'SELECT item, seen FROM parsed_items WHERE key = ?').get(key) as { item: string; seen: number } | undefined;
        if (!row) return undefined;
        const now = Date.now();
        if (!this.readOnly && now - row.seen > 86400_000) {
          this.stmt(this.db, 'UPDATE parsed_items SET seen = ? WHERE key = ?').run(now, key);
          this.wrote(this.db);
        }
        return row.item;
      },
      set: (key, json) => {
        if (this.readOnly) return;
        this.stmt(this.db, 'INSERT OR REPLACE INTO parsed_items (key, item, seen) VALUES (?, ?, ?)').run(key, json, Date.now());
        this.wrote(this.db);
      },
    };
  }

  /** Forget stat cache rows, headers and built advisories not seen for `days` days (gc); with `dryRun`, only count them. */
  prune(days: number, opts: { dryRun?: boolean } = {}): number {
    const before = Date.now() - days * 86400_000;
    const stale = 'FROM rpm_headers WHERE seen < ? AND sha256 NOT IN (SELECT sha256 FROM stat_cache WHERE sha256 IS NOT NULL AND seen >= ?)';
    if (opts.dryRun || this.readOnly) {
      const n = (sql: string, ...a: unknown[]) => (this.db.prepare(sql).get(...a) as { n: number }).n;
      return n('SELECT COUNT(*) AS n FROM stat_cache WHERE seen < ?', before) + n(`SELECT COUNT(*) AS n ${stale}`, before, before) + n('SELECT COUNT(*) AS n FROM parsed_items WHERE seen < ?', before);
    }
    this.flush();
    const a = this.db.prepare('DELETE FROM stat_cache WHERE seen < ?').run(before).changes;
    const b = this.db.prepare('DELETE FROM rpm_headers WHERE seen < ? AND sha256 NOT IN (SELECT sha256 FROM stat_cache WHERE sha256 IS NOT NULL)').run(before).changes;
    const c = this.db.prepare('DELETE FROM parsed_items WHERE seen < ?').run(before).changes;
    return a + b + c;
  }

  /**
   * Repositories whose post_publish hooks failed (their published version), retried by the next
   * push of the repository until they succeed. Read-only runs (dry run) see them, change nothing.
   */
  pendingHooks(): Map<string, number | null> {
    if (!hasTable(this.db, 'pending_hooks')) return new Map();
    const rows = this.stmt(this.db, 'SELECT repo_id, version FROM pending_hooks').all() as Array<{ repo_id: string; version: number | null }>;
    return new Map(rows.map((r) => [r.repo_id, r.version]));
  }

  /**
   * Mark a repository's hooks owed for the version this process is publishing now, claimed by
   * it: the publisher runs them, and a push killed between its publish and its hooks leaves them
   * owed, not lost. Taken from any claimant, a live one too: it ran, or runs, the hooks of an
   * older version, which this publish's hooks follow (see setHooksOutcome).
   */
  oweHooks(repoId: string, version: number | null): void {
    if (this.readOnly) return;
    this.flush();
    this.writeOwedHooks(repoId, version);
  }

  private writeOwedHooks(repoId: string, version: number | null): void {
    this.stmt(this.db, 'INSERT INTO pending_hooks (repo_id, version, since, claim_host, claim_pid, claimed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(repo_id) DO UPDATE SET version = excluded.version, claim_host = excluded.claim_host, claim_pid = excluded.claim_pid, claimed = excluded.claimed').run(
      repoId,
      version,
      Date.now(),
      os.hostname(),
      process.pid,
      Date.now(),
    );
  }

  /**
   * Record the outcome of a repository's hooks: failed ones are retried next time (claimed by
   * this process until it releases its claims). Owed hooks another live push holds are its own
   * (it published a newer version meanwhile, see oweHooks): this outcome changes nothing.
   */
  setHooksOutcome(repoId: string, version: number | null, ok: boolean): void {
    if (this.readOnly) return;
    this.flush();
    const host = os.hostname();
    this.db
      .transaction(() => {
        if (this.heldElsewhere('pending_hooks', repoId, host)) return;
        if (ok) this.stmt(this.db, 'DELETE FROM pending_hooks WHERE repo_id = ?').run(repoId);
        else this.writeOwedHooks(repoId, version);
      })
      .immediate();
  }

  /**
   * Claim a repository's owed hooks for this process, to run them again: true when they are
   * owed and no other live push holds them, such as the push that published the repository and
   * is running them now (two cron runs of one staging area: the second found them owed and ran
   * them at the same time). As claimPublish: a dead claimant's claim is taken over, another
   * host's after CLAIM_HOST_MS. A dry run claims nothing.
   */
  claimHooks(repoId: string): boolean {
    return this.claim('pending_hooks', repoId);
  }

  private claim(table: 'pending_hooks' | 'pending_publishes', repoId: string): boolean {
    if (this.readOnly) return true;
    this.flush();
    const host = os.hostname();
    // IMMEDIATE: read and written under the write lock, so two pushes cannot both find it free.
    return this.db
      .transaction(() => {
        const row = this.stmt(this.db, `SELECT 1 FROM ${table} WHERE repo_id = ?`).get(repoId);
        if (!row || this.heldElsewhere(table, repoId, host)) return false;
        this.stmt(this.db, `UPDATE ${table} SET claim_host = ?, claim_pid = ?, claimed = ? WHERE repo_id = ?`).run(host, process.pid, Date.now(), repoId);
        return true;
      })
      .immediate();
  }

  /** A repository's owed row is claimed by another push that lives (or, on another host, claimed less than CLAIM_HOST_MS ago). */
  private heldElsewhere(table: 'pending_hooks' | 'pending_publishes', repoId: string, host: string): boolean {
    const row = this.stmt(this.db, `SELECT claim_host, claim_pid, claimed FROM ${table} WHERE repo_id = ?`).get(repoId) as { claim_host: string | null; claim_pid: number | null; claimed: number | null } | undefined;
    if (!row || row.claim_host === null || row.claim_pid === null || (row.claim_host === host && row.claim_pid === process.pid)) return false;
    return row.claim_host === host ? isPidAlive(row.claim_pid) : Date.now() - (row.claimed ?? 0) < CLAIM_HOST_MS;
  }

  /**
   * Repositories outside their push's destinations that a push gave a new version through a
   * shared unit it updated (an advisory, a module stream, a file's fields) and that are not
   * published yet (--skip publish, a failed publish, an interrupted push), or whose hooks failed:
   * the next push publishes them (runs their hooks again) whatever its destinations. `why`: their
   * shared_updates. `created`: the repository's creation time when the publish was owed, which
   * tells it from a repository deleted since and made again with its id (null: owed by an older
   * stagepush, which did not record it). Read-only runs (dry run) see them.
   */
  pendingPublishes(): Map<string, { version: number | null; why: string[]; created: string | null }> {
    if (!hasTable(this.db, 'pending_publishes')) return new Map();
    // A dry run reads a push.sqlite of an older stagepush as it is: without the column, none is known.
    const created = hasColumn(this.db, 'pending_publishes', 'created') ? 'created' : 'NULL AS created';
    const rows = this.stmt(this.db, `SELECT repo_id, version, why, ${created} FROM pending_publishes ORDER BY repo_id`).all() as Array<{ repo_id: string; version: number | null; why: string; created: string | null }>;
    return new Map(rows.map((r) => [r.repo_id, { version: r.version, why: JSON.parse(r.why) as string[], created: r.created }]));
  }

  /** Remember that a repository's version (given by a shared update) is to be published; `created`: the repository's creation time. */
  owePublish(repoId: string, version: number | null, why: string[], created: string | null): void {
    if (this.readOnly) return;
    this.stmt(this.db, 'INSERT INTO pending_publishes (repo_id, version, why, since, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT(repo_id) DO UPDATE SET version = excluded.version, why = excluded.why, created = excluded.created').run(repoId, version, JSON.stringify(why), Date.now(), created);
    this.flush();
  }

  /**
   * Claim a repository's owed publish for this process, for its publish and hook step: true when
   * it is owed and no other live push holds it (one push publishes it and runs its hooks; another
   * running meanwhile leaves it). Its claimant is this process (host and pid), so one killed
   * before it released the claim leaves it to the next push. A claimant on another host cannot be
   * asked whether it lives: its claim is taken over after CLAIM_HOST_MS. A dry run claims nothing.
   */
  claimPublish(repoId: string): boolean {
    return this.claim('pending_publishes', repoId);
  }

  /** Release this process's claims (see claimPublish, claimHooks): what is still owed is left to the next push. */
  releaseClaims(): void {
    if (this.readOnly || !this.db.open) return;
    this.flush();
    for (const table of ['pending_publishes', 'pending_hooks']) this.stmt(this.db, `UPDATE ${table} SET claim_host = NULL, claim_pid = NULL, claimed = NULL WHERE claim_host = ? AND claim_pid = ?`).run(os.hostname(), process.pid);
  }

  /** Forget a repository's owed publish (published, or deleted). */
  publishPaid(repoId: string): void {
    if (this.readOnly) return;
    this.stmt(this.db, 'DELETE FROM pending_publishes WHERE repo_id = ?').run(repoId);
    this.flush();
  }

  close(): void {
    try {
      this.flush();
    } finally {
      if (this.staging !== this.db) this.staging.close();
      this.db.close();
    }
  }
}

/** The database has this table (a dry run reads a push.sqlite of an older stagepush as it is). */
function hasTable(db: BetterSqlite3.Database, name: string): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
}

/** The table has this column (the same). */
function hasColumn(db: BetterSqlite3.Database, table: string, column: string): boolean {
  return !!db.prepare('SELECT 1 FROM pragma_table_info(?) WHERE name = ?').get(table, column);
}

/** The schema's version (meta 'schema'): 2 added stat_cache.ctime_ms, 3 pending_publishes.created, 4 its claim columns, 5 pending_hooks' claim columns. */
const SCHEMA = 5;

function initSchema(db: BetterSqlite3.Database): void {
  // A staging table of an earlier shape is a cache: dropped and made again.
  const cols = db.prepare("SELECT name FROM pragma_table_info('rpm_headers')").all() as Array<{ name: string }>;
  if (cols.length && !cols.some((c) => c.name === 'signing_key')) db.exec('DROP TABLE rpm_headers');
  // Schema 1's stat rows have no ctime (NULL): each file is taken as the store's own file or
  // hashed once, as a file whose ctime changed (see checksumCache). The column may be NULL: an
  // older stagepush writing here leaves it so, which is such a row.
  if (hasTable(db, 'stat_cache') && !hasColumn(db, 'stat_cache', 'ctime_ms')) db.exec('ALTER TABLE stat_cache ADD COLUMN ctime_ms REAL');
  // An owed publish of an older stagepush has no creation time (NULL): it is taken as owed by the
  // repository of its id, as that stagepush took it.
  if (hasTable(db, 'pending_publishes') && !hasColumn(db, 'pending_publishes', 'created')) db.exec('ALTER TABLE pending_publishes ADD COLUMN created TEXT');
  // Unclaimed (NULL) until a push claims it for its publish (see claimPublish).
  if (hasTable(db, 'pending_publishes') && !hasColumn(db, 'pending_publishes', 'claim_pid')) db.exec('ALTER TABLE pending_publishes ADD COLUMN claim_host TEXT; ALTER TABLE pending_publishes ADD COLUMN claim_pid INTEGER; ALTER TABLE pending_publishes ADD COLUMN claimed INTEGER');
  // The same for owed hooks (see claimHooks).
  if (hasTable(db, 'pending_hooks') && !hasColumn(db, 'pending_hooks', 'claim_pid')) db.exec('ALTER TABLE pending_hooks ADD COLUMN claim_host TEXT; ALTER TABLE pending_hooks ADD COLUMN claim_pid INTEGER; ALTER TABLE pending_hooks ADD COLUMN claimed INTEGER');
  db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('schema', '${SCHEMA}')
      ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE CAST(meta.value AS INTEGER) < ${SCHEMA};
    CREATE TABLE IF NOT EXISTS stat_cache (
      path TEXT PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL, sha256 TEXT, md5 TEXT, seen INTEGER NOT NULL, ctime_ms REAL);
    CREATE TABLE IF NOT EXISTS rpm_headers (
      sha256 TEXT PRIMARY KEY, signing_key TEXT, summary TEXT NOT NULL, record TEXT NOT NULL, seen INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS parsed_items (key TEXT PRIMARY KEY, item TEXT NOT NULL, seen INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS pending_hooks (repo_id TEXT PRIMARY KEY, version INTEGER, since INTEGER NOT NULL,
      claim_host TEXT, claim_pid INTEGER, claimed INTEGER);
    CREATE TABLE IF NOT EXISTS pending_publishes (repo_id TEXT PRIMARY KEY, version INTEGER, why TEXT NOT NULL, since INTEGER NOT NULL, created TEXT,
      claim_host TEXT, claim_pid INTEGER, claimed INTEGER)`);
}
