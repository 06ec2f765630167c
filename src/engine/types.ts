/**
 * Public types of the engine API (`openEngine` in ./index.ts). Plugins use ./contract.ts only.
 */
import type { EventSink } from '../events.js';
import type { StagepushError } from '../errors.js';
import type { Json, PluginFactory, TypeDefinition, Unit, UnitCriteria } from './contract.js';

export interface EngineOptions {
  dataDir: string;
  /** Parent of plugins.conf.d (plugin-level config files `<configDir>/plugins.conf.d/<id>.json`). */
  configDir?: string;
  /** Directory plugins (`<pluginsDir>/<name>/importer.js|distributor.js`); default `<dataDir>/plugins`. */
  pluginsDir?: string;
  /** npm package names (or package directories) whose package.json has a `stagepush` field. */
  pluginPackages?: string[];
  /** A node_modules directory: package names are resolved there, and every package in it with a `stagepush` field is loaded. */
  pluginNodeModules?: string;
  /** Default `<dataDir>/published`. */
  publishRoot?: string;
  baseUrls?: { http?: string; https?: string };
  events?: EventSink;
  /** Lock behaviour when another process holds a repository: wait (optionally bounded) or fail at once (kind 'locked'). */
  lock?: { wait: boolean; timeoutSec?: number };
  /** How files from outside reach the content store: `link` (a hard link where possible, else a copy; default) or `copy` (always). */
  storeFiles?: 'link' | 'copy';
  /** Aborting it cancels the running operation (SIGINT/SIGTERM in the CLI). */
  signal?: AbortSignal;
  /** More plugin factories (tests, embedding applications). */
  extraPlugins?: PluginFactory[];
  /** More content type declarations. */
  extraTypes?: TypeDefinition[];
}

export interface PluginInfo {
  id: string;
  kind: 'importer' | 'distributor';
  displayName: string;
  types: string[];
  /** "builtin", "npm:<package> (<file>)", "dir:<path>", "extra". */
  source: string;
  /** Plugin-level configuration. */
  config: Record<string, unknown>;
}

export interface ImporterInfo {
  typeId: string;
  config: Record<string, unknown>;
  workingDir: string;
}

export interface DistributorInfo {
  id: string;
  typeId: string;
  config: Record<string, unknown>;
  autoPublish: boolean;
  workingDir: string;
  lastPublish: PublishRecord | null;
}

export interface RepoInfo {
  id: string;
  displayName: string;
  description: string;
  notes: Record<string, string>;
  importer: ImporterInfo | null;
  distributors: DistributorInfo[];
  retainRepoVersions: number;
  /** Current version number (0 = the empty version made at creation). */
  version: number;
  unitCount: number;
  unitCounts: Record<string, number>;
  created: string;
  updated: string;
}

export interface RepoSpec {
  id: string;
  displayName?: string;
  description?: string;
  notes?: Record<string, string>;
  importer?: { typeId: string; config?: Record<string, unknown> };
  distributors?: Array<{ id?: string; typeId: string; config?: Record<string, unknown>; autoPublish?: boolean }>;
  retainRepoVersions?: number;
}

export interface RepoPatch {
  displayName?: string;
  description?: string;
  /** Merged into the notes; a null value removes the note. */
  notes?: Record<string, string | null>;
  retainRepoVersions?: number;
}

export type UnitOutcomeKind = 'added' | 'replaced' | 'unchanged' | 'removed';

export interface UnitOutcome {
  outcome: UnitOutcomeKind;
  /** The unit (its `id` becomes the engine id once committed). */
  unit: Unit;
}

export interface TaskResult {
  taskId: string;
  kind: string;
  repoId: string;
  state: TaskState;
  /** Repository version after the task (a new one when the content changed). */
  version: number;
  /** True when the task made a new repository version. */
  newVersion: boolean;
  added: number;
  removed: number;
  replaced: number;
  unchanged: number;
  outcomes: UnitOutcome[];
  /** What the plugin reported (sync/upload summary), or null. */
  report: Json;
  /** The plugin report's details (sync/upload), or null. */
  details: Json;
  /** Auto-publish outcomes (distributors with auto_publish). */
  publishes: PublishOutcome[];
}

export interface PublishOutcome {
  distributorId: string;
  status: 'published' | 'skipped' | 'failed';
  version: number;
  publishedPaths: string[];
  urls: string[];
  taskId?: string;
  report?: Json;
  error?: { code: string; message: string };
}

export interface ManifestEntry {
  /** "f" regular file, "l" symlink, "d" directory. */
  t: 'f' | 'l' | 'd';
  /** sha256 of a file, target of a symlink. */
  v?: string;
  size?: number;
  /** A symlink that resolved when published (1): it must still resolve. One that did not (a RAW tree's own dangling link) is as published. */
  r?: 1;
}

export interface PublishRecord {
  repoId: string;
  distributorId: string;
  version: number;
  configHash: string;
  publishedAt: string;
  taskId: string | null;
  publishedPaths: string[];
  urls: string[];
  report: Json;
}

export interface VersionInfo {
  number: number;
  created: string;
  kind: string;
  taskId: string | null;
  added: number;
  removed: number;
  unitCount: number;
  /** For a rollback: the version whose content it restored. */
  basedOn: number | null;
  /** Distributors that last published this version. */
  publishedBy: string[];
  current: boolean;
}

export type TaskState = 'waiting' | 'running' | 'finished' | 'error' | 'canceled';

/** What a task records as its kind (`task list --kind`): every operation the engine runs as a task. */
export const TASK_KINDS = ['sync', 'upload', 'copy', 'remove', 'publish', 'rollback', 'delete', 'gc', 'orphans', 'transaction'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export interface TaskInfo {
  id: string;
  kind: string;
  repoId: string | null;
  state: TaskState;
  created: string;
  started: string | null;
  finished: string | null;
  progress: Json;
  result: Json;
  error: { code: string; message: string; trace?: string } | null;
  pid: number | null;
  host: string | null;
  cancelRequested: boolean;
}

export interface TaskFilter {
  state?: TaskState | TaskState[];
  repoId?: string;
  kind?: string;
  limit?: number;
}

export interface OrphanInfo {
  id: string;
  typeId: string;
  unitKey: Record<string, Json>;
  sha256: string | null;
  size: number | null;
  blobs: string[];
}

export interface OrphanReport {
  dryRun: boolean;
  units: number;
  /** Stored files deleted (or that would be deleted): no longer referenced by any unit. */
  files: number;
  bytes: number;
  orphans: OrphanInfo[];
}

export interface GcReport {
  dryRun: boolean;
  versionsPruned: number;
  tasksPruned: number;
  /** Publish records older than the task retention (each distributor's latest of each state kept). */
  publishesPruned: number;
  orphans: OrphanReport;
  tempFilesRemoved: number;
  workingDirsRemoved: number;
}

export interface FsckProblem {
  code: string;
  message: string;
  file?: string;
}

export interface FsckReport {
  ok: boolean;
  integrity: string;
  unitsChecked: number;
  filesChecked: number;
  publishesChecked: number;
  problems: FsckProblem[];
  /** Not errors: e.g. files in the store that no unit references (removed by `orphans remove`). */
  notices: FsckProblem[];
}

export interface ConsumerInfo {
  name: string;
  root: string;
  notes: Record<string, unknown>;
  created: string;
}

export interface BindingInfo {
  consumer: string;
  repoId: string;
  distributorId: string;
  payload: Json;
  created: string;
}

export interface UploadSpec {
  filePath: string | null;
  typeId?: string;
  unitKey?: Record<string, Json>;
  metadata?: Record<string, Json>;
  override?: Record<string, unknown>;
}

export interface CopySpec {
  criteria?: UnitCriteria;
  override?: Record<string, unknown>;
}

export interface BatchResult {
  repoId: string;
  outcomes: UnitOutcome[];
  report: Json;
  /** The plugin report's details (e.g. the packages a sync refused, and why), or null. */
  details?: Json;
}

/** Operations inside `engine.transaction`: staged, committed together when the callback resolves. */
export interface Batch {
  upload(repoId: string, req: UploadSpec): Promise<BatchResult>;
  /**
   * Several uploads into one repository, in order, each as `upload` would do it (one result per
   * request, the same errors) with the repository's importer looked up once. `before(i)` runs
   * just before request i, `after(i, result)` just after it succeeded.
   */
  /**
   * `reqs` is iterated once, in order (a generator may make each spec as it is needed).
   * `discardResults`: each result only goes to `after` (the returned list is empty), so a long batch does not hold them all.
   */
  uploadMany(repoId: string, reqs: Iterable<UploadSpec>, hooks?: { before?(index: number): void; after?(index: number, result: BatchResult): void; discardResults?: boolean }): Promise<BatchResult[]>;
  copy(fromRepo: string, toRepo: string, opts?: CopySpec): Promise<BatchResult>;
  removeUnits(repoId: string, criteria?: UnitCriteria): Promise<BatchResult>;
  /** The repository's units including this batch's staged changes. */
  listUnits(repoId: string, criteria?: UnitCriteria): Unit[];
  /**
   * A new configuration for the repository's importer (same type), checked by the importer: the
   * batch's later operations run with it, and it is stored with the batch's commit (not at all
   * when the batch fails). A push applying a changed declaration imports under the new rules.
   */
  configureImporter(repoId: string, config: Record<string, unknown>): Promise<void>;
  readonly signal: AbortSignal;
}

export type { StagepushError };
