/**
 * SQLite implementation of the engine storage (better-sqlite3, WAL mode, versioned migrations).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StagepushError, type ErrorKind } from '../errors.js';
import { filtersToSql } from './criteria.js';
import { enableWal } from './wal.js';
import type { DistributorRow, LockRow, NewUnit, PublishRow, RepoRow, Storage, TaskRow, UnitQuery, UnitRow, UnitStampRow, VersionRow } from './storage.js';


/** Schema migrations, applied in order; PRAGMA user_version records how many ran. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE repos (
    id TEXT PRIMARY KEY, display_name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '{}',
    importer_type TEXT, importer_config TEXT, retain_versions INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL);
  CREATE TABLE distributors (
    repo_id TEXT NOT NULL, id TEXT NOT NULL, type_id TEXT NOT NULL, config TEXT NOT NULL,
    auto_publish INTEGER NOT NULL DEFAULT 0, position INTEGER NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY (repo_id, id));
  CREATE TABLE scratchpads (repo_id TEXT NOT NULL, owner TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (repo_id, owner));
  CREATE TABLE units (
    id INTEGER PRIMARY KEY, type_id TEXT NOT NULL, key_canon TEXT NOT NULL, unit_key TEXT NOT NULL, metadata TEXT NOT NULL,
    sha256 TEXT, size INTEGER, relative_path TEXT, blobs TEXT, created TEXT NOT NULL, updated TEXT NOT NULL, pinned_until INTEGER,
    UNIQUE (type_id, key_canon));
  CREATE INDEX units_sha256 ON units(sha256);
  CREATE TABLE unit_blobs (unit_id INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (unit_id, sha256));
  CREATE INDEX unit_blobs_sha256 ON unit_blobs(sha256);
  CREATE TABLE links (from_id INTEGER NOT NULL, to_id INTEGER NOT NULL, PRIMARY KEY (from_id, to_id));
  CREATE INDEX links_to ON links(to_id);
  CREATE TABLE repo_content (repo_id TEXT NOT NULL, unit_id INTEGER NOT NULL, added_in INTEGER NOT NULL, removed_in INTEGER,
    PRIMARY KEY (repo_id, unit_id, added_in));
  CREATE INDEX repo_content_current ON repo_content(repo_id, removed_in);
  CREATE INDEX repo_content_unit ON repo_content(unit_id);
  CREATE TABLE repo_versions (repo_id TEXT NOT NULL, number INTEGER NOT NULL, created TEXT NOT NULL, task_id TEXT, kind TEXT NOT NULL,
    added INTEGER NOT NULL DEFAULT 0, removed INTEGER NOT NULL DEFAULT 0, unit_count INTEGER NOT NULL DEFAULT 0, based_on INTEGER,
    PRIMARY KEY (repo_id, number));
  CREATE TABLE tasks (id TEXT PRIMARY KEY, kind TEXT NOT NULL, repo_id TEXT, state TEXT NOT NULL, created TEXT NOT NULL,
    started TEXT, finished TEXT, progress TEXT, result TEXT, error TEXT, pid INTEGER, host TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX tasks_state ON tasks(state);
  CREATE INDEX tasks_created ON tasks(created);
  CREATE TABLE locks (resource TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, task_id TEXT,
    acquired INTEGER NOT NULL, heartbeat INTEGER NOT NULL, token TEXT NOT NULL);
  CREATE TABLE publishes (seq INTEGER PRIMARY KEY, repo_id TEXT NOT NULL, dist_id TEXT NOT NULL, version INTEGER NOT NULL,
    config_hash TEXT NOT NULL, state TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, task_id TEXT, pid INTEGER, host TEXT,
    published_paths TEXT, urls TEXT, manifest TEXT, report TEXT, error TEXT);
  CREATE INDEX publishes_dist ON publishes(repo_id, dist_id, seq);
  CREATE TABLE consumers (name TEXT PRIMARY KEY, root TEXT NOT NULL, notes TEXT NOT NULL, created TEXT NOT NULL);
  CREATE TABLE bindings (consumer TEXT NOT NULL, repo_id TEXT NOT NULL, dist_id TEXT NOT NULL, payload TEXT NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY (consumer, repo_id));
  CREATE TABLE profiles (consumer TEXT NOT NULL, type_id TEXT NOT NULL, profile TEXT NOT NULL, updated TEXT NOT NULL,
    PRIMARY KEY (consumer, type_id));
  `,
  // 2: a covering index for the keyset scan of unit stamps (scanUnitStamps, what a publish walks):
  // the columns it reads sit after the metadata in the row, so without it each row's metadata
  // overflow pages are read too (5,000 packages: 88 ms -> 20 ms); and one to find a unit's type by
  // id without reading its row (unitCountsByType, on every repo list/show: 51 ms -> 3 ms).
  `
  CREATE INDEX units_stamp ON units(type_id, key_canon, id, sha256, size, updated, unit_key);
  CREATE INDEX units_id_type ON units(id, type_id);
  `,
  // 3: the unit key fields importers look units up by (an advisory by id, a package's or a file's
  // name), so that such a lookup in a 50,000-unit repository reads the few units it names instead
  // of every unit of the repository (criteria.ts writes the same expressions). Partial: a unit
  // whose key has no such field (a package has no id) adds no entry.
  `
  CREATE INDEX units_key_name ON units(type_id, json_extract(unit_key, '$."name"')) WHERE json_extract(unit_key, '$."name"') IS NOT NULL;
  CREATE INDEX units_key_id ON units(type_id, json_extract(unit_key, '$."id"')) WHERE json_extract(unit_key, '$."id"') IS NOT NULL;
  `,
];

/** SQLite page cache of the engine's connection (KiB). */
const ENGINE_CACHE_KIB = 4096;

const KV_KEYS: Record<'consumers' | 'bindings' | 'profiles', string[]> = {
  consumers: ['name'],
  bindings: ['consumer', 'repo_id'],
  profiles: ['consumer', 'type_id'],
};

function metadataProjection(fields: string[] | undefined): string {
  if (!fields) return 'u.metadata AS metadata';
  // json_object of the present fields only: json_patch of '{}' with each present field.
  if (!fields.length) return `'{}' AS metadata`;
  const parts = fields.map((f) => {
    const p = `'$."${f.replace(/[\\"']/g, (c) => (c === "'" ? "''" : '\\' + c))}"'`;
    const k = `'${f.replace(/'/g, "''")}'`;
    return `CASE WHEN json_type(u.metadata, ${p}) IS NOT NULL THEN json_object(${k}, json_extract(u.metadata, ${p})) ELSE '{}' END`;
  });
  let expr = `'{}'`;
  for (const p of parts) expr = `json_patch(${expr}, ${p})`;
  return `${expr} AS metadata`;
}

/** Below this much free space, a write that failed is taken as the disk being full. */
const FULL_BELOW_BYTES = 1 << 20;

/** Why the data directory cannot be written, found with the file system's own checks (access(2), statfs). */
function diagnoseDataDir(file: string): { why: 'rofs' | 'denied'; path: string } | { why: 'full'; free: number } | undefined {
  const dir = path.dirname(file);
  for (const p of [dir, file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.accessSync(p, p === dir ? fs.constants.W_OK | fs.constants.X_OK : fs.constants.R_OK | fs.constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EROFS') return { why: 'rofs', path: p };
      if (code === 'EACCES' || code === 'EPERM') return { why: 'denied', path: p };
    }
  }
  try {
    const st = fs.statfsSync(dir);
    // root may use the blocks reserved for it (what SQLite running as root could still write).
    const free = (process.getuid?.() === 0 ? st.bfree : st.bavail) * st.bsize;
    if (free < FULL_BELOW_BYTES) return { why: 'full', free };
  } catch {
    /* no answer: the SQLite code alone says what failed */
  }
  return undefined;
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}

/**
 * The error for a SQLite failure that is not a bug of ours: the database damaged (restore it), or
 * the place it lives — a read-only mount, permissions, a full disk, an I/O error — where the
 * database is intact and the hint says what to fix. `atOpen`: found when the engine opened, before
 * the command changed anything (a full disk is then refused as a push's free-space check is,
 * exit 4); later, the operation failed (exit 6). Other SQLite errors are returned as they are.
 */
export function sqliteFailure(e: unknown, file: string, atOpen: boolean): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^SQLITE_(CORRUPT|NOTADB|FULL|READONLY|IOERR|CANTOPEN|PERM|AUTH)/.test(code)) return e;
  const dir = path.dirname(file);
  const msg = `${(e as Error).message} (${code})`;
  const err = (c: string, message: string, hint: string, kind: ErrorKind = 'failed') => new StagepushError(c, message, { kind, file, cause: e, hint });
  const intact = 'the database itself is intact';
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
    // Not a database (or a damaged one): said as such, naming the file, not as an internal error.
    return err('ENGINE_DB_UNREADABLE', `the engine database ${file} cannot be read: ${msg}`, 'restore it from a backup, or move the data directory aside to start a new engine');
  }
  const found = diagnoseDataDir(file);
  if (found?.why === 'rofs' || (!found && code.startsWith('SQLITE_READONLY') && code !== 'SQLITE_READONLY_DIRECTORY'))
    return err(
      'ENGINE_DATA_DIR_READONLY',
      found ? `the data directory ${dir} is on a read-only file system: the engine database ${file} cannot be written (${code})` : `the engine database ${file} cannot be written: ${msg}`,
      `remount it read-write (mount -o remount,rw), or give another --data-dir; ${intact}`,
    );
  if (found?.why === 'denied' || code === 'SQLITE_READONLY_DIRECTORY' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    const where = found?.why === 'denied' ? found.path : dir;
    let owner = '';
    try {
      owner = ` (owned by uid ${fs.statSync(where).uid})`;
    } catch {
      /* not there: said without */
    }
    return err(
      'ENGINE_DATA_DIR_DENIED',
      where === file
        ? `permission denied: ${userName()} cannot write the engine database ${file}${owner} (${code})`
        : `permission denied: ${userName()} cannot write ${where === dir ? 'the data directory ' : ''}${where}${owner}, so the engine database ${file} cannot be used (${code})`,
      `run stagepush as the user owning the data directory, or let this user write ${dir} and its engine.db, engine.db-wal and engine.db-shm; ${intact}`,
    );
  }
  if (found?.why === 'full' || code === 'SQLITE_FULL')
    return err(
      'ENGINE_NO_SPACE',
      `no space left on the file system of the data directory ${dir}${found?.why === 'full' ? ` (${found.free} bytes free)` : ''}: the engine database ${file} cannot be written (${code})`,
      `free space there (stagepush gc then removes the content no repository holds); ${intact}${atOpen ? '' : ' (the operation was rolled back)'}`,
      atOpen ? 'policy' : 'failed',
    );
  if (code.startsWith('SQLITE_CANTOPEN'))
    return err('ENGINE_DB_OPEN', `cannot open the engine database ${file}: ${msg}`, `check that ${dir} and its engine.db, engine.db-wal and engine.db-shm are there and can be read and written by ${userName()}`);
  return err('ENGINE_DB_IO', `input/output error on the engine database ${file}: ${msg}`, `check the device of ${dir} (dmesg) and its free space; once it reads again, stagepush fsck checks the database`);
}

export class SqliteStorage implements Storage {
  readonly path: string;
  private db: Database.Database;
  private depth = 0;
  private regexCache = new Map<string, RegExp>();

  constructor(file: string) {
    this.path = file;
    try {
      this.db = new Database(file);
    } catch (e) {
      const err = sqliteFailure(e, file, true);
      if (err instanceof StagepushError) throw err;
      throw new StagepushError('ENGINE_DB_OPEN', `cannot open the engine database ${file}: ${(e as Error).message}`, { kind: 'failed', file, cause: e });
    }
    try {
      this.setUp();
    } catch (e) {
      this.db.close();
      throw sqliteFailure(e, file, true);
    }
  }

  private setUp(): void {
    // The wait first: switching to WAL takes a lock another process opening the database at the same time may hold.
    this.db.pragma('busy_timeout = 30000');
    enableWal(this.db);
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = OFF');
    // SQLite's page cache (16 MiB per connection in better-sqlite3's build) fills as a publish or
    // a push walks a large repository, so a process's memory grew with the repository: bounded to
    // 4 MiB; the OS page cache keeps the database file's pages anyway (a miss is a pread).
    this.db.pragma(`cache_size = -${ENGINE_CACHE_KIB}`);
    // Prepared statements are reused: per-unit lookups (findUnit, getRepo...) run thousands of
    // times in a push, and preparing costs more than running them. None is iterated, so sharing
    // one statement object per SQL text is safe. Bounded: dynamic SQL (filters) varies.
    const prepare = this.db.prepare.bind(this.db);
    const statements = new Map<string, Database.Statement>();
    this.db.prepare = ((sql: string) => {
      let st = statements.get(sql);
      if (!st) {
        if (statements.size >= 512) statements.clear();
        st = prepare(sql);
        statements.set(sql, st);
      }
      return st;
    }) as typeof this.db.prepare;
    this.db.function('regexp', { deterministic: true }, (pattern: unknown, value: unknown) => {
      if (value === null || value === undefined) return 0;
      const p = String(pattern);
      let re = this.regexCache.get(p);
      if (!re) {
        re = new RegExp(p);
        this.regexCache.set(p, re);
      }
      return re.test(String(value)) ? 1 : 0;
    });
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new StagepushError('ENGINE_DB_TOO_NEW', `the engine database ${this.path} has schema version ${current}, newer than this stagepush (${MIGRATIONS.length})`, { kind: 'failed', file: this.path, hint: 'upgrade stagepush' });
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      const run = this.db.transaction(() => {
        // Re-check inside the write lock: another process may have migrated meanwhile.
        const now = this.db.pragma('user_version', { simple: true }) as number;
        if (now > v) return;
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      });
      run.immediate();
    }
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  tx<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      this.depth--;
    }
  }

  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
  }

  // ---- repositories
  getRepo(id: string): RepoRow | undefined {
    return this.db.prepare('SELECT * FROM repos WHERE id = ?').get(id) as RepoRow | undefined;
  }
  listRepos(): RepoRow[] {
    return this.db.prepare('SELECT * FROM repos ORDER BY id').all() as RepoRow[];
  }
  insertRepo(row: RepoRow): void {
    this.db
      .prepare('INSERT INTO repos (id, display_name, description, notes, importer_type, importer_config, retain_versions, version, created, updated) VALUES (@id, @display_name, @description, @notes, @importer_type, @importer_config, @retain_versions, @version, @created, @updated)')
      .run(row);
  }
  updateRepo(id: string, fields: Partial<RepoRow>): void {
    const keys = Object.keys(fields).filter((k) => k !== 'id');
    if (!keys.length) return;
    this.db.prepare(`UPDATE repos SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id });
  }
  deleteRepo(id: string): void {
    this.tx(() => {
      for (const t of ['distributors', 'scratchpads', 'repo_content', 'repo_versions', 'publishes']) this.db.prepare(`DELETE FROM ${t} WHERE repo_id = ?`).run(id);
      this.db.prepare('DELETE FROM repos WHERE id = ?').run(id);
    });
  }
  listDistributors(repoId: string): DistributorRow[] {
    return this.db.prepare('SELECT * FROM distributors WHERE repo_id = ? ORDER BY position, id').all(repoId) as DistributorRow[];
  }
  listAllDistributors(): DistributorRow[] {
    return this.db.prepare('SELECT * FROM distributors ORDER BY repo_id, position, id').all() as DistributorRow[];
  }
  getDistributor(repoId: string, id: string): DistributorRow | undefined {
    return this.db.prepare('SELECT * FROM distributors WHERE repo_id = ? AND id = ?').get(repoId, id) as DistributorRow | undefined;
  }
  insertDistributor(row: Omit<DistributorRow, 'position'>): void {
    this.tx(() => {
      const pos = (this.db.prepare('SELECT COALESCE(MAX(position), 0) + 1 AS p FROM distributors WHERE repo_id = ?').get(row.repo_id) as { p: number }).p;
      this.db.prepare('INSERT INTO distributors (repo_id, id, type_id, config, auto_publish, position, created) VALUES (@repo_id, @id, @type_id, @config, @auto_publish, @position, @created)').run({ ...row, position: pos });
    });
  }
  updateDistributor(repoId: string, id: string, fields: Partial<DistributorRow>): void {
    const keys = Object.keys(fields).filter((k) => k !== 'id' && k !== 'repo_id');
    if (!keys.length) return;
    this.db.prepare(`UPDATE distributors SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE repo_id = @repo_id AND id = @id`).run({ ...fields, repo_id: repoId, id });
  }
  deleteDistributor(repoId: string, id: string): void {
    this.tx(() => {
      this.db.prepare('DELETE FROM distributors WHERE repo_id = ? AND id = ?').run(repoId, id);
      this.db.prepare('DELETE FROM scratchpads WHERE repo_id = ? AND owner = ?').run(repoId, `distributor:${id}`);
      this.db.prepare('DELETE FROM publishes WHERE repo_id = ? AND dist_id = ?').run(repoId, id);
    });
  }
  pluginConfigs(typeId: string): Array<{ repoId: string; pluginId: string; config: string }> {
    const imps = this.db.prepare('SELECT id AS repoId, importer_type AS pluginId, importer_config AS config FROM repos WHERE importer_type = ?').all(typeId) as Array<{ repoId: string; pluginId: string; config: string }>;
    const dists = this.db.prepare('SELECT repo_id AS repoId, type_id AS pluginId, config FROM distributors WHERE type_id = ?').all(typeId) as Array<{ repoId: string; pluginId: string; config: string }>;
    return [...imps, ...dists];
  }
  getScratchpad(repoId: string, owner: string): string | undefined {
    return (this.db.prepare('SELECT value FROM scratchpads WHERE repo_id = ? AND owner = ?').get(repoId, owner) as { value: string } | undefined)?.value;
  }
  setScratchpad(repoId: string, owner: string, value: string): void {
    this.db.prepare('INSERT INTO scratchpads (repo_id, owner, value) VALUES (?, ?, ?) ON CONFLICT (repo_id, owner) DO UPDATE SET value = excluded.value').run(repoId, owner, value);
  }

  // ---- units
  private unitCols(fields?: string[]): string {
    return `u.id, u.type_id, u.key_canon, u.unit_key, ${metadataProjection(fields)}, u.sha256, u.size, u.relative_path, u.blobs, u.pinned_until`;
  }
  findUnit(typeId: string, keyCanon: string): UnitRow | undefined {
    return this.db.prepare(`SELECT ${this.unitCols()} FROM units u WHERE u.type_id = ? AND u.key_canon = ?`).get(typeId, keyCanon) as UnitRow | undefined;
  }
  getUnit(id: number): UnitRow | undefined {
    return this.db.prepare(`SELECT ${this.unitCols()} FROM units u WHERE u.id = ?`).get(id) as UnitRow | undefined;
  }
  private buildQuery(q: UnitQuery, select: string, paging: boolean): { sql: string; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    let from = 'units u';
    if (q.repoId !== undefined) {
      from = 'repo_content rc JOIN units u ON u.id = rc.unit_id';
      where.push('rc.repo_id = ?');
      params.push(q.repoId);
      if (q.version === undefined) where.push('rc.removed_in IS NULL');
      else {
        where.push('rc.added_in <= ? AND (rc.removed_in IS NULL OR rc.removed_in > ?)');
        params.push(q.version, q.version);
      }
    }
    if (q.unitIds) {
      where.push('u.id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(q.unitIds));
    }
    if (q.excludeIds && q.excludeIds.length) {
      where.push('u.id NOT IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(q.excludeIds));
    }
    if (q.after) {
      where.push('(u.type_id, u.key_canon) > (?, ?)');
      params.push(q.after.typeId, q.after.keyCanon);
    }
    const c = q.criteria;
    if (c?.typeIds) {
      // A plain IN list lets SQLite check the type on each row directly; the json_each form
      // builds a bloom filter per query and was 20 times slower on a 5,000-package repository.
      if (c.typeIds.length <= 100) {
        where.push(c.typeIds.length ? `u.type_id IN (${c.typeIds.map(() => '?').join(', ')})` : '0');
        params.push(...c.typeIds);
      } else {
        where.push(`u.type_id IN (SELECT value FROM json_each(?))`);
        params.push(JSON.stringify(c.typeIds));
      }
    }
    const f = filtersToSql(c?.filters, q.keyFields);
    where.push(...f.sql);
    params.push(...f.params);
    // A query naming units by an indexed key field (units_key_name, units_key_id) starts from
    // those units, then checks they are in the repository (repo_content by unit id), instead of
    // reading every unit of the repository to test the field on each. Named: without statistics
    // the planner takes the (type_id, key_canon) index for the ORDER BY and reads every unit of
    // the type (20 ms a lookup in 20,000 packages, against 0.1 ms).
    if (q.repoId !== undefined && f.indexed && c?.typeIds && c.typeIds.length <= 100) from = `units u INDEXED BY units_key_${f.indexed} CROSS JOIN repo_content rc ON u.id = rc.unit_id`;
    let sql = `SELECT ${select} FROM ${from}${where.length ? ' WHERE ' + where.join(' AND ') : ''}`;
    if (paging) {
      sql += ' ORDER BY u.type_id, u.key_canon';
      if (!q.noPaging && (c?.limit !== undefined || c?.skip !== undefined)) {
        sql += ' LIMIT ? OFFSET ?';
        params.push(c?.limit ?? -1, c?.skip ?? 0);
      }
    }
    return { sql, params };
  }
  /** The query plan of queryUnits(q), one line per step (diagnostics and tests: which index a lookup uses). */
  explainUnits(q: UnitQuery): string[] {
    const { sql, params } = this.buildQuery(q, this.unitCols(q.criteria?.fields), true);
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
  }
  queryUnits(q: UnitQuery): UnitRow[] {
    const { sql, params } = this.buildQuery(q, this.unitCols(q.criteria?.fields), true);
    return this.db.prepare(sql).all(...params) as UnitRow[];
  }
  countUnits(q: UnitQuery): number {
    const c = q.criteria;
    if (q.repoId !== undefined && q.version === undefined && !q.unitIds && !q.excludeIds?.length && c?.typeIds && c.typeIds.length <= 100 && !Object.keys(c.filters ?? {}).length) {
      // Current units of some types: counted on the (type_id, key_canon) index and the content
      // index alone, without reading the units' rows (their metadata).
      if (!c.typeIds.length) return 0;
      const sql = `SELECT COUNT(*) AS n FROM units u WHERE u.type_id IN (${c.typeIds.map(() => '?').join(', ')}) AND EXISTS (SELECT 1 FROM repo_content rc WHERE rc.repo_id = ? AND rc.unit_id = u.id AND rc.removed_in IS NULL)`;
      return (this.db.prepare(sql).get(...c.typeIds, q.repoId) as { n: number }).n;
    }
    const { sql, params } = this.buildQuery({ ...q, criteria: q.criteria ? { ...q.criteria, limit: undefined, skip: undefined } : undefined }, 'COUNT(*) AS n', false);
    return (this.db.prepare(sql).get(...params) as { n: number }).n;
  }
  scanUnitStamps(repoId: string, typeIds: string[], after: { typeId: string; keyCanon: string } | null, limit: number): UnitStampRow[] {
    // Keyset paging over the units (type_id, key_canon) index, type by type in sorted order: each
    // page starts where the previous one ended, so a whole scan reads each unit once (no OFFSET
    // re-scan, no sort of the whole repository per page).
    const out: UnitStampRow[] = [];
    const stmt = this.db.prepare(
      'SELECT u.id, u.type_id, u.key_canon, u.unit_key, u.sha256, u.size, u.updated FROM units u ' +
        'WHERE u.type_id = ? AND u.key_canon > ? AND EXISTS (SELECT 1 FROM repo_content rc WHERE rc.unit_id = u.id AND rc.repo_id = ? AND rc.removed_in IS NULL) ' +
        'ORDER BY u.type_id, u.key_canon LIMIT ?',
    );
    for (const t of [...new Set(typeIds)].sort()) {
      if (after && t < after.typeId) continue;
      const from = after && t === after.typeId ? after.keyCanon : '';
      out.push(...(stmt.raw(true).all(t, from, repoId, limit - out.length) as UnitStampRow[]));
      if (out.length >= limit) break;
    }
    return out;
  }
  repoUnitsByIds(repoId: string, ids: number[]): UnitRow[] {
    if (!ids.length) return [];
    return this.db
      .prepare(`SELECT ${this.unitCols()} FROM units u WHERE u.id IN (SELECT value FROM json_each(?)) AND EXISTS (SELECT 1 FROM repo_content rc WHERE rc.repo_id = ? AND rc.unit_id = u.id AND rc.removed_in IS NULL)`)
      .all(JSON.stringify(ids), repoId) as UnitRow[];
  }
  unitCountsByType(repoId: string): Record<string, number> {
    const rows = this.db.prepare('SELECT u.type_id AS t, COUNT(*) AS n FROM repo_content rc JOIN units u INDEXED BY units_id_type ON u.id = rc.unit_id WHERE rc.repo_id = ? AND rc.removed_in IS NULL GROUP BY u.type_id ORDER BY u.type_id').all(repoId) as Array<{ t: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.t, r.n]));
  }
  /** Repositories whose current content holds any of these units (sorted). */
  reposHolding(unitIds: number[]): string[] {
    if (!unitIds.length) return [];
    const rows = this.db.prepare('SELECT DISTINCT repo_id FROM repo_content WHERE unit_id IN (SELECT value FROM json_each(?)) AND removed_in IS NULL ORDER BY repo_id').all(JSON.stringify(unitIds)) as Array<{ repo_id: string }>;
    return rows.map((r) => r.repo_id);
  }
  contentIds(repoId: string, version?: number): Set<number> {
    const rows = (version === undefined
      ? this.db.prepare('SELECT unit_id FROM repo_content WHERE repo_id = ? AND removed_in IS NULL').all(repoId)
      : this.db.prepare('SELECT unit_id FROM repo_content WHERE repo_id = ? AND added_in <= ? AND (removed_in IS NULL OR removed_in > ?)').all(repoId, version, version)) as Array<{ unit_id: number }>;
    return new Set(rows.map((r) => r.unit_id));
  }
  upsertUnit(u: NewUnit): number {
    const now = new Date().toISOString();
    return this.tx(() => {
      const existing = this.db.prepare('SELECT id FROM units WHERE type_id = ? AND key_canon = ?').get(u.type_id, u.key_canon) as { id: number } | undefined;
      let id: number;
      const blobs = u.blobs.length ? JSON.stringify(u.blobs) : null;
      if (existing) {
        id = existing.id;
        this.db.prepare('UPDATE units SET unit_key = ?, metadata = ?, sha256 = ?, size = ?, relative_path = ?, blobs = ?, updated = ? WHERE id = ?').run(u.unit_key, u.metadata, u.sha256, u.size, u.relative_path, blobs, now, id);
        this.db.prepare('DELETE FROM unit_blobs WHERE unit_id = ?').run(id);
      } else {
        id = Number(
          this.db.prepare('INSERT INTO units (type_id, key_canon, unit_key, metadata, sha256, size, relative_path, blobs, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(u.type_id, u.key_canon, u.unit_key, u.metadata, u.sha256, u.size, u.relative_path, blobs, now, now).lastInsertRowid,
        );
      }
      const ins = this.db.prepare('INSERT OR IGNORE INTO unit_blobs (unit_id, sha256) VALUES (?, ?)');
      for (const b of u.blobs) ins.run(id, b);
      return id;
    });
  }
  addContent(repoId: string, unitId: number, version: number): void {
    this.db.prepare('INSERT OR IGNORE INTO repo_content (repo_id, unit_id, added_in, removed_in) VALUES (?, ?, ?, NULL)').run(repoId, unitId, version);
  }
  removeContent(repoId: string, unitId: number, version: number): void {
    this.db.prepare('UPDATE repo_content SET removed_in = ? WHERE repo_id = ? AND unit_id = ? AND removed_in IS NULL').run(version, repoId, unitId);
  }
  insertLink(fromId: number, toId: number): void {
    this.db.prepare('INSERT OR IGNORE INTO links (from_id, to_id) VALUES (?, ?)').run(fromId, toId);
  }
  linkedIds(fromId: number): number[] {
    return (this.db.prepare('SELECT to_id FROM links WHERE from_id = ? ORDER BY to_id').all(fromId) as Array<{ to_id: number }>).map((r) => r.to_id);
  }
  pinUnits(ids: number[], untilMs: number): void {
    this.tx(() => {
      const st = this.db.prepare('UPDATE units SET pinned_until = MAX(COALESCE(pinned_until, 0), ?) WHERE id = ?');
      for (const id of ids) st.run(untilMs, id);
    });
  }
  orphanUnits(nowMs: number): UnitRow[] {
    return this.db
      .prepare(`SELECT ${this.unitCols()} FROM units u WHERE NOT EXISTS (SELECT 1 FROM repo_content rc WHERE rc.unit_id = u.id) AND (u.pinned_until IS NULL OR u.pinned_until <= ?) ORDER BY u.type_id, u.key_canon`)
      .all(nowMs) as UnitRow[];
  }
  deleteUnits(ids: number[]): void {
    this.tx(() => {
      // Only those still in no repository: one an operation associated since the orphans were
      // listed (a push creating a repository, which orphan clean-up does not lock) stays.
      const still = (this.db.prepare('SELECT value AS id FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM repo_content rc WHERE rc.unit_id = value)').all(JSON.stringify(ids)) as Array<{ id: number }>).map((r) => r.id);
      const j = JSON.stringify(still);
      this.db.prepare('DELETE FROM unit_blobs WHERE unit_id IN (SELECT value FROM json_each(?))').run(j);
      this.db.prepare('DELETE FROM links WHERE from_id IN (SELECT value FROM json_each(?)) OR to_id IN (SELECT value FROM json_each(?))').run(j, j);
      this.db.prepare('DELETE FROM units WHERE id IN (SELECT value FROM json_each(?))').run(j);
    });
  }
  fileReferenced(sha256: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM units WHERE sha256 = ? UNION ALL SELECT 1 FROM unit_blobs WHERE sha256 = ? LIMIT 1').get(sha256, sha256);
  }
  allReferencedFiles(): Array<{ sha256: string; size: number | null; unitId: number }> {
    return this.db.prepare('SELECT sha256, size, id AS unitId FROM units WHERE sha256 IS NOT NULL UNION ALL SELECT sha256, NULL AS size, unit_id AS unitId FROM unit_blobs').all() as Array<{ sha256: string; size: number | null; unitId: number }>;
  }

  // ---- versions
  insertVersion(row: VersionRow): void {
    this.db.prepare('INSERT INTO repo_versions (repo_id, number, created, task_id, kind, added, removed, unit_count, based_on) VALUES (@repo_id, @number, @created, @task_id, @kind, @added, @removed, @unit_count, @based_on)').run(row);
  }
  listVersions(repoId: string): VersionRow[] {
    return this.db.prepare('SELECT * FROM repo_versions WHERE repo_id = ? ORDER BY number').all(repoId) as VersionRow[];
  }
  /** Of these units, those changed (their row updated) after `iso`: type and key, by id. */
  unitsUpdatedSince(unitIds: number[], iso: string): Array<{ id: number; type_id: string; unit_key: string }> {
    if (!unitIds.length) return [];
    return this.db.prepare('SELECT id, type_id, unit_key FROM units WHERE id IN (SELECT value FROM json_each(?)) AND updated > ? ORDER BY type_id, key_canon').all(JSON.stringify(unitIds), iso) as Array<{ id: number; type_id: string; unit_key: string }>;
  }

  getVersion(repoId: string, n: number): VersionRow | undefined {
    return this.db.prepare('SELECT * FROM repo_versions WHERE repo_id = ? AND number = ?').get(repoId, n) as VersionRow | undefined;
  }
  rolledBack<T>(fn: () => T): T {
    const undo = new Error('rolled back');
    let out!: T;
    try {
      this.db.transaction(() => {
        out = fn();
        throw undo;
      })();
    } catch (e) {
      if (e !== undo) throw e;
    }
    return out;
  }

  pruneVersions(repoId: string, keep: number, opts: { dryRun?: boolean } = {}): number {
    if (!keep || keep <= 0) return 0;
    return this.tx(() => {
      const repo = this.getRepo(repoId);
      if (!repo) return 0;
      let oldestKept = repo.version - keep + 1;
      // A version a distributor has live (its latest publish) stays: its published tree points at
      // the stored files of its units (symlinked trees), which orphan clean-up must not remove.
      const live = this.db
        .prepare(
          "SELECT MIN(p.version) AS v FROM publishes p WHERE p.repo_id = ? AND p.state = 'published' AND p.seq = (SELECT MAX(q.seq) FROM publishes q WHERE q.repo_id = p.repo_id AND q.dist_id = p.dist_id AND q.state = 'published')",
        )
        .get(repoId) as { v: number | null };
      if (live.v !== null && live.v < oldestKept) oldestKept = live.v;
      if (oldestKept <= 0) return 0;
      if (opts.dryRun) return (this.db.prepare('SELECT COUNT(*) AS n FROM repo_versions WHERE repo_id = ? AND number < ?').get(repoId, oldestKept) as { n: number }).n;
      const n = this.db.prepare('DELETE FROM repo_versions WHERE repo_id = ? AND number < ?').run(repoId, oldestKept).changes;
      // Content rows removed at or before the oldest kept version belong to no kept version.
      this.db.prepare('DELETE FROM repo_content WHERE repo_id = ? AND removed_in IS NOT NULL AND removed_in <= ?').run(repoId, oldestKept);
      return n;
    });
  }

  // ---- tasks
  insertTask(row: TaskRow): void {
    this.db.prepare('INSERT INTO tasks (id, kind, repo_id, state, created, started, finished, progress, result, error, pid, host, cancel_requested) VALUES (@id, @kind, @repo_id, @state, @created, @started, @finished, @progress, @result, @error, @pid, @host, @cancel_requested)').run(row);
  }
  updateTask(id: string, fields: Partial<TaskRow>): void {
    const keys = Object.keys(fields).filter((k) => k !== 'id');
    if (!keys.length) return;
    this.db.prepare(`UPDATE tasks SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id });
  }
  getTask(id: string): TaskRow | undefined {
    return this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined;
  }
  listTasks(filter: { states?: string[]; repoId?: string; kind?: string; limit?: number }): TaskRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.states) {
      where.push('state IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.states));
    }
    if (filter.repoId !== undefined) {
      // A transaction (a push's import) records every repository it changes, comma separated
      // ("el9,files"; an id holds no comma): it is a task of each of them, the one that made their
      // new version. instr, not LIKE: "_" in an id would be a wildcard.
      where.push("(repo_id = ? OR instr(',' || repo_id || ',', ',' || ? || ',') > 0)");
      params.push(filter.repoId, filter.repoId);
    }
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    let sql = `SELECT * FROM tasks${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created DESC, rowid DESC`;
    if (filter.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(filter.limit);
    }
    return this.db.prepare(sql).all(...params) as TaskRow[];
  }
  deleteTasksBefore(iso: string): number {
    return this.db.prepare("DELETE FROM tasks WHERE state IN ('finished', 'error', 'canceled') AND COALESCE(finished, created) < ?").run(iso).changes;
  }

  /**
   * Publish records ended before `iso`, except each distributor's latest of each state (what the
   * engine asks: the live publish, the last failure, one running): with `dryRun`, counted only.
   */
  deletePublishesBefore(iso: string, dryRun = false): number {
    const where = "state <> 'running' AND COALESCE(finished, started) < ? AND seq <> (SELECT MAX(q.seq) FROM publishes q WHERE q.repo_id = publishes.repo_id AND q.dist_id = publishes.dist_id AND q.state = publishes.state)";
    if (dryRun) return (this.db.prepare(`SELECT COUNT(*) AS n FROM publishes WHERE ${where}`).get(iso) as { n: number }).n;
    return this.db.prepare(`DELETE FROM publishes WHERE ${where}`).run(iso).changes;
  }

  // ---- locks
  getLock(resource: string): LockRow | undefined {
    return this.db.prepare('SELECT * FROM locks WHERE resource = ?').get(resource) as LockRow | undefined;
  }
  insertLock(row: LockRow): void {
    this.db.prepare('INSERT INTO locks (resource, pid, host, task_id, acquired, heartbeat, token) VALUES (@resource, @pid, @host, @task_id, @acquired, @heartbeat, @token)').run(row);
  }
  deleteLock(resource: string, token?: string): void {
    if (token === undefined) this.db.prepare('DELETE FROM locks WHERE resource = ?').run(resource);
    else this.db.prepare('DELETE FROM locks WHERE resource = ? AND token = ?').run(resource, token);
  }
  heartbeat(tokens: string[], nowMs: number): void {
    if (!tokens.length) return;
    this.db.prepare('UPDATE locks SET heartbeat = ? WHERE token IN (SELECT value FROM json_each(?))').run(nowMs, JSON.stringify(tokens));
  }
  listLocks(): LockRow[] {
    return this.db.prepare('SELECT * FROM locks ORDER BY resource').all() as LockRow[];
  }

  // ---- publishes
  insertPublish(row: Omit<PublishRow, 'seq'>): number {
    return Number(
      this.db
        .prepare('INSERT INTO publishes (repo_id, dist_id, version, config_hash, state, started, finished, task_id, pid, host, published_paths, urls, manifest, report, error) VALUES (@repo_id, @dist_id, @version, @config_hash, @state, @started, @finished, @task_id, @pid, @host, @published_paths, @urls, @manifest, @report, @error)')
        .run(row).lastInsertRowid,
    );
  }
  updatePublish(seq: number, fields: Partial<PublishRow>): void {
    const keys = Object.keys(fields).filter((k) => k !== 'seq');
    if (!keys.length) return;
    this.db.prepare(`UPDATE publishes SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE seq = @seq`).run({ ...fields, seq });
  }
  lastPublish(repoId: string, distId: string, state?: string): PublishRow | undefined {
    if (state) return this.db.prepare('SELECT * FROM publishes WHERE repo_id = ? AND dist_id = ? AND state = ? ORDER BY seq DESC LIMIT 1').get(repoId, distId, state) as PublishRow | undefined;
    return this.db.prepare('SELECT * FROM publishes WHERE repo_id = ? AND dist_id = ? ORDER BY seq DESC LIMIT 1').get(repoId, distId) as PublishRow | undefined;
  }
  clearOldManifests(repoId: string, distId: string, beforeSeq: number): void {
    this.db.prepare('UPDATE publishes SET manifest = NULL WHERE repo_id = ? AND dist_id = ? AND seq < ? AND manifest IS NOT NULL').run(repoId, distId, beforeSeq);
  }
  listPublishes(filter: { states?: string[] }): PublishRow[] {
    if (filter.states) return this.db.prepare('SELECT * FROM publishes WHERE state IN (SELECT value FROM json_each(?)) ORDER BY seq').all(JSON.stringify(filter.states)) as PublishRow[];
    return this.db.prepare('SELECT * FROM publishes ORDER BY seq').all() as PublishRow[];
  }

  // ---- consumers
  kvGet(table: 'consumers' | 'bindings' | 'profiles', key: string[]): Record<string, unknown> | undefined {
    const cols = KV_KEYS[table];
    return this.db.prepare(`SELECT * FROM ${table} WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}`).get(...key) as Record<string, unknown> | undefined;
  }
  kvList(table: 'consumers' | 'bindings' | 'profiles', prefix: string[]): Array<Record<string, unknown>> {
    const cols = KV_KEYS[table].slice(0, prefix.length);
    const where = cols.length ? ` WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}` : '';
    return this.db.prepare(`SELECT * FROM ${table}${where} ORDER BY ${KV_KEYS[table].join(', ')}`).all(...prefix) as Array<Record<string, unknown>>;
  }
  kvPut(table: 'consumers' | 'bindings' | 'profiles', row: Record<string, unknown>): void {
    const cols = Object.keys(row);
    const keys = KV_KEYS[table];
    const upd = cols.filter((c) => !keys.includes(c));
    this.db
      .prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')}) ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${upd.map((c) => `${c} = excluded.${c}`).join(', ')}`)
      .run(row);
  }
  kvDelete(table: 'consumers' | 'bindings' | 'profiles', key: string[]): number {
    const cols = KV_KEYS[table].slice(0, key.length);
    return this.db.prepare(`DELETE FROM ${table} WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}`).run(...key).changes;
  }
}

// Every storage call turns a SQLite failure of the place the database lives (full disk, read-only
// mount, permissions, I/O error) or of the database itself into its coded error (sqliteFailure),
// wherever in an operation it happens: the engine's callers see a StagepushError, never a raw
// SqliteError reported as an internal error. A transaction (tx) rolls back before it is thrown.
for (const name of Object.getOwnPropertyNames(SqliteStorage.prototype)) {
  const desc = Object.getOwnPropertyDescriptor(SqliteStorage.prototype, name)!;
  // setUp and migrate run in the constructor, which says its failures are found at open.
  if (['constructor', 'setUp', 'migrate'].includes(name) || typeof desc.value !== 'function') continue;
  const method = desc.value as (this: SqliteStorage, ...args: unknown[]) => unknown;
  Object.defineProperty(SqliteStorage.prototype, name, {
    ...desc,
    value: function (this: SqliteStorage, ...args: unknown[]) {
      try {
        return method.apply(this, args);
      } catch (e) {
        throw sqliteFailure(e, this.path, false);
      }
    },
  });
}
