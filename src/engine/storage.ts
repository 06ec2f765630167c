/**
 * The storage layer behind the engine. Plugins never see it; the engine only talks to this
 * interface, so another backend (e.g. PostgreSQL, for several push hosts sharing one engine) can
 * implement it. The SQLite implementation is ./sqlite.ts.
 *
 * Every method that changes several rows runs in one transaction; `tx(fn)` groups several calls
 * into one transaction (nested calls join the outer one).
 */
import type { UnitCriteria } from './contract.js';

export interface RepoRow {
  id: string;
  display_name: string;
  description: string;
  notes: string;
  importer_type: string | null;
  importer_config: string | null;
  retain_versions: number;
  version: number;
  created: string;
  updated: string;
}

export interface DistributorRow {
  repo_id: string;
  id: string;
  type_id: string;
  config: string;
  auto_publish: number;
  position: number;
  created: string;
}

export interface UnitRow {
  id: number;
  type_id: string;
  key_canon: string;
  unit_key: string;
  /** Full metadata JSON, or (when fields were asked for) a projection built by the storage. */
  metadata: string;
  sha256: string | null;
  size: number | null;
  relative_path: string | null;
  blobs: string | null;
  pinned_until: number | null;
}

/**
 * A unit row without metadata, and what changes whenever its metadata or file changes, as a
 * tuple (rows of a whole-repository scan: no object per row):
 * [id, type_id, key_canon, unit_key, sha256, size, updated].
 */
export type UnitStampRow = [id: number, typeId: string, keyCanon: string, unitKey: string, sha256: string | null, size: number | null, updated: string];

export interface VersionRow {
  repo_id: string;
  number: number;
  created: string;
  task_id: string | null;
  kind: string;
  added: number;
  removed: number;
  unit_count: number;
  based_on: number | null;
}

export interface TaskRow {
  id: string;
  kind: string;
  repo_id: string | null;
  state: string;
  created: string;
  started: string | null;
  finished: string | null;
  progress: string | null;
  result: string | null;
  error: string | null;
  pid: number | null;
  host: string | null;
  cancel_requested: number;
}

export interface LockRow {
  resource: string;
  pid: number;
  host: string;
  task_id: string | null;
  acquired: number;
  heartbeat: number;
  token: string;
}

export interface PublishRow {
  seq: number;
  repo_id: string;
  dist_id: string;
  version: number;
  config_hash: string;
  state: string;
  started: string;
  finished: string | null;
  task_id: string | null;
  pid: number | null;
  host: string | null;
  published_paths: string | null;
  urls: string | null;
  manifest: string | null;
  report: string | null;
  error: string | null;
}

export interface NewUnit {
  type_id: string;
  key_canon: string;
  unit_key: string;
  metadata: string;
  sha256: string | null;
  size: number | null;
  relative_path: string | null;
  blobs: string[];
}

export interface UnitQuery {
  repoId?: string;
  /** Content of this version (default: the current content). */
  version?: number;
  unitIds?: number[];
  excludeIds?: number[];
  criteria?: UnitCriteria;
  /** Ignore limit/skip (the caller pages itself). */
  noPaging?: boolean;
  /** Fields that are unit key fields of every type the query can return: filtered on the key alone (indexable). */
  keyFields?: string[];
  /** Only the units sorted after this one (by type id, then unit key): a keyset page. */
  after?: { typeId: string; keyCanon: string };
}

export interface Storage {
  readonly path: string;
  close(): void;
  tx<T>(fn: () => T): T;
  integrityCheck(): string[];
  schemaVersion(): number;

  // repositories and their plugins
  getRepo(id: string): RepoRow | undefined;
  listRepos(): RepoRow[];
  insertRepo(row: RepoRow): void;
  updateRepo(id: string, fields: Partial<RepoRow>): void;
  deleteRepo(id: string): void;
  listDistributors(repoId: string): DistributorRow[];
  /** Every repository's distributors in one query (by repository id, then position). */
  listAllDistributors(): DistributorRow[];
  getDistributor(repoId: string, id: string): DistributorRow | undefined;
  insertDistributor(row: Omit<DistributorRow, 'position'>): void;
  updateDistributor(repoId: string, id: string, fields: Partial<DistributorRow>): void;
  deleteDistributor(repoId: string, id: string): void;
  /** Repository-level configs of every repository using a plugin type (validateConfig's "related"). */
  pluginConfigs(typeId: string): Array<{ repoId: string; pluginId: string; config: string }>;
  getScratchpad(repoId: string, owner: string): string | undefined;
  setScratchpad(repoId: string, owner: string, value: string): void;

  // units and repository content
  findUnit(typeId: string, keyCanon: string): UnitRow | undefined;
  getUnit(id: number): UnitRow | undefined;
  queryUnits(q: UnitQuery): UnitRow[];
  countUnits(q: UnitQuery): number;
  /**
   * One keyset page of a repository's current units (sorted by type id, then unit key) without
   * their metadata: the rows after `after` (null: from the start), at most `limit`.
   */
  scanUnitStamps(repoId: string, typeIds: string[], after: { typeId: string; keyCanon: string } | null, limit: number): UnitStampRow[];
  /** A repository's current units with these ids (metadata included; any order). */
  repoUnitsByIds(repoId: string, ids: number[]): UnitRow[];
  unitCountsByType(repoId: string): Record<string, number>;
  /** Repositories whose current content holds any of these units (sorted). */
  reposHolding(unitIds: number[]): string[];
  /** Content ids of a repository version (default current). */
  contentIds(repoId: string, version?: number): Set<number>;
  /** Insert or update (by type + key) and return the id. */
  upsertUnit(u: NewUnit): number;
  addContent(repoId: string, unitId: number, version: number): void;
  removeContent(repoId: string, unitId: number, version: number): void;
  insertLink(fromId: number, toId: number): void;
  linkedIds(fromId: number): number[];
  pinUnits(ids: number[], untilMs: number): void;
  orphanUnits(nowMs: number): UnitRow[];
  /** Delete these units (those still in no repository: one associated meanwhile stays). */
  deleteUnits(ids: number[]): void;
  /** Is the file referenced by any unit (own file or blob)? */
  fileReferenced(sha256: string): boolean;
  allReferencedFiles(): Array<{ sha256: string; size: number | null; unitId: number }>;

  // versions
  insertVersion(row: VersionRow): void;
  listVersions(repoId: string): VersionRow[];
  getVersion(repoId: string, n: number): VersionRow | undefined;
  /** Drop versions older than the newest `keep` (0 = keep all) and the content rows only they used. */
  /** Run `fn` in a transaction that is rolled back (what it would change, counted, changes nothing). */
  rolledBack<T>(fn: () => T): T;
  /** Delete versions beyond `keep` (never one a distributor has live); the count (only counted with dryRun). */
  pruneVersions(repoId: string, keep: number, opts?: { dryRun?: boolean }): number;

  // tasks
  insertTask(row: TaskRow): void;
  updateTask(id: string, fields: Partial<TaskRow>): void;
  getTask(id: string): TaskRow | undefined;
  /** `repoId`: the tasks of that repository, a transaction over it and others too. */
  listTasks(filter: { states?: string[]; repoId?: string; kind?: string; limit?: number }): TaskRow[];
  deleteTasksBefore(iso: string): number;
  /** Of these units, those changed (their row updated) after `iso`. */
  unitsUpdatedSince(unitIds: number[], iso: string): Array<{ id: number; type_id: string; unit_key: string }>;
  /** Publish records ended before `iso`, but each distributor's latest of each state (dryRun: counted only). */
  deletePublishesBefore(iso: string, dryRun?: boolean): number;

  // locks
  getLock(resource: string): LockRow | undefined;
  insertLock(row: LockRow): void;
  deleteLock(resource: string, token?: string): void;
  heartbeat(tokens: string[], nowMs: number): void;
  listLocks(): LockRow[];

  // publishes
  insertPublish(row: Omit<PublishRow, 'seq'>): number;
  updatePublish(seq: number, fields: Partial<PublishRow>): void;
  lastPublish(repoId: string, distId: string, state?: string): PublishRow | undefined;
  /** Older publishes of a distributor keep their record but not their (large) tree manifest. */
  clearOldManifests(repoId: string, distId: string, beforeSeq: number): void;
  listPublishes(filter: { states?: string[] }): PublishRow[];

  // consumers (plain storage for the agent)
  kvGet(table: 'consumers' | 'bindings' | 'profiles', key: string[]): Record<string, unknown> | undefined;
  kvList(table: 'consumers' | 'bindings' | 'profiles', prefix: string[]): Array<Record<string, unknown>>;
  kvPut(table: 'consumers' | 'bindings' | 'profiles', row: Record<string, unknown>): void;
  kvDelete(table: 'consumers' | 'bindings' | 'profiles', key: string[]): number;
}
