/**
 * The embedded repository engine: repositories, content units, repository versions, importers and
 * distributors (Pulp's plugin model), tasks, cross-process locks, orphans, gc and fsck, on SQLite
 * with a content-addressed store. Entry point: `openEngine(options)`.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import { nullSink, type EventSink } from '../events.js';
import { CallConfig, assertJson } from './config.js';
import { ImportConduitImpl, ImporterConduitImpl, PublishConduitImpl, RepoStage, Staging, keyCanon, partialUnits, publishPinName, rowToUnit, type ConduitHost, type OpContext, type QueryCursor } from './conduits.js';
import type { Distributor, Importer, Json, PluginCallConfig, PublishReport, RelatedRepositories, Repository, TypeDefinition, Unit, UnitCriteria, ValidationResult } from './contract.js';
import { checkpoint, setCrashOp } from './crash.js';
import { projectUnit, validateCriteria } from './criteria.js';
import { LockManager, lockOwnerDead } from './locks.js';
import { PluginRegistry, type LoadedPlugin } from './registry.js';
import { SqliteStorage } from './sqlite.js';
import { ContentStore, SHA256_RE, hashFileSync, isPidAlive } from './store.js';
import { thrownText } from './thrown.js';
import type { DistributorRow, PublishRow, RepoRow, Storage, TaskRow } from './storage.js';
import type {
  Batch,
  BatchResult,
  BindingInfo,
  ConsumerInfo,
  CopySpec,
  DistributorInfo,
  EngineOptions,
  FsckProblem,
  FsckReport,
  GcReport,
  ManifestEntry,
  OrphanInfo,
  OrphanReport,
  PluginInfo,
  PublishOutcome,
  PublishRecord,
  RepoInfo,
  RepoPatch,
  RepoSpec,
  TaskFilter,
  TaskInfo,
  TaskResult,
  TaskKind,
  TaskState,
  UnitOutcome,
  UploadSpec,
  VersionInfo,
} from './types.js';

export * from './types.js';
export type { Unit, UnitCriteria, TypeDefinition, Json } from './contract.js';
export { parseConfigArgs, parseValue, CallConfig } from './config.js';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PROGRESS_FLUSH_MS = 400;
const CANCEL_POLL_MS = 250;
/** The importer's removeUnits hook gets the removed units this many at a time (see innerRemove). */
const REMOVE_PAGE = 500;

function now(): string {
  return new Date().toISOString();
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  return `{${Object.keys(v as object)
    .sort()
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

function parseJson<T>(s: string | null | undefined, def: T): T {
  if (s === null || s === undefined) return def;
  try {
    return JSON.parse(s) as T;
  } catch {
    return def;
  }
}

function errJson(e: unknown): { code: string; message: string; trace?: string } {
  if (e instanceof StagepushError) return { code: e.code, message: e.message, trace: e.stack };
  const err = e as Error;
  return { code: 'INTERNAL', message: err?.message ?? String(e), trace: err?.stack };
}

function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new StagepushError('ENGINE_BAD_ID', `${what} ${JSON.stringify(id)} is not valid: use letters, digits, _ . - (at most 128, starting with a letter or digit)`, { kind: 'invalid', field: what });
  return id;
}

/** Merge a config patch: null values delete keys. */
/** A short description of a value a plugin returned (for errors about its shape). */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a list holding something other than strings';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `a ${typeof v}`;
}

function mergeConfig(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

interface TaskCtx {
  taskId: string;
  signal: AbortSignal;
  setProgress(p: Json): void;
}

interface ImporterOpState {
  staging: Staging;
  task: TaskCtx;
}

export interface Engine {
  readonly dataDir: string;
  readonly publishRoot: string;
  readonly contentRoot: string;
  close(): void;
  listTypes(): TypeDefinition[];
  listPlugins(): PluginInfo[];
  pluginLoadErrors(): StagepushError[];
  createRepo(spec: RepoSpec): Promise<RepoInfo>;
  getRepo(id: string): RepoInfo | null;
  listRepos(): RepoInfo[];
  updateRepo(id: string, patch: RepoPatch): Promise<RepoInfo>;
  /**
   * `force`: a failing importerRemoved/distributorRemoved hook is reported and the delete goes on.
   * `ifUnused`: only a repository still as created (version 0, no unit, never published), checked
   * under its lock. True when deleted.
   */
  deleteRepo(id: string, opts?: { force?: boolean; ifUnused?: boolean }): Promise<boolean>;
  /**
   * Replacing an importer runs the old one's importerRemoved hook; one whose plugin is not loaded
   * (PLUGIN_NOT_LOADED) or whose hook fails stops it. `force`: reported and the replacement goes on
   * (the old importer's working directory is removed).
   */
  setImporter(repoId: string, typeId: string, config?: Record<string, unknown>, opts?: { force?: boolean }): Promise<void>;
  updateImporterConfig(repoId: string, config: Record<string, unknown>): Promise<void>;
  addDistributor(repoId: string, d: { id?: string; typeId: string; config?: Record<string, unknown>; autoPublish?: boolean }): Promise<DistributorInfo>;
  updateDistributor(repoId: string, distId: string, d: { config?: Record<string, unknown>; autoPublish?: boolean }): Promise<DistributorInfo>;
  /** `force`: a failing distributorRemoved hook is reported and the removal goes on. */
  removeDistributor(repoId: string, distId: string, opts?: { force?: boolean }): Promise<void>;
  /**
   * Check configurations for an existing repository as setImporter / addDistributor /
   * updateDistributor would (each plugin's validateConfig), changing nothing. Throws the first
   * refusal (PLUGIN_CONFIG_INVALID, ENGINE_UNKNOWN_PLUGIN...).
   */
  /**
   * Validate configurations for a repository without applying them. `plannedUrls`: relative_urls
   * (owner → url) of distributors about to be made (a push's new repositories), taken as taken.
   */
  /** Check a repository not made yet as createRepo would, changing nothing (`plannedUrls`: relative_urls of other distributors about to be made). */
  checkRepoSpec(spec: RepoSpec, plannedUrls?: Record<string, string>): Promise<void>;
  /** Distributors of a repository that a publish (not forced) would publish now (`configs`: those they will have by then). */
  publishPending(repoId: string, configs?: Record<string, Record<string, unknown>>): string[];
  checkConfigs(repoId: string, c: { importer?: { typeId: string; config: Record<string, unknown> }; distributors?: Array<{ id: string; typeId: string; config: Record<string, unknown> }> }, plannedUrls?: Record<string, string>): Promise<void>;
  listDistributors(repoId: string): DistributorInfo[];
  sync(repoId: string, opts?: { override?: Record<string, unknown> }): Promise<TaskResult>;
  upload(repoId: string, req: UploadSpec): Promise<TaskResult>;
  uploadMany(repoId: string, reqs: UploadSpec[]): Promise<TaskResult>;
  copy(fromRepo: string, toRepo: string, opts?: CopySpec): Promise<TaskResult>;
  removeUnits(repoId: string, criteria?: UnitCriteria): Promise<TaskResult>;
  /**
   * `starting`: called under the repository's lock when a distributor's publish begins (not when
   * it is skipped, its version being published already), with the version it publishes: its
   * caller knows it is the one publishing that version, which another process asking
   * publishPending cannot tell.
   */
  publish(repoId: string, opts?: { distributorId?: string; override?: Record<string, unknown>; force?: boolean; starting?: (distributorId: string, version: number) => void }): Promise<PublishOutcome[]>;
  listUnits(repoId: string, criteria?: UnitCriteria): Unit[];
  iterUnits(repoId: string, criteria?: UnitCriteria): Iterable<Unit>;
  countUnits(repoId: string, criteria?: UnitCriteria): number;
  getUnits(unitIds: string[]): Unit[];
  versions(repoId: string): VersionInfo[];
  rollback(repoId: string, toVersion: number): Promise<TaskResult>;
  lastPublish(repoId: string, distId: string): PublishRecord | null;
  createConsumerPayload(repoId: string, distId: string, bindingConfig?: Record<string, unknown>): Promise<Json>;
  /**
   * A transaction of the repositories `repoIds` (their locks taken in sorted order). With
   * `lockedOnly`, a unit it changes in place (a unit is shared by key) that a repository outside
   * `repoIds` holds fails the commit (ENGINE_SHARED_NOT_LOCKED, `details.repos`: those
   * repositories), nothing changed, instead of giving that repository a new version it does not
   * hold the lock of: the caller takes their locks too and runs the transaction again.
   */
  transaction<T>(repoIds: string[], fn: (batch: Batch) => Promise<T>, opts?: { lockedOnly?: boolean }): Promise<T>;
  /**
   * The stored units of these types and keys (whatever repository holds them; null where none is
   * stored), each with the repositories whose current version holds it: the repositories a change
   * to that unit reaches.
   */
  unitHolders(units: Array<{ typeId: string; unitKey: Record<string, unknown> }>): Array<{ unit: Unit; repos: string[] } | null>;
  pinUnits(unitIds: string[], untilMs: number): void;
  /**
   * Keep these stored digests from orphan clean-up while an operation that will reference them
   * runs (pin `name`, until released or `untilMs`). A clean-up in progress finishes first, one
   * that starts later sees the pin.
   */
  pinForOperation(name: string, sha256s: string[], untilMs: number): Promise<void>;
  /** Release a pin made by pinForOperation. */
  unpin(name: string): void;
  tasks: { list(filter?: TaskFilter): TaskInfo[]; show(id: string): TaskInfo | null; cancel(id: string): void };
  orphans: { list(): OrphanInfo[]; remove(opts?: { dryRun?: boolean }): OrphanReport };
  /** orphans.remove as a recorded task that waits for every repository lock (per the lock options). */
  removeOrphans(opts?: { dryRun?: boolean }): Promise<OrphanReport>;
  gc(opts?: { dryRun?: boolean; taskRetentionDays?: number }): Promise<GcReport>;
  fsck(): Promise<FsckReport>;
  consumers: {
    register(name: string, c: { root: string; notes?: Record<string, unknown> }): ConsumerInfo;
    get(name: string): ConsumerInfo | null;
    list(): ConsumerInfo[];
    unregister(name: string): void;
    setBinding(name: string, repoId: string, distId: string, payload: Json): void;
    removeBinding(name: string, repoId: string): void;
    bindings(name: string): BindingInfo[];
    setProfile(name: string, typeId: string, profile: Json): void;
    getProfile(name: string, typeId: string): Json | null;
    /** Take the cross-process lock `consumer:<name>` (per the lock options); resolves with its release. */
    lock(name: string): Promise<() => void>;
  };
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const dataDir = path.resolve(opts.dataDir);
  try {
    fs.mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new StagepushError('ENGINE_DATA_DIR', `cannot create the data directory ${dataDir}: ${(e as Error).message}`, { kind: 'failed', file: dataDir });
  }
  const st = new SqliteStorage(path.join(dataDir, 'engine.db'));
  try {
    const store = new ContentStore(path.join(dataDir, 'content'), { linkFiles: opts.storeFiles !== 'copy' });
    const registry = await PluginRegistry.load({
      configDir: opts.configDir,
      pluginsDir: opts.pluginsDir ?? path.join(dataDir, 'plugins'),
      pluginPackages: opts.pluginPackages,
      pluginNodeModules: opts.pluginNodeModules,
      extraPlugins: opts.extraPlugins,
      extraTypes: opts.extraTypes,
    });
    const eng = new EngineImpl(dataDir, opts, st, store, registry);
    eng.recover();
    return eng;
  } catch (e) {
    st.close();
    throw e;
  }
}

type UploadTarget = { row: RepoRow; p: LoadedPlugin; config: Record<string, unknown>; workingDir: string };

class EngineImpl implements Engine, ConduitHost {
  readonly publishRoot: string;
  readonly contentRoot: string;
  readonly events: EventSink;
  readonly locks: LockManager;
  private closed = false;

  constructor(
    readonly dataDir: string,
    private opts: EngineOptions,
    readonly st: Storage,
    readonly store: ContentStore,
    readonly registry: PluginRegistry,
  ) {
    this.publishRoot = path.resolve(opts.publishRoot ?? path.join(dataDir, 'published'));
    this.contentRoot = store.root;
    this.events = opts.events ?? nullSink;
    this.locks = new LockManager(st);
  }

  // ------------------------------------------------------------------ housekeeping
  /** After a crash: stray temp files, dead owners' locks, abandoned tasks and publishes. */
  recover(): void {
    this.store.cleanStrayTemps();
    const host = this.locks.host;
    this.st.tx(() => {
      for (const l of this.st.listLocks()) if (lockOwnerDead(l, host)) this.st.deleteLock(l.resource, l.token);
      for (const t of this.st.listTasks({ states: ['waiting', 'running'] })) {
        if (t.host === host && t.pid !== null && !isPidAlive(t.pid)) {
          this.st.updateTask(t.id, { state: 'error', finished: now(), error: JSON.stringify({ code: 'ENGINE_TASK_ABANDONED', message: `the process running this task (pid ${t.pid}) died; nothing it staged was committed` }) });
        }
      }
      for (const p of this.st.listPublishes({ states: ['running'] })) {
        if (p.host === host && p.pid !== null && !isPidAlive(p.pid)) this.st.updatePublish(p.seq, { state: 'interrupted', finished: now() });
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.locks.releaseAll();
    this.st.close();
  }

  typeDef(typeId: string): TypeDefinition {
    const t = this.registry.types.get(typeId);
    if (!t) throw new StagepushError('ENGINE_UNKNOWN_TYPE', `unknown content type ${JSON.stringify(typeId)} (declared types: ${[...this.registry.types.keys()].join(', ')})`, { kind: 'invalid', field: 'type' });
    return t.def;
  }

  listTypes(): TypeDefinition[] {
    return [...this.registry.types.values()].map((t) => t.def);
  }

  listPlugins(): PluginInfo[] {
    return [...this.registry.plugins.values()].map((p) => ({ id: p.id, kind: p.kind, displayName: p.metadata.displayName, types: [...p.metadata.types], source: p.source, config: p.config }));
  }

  pluginLoadErrors(): StagepushError[] {
    return [...this.registry.errors];
  }

  private plugin(id: string, kind: 'importer' | 'distributor'): LoadedPlugin {
    const p = this.registry.get(id);
    if (!p || p.kind !== kind) {
      const failed = this.registry.errors.find((e) => e.message.includes(id));
      throw new StagepushError('ENGINE_UNKNOWN_PLUGIN', `no ${kind} plugin ${JSON.stringify(id)} is installed${failed ? ` (it failed to load: ${failed.message})` : ''}`, {
        kind: 'invalid',
        hint: `installed ${kind}s: ${[...this.registry.plugins.values()].filter((x) => x.kind === kind).map((x) => x.id).join(', ') || 'none'} (see stagepush plugins list)`,
      });
    }
    return p;
  }

  private workingDir(repoId: string, kind: 'importer' | 'distributor', id: string): string {
    return path.join(this.dataDir, 'working', repoId, kind, id);
  }

  /**
   * The Repository a plugin sees. Its working directory is made unless `made` says not to: it
   * exists already, or the call only validates (a refused configuration leaves nothing behind).
   */
  private repoObject(row: RepoRow, workingDir: string, made = false): Repository {
    if (!made) fs.mkdirSync(workingDir, { recursive: true });
    return { id: row.id, displayName: row.display_name, description: row.description, notes: parseJson(row.notes, {}), workingDir, version: row.version };
  }

  private requireRepo(id: string): RepoRow {
    const r = this.st.getRepo(id);
    if (!r) throw new StagepushError('ENGINE_REPO_NOT_FOUND', `repository ${JSON.stringify(id)} does not exist`, { kind: 'invalid', hint: 'stagepush repo list' });
    return r;
  }

  private requireDist(repoId: string, distId: string): DistributorRow {
    const d = this.st.getDistributor(repoId, distId);
    if (!d) {
      const all = this.st.listDistributors(repoId).map((x) => x.id);
      throw new StagepushError('ENGINE_DISTRIBUTOR_NOT_FOUND', `repository ${repoId} has no distributor ${JSON.stringify(distId)} (it has: ${all.join(', ') || 'none'})`, { kind: 'invalid' });
    }
    return d;
  }

  /** What validateConfig learns of the other repositories (and, for distributor `distId`, of every other distributor's relative_url). */
  private related(typeId: string, repoId: string, distId?: string, plannedUrls: Record<string, string> = {}): RelatedRepositories {
    const repos = this.st.pluginConfigs(typeId).filter((r) => r.repoId !== repoId).map((r) => ({ id: r.repoId, pluginId: r.pluginId, config: parseJson<Record<string, unknown>>(r.config, {}) }));
    return distId === undefined ? { repos } : { repos, relativeUrls: { ...this.otherRelativeUrls(repoId, distId), ...plannedUrls } };
  }

  /**
   * A fresh plugin instance (the plugin's module is imported on first use). `fail` turns what the
   * plugin's constructor (or its module's load) throws into the coded error of the operation that
   * needed the instance, as for a failure in the plugin's method: the constructor is plugin code
   * too, and may throw anything.
   */
  private async instance(p: LoadedPlugin, fail: (e: unknown) => unknown): Promise<Importer | Distributor> {
    try {
      if (p.factory.load) await p.factory.load();
      return p.factory.create();
    } catch (e) {
      throw fail(e);
    }
  }

  /**
   * `distId`: the distributor validated (its related repositories include every other distributor's relative_url).
   * `override`: a call's override, layered over `config` exactly as the operation will layer it.
   */
  private async validate(p: LoadedPlugin, repo: Repository, config: Record<string, unknown>, label: string, distId?: string, plannedUrls?: Record<string, string>, override: Record<string, unknown> = {}): Promise<void> {
    assertJson(config, `the ${label} configuration`);
    assertJson(override, `the ${label} override`);
    const threw = (what: string) => (e: unknown) =>
      new StagepushError('PLUGIN_CONFIG_INVALID', `${p.id} refused the ${label} configuration of repository ${repo.id}: ${what} threw: ${thrownText(e)}`, { kind: 'invalid', cause: e, details: { plugin: p.id, message: thrownText(e), distributor: distId ?? null } });
    const inst = (await this.instance(p, threw('creating the plugin'))) as Importer | Distributor;
    let res: ValidationResult | boolean | [boolean, string] | undefined;
    try {
      res = (await inst.validateConfig(repo, new CallConfig(p.config, config, override), this.related(p.id, repo.id, distId, plannedUrls))) as typeof res;
    } catch (e) {
      throw threw('validateConfig')(e);
    }
    let valid: boolean;
    let message: string | undefined;
    if (res === true) valid = true;
    else if (Array.isArray(res)) [valid, message] = [Boolean(res[0]), res[1]];
    else if (res && typeof res === 'object') {
      valid = (res as { valid: boolean }).valid === true;
      message = (res as { message?: string }).message;
    } else valid = false;
    if (!valid) {
      // A refused key the repository does not set has the value of the plugin's
      // plugins.conf.d file: that file is named (file, field), not only the repository.
      const key = /config key "([^"]+)"/.exec(message ?? '')?.[1];
      const conf = key !== undefined && p.confFile && p.confKeys?.includes(key) && config[key] === undefined && override[key] === undefined ? p.confFile : undefined;
      throw new StagepushError('PLUGIN_CONFIG_INVALID', `${p.id} refused the ${label} configuration of repository ${repo.id}: ${message ?? 'invalid configuration (no message)'}${conf ? ` (${key} is set in ${conf})` : ''}`, {
        kind: 'invalid',
        ...(conf ? { file: conf, field: key } : {}),
        details: { plugin: p.id, message: message ?? null, distributor: distId ?? null, ...(conf ? { file: conf, key } : {}) },
      });
    }
  }

  /**
   * A call's override (`--override`) is validated with the configuration it overrides, as the
   * plugin will see it (the same layers: a key set to null in the override is null, not the
   * repository's or the plugin's value), before the operation starts: a bad value is refused by
   * validateConfig naming the key, not met half-way through a sync or publish.
   */
  private async validateOverride(p: LoadedPlugin, repoId: string, kind: 'importer' | 'distributor', d: DistributorRow | null, override: Record<string, unknown> | undefined): Promise<void> {
    if (!override || !Object.keys(override).length) return;
    const row = this.requireRepo(repoId);
    if (kind === 'importer') {
      await this.validate(p, this.repoObject(row, this.workingDir(repoId, 'importer', p.id), true), parseJson(row.importer_config, {}), 'importer (with the call override)', undefined, undefined, override);
    } else {
      await this.validate(p, this.repoObject(row, this.workingDir(repoId, 'distributor', d!.id), true), parseJson(d!.config, {}), `distributor ${d!.id} (with the call override)`, d!.id, undefined, override);
    }
  }

  /** A lifecycle hook; whatever it (or the plugin's constructor) throws is PLUGIN_HOOK_FAILED, which `--force` goes past. */
  private async hook(p: LoadedPlugin, name: string, repo: Repository, config: Record<string, unknown>): Promise<void> {
    const failed = (e: unknown, what = '') => new StagepushError('PLUGIN_HOOK_FAILED', `${p.id}.${name} failed on repository ${repo.id}: ${what}${thrownText(e)}`, { kind: 'failed', cause: e });
    const inst = (await this.instance(p, (e) => failed(e, 'creating the plugin threw: '))) as unknown as Record<string, unknown>;
    const fn = inst[name];
    if (typeof fn !== 'function') return;
    // 'plugin-hook', not 'hook' (a push's post_publish commands): a push shows these only when verbose.
    this.events({ type: 'phase-start', phase: 'plugin-hook', label: `${p.id}.${name}`, repo: repo.id });
    try {
      await (fn as (r: Repository, c: PluginCallConfig) => Promise<void>).call(inst, repo, new CallConfig(p.config, config));
    } catch (e) {
      this.events({ type: 'phase-end', phase: 'plugin-hook', ok: false, label: `${p.id}.${name}`, repo: repo.id });
      throw failed(e);
    }
    this.events({ type: 'phase-end', phase: 'plugin-hook', label: `${p.id}.${name}`, repo: repo.id });
  }

  private async withLock<T>(repoIds: string[], fn: () => Promise<T>): Promise<T> {
    const release = await this.locks.acquire(
      repoIds.map((r) => `repo:${r}`),
      { wait: this.opts.lock?.wait ?? true, timeoutSec: this.opts.lock?.timeoutSec, signal: this.opts.signal, events: this.events },
    );
    try {
      return await fn();
    } finally {
      release();
    }
  }

  // ------------------------------------------------------------------ repositories
  private distInfo(d: DistributorRow): DistributorInfo {
    return { id: d.id, typeId: d.type_id, config: parseJson(d.config, {}), autoPublish: !!d.auto_publish, workingDir: this.workingDir(d.repo_id, 'distributor', d.id), lastPublish: this.lastPublish(d.repo_id, d.id) };
  }

  private repoInfo(r: RepoRow): RepoInfo {
    const counts = this.st.unitCountsByType(r.id);
    return {
      id: r.id,
      displayName: r.display_name,
      description: r.description,
      notes: parseJson(r.notes, {}),
      importer: r.importer_type ? { typeId: r.importer_type, config: parseJson(r.importer_config, {}), workingDir: this.workingDir(r.id, 'importer', r.importer_type) } : null,
      distributors: this.st.listDistributors(r.id).map((d) => this.distInfo(d)),
      retainRepoVersions: r.retain_versions,
      version: r.version,
      unitCount: Object.values(counts).reduce((a, b) => a + b, 0),
      unitCounts: counts,
      created: r.created,
      updated: r.updated,
    };
  }

  getRepo(id: string): RepoInfo | null {
    const r = this.st.getRepo(id);
    return r ? this.repoInfo(r) : null;
  }

  listRepos(): RepoInfo[] {
    return this.st.listRepos().map((r) => this.repoInfo(r));
  }

  private checkNotes(notes: unknown): Record<string, string> {
    if (notes === undefined) return {};
    if (!notes || typeof notes !== 'object' || Array.isArray(notes)) throw new StagepushError('ENGINE_BAD_NOTES', 'notes must be an object of string values', { kind: 'invalid', field: 'notes' });
    for (const [k, v] of Object.entries(notes)) if (typeof v !== 'string' && v !== null) throw new StagepushError('ENGINE_BAD_NOTES', `note ${k} must be a string`, { kind: 'invalid', field: `notes.${k}` });
    return notes as Record<string, string>;
  }

  private checkRetain(n: unknown): number {
    if (n === undefined) return 0;
    if (!Number.isInteger(n) || (n as number) < 0) throw new StagepushError('ENGINE_BAD_RETAIN', `retain_repo_versions must be a non-negative integer (0 = keep all), got ${JSON.stringify(n)}`, { kind: 'invalid', field: 'retain_repo_versions' });
    return n as number;
  }

  async createRepo(spec: RepoSpec): Promise<RepoInfo> {
    const id = checkId(spec.id, 'repository id');
    if (this.st.getRepo(id)) throw new StagepushError('ENGINE_REPO_EXISTS', `repository ${id} already exists`, { kind: 'invalid' });
    const notes = this.checkNotes(spec.notes);
    const retain = this.checkRetain(spec.retainRepoVersions);
    const t = now();
    const row: RepoRow = {
      id,
      display_name: spec.displayName ?? id,
      description: spec.description ?? '',
      notes: JSON.stringify(notes),
      importer_type: spec.importer?.typeId ?? null,
      importer_config: spec.importer ? JSON.stringify(spec.importer.config ?? {}) : null,
      retain_versions: retain,
      version: 0,
      created: t,
      updated: t,
    };
    const { imp, dists } = await this.validateNewRepo(row, spec);
    this.st.tx(() => {
      if (this.st.getRepo(id)) throw new StagepushError('ENGINE_REPO_EXISTS', `repository ${id} already exists`, { kind: 'invalid' });
      this.st.insertRepo(row);
      for (const d of dists) this.st.insertDistributor({ repo_id: id, id: d.id, type_id: d.p.id, config: JSON.stringify(d.config), auto_publish: d.autoPublish ? 1 : 0, created: t });
      this.st.insertVersion({ repo_id: id, number: 0, created: t, task_id: null, kind: 'create', added: 0, removed: 0, unit_count: 0, based_on: null });
    });
    try {
      if (imp) await this.hook(imp, 'importerAdded', this.repoObject(row, this.workingDir(id, 'importer', imp.id)), spec.importer!.config ?? {});
      for (const d of dists) await this.hook(d.p, 'distributorAdded', this.repoObject(row, this.workingDir(id, 'distributor', d.id)), d.config);
    } catch (e) {
      this.st.deleteRepo(id);
      fs.rmSync(path.join(this.dataDir, 'working', id), { recursive: true, force: true });
      throw e;
    }
    return this.getRepo(id)!;
  }

  /** The plugins' check of a repository about to be made (nothing is written). `plannedUrls`: see checkRepoSpec. */
  private async validateNewRepo(row: RepoRow, spec: RepoSpec, plannedUrls: Record<string, string> = {}): Promise<{ imp: LoadedPlugin | null; dists: Array<{ id: string; p: LoadedPlugin; config: Record<string, unknown>; autoPublish: boolean }> }> {
    const id = row.id;
    const imp = spec.importer ? this.plugin(spec.importer.typeId, 'importer') : null;
    if (imp) await this.validate(imp, this.repoObject(row, this.workingDir(id, 'importer', imp.id), true), spec.importer!.config ?? {}, 'importer');
    const dists: Array<{ id: string; p: LoadedPlugin; config: Record<string, unknown>; autoPublish: boolean }> = [];
    for (const d of spec.distributors ?? []) {
      const p = this.plugin(d.typeId, 'distributor');
      const did = checkId(d.id ?? this.defaultDistId(d.typeId, dists.map((x) => x.id)), 'distributor id');
      if (dists.some((x) => x.id === did)) throw new StagepushError('ENGINE_DISTRIBUTOR_EXISTS', `distributor id ${did} is given twice for repository ${id}`, { kind: 'invalid' });
      const others = Object.fromEntries(Object.entries(plannedUrls).filter(([k]) => k !== `${id}/${did}`));
      await this.validate(p, this.repoObject(row, this.workingDir(id, 'distributor', did), true), d.config ?? {}, `distributor ${did}`, did, others);
      dists.push({ id: did, p, config: d.config ?? {}, autoPublish: !!d.autoPublish });
    }
    return { imp, dists };
  }

  /**
   * Check a repository that is not made yet as createRepo would (ids, notes, plugin
   * configurations), changing nothing. `plannedUrls`: relative_urls (owner "repo/distributor" →
   * url) of distributors about to be made too, taken as taken (its own are left out).
   */
  async checkRepoSpec(spec: RepoSpec, plannedUrls: Record<string, string> = {}): Promise<void> {
    const id = checkId(spec.id, 'repository id');
    this.checkNotes(spec.notes);
    this.checkRetain(spec.retainRepoVersions);
    const row: RepoRow = { id, display_name: spec.displayName ?? id, description: spec.description ?? '', notes: '{}', importer_type: spec.importer?.typeId ?? null, importer_config: null, retain_versions: 0, version: 0, created: now(), updated: now() };
    await this.validateNewRepo(row, spec, plannedUrls);
  }

  private defaultDistId(typeId: string, taken: string[]): string {
    if (!taken.includes(typeId)) return typeId;
    for (let i = 2; ; i++) if (!taken.includes(`${typeId}_${i}`)) return `${typeId}_${i}`;
  }

  async updateRepo(id: string, patch: RepoPatch): Promise<RepoInfo> {
    return this.withLock([id], async () => {
      const r = this.requireRepo(id);
      const fields: Partial<RepoRow> = { updated: now() };
      if (patch.displayName !== undefined) fields.display_name = String(patch.displayName);
      if (patch.description !== undefined) fields.description = String(patch.description);
      if (patch.notes !== undefined) {
        const n = this.checkNotes(patch.notes);
        fields.notes = JSON.stringify(mergeConfig(parseJson(r.notes, {}), n));
      }
      if (patch.retainRepoVersions !== undefined) fields.retain_versions = this.checkRetain(patch.retainRepoVersions);
      this.st.tx(() => {
        this.st.updateRepo(id, fields);
        if (fields.retain_versions) this.st.pruneVersions(id, fields.retain_versions);
      });
      return this.getRepo(id)!;
    });
  }

  /** `ifUnused`: only a repository nobody has put content in or published (a command's own, made and not used): then it also runs when the command was interrupted. */
  async deleteRepo(id: string, opts: { force?: boolean; ifUnused?: boolean } = {}): Promise<boolean> {
    return this.runTask('delete', id, [id], async () => {
      const r = this.requireRepo(id);
      // Checked under the repository's lock: a repository someone has put content in or published since stays.
      if (opts.ifUnused && (r.version !== 0 || this.st.countUnits({ repoId: id }) !== 0 || this.st.listDistributors(id).some((d) => this.st.lastPublish(id, d.id) !== undefined))) return false;
      // A removal hook that fails stops the delete (the plugin could not clean up), unless forced:
      // then it is reported and the delete goes on.
      const removed = async (p: LoadedPlugin, name: string, wd: string, config: string | null) => {
        try {
          await this.hook(p, name, this.repoObject(r, wd), parseJson(config, {}));
        } catch (e) {
          if (!(e instanceof StagepushError)) throw e;
          if (!opts.force) throw new StagepushError(e.code, e.message, { kind: e.kind, cause: e.cause, hint: `stagepush repo delete ${id} --force deletes it anyway` });
          this.events({ type: 'warning', code: e.code, message: `${e.message} (deleted anyway: --force)` });
        }
      };
      // A plugin that is not loaded cannot clean up: said like a failing hook (--force goes on).
      const missing = (typeId: string, what: string) => {
        const e = new StagepushError('PLUGIN_NOT_LOADED', `repository ${id}: ${what} plugin ${typeId} is not installed or failed to load, so its removal hook cannot run`, { kind: 'failed', hint: `install it, or: stagepush repo delete ${id} --force` });
        if (!opts.force) throw e;
        this.events({ type: 'warning', code: e.code, message: `${e.message} (deleted anyway: --force)` });
      };
      // Consumers bound to it would keep configuration pointing at nothing.
      const bound = this.boundConsumers(id);
      if (bound.length) {
        const e = new StagepushError('ENGINE_REPO_BOUND', `repository ${id} is bound by consumer(s) ${bound.join(', ')}`, { kind: 'invalid', hint: `unbind first (stagepush consumer unbind ${bound[0]} ${id}), or --force (the bindings then point at nothing)` });
        if (!opts.force) throw e;
        this.events({ type: 'warning', code: e.code, message: `${e.message} (deleted anyway: --force)` });
      }
      // Every check before any hook runs: a refusal leaves every plugin untold.
      const dists = this.st.listDistributors(id);
      for (const d of dists) if (!this.registry.get(d.type_id)) missing(d.type_id, `distributor ${d.id}'s`);
      if (r.importer_type && !this.registry.get(r.importer_type)) missing(r.importer_type, 'its importer');
      // Distributors first, the importer last (as a repository is taken apart): a distributor hook
      // that refuses leaves the importer untold.
      // A hook that fails after others ran cannot undo theirs (a tree unpublished is gone): the
      // distributors already taken apart are removed for good, the repository keeps the rest,
      // and the error says so (the database then matches what is on disk).
      const gone: string[] = [];
      try {
        for (const d of dists) {
          const p = this.registry.get(d.type_id);
          if (p) await removed(p, 'distributorRemoved', this.workingDir(id, 'distributor', d.id), d.config);
          gone.push(d.id);
        }
        if (r.importer_type) {
          const p = this.registry.get(r.importer_type);
          if (p) await removed(p, 'importerRemoved', this.workingDir(id, 'importer', p.id), r.importer_config);
        }
      } catch (e) {
        if (!(e instanceof StagepushError) || !gone.length) throw e;
        for (const did of gone) this.dropDistributorRecord(id, did);
        throw new StagepushError(e.code, `${e.message} (the delete stopped there: distributor(s) ${gone.join(', ')} were already taken apart and are removed; repository ${id} stays with the others)`, { kind: e.kind, cause: e.cause, hint: e.hint });
      }
      // What its distributors kept from orphan clean-up (packages served for old metadata) goes with them.
      for (const d of dists) this.store.unpin(publishPinName(id, `distributor:${d.id}`));
      // Its trees are unpublished, the repository not deleted yet: a crash here leaves a
      // repository whose published paths are gone (publishDue publishes it again).
      checkpoint('unpublished');
      this.st.deleteRepo(id);
      fs.rmSync(path.join(this.dataDir, 'working', id), { recursive: true, force: true });
      return true;
    }, (deleted) => ({ deleted: deleted ? id : null, ...(deleted ? {} : { kept: 'in use: it has content or was published' }) }), opts.ifUnused === true);
  }

  async setImporter(repoId: string, typeId: string, config: Record<string, unknown> = {}, opts: { force?: boolean } = {}): Promise<void> {
    await this.withLock([repoId], async () => {
      const r = this.requireRepo(repoId);
      const p = this.plugin(typeId, 'importer');
      const wd = this.workingDir(repoId, 'importer', p.id);
      await this.validate(p, this.repoObject(r, wd, true), config, 'importer');
      const changing = r.importer_type !== typeId;
      const old = r.importer_type ? this.registry.get(r.importer_type) : undefined;
      const forceHint = `stagepush repo importer set ${repoId} ${typeId} --force replaces it anyway`;
      const refuse = (e: StagepushError) => {
        if (!opts.force) throw e;
        this.events({ type: 'warning', code: e.code, message: `${e.message} (replaced anyway: --force)` });
      };
      // An old importer whose plugin is not loaded cannot clean up: refused as repo delete refuses
      // it, before any hook runs (it was replaced silently, its hook skipped, its directory left).
      if (changing && r.importer_type && !old) {
        refuse(new StagepushError('PLUGIN_NOT_LOADED', `repository ${repoId}: its importer plugin ${r.importer_type} is not installed or failed to load, so its removal hook cannot run`, { kind: 'failed', hint: `install it, or: stagepush repo importer set ${repoId} ${typeId} --force` }));
      }
      if (changing) {
        // The new importer is added first: when its hook fails, the old one is still in place,
        // untouched (its removal hook not run, its working directory kept).
        try {
          await this.hook(p, 'importerAdded', this.repoObject(r, wd), config);
        } catch (e) {
          fs.rmSync(wd, { recursive: true, force: true });
          throw e;
        }
        if (old) {
          try {
            await this.hook(old, 'importerRemoved', this.repoObject(r, this.workingDir(repoId, 'importer', old.id)), parseJson(r.importer_config, {}));
          } catch (e) {
            if (!(e instanceof StagepushError) || !opts.force) {
              // The old importer stays: the new one is taken off again (best effort).
              await this.hook(p, 'importerRemoved', this.repoObject(r, wd, true), config).catch(() => undefined);
              fs.rmSync(wd, { recursive: true, force: true });
              throw e instanceof StagepushError ? new StagepushError(e.code, e.message, { kind: e.kind, cause: e.cause, hint: forceHint }) : e;
            }
            refuse(e);
          }
        }
        if (r.importer_type) fs.rmSync(this.workingDir(repoId, 'importer', r.importer_type), { recursive: true, force: true });
      }
      this.st.tx(() => {
        this.st.updateRepo(repoId, { importer_type: typeId, importer_config: JSON.stringify(config), updated: now() });
        if (changing) this.st.setScratchpad(repoId, 'importer', 'null');
      });
    });
  }

  async checkConfigs(repoId: string, c: { importer?: { typeId: string; config: Record<string, unknown> }; distributors?: Array<{ id: string; typeId: string; config: Record<string, unknown> }> }, plannedUrls: Record<string, string> = {}): Promise<void> {
    const r = this.requireRepo(repoId);
    // The plugins see the working directory they would get; it is not made (nothing changes).
    if (c.importer) {
      const p = this.plugin(c.importer.typeId, 'importer');
      await this.validate(p, this.repoObject(r, this.workingDir(repoId, 'importer', p.id), true), c.importer.config, 'importer');
    }
    for (const d of c.distributors ?? []) {
      const p = this.plugin(d.typeId, 'distributor');
      await this.validate(p, this.repoObject(r, this.workingDir(repoId, 'distributor', d.id), true), d.config, `distributor ${d.id}`, d.id, plannedUrls);
    }
  }

  async updateImporterConfig(repoId: string, config: Record<string, unknown>): Promise<void> {
    await this.withLock([repoId], async () => {
      const r = this.requireRepo(repoId);
      if (!r.importer_type) throw this.noImporter(repoId, 'update the importer config');
      const p = this.plugin(r.importer_type, 'importer');
      const merged = mergeConfig(parseJson(r.importer_config, {}), config);
      await this.validate(p, this.repoObject(r, this.workingDir(repoId, 'importer', p.id), true), merged, 'importer');
      this.st.updateRepo(repoId, { importer_config: JSON.stringify(merged), updated: now() });
    });
  }

  async addDistributor(repoId: string, d: { id?: string; typeId: string; config?: Record<string, unknown>; autoPublish?: boolean }): Promise<DistributorInfo> {
    return this.withLock([repoId], async () => {
      const r = this.requireRepo(repoId);
      const p = this.plugin(d.typeId, 'distributor');
      const existing = this.st.listDistributors(repoId).map((x) => x.id);
      const did = checkId(d.id ?? this.defaultDistId(d.typeId, existing), 'distributor id');
      if (existing.includes(did)) throw new StagepushError('ENGINE_DISTRIBUTOR_EXISTS', `repository ${repoId} already has a distributor ${did}`, { kind: 'invalid', hint: 'give another --id' });
      const config = d.config ?? {};
      const wd = this.workingDir(repoId, 'distributor', did);
      await this.validate(p, this.repoObject(r, wd, true), config, `distributor ${did}`, did);
      this.st.insertDistributor({ repo_id: repoId, id: did, type_id: p.id, config: JSON.stringify(config), auto_publish: d.autoPublish ? 1 : 0, created: now() });
      try {
        await this.hook(p, 'distributorAdded', this.repoObject(r, wd), config);
      } catch (e) {
        this.st.deleteDistributor(repoId, did);
        fs.rmSync(wd, { recursive: true, force: true });
        throw e;
      }
      return this.distInfo(this.st.getDistributor(repoId, did)!);
    });
  }

  async updateDistributor(repoId: string, distId: string, d: { config?: Record<string, unknown>; autoPublish?: boolean }): Promise<DistributorInfo> {
    return this.withLock([repoId], async () => {
      const r = this.requireRepo(repoId);
      const row = this.requireDist(repoId, distId);
      const fields: Partial<DistributorRow> = {};
      if (d.config !== undefined) {
        const p = this.plugin(row.type_id, 'distributor');
        const merged = mergeConfig(parseJson(row.config, {}), d.config);
        await this.validate(p, this.repoObject(r, this.workingDir(repoId, 'distributor', distId), true), merged, `distributor ${distId}`, distId);
        fields.config = JSON.stringify(merged);
      }
      if (d.autoPublish !== undefined) fields.auto_publish = d.autoPublish ? 1 : 0;
      this.st.updateDistributor(repoId, distId, fields);
      return this.distInfo(this.st.getDistributor(repoId, distId)!);
    });
  }

  /** Consumers bound to a repository (to one of its distributors with `distId`). */
  private boundConsumers(repoId: string, distId?: string): string[] {
    return this.st
      .kvList('bindings', [])
      .filter((b) => String(b.repo_id) === repoId && (distId === undefined || String(b.dist_id) === distId))
      .map((b) => String(b.consumer));
  }

  /** Forget a distributor whose removal hook ran: its pin, its row, its working directory. */
  private dropDistributorRecord(repoId: string, distId: string): void {
    this.store.unpin(publishPinName(repoId, `distributor:${distId}`));
    this.st.deleteDistributor(repoId, distId);
    fs.rmSync(this.workingDir(repoId, 'distributor', distId), { recursive: true, force: true });
  }

  async removeDistributor(repoId: string, distId: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.withLock([repoId], async () => {
      const r = this.requireRepo(repoId);
      const row = this.requireDist(repoId, distId);
      const p = this.registry.get(row.type_id);
      const wd = this.workingDir(repoId, 'distributor', distId);
      const refuse = (e: StagepushError) => {
        if (!opts.force) throw e;
        this.events({ type: 'warning', code: e.code, message: `${e.message} (removed anyway: --force)` });
      };
      if (!p) refuse(new StagepushError('PLUGIN_NOT_LOADED', `distributor ${distId} of ${repoId}: plugin ${row.type_id} is not installed or failed to load, so its removal hook cannot run`, { kind: 'failed', hint: `install it, or: stagepush repo distributor remove ${repoId} ${distId} --force` }));
      const bound = this.boundConsumers(repoId, distId);
      if (bound.length) refuse(new StagepushError('ENGINE_REPO_BOUND', `distributor ${distId} of ${repoId} is bound by consumer(s) ${bound.join(', ')}`, { kind: 'invalid', hint: `unbind first (stagepush consumer unbind ${bound[0]} ${repoId}), or --force` }));
      // A failing removal hook stops it, unless forced (then a warning), as for repo delete.
      if (p) {
        try {
          await this.hook(p, 'distributorRemoved', this.repoObject(r, wd), parseJson(row.config, {}));
        } catch (e) {
          if (!(e instanceof StagepushError)) throw e;
          if (!opts.force) throw new StagepushError(e.code, e.message, { kind: e.kind, cause: e.cause, hint: `stagepush repo distributor remove ${repoId} ${distId} --force removes it anyway` });
          this.events({ type: 'warning', code: e.code, message: `${e.message} (removed anyway: --force)` });
        }
      }
      this.dropDistributorRecord(repoId, distId);
    });
  }

  listDistributors(repoId: string): DistributorInfo[] {
    this.requireRepo(repoId);
    return this.st.listDistributors(repoId).map((d) => this.distInfo(d));
  }

  // ------------------------------------------------------------------ tasks
  private taskInfo(t: TaskRow): TaskInfo {
    return {
      id: t.id,
      kind: t.kind,
      repoId: t.repo_id,
      state: t.state as TaskState,
      created: t.created,
      started: t.started,
      finished: t.finished,
      progress: parseJson(t.progress, null),
      result: parseJson(t.result, null),
      error: parseJson(t.error, null),
      pid: t.pid,
      host: t.host,
      cancelRequested: !!t.cancel_requested,
    };
  }

  readonly tasks = {
    list: (filter: TaskFilter = {}): TaskInfo[] => {
      const states = filter.state === undefined ? undefined : Array.isArray(filter.state) ? filter.state : [filter.state];
      return this.st.listTasks({ states, repoId: filter.repoId, kind: filter.kind, limit: filter.limit }).map((t) => this.taskInfo(t));
    },
    show: (id: string): TaskInfo | null => {
      const t = this.st.getTask(id);
      return t ? this.taskInfo(t) : null;
    },
    cancel: (id: string): void => {
      this.st.tx(() => {
        const t = this.st.getTask(id);
        if (!t) throw new StagepushError('ENGINE_TASK_NOT_FOUND', `no task ${JSON.stringify(id)}`, { kind: 'invalid', hint: 'stagepush task list' });
        if (t.state !== 'waiting' && t.state !== 'running') throw new StagepushError('ENGINE_TASK_NOT_RUNNING', `task ${id} is already ${t.state}`, { kind: 'invalid' });
        if (t.host === this.locks.host && t.pid !== null && !isPidAlive(t.pid)) {
          this.st.updateTask(id, { state: 'canceled', finished: now(), cancel_requested: 1, error: JSON.stringify({ code: 'ENGINE_TASK_CANCELED', message: `task ${id} was canceled (its process ${t.pid} was gone)` }) });
          return;
        }
        this.st.updateTask(id, { cancel_requested: 1 });
      });
    },
  };

  private newTaskId(): string {
    return randomBytes(6).toString('hex');
  }

  /**
   * Run an operation as a recorded task: waiting (for the repositories' locks), running, then
   * finished / error / canceled. Cancel comes from the engine's signal (SIGINT/SIGTERM) or from a
   * cancel request row (`task cancel ID` in another process), polled here.
   */
  /**
   * `cleanup`: an operation that undoes what a command left when it stopped (a repository it made):
   * it runs although the engine's signal has fired, then taking its locks without waiting (held
   * by another process, the thing is not this command's to undo any more).
   */
  private async runTask<R>(kind: TaskKind, repoId: string | null, lockIds: string[], body: (t: TaskCtx) => Promise<R>, resultOf: (r: R) => Json = (r) => (r === undefined ? null : (JSON.parse(JSON.stringify(r)) as Json)), cleanup = false): Promise<R> {
    const taskId = this.newTaskId();
    setCrashOp(kind);
    this.st.insertTask({ id: taskId, kind, repo_id: repoId, state: 'waiting', created: now(), started: null, finished: null, progress: null, result: null, error: null, pid: process.pid, host: this.locks.host, cancel_requested: 0 });
    this.events({ type: 'task', taskId, kind, repo: repoId, state: 'waiting' });
    const ac = new AbortController();
    const outer = cleanup ? undefined : this.opts.signal;
    const onOuter = () => ac.abort(outer?.reason instanceof Error ? outer.reason : new StagepushError('INTERRUPTED_SIGINT', 'interrupted', { kind: 'interrupted' }));
    if (outer) {
      if (outer.aborted) onOuter();
      else outer.addEventListener('abort', onOuter, { once: true });
    }
    const cancelErr = () => new StagepushError('ENGINE_TASK_CANCELED', `task ${taskId} (${kind}${repoId ? ` ${repoId}` : ''}) was canceled`, { kind: 'interrupted' });
    const checkCancel = () => {
      if (ac.signal.aborted) return;
      try {
        if (this.st.getTask(taskId)?.cancel_requested) ac.abort(cancelErr());
      } catch {
        /* busy: next poll */
      }
    };
    const poll = setInterval(checkCancel, CANCEL_POLL_MS);
    poll.unref();
    let pending: Json | undefined;
    let flushTimer: NodeJS.Timeout | null = null;
    const flush = () => {
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      if (pending === undefined) return;
      const p = pending;
      pending = undefined;
      try {
        this.st.updateTask(taskId, { progress: JSON.stringify(p) });
      } catch {
        pending = pending ?? p;
      }
    };
    const setProgress = (p: Json) => {
      pending = p;
      this.events({ type: 'progress', taskId, repo: repoId, progress: p });
      if (!flushTimer) {
        flushTimer = setTimeout(flush, PROGRESS_FLUSH_MS);
        flushTimer.unref();
      }
    };
    let release: (() => void) | undefined;
    const reason = () => (ac.signal.reason instanceof Error ? ac.signal.reason : cancelErr());
    try {
      release = await this.locks.acquire(
        lockIds.map((r) => `repo:${r}`),
        { wait: cleanup && this.opts.signal?.aborted ? false : (this.opts.lock?.wait ?? true), timeoutSec: this.opts.lock?.timeoutSec, taskId, signal: ac.signal, check: checkCancel, events: this.events },
      );
      if (ac.signal.aborted) throw reason();
      this.st.updateTask(taskId, { state: 'running', started: now() });
      this.events({ type: 'task', taskId, kind, repo: repoId, state: 'running' });
      const r = await body({ taskId, signal: ac.signal, setProgress });
      if (ac.signal.aborted) throw reason();
      flush();
      this.st.updateTask(taskId, { state: 'finished', finished: now(), result: JSON.stringify(resultOf(r) ?? null) });
      this.events({ type: 'task', taskId, kind, repo: repoId, state: 'finished' });
      return r;
    } catch (e) {
      const canceled = ac.signal.aborted;
      const err = canceled ? reason() : e;
      flush();
      try {
        this.st.updateTask(taskId, { state: canceled ? 'canceled' : 'error', finished: now(), error: JSON.stringify(errJson(err)) });
      } catch {
        /* database closed */
      }
      this.events({ type: 'task', taskId, kind, repo: repoId, state: canceled ? 'canceled' : 'error' });
      throw err;
    } finally {
      clearInterval(poll);
      if (flushTimer) clearTimeout(flushTimer);
      outer?.removeEventListener('abort', onOuter);
      release?.();
    }
  }

  // ------------------------------------------------------------------ importer operations
  private noImporter(repoId: string, what: string): StagepushError {
    return new StagepushError('ENGINE_NO_IMPORTER', `repository ${repoId} has no importer: cannot ${what}`, { kind: 'invalid', hint: `stagepush repo importer set ${repoId} TYPE` });
  }

  private notSupported(p: LoadedPlugin, op: string): StagepushError {
    return new StagepushError('ENGINE_NOT_SUPPORTED', `${op} is not supported by ${p.id}`, { kind: 'invalid', details: { plugin: p.id, operation: op } });
  }

  /** `staging`: an operation that may have set the importer's configuration (configureImporter): its config is the one used. */
  private importerOf(repoId: string, what: string, staging?: Staging): { row: RepoRow; p: LoadedPlugin; config: Record<string, unknown> } {
    const row = this.requireRepo(repoId);
    if (!row.importer_type) throw this.noImporter(repoId, what);
    return { row, p: this.plugin(row.importer_type, 'importer'), config: staging?.importerConfigs.get(repoId) ?? parseJson(row.importer_config, {}) };
  }

  private opCtx(repoId: string, p: LoadedPlugin, owner: string, t: TaskCtx): OpContext {
    return { repoId, pluginId: p.id, pluginTypes: p.metadata.types, owner, signal: t.signal, setProgress: t.setProgress };
  }

  /** What every upload into a repository needs, looked up once for a run of uploads (the repository is locked meanwhile). */
  private uploadTarget(repoId: string, staging?: Staging): UploadTarget {
    const { row, p, config } = this.importerOf(repoId, 'upload', staging);
    const workingDir = this.workingDir(repoId, 'importer', p.id);
    fs.mkdirSync(workingDir, { recursive: true });
    return { row, p, config, workingDir };
  }

  private async innerUpload(s: ImporterOpState, repoId: string, req: UploadSpec, target: UploadTarget = this.uploadTarget(repoId, s.staging)): Promise<BatchResult> {
    const { row, p, config, workingDir } = target;
    const imp = (await this.instance(p, this.creating(p, 'upload', repoId, 'ENGINE_UPLOAD_FAILED'))) as Importer;
    if (typeof imp.uploadUnit !== 'function') throw this.notSupported(p, 'upload');
    await this.validateOverride(p, repoId, 'importer', null, req.override);
    let fileStat: { path: string; st: fs.Stats } | undefined;
    if (req.filePath !== null && req.filePath !== undefined) {
      let ok = false;
      try {
        const st = fs.statSync(req.filePath);
        // A directory is a valid upload too: RAW trees (directory units of the yum and generic importers).
        ok = st.isFile() || st.isDirectory();
        if (!ok) {
          const what = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
          throw new StagepushError('ENGINE_NOT_A_FILE', `upload: ${req.filePath} is ${what}, not a regular file or a directory`, { kind: 'invalid', file: req.filePath });
        }
        // A file this user cannot read is the user's mistake (exit 3), not the plugin failing.
        if (st.isFile()) fs.accessSync(req.filePath, fs.constants.R_OK);
        // Kept for the operation: the importer's file facts and the store's ingest of this file do not stat it again.
        if (st.isFile()) fileStat = { path: req.filePath, st };
      } catch (e) {
        if (e instanceof StagepushError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new StagepushError('ENGINE_FILE_UNREADABLE', `upload: cannot read ${req.filePath}: ${(e as Error).message}`, { kind: 'invalid', file: req.filePath, cause: e });
        ok = false;
      }
      if (!ok) throw new StagepushError('ENGINE_FILE_NOT_FOUND', `upload: no such file ${req.filePath}`, { kind: 'invalid', file: req.filePath });
    }
    let typeId = req.typeId;
    if (!typeId) {
      if (req.filePath && typeof imp.detectType === 'function') {
        try {
          typeId = (await imp.detectType(req.filePath)) ?? undefined;
        } catch (e) {
          throw this.pluginError(e, p, 'upload (detectType)', repoId, 'ENGINE_UPLOAD_FAILED');
        }
      }
      if (!typeId) throw new StagepushError('ENGINE_TYPE_UNKNOWN', `cannot tell the content type of ${req.filePath ?? 'the upload'} with importer ${p.id}; give it (--type, one of ${p.metadata.types.join(', ')})`, { kind: 'invalid', file: req.filePath ?? undefined });
    }
    this.typeDef(typeId);
    if (!p.metadata.types.includes(typeId)) throw new StagepushError('ENGINE_TYPE_NOT_SUPPORTED', `importer ${p.id} of repository ${repoId} does not handle content type ${typeId} (its types: ${p.metadata.types.join(', ')})`, { kind: 'invalid' });
    const unitKey = req.unitKey ?? {};
    const metadata = req.metadata ?? {};
    assertJson(unitKey, 'the unit key');
    assertJson(metadata, 'the unit metadata');
    const conduit = new ImporterConduitImpl(this, s.staging, { ...this.opCtx(repoId, p, 'importer', s.task), fileStat });
    const label = req.filePath ? path.basename(req.filePath) : typeId;
    this.events({ type: 'phase-start', phase: 'upload', repo: repoId, label });
    let report;
    try {
      report = await imp.uploadUnit(this.repoObject(row, workingDir, true), { typeId, unitKey, metadata, filePath: req.filePath ?? null }, conduit, new CallConfig(p.config, config, req.override ?? {}));
    } catch (e) {
      this.events({ type: 'phase-end', phase: 'upload', repo: repoId, label, ok: false });
      throw this.pluginError(e, p, 'upload', repoId, 'ENGINE_UPLOAD_FAILED');
    } finally {
      conduit.expire();
    }
    this.checkReport(report, p, 'upload', repoId, 'ENGINE_UPLOAD_FAILED');
    this.events({ type: 'phase-end', phase: 'upload', repo: repoId, label, done: conduit.outcomes.length });
    return { repoId, outcomes: conduit.outcomes, report: (report?.summary ?? null) as Json, details: (report?.details ?? null) as Json };
  }

  /** What a plugin threw in an operation, as the operation's coded error (whatever was thrown: see thrownText). */
  private pluginError(e: unknown, p: LoadedPlugin, op: string, repoId: string, code: string, what = ''): unknown {
    if (e instanceof StagepushError) return e;
    return new StagepushError(code, `${op} of repository ${repoId} failed in ${p.id}: ${what}${thrownText(e)}`, { kind: 'failed', cause: e });
  }

  /** instance()'s `fail` for an operation: a constructor that throws is the plugin failing that operation. */
  private creating(p: LoadedPlugin, op: string, repoId: string, code: string): (e: unknown) => unknown {
    return (e) => this.pluginError(e, p, op, repoId, code, 'creating the plugin threw: ');
  }

  /**
   * A plugin's report: success, and a summary and details that are JSON (checked here, before
   * anything of the operation is committed or recorded, as everything a plugin hands the engine).
   */
  private checkReport(report: unknown, p: LoadedPlugin, op: string, repoId: string, code: string): void {
    const r = report as { success?: unknown; summary?: unknown; details?: unknown } | undefined;
    if (!r || typeof r !== 'object' || r.success !== true) {
      const summary = r && typeof r === 'object' ? r.summary : undefined;
      let said = '';
      try {
        said = summary !== undefined ? `: ${typeof summary === 'string' ? summary : JSON.stringify(summary)}` : r ? '' : ': the plugin returned no report';
      } catch {
        said = ': (its summary is not JSON)';
      }
      throw new StagepushError(code, `${op} of repository ${repoId} failed in ${p.id}${said}`, { kind: 'failed', details: { success: r && typeof r === 'object' ? (r.success as Json) ?? null : null } });
    }
    try {
      assertJson(r.summary ?? null, `the ${op} report's summary`);
      assertJson(r.details ?? null, `the ${op} report's details`);
    } catch (e) {
      throw new StagepushError(code, `${op} of repository ${repoId}: ${p.id} returned a report that is not JSON: ${(e as Error).message}`, { kind: 'failed', cause: e });
    }
  }

  private async innerCopy(s: ImporterOpState, fromRepo: string, toRepo: string, opts: CopySpec): Promise<BatchResult> {
    const src = this.requireRepo(fromRepo);
    const { row, p, config } = this.importerOf(toRepo, 'copy units into it', s.staging);
    const imp = (await this.instance(p, this.creating(p, 'copy', toRepo, 'ENGINE_COPY_FAILED'))) as Importer;
    if (typeof imp.importUnits !== 'function') throw this.notSupported(p, 'copy');
    validateCriteria(opts.criteria);
    // The importer gets whole units: `fields` only narrows what a listing shows (a copy of units
    // loaded without their metadata made units without it: a modulemd_defaults without its
    // document broke every publish; an advisory without its packages copied none).
    const units = s.staging.query(fromRepo, opts.criteria ? { ...opts.criteria, fields: undefined } : undefined);
    const conduit = new ImportConduitImpl(this, s.staging, this.opCtx(toRepo, p, 'importer', s.task), fromRepo);
    this.events({ type: 'phase-start', phase: 'copy', repo: toRepo, total: units.length, label: `from ${fromRepo}` });
    let returned: Unit[] | undefined;
    try {
      returned = await imp.importUnits(
        this.repoObject(src, this.workingDir(fromRepo, 'importer', src.importer_type ?? p.id)),
        this.repoObject(row, this.workingDir(toRepo, 'importer', p.id)),
        conduit,
        new CallConfig(p.config, config, opts.override ?? {}),
        units,
      );
      if (returned !== undefined && returned !== null && !Array.isArray(returned)) {
        throw new StagepushError('ENGINE_BAD_RESULT', `importUnits of ${p.id} returned ${describeValue(returned)}, not a list of units`, { kind: 'failed' });
      }
      // Units returned but not saved through the conduit are associated (shared) as they are.
      const done = new Set(conduit.outcomes.map((o) => `${o.unit.typeId}\0${JSON.stringify(o.unit.unitKey)}`));
      for (const u of returned ?? []) {
        if (!u || done.has(`${u.typeId}\0${JSON.stringify(u.unitKey)}`)) continue;
        if (u.id === undefined) throw new StagepushError('ENGINE_UNIT_NOT_SAVED', `importUnits of ${p.id} returned an unsaved unit ${u.typeId} ${JSON.stringify(u.unitKey)}; save it with conduit.saveUnit`, { kind: 'failed' });
        conduit.saveUnit(u);
      }
    } catch (e) {
      this.events({ type: 'phase-end', phase: 'copy', repo: toRepo, ok: false });
      throw this.pluginError(e, p, 'copy', toRepo, 'ENGINE_COPY_FAILED');
    } finally {
      conduit.expire();
    }
    this.events({ type: 'phase-end', phase: 'copy', repo: toRepo, done: conduit.outcomes.length, total: units.length });
    return { repoId: toRepo, outcomes: conduit.outcomes, report: { selected: units.length, imported: conduit.outcomes.length } };
  }

  private async innerRemove(s: ImporterOpState, repoId: string, criteria: UnitCriteria | undefined): Promise<BatchResult> {
    const row = this.requireRepo(repoId);
    validateCriteria(criteria);
    const p = row.importer_type ? this.registry.get(row.importer_type) : undefined;
    const imp = p && p.kind === 'importer' ? ((await this.instance(p, this.creating(p, 'remove', repoId, 'ENGINE_REMOVE_FAILED'))) as Importer) : undefined;
    const config = s.staging.importerConfigs.get(repoId) ?? parseJson(row.importer_config, {});
    const hook =
      p && imp && typeof imp.removeUnits === 'function'
        ? async (units: Unit[]) => {
            try {
              await imp.removeUnits!(this.repoObject(row, this.workingDir(repoId, 'importer', p.id)), units, new CallConfig(p.config, config));
            } catch (e) {
              throw this.pluginError(e, p, 'remove', repoId, 'ENGINE_REMOVE_FAILED');
            }
          }
        : undefined;
    // The importer's clean-up hook gets whole units, as a copy's importUnits does: they were loaded
    // with `fields: []` (every unit's metadata empty). They are listed a page at a time, each page
    // removed and then handed to the hook (one call per page), so removing every unit of a large
    // repository does not hold them all with their metadata; the units of the result keep only the
    // fields asked for (none by default), as before. Removing the units of a page as it is listed
    // skips none (keyset pages). Without a hook no metadata is read.
    const fields = criteria?.fields ?? [];
    const listed: UnitCriteria = { ...criteria, fields: hook ? undefined : fields, skip: undefined, limit: undefined };
    const cursor: QueryCursor = { after: null };
    let skip = criteria?.skip ?? 0;
    let left = criteria?.limit ?? Infinity;
    const outcomes: UnitOutcome[] = [];
    for (;;) {
      const want = Math.min(REMOVE_PAGE, left);
      if (want <= 0) break;
      const page = s.staging.page(repoId, listed, cursor, want, skip);
      skip = 0;
      left -= page.length;
      const removed = page.filter((u) => s.staging.remove(repoId, u));
      for (const u of removed) {
        const slim = hook ? projectUnit(u, fields) : u;
        partialUnits.add(slim);
        outcomes.push({ outcome: 'removed', unit: slim });
      }
      if (removed.length && hook) await hook(removed);
      if (page.length < want) break;
    }
    return { repoId, outcomes, report: { removed: outcomes.length } };
  }

  /** Commit everything staged, in one transaction: units, links, scratchpads, one new version per changed repository. */
  private commit(staging: Staging, taskId: string, kind: string, lockedOnly?: ReadonlySet<string>): Map<string, { version: number; newVersion: boolean; added: number; removed: number; replaced: number }> {
    const out = new Map<string, { version: number; newVersion: boolean; added: number; removed: number; replaced: number }>();
    const ids = new Map<string, number>();
    this.st.tx(() => {
      for (const s of staging.units.values()) {
        if (s.sha256 && !this.store.has(s.sha256)) throw new StagepushError('ENGINE_FILE_MISSING', `the stored file ${s.sha256} of unit ${s.typeId} ${JSON.stringify(s.unitKey)} disappeared before commit`, { kind: 'failed' });
        for (const b of s.blobs) if (!this.store.has(b)) throw new StagepushError('ENGINE_BLOB_MISSING', `blob ${b} of unit ${s.typeId} ${JSON.stringify(s.unitKey)} disappeared before commit`, { kind: 'failed' });
        if (s.existingId !== null && !s.dirty) {
          ids.set(s.ukey, s.existingId);
          continue;
        }
        ids.set(s.ukey, this.st.upsertUnit({ type_id: s.typeId, key_canon: s.keyCanon, unit_key: JSON.stringify(s.unitKey), metadata: staging.metadataJson(s), sha256: s.sha256, size: s.size, relative_path: s.relativePath, blobs: s.blobs }));
      }
      const idOf = (ukey: string): number | undefined => {
        const known = ids.get(ukey);
        if (known !== undefined) return known;
        const i = ukey.indexOf('\0');
        return this.st.findUnit(ukey.slice(0, i), ukey.slice(i + 1))?.id;
      };
      for (const [a, b] of staging.links) {
        const x = idOf(a);
        const y = idOf(b);
        if (x !== undefined && y !== undefined) this.st.insertLink(x, y);
      }
      // Units changed in place (a unit is shared by key: an advisory updated through one
      // repository is the advisory of every repository holding it). Each repository holding one
      // has new content, so it gets a new version (and is published again), whichever
      // repository's operation changed it, in this operation or not.
      const changedInPlace: number[] = [];
      for (const s of staging.units.values()) if (s.dirty && s.existingId !== null) changedInPlace.push(s.existingId);
      const repoStates = [...staging.repos.values()];
      const inOperation = new Set(repoStates.map((rs) => rs.repoId));
      const outside = this.st.reposHolding(changedInPlace).filter((id) => !inOperation.has(id));
      // Read in this SQLite transaction: a repository that came to hold the unit while the
      // operation ran is seen here too.
      const unlocked = lockedOnly ? outside.filter((id) => !lockedOnly.has(id)) : [];
      if (unlocked.length) {
        throw new StagepushError('ENGINE_SHARED_NOT_LOCKED', `the operation changes units shared with repositories it does not hold the lock of: ${unlocked.join(', ')}`, { kind: 'failed', details: { repos: unlocked } });
      }
      for (const id of outside) repoStates.push(new RepoStage(id));
      for (const rs of repoStates) {
        const repo = this.st.getRepo(rs.repoId);
        if (!repo) throw new StagepushError('ENGINE_REPO_NOT_FOUND', `repository ${rs.repoId} was deleted during the operation`, { kind: 'failed' });
        const committed = this.st.contentIds(rs.repoId);
        const addIds = [...rs.adds].map(idOf).filter((id): id is number => id !== undefined && !committed.has(id));
        const remIds = [...rs.removes].map(idOf).filter((id): id is number => id !== undefined && committed.has(id));
        let replaced = 0;
        for (const id of changedInPlace) if (committed.has(id)) replaced++;
        if (!addIds.length && !remIds.length && !replaced) {
          out.set(rs.repoId, { version: repo.version, newVersion: false, added: 0, removed: 0, replaced: 0 });
          continue;
        }
        const v = repo.version + 1;
        for (const id of addIds) this.st.addContent(rs.repoId, id, v);
        for (const id of remIds) this.st.removeContent(rs.repoId, id, v);
        const t = now();
        this.st.insertVersion({ repo_id: rs.repoId, number: v, created: t, task_id: taskId, kind, added: addIds.length, removed: remIds.length, unit_count: committed.size + addIds.length - remIds.length, based_on: null });
        this.st.updateRepo(rs.repoId, { version: v, updated: t });
        if (repo.retain_versions > 0) this.st.pruneVersions(rs.repoId, repo.retain_versions);
        out.set(rs.repoId, { version: v, newVersion: true, added: addIds.length, removed: remIds.length, replaced });
      }
      for (const sp of staging.scratchpads.values()) this.st.setScratchpad(sp.repoId, sp.owner, sp.value);
      for (const [repoId, config] of staging.importerConfigs) this.st.updateRepo(repoId, { importer_config: JSON.stringify(config), updated: now() });
      checkpoint('in-transaction');
    });
    checkpoint('after-commit');
    // The units handed out for staged units report their stored ids from now on.
    staging.settle(ids);
    return out;
  }

  private taskResult(taskId: string, kind: string, repoId: string, r: BatchResult, c: { version: number; newVersion: boolean; added: number; removed: number; replaced: number } | undefined, version: number): TaskResult {
    const count = (k: string) => r.outcomes.filter((o) => o.outcome === k).length;
    return {
      taskId,
      kind,
      repoId,
      state: 'finished',
      version: c?.version ?? version,
      newVersion: c?.newVersion ?? false,
      added: count('added'),
      removed: count('removed'),
      replaced: count('replaced'),
      unchanged: count('unchanged'),
      outcomes: r.outcomes,
      report: r.report,
      details: r.details ?? null,
      publishes: [],
    };
  }

  private taskResultJson(r: TaskResult): Json {
    return {
      repoId: r.repoId,
      version: r.version,
      newVersion: r.newVersion,
      added: r.added,
      removed: r.removed,
      replaced: r.replaced,
      unchanged: r.unchanged,
      report: r.report,
      details: r.details ?? null,
      units: r.outcomes.slice(0, 1000).map((o) => ({ outcome: o.outcome, typeId: o.unit.typeId, unitKey: o.unit.unitKey, id: o.unit.id ?? null })),
    } as Json;
  }

  private async importerTask(kind: TaskKind, repoId: string, lockIds: string[], body: (s: ImporterOpState) => Promise<BatchResult>, autoPublish: boolean): Promise<TaskResult> {
    const result = await this.runTask(
      kind,
      repoId,
      lockIds,
      async (t) => {
        const staging = new Staging(this);
        const r = await body({ staging, task: t });
        if (t.signal.aborted) throw t.signal.reason;
        const c = this.commit(staging, t.taskId, kind).get(repoId);
        const res = this.taskResult(t.taskId, kind, repoId, r, c, this.requireRepo(repoId).version);
        if (autoPublish) {
          for (const d of this.st.listDistributors(repoId)) {
            if (d.auto_publish) res.publishes.push(await this.publishOne(repoId, d, {}, false));
          }
        }
        return res;
      },
      (r) => this.taskResultJson(r),
    );
    return result;
  }

  async sync(repoId: string, opts: { override?: Record<string, unknown> } = {}): Promise<TaskResult> {
    const { p } = this.importerOf(repoId, 'sync');
    const probe = (await this.instance(p, this.creating(p, 'sync', repoId, 'ENGINE_SYNC_FAILED'))) as Importer;
    if (typeof probe.syncRepo !== 'function') throw this.notSupported(p, 'sync');
    await this.validateOverride(p, repoId, 'importer', null, opts.override);
    return this.importerTask(
      'sync',
      repoId,
      [repoId],
      async (s) => {
        const { row, config } = this.importerOf(repoId, 'sync');
        const imp = (await this.instance(p, this.creating(p, 'sync', repoId, 'ENGINE_SYNC_FAILED'))) as Importer;
        const conduit = new ImporterConduitImpl(this, s.staging, this.opCtx(repoId, p, 'importer', s.task));
        const onAbort = () => {
          try {
            void Promise.resolve(imp.cancelSyncRepo?.()).catch(() => undefined);
          } catch {
            /* the cancel hook failed: the operation is discarded anyway */
          }
        };
        s.task.signal.addEventListener('abort', onAbort, { once: true });
        this.events({ type: 'phase-start', phase: 'sync', repo: repoId });
        let report;
        try {
          report = await imp.syncRepo!(this.repoObject(row, this.workingDir(repoId, 'importer', p.id)), conduit, new CallConfig(p.config, config, opts.override ?? {}));
        } catch (e) {
          this.events({ type: 'phase-end', phase: 'sync', repo: repoId, ok: false });
          if (s.task.signal.aborted) throw s.task.signal.reason;
          throw this.pluginError(e, p, 'sync', repoId, 'ENGINE_SYNC_FAILED');
        } finally {
          conduit.expire();
          s.task.signal.removeEventListener('abort', onAbort);
        }
        if (s.task.signal.aborted) throw s.task.signal.reason;
        this.checkReport(report, p, 'sync', repoId, 'ENGINE_SYNC_FAILED');
        this.events({ type: 'phase-end', phase: 'sync', repo: repoId, done: conduit.outcomes.length });
        return { repoId, outcomes: conduit.outcomes, report: (report?.summary ?? null) as Json, details: (report?.details ?? null) as Json };
      },
      true,
    );
  }

  async upload(repoId: string, req: UploadSpec): Promise<TaskResult> {
    this.importerOf(repoId, 'upload');
    return this.importerTask('upload', repoId, [repoId], (s) => this.innerUpload(s, repoId, req), true);
  }

  /** Several uploads as one task and one new repository version (then auto-publish). */
  async uploadMany(repoId: string, reqs: UploadSpec[]): Promise<TaskResult> {
    this.importerOf(repoId, 'upload');
    return this.importerTask(
      'upload',
      repoId,
      [repoId],
      async (s) => {
        const outcomes: UnitOutcome[] = [];
        const reports: Json[] = [];
        let i = 0;
        const target = this.uploadTarget(repoId);
        for (const req of reqs) {
          if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
          if (s.task.signal.aborted) throw s.task.signal.reason;
          const r = await this.innerUpload(s, repoId, req, target);
          outcomes.push(...r.outcomes);
          reports.push(r.report);
          this.events({ type: 'phase-progress', phase: 'upload', repo: repoId, done: ++i, total: reqs.length });
        }
        return { repoId, outcomes, report: reports };
      },
      true,
    );
  }

  async copy(fromRepo: string, toRepo: string, opts: CopySpec = {}): Promise<TaskResult> {
    this.requireRepo(fromRepo);
    // A type nobody declares (a typo) selects nothing: said, not "no change".
    for (const t of opts.criteria?.typeIds ?? []) this.typeDef(t);
    const { p } = this.importerOf(toRepo, 'copy units into it');
    await this.validateOverride(p, toRepo, 'importer', null, opts.override);
    return this.importerTask('copy', toRepo, [fromRepo, toRepo], (s) => this.innerCopy(s, fromRepo, toRepo, opts), true);
  }

  async removeUnits(repoId: string, criteria?: UnitCriteria): Promise<TaskResult> {
    this.requireRepo(repoId);
    for (const t of criteria?.typeIds ?? []) this.typeDef(t);
    return this.importerTask('remove', repoId, [repoId], (s) => this.innerRemove(s, repoId, criteria), false);
  }

  async rollback(repoId: string, toVersion: number): Promise<TaskResult> {
    this.requireRepo(repoId);
    return this.runTask(
      'rollback',
      repoId,
      [repoId],
      async (t) => {
        const repo = this.requireRepo(repoId);
        if (!Number.isInteger(toVersion) || !this.st.getVersion(repoId, toVersion)) {
          const kept = this.st.listVersions(repoId).map((v) => v.number);
          throw new StagepushError('ENGINE_VERSION_NOT_FOUND', `repository ${repoId} has no version ${toVersion} (kept versions: ${kept.join(', ')})`, { kind: 'invalid' });
        }
        const target = this.st.contentIds(repoId, toVersion);
        const current = this.st.contentIds(repoId);
        // A unit is one per key, shared by the repositories holding it, and an advisory, a module
        // stream or a file's fields are changed in place: such a unit changed since version N keeps
        // its current content in the rollback (the unit has no other). Said, not hidden.
        const since = this.st.getVersion(repoId, toVersion)!.created;
        const changedInPlace = this.st.unitsUpdatedSince([...target], since).map((r) => ({ typeId: r.type_id, unitKey: JSON.parse(r.unit_key) as Json }));
        const add = [...target].filter((id) => !current.has(id));
        const rem = [...current].filter((id) => !target.has(id));
        const v = repo.version + 1;
        this.st.tx(() => {
          for (const id of add) this.st.addContent(repoId, id, v);
          for (const id of rem) this.st.removeContent(repoId, id, v);
          const ts = now();
          this.st.insertVersion({ repo_id: repoId, number: v, created: ts, task_id: t.taskId, kind: 'rollback', added: add.length, removed: rem.length, unit_count: target.size, based_on: toVersion });
          this.st.updateRepo(repoId, { version: v, updated: ts });
          if (repo.retain_versions > 0) this.st.pruneVersions(repoId, repo.retain_versions);
          checkpoint('in-transaction');
        });
        checkpoint('after-commit');
        const units = (ids: number[]) => (ids.length ? this.st.queryUnits({ unitIds: ids, criteria: { fields: [] } }).map((r) => rowToUnit(this.store, r, true)) : []);
        const outcomes: UnitOutcome[] = [...units(add).map((u) => ({ outcome: 'added' as const, unit: u })), ...units(rem).map((u) => ({ outcome: 'removed' as const, unit: u }))];
        const report: Record<string, Json> = { rolledBackTo: toVersion };
        if (changedInPlace.length) report.changedInPlaceSince = changedInPlace.slice(0, 100) as unknown as Json;
        return this.taskResult(t.taskId, 'rollback', repoId, { repoId, outcomes, report }, { version: v, newVersion: true, added: add.length, removed: rem.length, replaced: 0 }, v);
      },
      (r) => this.taskResultJson(r),
    );
  }

  // ------------------------------------------------------------------ reading
  listUnits(repoId: string, criteria?: UnitCriteria): Unit[] {
    this.requireRepo(repoId);
    // A type nobody declares (a typo) lists nothing: said, as remove and copy say it.
    for (const t of criteria?.typeIds ?? []) this.typeDef(t);
    return new Staging(this).query(repoId, criteria);
  }

  /**
   * Keyset-paged: each page is the units after the last one's key (an OFFSET re-read every
   * earlier unit for each page: quadratic over a large repository); only the first page skips.
   */
  *iterUnits(repoId: string, criteria?: UnitCriteria): Iterable<Unit> {
    this.requireRepo(repoId);
    for (const t of criteria?.typeIds ?? []) this.typeDef(t);
    validateCriteria(criteria);
    const page = 1000;
    const partial = !!criteria?.fields;
    let skip = criteria?.skip ?? 0;
    let left = criteria?.limit ?? Infinity;
    let after: { typeId: string; keyCanon: string } | undefined;
    while (left > 0) {
      const want = Math.min(page, left);
      const rows = this.st.queryUnits({ repoId, criteria: { ...criteria, skip: skip || undefined, limit: want }, after });
      skip = 0;
      for (const r of rows) yield rowToUnit(this.store, r, partial);
      left -= rows.length;
      if (rows.length < want) return;
      const last = rows[rows.length - 1]!;
      after = { typeId: last.type_id, keyCanon: last.key_canon };
    }
  }

  countUnits(repoId: string, criteria?: UnitCriteria): number {
    this.requireRepo(repoId);
    validateCriteria(criteria);
    return this.st.countUnits({ repoId, criteria });
  }

  getUnits(unitIds: string[]): Unit[] {
    const ids = unitIds.map(Number).filter((n) => Number.isInteger(n));
    if (!ids.length) return [];
    return this.st.queryUnits({ unitIds: ids }).map((r) => rowToUnit(this.store, r));
  }

  versions(repoId: string): VersionInfo[] {
    const repo = this.requireRepo(repoId);
    const published = new Map<number, string[]>();
    for (const d of this.st.listDistributors(repoId)) {
      const p = this.st.lastPublish(repoId, d.id, 'published');
      if (p) published.set(p.version, [...(published.get(p.version) ?? []), d.id]);
    }
    return this.st.listVersions(repoId).map((v) => ({ number: v.number, created: v.created, kind: v.kind, taskId: v.task_id, added: v.added, removed: v.removed, unitCount: v.unit_count, basedOn: v.based_on, publishedBy: published.get(v.number) ?? [], current: v.number === repo.version }));
  }

  private publishRecord(p: PublishRow): PublishRecord {
    return { repoId: p.repo_id, distributorId: p.dist_id, version: p.version, configHash: p.config_hash, publishedAt: p.finished ?? p.started, taskId: p.task_id, publishedPaths: parseJson(p.published_paths, []), urls: parseJson(p.urls, []), report: parseJson(p.report, null) };
  }

  lastPublish(repoId: string, distId: string): PublishRecord | null {
    const p = this.st.lastPublish(repoId, distId, 'published');
    return p ? this.publishRecord(p) : null;
  }

  // ------------------------------------------------------------------ publish
  /**
   * Whether a publish (not forced) would publish: the version or the configuration changed since
   * the distributor's last publish, or a later attempt did not complete.
   */
  private publishDue(repo: RepoRow, d: DistributorRow, p: LoadedPlugin, config: Record<string, unknown> = parseJson<Record<string, unknown>>(d.config, {})): boolean {
    const last = this.st.lastPublish(repo.id, d.id, 'published');
    const lastAttempt = this.st.lastPublish(repo.id, d.id);
    if (!(last && lastAttempt && last.seq === lastAttempt.seq && last.version === repo.version && last.config_hash === this.configHash(p, config))) return true;
    // A published path that is gone (a repo delete killed after its distributors unpublished the
    // tree, before the repository was deleted; a tree removed by hand) serves nothing: the record
    // alone would skip the publish for ever, and report the missing path as published.
    return parseJson<string[]>(last.published_paths, []).some((pp) => !fs.existsSync(pp));
  }

  /**
   * Distributors of a repository that a publish (not forced) would publish now (a plugin not
   * loaded counts: it would fail, not skip). `configs`: distributor id → the configuration it
   * will have by then (one not there yet is pending).
   */
  publishPending(repoId: string, configs: Record<string, Record<string, unknown>> = {}): string[] {
    const repo = this.requireRepo(repoId);
    const dists = this.st.listDistributors(repoId);
    const due = dists
      .filter((d) => {
        const p = this.registry.get(d.type_id);
        return !p || this.publishDue(repo, d, p, configs[d.id]);
      })
      .map((d) => d.id);
    return [...due, ...Object.keys(configs).filter((id) => !dists.some((d) => d.id === id))];
  }

  /**
   * What a publish is recorded with. A publish with a call override records the override too: the
   * configuration it published is not the stored one, so the next publish without it is due (an
   * override is for that run only).
   */
  private configHash(p: LoadedPlugin, config: Record<string, unknown>, override: Record<string, unknown> = {}): string {
    const what = Object.keys(override).length ? { plugin: p.config, repo: config, override } : { plugin: p.config, repo: config };
    return createHash('sha256').update(stableStringify(what)).digest('hex');
  }

  /**
   * Every other distributor's relative_url: explicit (distributor, then plugin config); else, for
   * the built-in distributors that publish under one by default, the repository id (unless both
   * http and https are off); else the URL its last publish occupies under the publish root.
   */
  private otherRelativeUrls(repoId: string, distId: string): Record<string, string> {
    const out: Record<string, string> = {};
    const roots = (['http', 'https'] as const).map((proto) => path.join(this.publishRoot, proto) + path.sep);
    // Every distributor in one query (a query per repository made a push creating hundreds of
    // repositories quadratic: this runs for each distributor's validation and publish).
    for (const d of this.st.listAllDistributors()) {
      if (d.repo_id === repoId && d.id === distId) continue;
      const cfg = parseJson<Record<string, unknown>>(d.config, {});
      const p = this.registry.get(d.type_id);
      const key = `${d.repo_id}/${d.id}`;
      const rel = cfg.relative_url ?? p?.config.relative_url;
      const defaults = DEFAULT_RELATIVE_URL_TYPES[d.type_id];
      // A built-in distributor served over neither protocol takes no path under them.
      const on = (k: 'http' | 'https'): boolean => {
        const v = cfg[k] ?? p?.config[k];
        return v === undefined ? defaults![k] : v === true || v === 'true' || v === '1' || v === 'yes';
      };
      if (defaults && !on('http') && !on('https')) continue;
      if (typeof rel === 'string' && rel.trim()) {
        out[key] = rel;
        continue;
      }
      if (defaults) {
        out[key] = d.repo_id;
        continue;
      }
      const last = this.st.lastPublish(d.repo_id, d.id, 'published');
      for (const pp of last ? parseJson<string[]>(last.published_paths, []) : []) {
        const abs = path.resolve(pp);
        const root = roots.find((x) => abs.startsWith(x));
        if (root) {
          out[key] = abs.slice(root.length).split(path.sep).join('/');
          break;
        }
      }
    }
    return out;
  }

  async publish(repoId: string, opts: { distributorId?: string; override?: Record<string, unknown>; force?: boolean; starting?: (distributorId: string, version: number) => void } = {}): Promise<PublishOutcome[]> {
    this.requireRepo(repoId);
    const dists = opts.distributorId ? [this.requireDist(repoId, opts.distributorId)] : this.st.listDistributors(repoId);
    // Only an override is checked here (a distributor whose plugin is missing fails in its own publish, the others publish).
    if (opts.override && Object.keys(opts.override).length) for (const d of dists) await this.validateOverride(this.plugin(d.type_id, 'distributor'), repoId, 'distributor', d, opts.override);
    const out: PublishOutcome[] = [];
    await this.withLock([repoId], async () => {
      for (const d of dists) out.push(await this.publishOne(repoId, d, opts.override ?? {}, !!opts.force, opts.starting));
    });
    return out;
  }

  private async publishOne(repoId: string, d: DistributorRow, override: Record<string, unknown>, force: boolean, starting?: (distributorId: string, version: number) => void): Promise<PublishOutcome> {
    let outcome: PublishOutcome | undefined;
    let taskId: string | undefined;
    try {
      await this.runTask('publish', repoId, [repoId], async (t) => {
        taskId = t.taskId;
        outcome = await this.publishBody(repoId, d.id, override, force, t, starting);
        return outcome;
      });
      return outcome!;
    } catch (e) {
      if (e instanceof StagepushError && e.kind === 'interrupted') throw e;
      if (e instanceof StagepushError && e.kind === 'locked') throw e;
      const repo = this.st.getRepo(repoId);
      return { distributorId: d.id, status: 'failed', version: repo?.version ?? 0, publishedPaths: [], urls: [], taskId, error: { code: e instanceof StagepushError ? e.code : 'INTERNAL', message: thrownText(e) } };
    }
  }

  private async publishBody(repoId: string, distId: string, override: Record<string, unknown>, force: boolean, t: TaskCtx, starting?: (distributorId: string, version: number) => void): Promise<PublishOutcome> {
    const repo = this.requireRepo(repoId);
    const d = this.requireDist(repoId, distId);
    const p = this.plugin(d.type_id, 'distributor');
    const inst = (await this.instance(p, this.creating(p, 'publish', repoId, 'ENGINE_PUBLISH_FAILED'))) as Distributor;
    if (typeof inst.publishRepo !== 'function') throw this.notSupported(p, 'publish');
    const config = parseJson<Record<string, unknown>>(d.config, {});
    const hash = this.configHash(p, config, override);
    const last = this.st.lastPublish(repoId, distId, 'published');
    if (!force && !Object.keys(override).length && last && !this.publishDue(repo, d, p)) {
      this.events({ type: 'info', message: `publish ${repoId}/${distId}: version ${repo.version} already published with this configuration (skipped; forced, it is published again: repo publish --force, push --force-publish)` });
      return { distributorId: distId, status: 'skipped', version: repo.version, publishedPaths: parseJson(last.published_paths, []), urls: parseJson(last.urls, []), taskId: t.taskId };
    }
    starting?.(distId, repo.version);
    const seq = this.st.insertPublish({ repo_id: repoId, dist_id: distId, version: repo.version, config_hash: hash, state: 'running', started: now(), finished: null, task_id: t.taskId, pid: process.pid, host: this.locks.host, published_paths: null, urls: null, manifest: null, report: null, error: null });
    const staging = new Staging(this);
    const conduit = new PublishConduitImpl(this, staging, this.opCtx(repoId, p, `distributor:${distId}`, t), repo.version, this.publishRoot, this.opts.baseUrls ?? {}, () => this.otherRelativeUrls(repoId, distId));
    const onAbort = () => {
      try {
        void Promise.resolve(inst.cancelPublishRepo?.()).catch(() => undefined);
      } catch {
        /* discarded anyway */
      }
    };
    t.signal.addEventListener('abort', onAbort, { once: true });
    this.events({ type: 'phase-start', phase: 'publish', repo: repoId, label: distId });
    let report: PublishReport | undefined;
    try {
      report = await inst.publishRepo(this.repoObject(repo, this.workingDir(repoId, 'distributor', distId)), conduit, new CallConfig(p.config, config, override));
      if (t.signal.aborted) throw t.signal.reason;
      this.checkReport(report, p, 'publish', repoId, 'ENGINE_PUBLISH_FAILED');
      // What is recorded and shown later (repo show, fsck, the agent's binds): lists of strings.
      for (const k of ['publishedPaths', 'urls'] as const) {
        const v = (report as unknown as Record<string, unknown>)[k];
        if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
          throw new StagepushError('ENGINE_PUBLISH_FAILED', `publish of repository ${repoId}: ${p.id} returned ${k} ${describeValue(v)}, not a list of strings`, { kind: 'failed', field: k });
        }
      }
    } catch (e) {
      this.st.updatePublish(seq, { state: t.signal.aborted ? 'canceled' : 'failed', finished: now(), error: JSON.stringify(errJson(e)) });
      this.events({ type: 'phase-end', phase: 'publish', repo: repoId, label: distId, ok: false });
      if (t.signal.aborted) throw t.signal.reason;
      throw this.pluginError(e, p, 'publish', repoId, 'ENGINE_PUBLISH_FAILED');
    } finally {
      conduit.expire();
      t.signal.removeEventListener('abort', onAbort);
    }
    checkpoint('publish-written');
    const publishedPaths = (report!.publishedPaths ?? []).map((x) => path.resolve(x));
    const urls = report!.urls ?? [];
    const manifest = Object.fromEntries(publishedPaths.map((pp) => [pp, buildManifest(pp)]));
    this.st.tx(() => {
      this.st.updatePublish(seq, { state: 'published', finished: now(), published_paths: JSON.stringify(publishedPaths), urls: JSON.stringify(urls), manifest: JSON.stringify(manifest), report: JSON.stringify(report!.summary ?? null) });
      this.st.clearOldManifests(repoId, distId, seq);
      for (const sp of staging.scratchpads.values()) this.st.setScratchpad(sp.repoId, sp.owner, sp.value);
      checkpoint('in-transaction');
    });
    checkpoint('publish-recorded');
    this.events({ type: 'phase-end', phase: 'publish', repo: repoId, label: distId });
    return { distributorId: distId, status: 'published', version: repo.version, publishedPaths, urls, taskId: t.taskId, report: (report!.summary ?? null) as Json };
  }

  async createConsumerPayload(repoId: string, distId: string, bindingConfig: Record<string, unknown> = {}): Promise<Json> {
    const repo = this.requireRepo(repoId);
    const d = this.requireDist(repoId, distId);
    const p = this.plugin(d.type_id, 'distributor');
    const inst = (await this.instance(p, this.creating(p, 'createConsumerPayload', repoId, 'ENGINE_PAYLOAD_FAILED'))) as Distributor;
    if (typeof inst.createConsumerPayload !== 'function') throw this.notSupported(p, 'createConsumerPayload');
    let payload: Json;
    try {
      const env = { publishRoot: this.publishRoot, baseUrls: { ...(this.opts.baseUrls ?? {}) } };
      payload = await inst.createConsumerPayload(this.repoObject(repo, this.workingDir(repoId, 'distributor', distId)), new CallConfig(p.config, parseJson(d.config, {})), bindingConfig, env);
    } catch (e) {
      throw this.pluginError(e, p, 'createConsumerPayload', repoId, 'ENGINE_PAYLOAD_FAILED');
    }
    return assertJson(payload, 'the consumer payload');
  }

  // ------------------------------------------------------------------ push batches
  unitHolders(units: Array<{ typeId: string; unitKey: Record<string, unknown> }>): Array<{ unit: Unit; repos: string[] } | null> {
    return units.map((u) => {
      const row = this.st.findUnit(u.typeId, keyCanon(this.typeDef(u.typeId), u.unitKey));
      return row ? { unit: rowToUnit(this.store, row), repos: this.st.reposHolding([row.id]) } : null;
    });
  }

  async transaction<T>(repoIds: string[], fn: (batch: Batch) => Promise<T>, opts: { lockedOnly?: boolean } = {}): Promise<T> {
    const ids = [...new Set(repoIds)].sort();
    for (const id of ids) this.requireRepo(id);
    // Counted, not kept: holding every result (its units and report) until the end made a large
    // push's memory grow with the number of items.
    const counts = { operations: 0, units: 0 };
    return this.runTask(
      'transaction',
      ids.join(','),
      ids,
      async (t) => {
        // Again under the locks: a repository deleted while this waited for them is not written to.
        for (const id of ids) this.requireRepo(id);
        const staging = new Staging(this);
        const s: ImporterOpState = { staging, task: t };
        const guard = (id: string) => {
          if (!ids.includes(id)) throw new StagepushError('ENGINE_NOT_LOCKED', `repository ${id} is not part of this transaction (${ids.join(', ')})`, { kind: 'internal' });
        };
        let open = true;
        const live = () => {
          if (!open) throw new StagepushError('ENGINE_CONDUIT_EXPIRED', 'this batch was used after its transaction ended', { kind: 'failed' });
          if (t.signal.aborted) throw t.signal.reason;
        };
        const keep = (r: BatchResult) => {
          counts.operations++;
          counts.units += r.outcomes.length;
          return r;
        };
        const batch: Batch = {
          signal: t.signal,
          upload: async (repoId, req) => {
            live();
            guard(repoId);
            return keep(await this.innerUpload(s, repoId, req));
          },
          uploadMany: async (repoId, reqs, hooks = {}) => {
            live();
            guard(repoId);
            const target = this.uploadTarget(repoId, staging);
            const out: BatchResult[] = [];
            let i = 0;
            for (const req of reqs) {
              if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
              live();
              hooks.before?.(i);
              const r = keep(await this.innerUpload(s, repoId, req, target));
              if (!hooks.discardResults) out.push(r);
              hooks.after?.(i, r);
              i++;
            }
            return out;
          },
          copy: async (from, to, opts = {}) => {
            live();
            guard(from);
            guard(to);
            return keep(await this.innerCopy(s, from, to, opts));
          },
          removeUnits: async (repoId, criteria) => {
            live();
            guard(repoId);
            return keep(await this.innerRemove(s, repoId, criteria));
          },
          listUnits: (repoId, criteria) => {
            live();
            guard(repoId);
            return staging.query(repoId, criteria);
          },
          configureImporter: async (repoId, config) => {
            live();
            guard(repoId);
            const { row, p } = this.importerOf(repoId, 'configure');
            await this.validate(p, this.repoObject(row, this.workingDir(repoId, 'importer', p.id), true), config, 'importer');
            staging.importerConfigs.set(repoId, structuredClone(config));
          },
        };
        let r: T;
        try {
          r = await fn(batch);
          if (t.signal.aborted) throw t.signal.reason;
          this.commit(staging, t.taskId, 'transaction', opts.lockedOnly ? new Set(ids) : undefined);
        } finally {
          open = false;
        }
        return r;
      },
      () => ({ repos: ids, operations: counts.operations, units: counts.units }) as Json,
    );
  }

  pinUnits(unitIds: string[], untilMs: number): void {
    const ids = unitIds.map(Number).filter((n) => Number.isInteger(n) && n > 0);
    this.st.pinUnits(ids, untilMs);
  }

  // ------------------------------------------------------------------ orphans, gc, fsck
  private orphanInfo(units: ReturnType<Storage['orphanUnits']>): OrphanInfo[] {
    return units.map((r) => ({ id: String(r.id), typeId: r.type_id, unitKey: JSON.parse(r.unit_key), sha256: r.sha256, size: r.size, blobs: r.blobs ? (JSON.parse(r.blobs) as string[]) : [] }));
  }

  async pinForOperation(name: string, sha256s: string[], untilMs: number): Promise<void> {
    // The pin first. An orphan clean-up reads the pins once it holds its locks, '*gc' first: one
    // that starts after this write sees the pin; one that may have read them before holds '*gc'
    // now, and is waited for (the operation stores nothing before this returns). Nobody holding
    // it (the usual case), no lock is taken: two committed lock writes per push saved.
    this.store.pin(name, sha256s, untilMs, { durable: false });
    const holder = this.st.getLock('repo:*gc');
    if (!holder || lockOwnerDead(holder, this.locks.host)) return;
    const release = await this.locks.acquire(['repo:*gc'], { wait: this.opts.lock?.wait ?? true, timeoutSec: this.opts.lock?.timeoutSec, signal: this.opts.signal, events: this.events });
    release();
  }

  unpin(name: string): void {
    this.store.unpin(name);
  }

  private removeOrphansLocked(dryRun: boolean): OrphanReport {
    const orphans = this.st.orphanUnits(Date.now());
    const info = this.orphanInfo(orphans);
    // Pinned files stay (a pre-push's, or a running operation's that will reference them). Read
    // once; a dry run leaves expired pin files where they are.
    const pinned = this.store.pinned(Date.now(), !dryRun);
    const candidateFiles = new Set<string>();
    for (const o of info) {
      if (o.sha256 && !pinned.has(o.sha256)) candidateFiles.add(o.sha256);
      for (const b of o.blobs) if (!pinned.has(b)) candidateFiles.add(b);
    }
    if (!dryRun && orphans.length) this.st.deleteUnits(orphans.map((o) => o.id));
    // Files no unit references (their units are gone, or a crash left them before a commit).
    const orphanIds = new Set(orphans.map((o) => o.id));
    const refs = new Map<string, number[]>();
    for (const f of this.st.allReferencedFiles()) {
      // Appended in place: a copy per reference made 40,000 units sharing one file quadratic.
      const list = refs.get(f.sha256);
      if (list) list.push(f.unitId);
      else refs.set(f.sha256, [f.unitId]);
    }
    for (const sha of this.store.listAll(pinned)) if (!refs.has(sha)) candidateFiles.add(sha);
    let files = 0;
    let bytes = 0;
    for (const sha of candidateFiles) {
      const users = refs.get(sha) ?? [];
      const stillUsed = dryRun ? users.some((u) => !orphanIds.has(u)) : this.st.fileReferenced(sha);
      if (stillUsed) continue;
      if (!SHA256_RE.test(sha)) continue;
      let size = 0;
      try {
        size = fs.statSync(this.store.pathFor(sha)).size;
      } catch {
        continue;
      }
      files++;
      bytes += size;
      if (!dryRun) this.store.remove(sha, pinned);
    }
    return { dryRun, units: orphans.length, files, bytes, orphans: info };
  }

  private allRepoIds(): string[] {
    return this.st.listRepos().map((r) => r.id);
  }

  readonly orphans = {
    list: (): OrphanInfo[] => this.orphanInfo(this.st.orphanUnits(Date.now())),
    remove: (opts: { dryRun?: boolean } = {}): OrphanReport => {
      // Synchronous API: take every repository lock without waiting (an operation in flight may
      // still commit units sharing these files).
      const resources = [...this.allRepoIds().map((r) => `repo:${r}`), 'repo:*gc'];
      let report: OrphanReport | undefined;
      const tryLock = this.locksSync(resources);
      try {
        report = this.removeOrphansLocked(!!opts.dryRun);
      } finally {
        tryLock();
      }
      return report;
    },
  };

  /** Take locks synchronously (no waiting): kind 'locked' when another run holds one. */
  private locksSync(resources: string[]): () => void {
    const taken: string[] = [];
    const release = () => {
      for (const r of taken) this.st.deleteLock(r, this.syncTokens.get(r));
      taken.length = 0;
    };
    try {
      for (const r of [...resources].sort()) {
        if (this.locks.holds(r)) continue;
        this.st.tx(() => {
          const row = this.st.getLock(r);
          if (row) {
            if (!lockOwnerDead(row, this.locks.host)) throw new StagepushError('ENGINE_LOCKED', `${r} is locked by another run (pid ${row.pid} on ${row.host}${row.task_id ? `, task ${row.task_id}` : ''})`, { kind: 'locked', hint: 'run it again when that run is done' });
            this.st.deleteLock(r, row.token);
          }
          const token = randomBytes(8).toString('hex');
          this.syncTokens.set(r, token);
          this.st.insertLock({ resource: r, pid: process.pid, host: this.locks.host, task_id: null, acquired: Date.now(), heartbeat: Date.now(), token });
        });
        taken.push(r);
      }
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }
  private syncTokens = new Map<string, string>();

  async removeOrphans(opts: { dryRun?: boolean } = {}): Promise<OrphanReport> {
    // A dry run only reads: no task is recorded and no lock taken (it changes nothing, not even the task list).
    if (opts.dryRun) return this.removeOrphansLocked(true);
    return this.runTask('orphans', null, [...this.allRepoIds(), '*gc'], async () => this.removeOrphansLocked(false), (r) => ({ ...r, orphans: r.orphans.slice(0, 100) }) as unknown as Json);
  }

  async gc(opts: { dryRun?: boolean; taskRetentionDays?: number } = {}): Promise<GcReport> {
    const dryRun = !!opts.dryRun;
    const days = opts.taskRetentionDays ?? 30;
    const ids = this.allRepoIds();
    const body = async (): Promise<GcReport> => {
      // Versions beyond retention (never one a distributor has live), then the units that leaves
      // in no version. A dry run does both in a transaction it rolls back: it counts the orphans
      // the pruning makes too, and changes nothing.
      const pruneAndCollect = () => {
        let versionsPruned = 0;
        for (const id of ids) {
          const r = this.st.getRepo(id);
          if (!r || r.retain_versions <= 0) continue;
          versionsPruned += this.st.pruneVersions(id, r.retain_versions);
        }
        return { versionsPruned, orphans: this.removeOrphansLocked(dryRun) };
      };
      const { versionsPruned, orphans } = dryRun ? this.st.rolledBack(pruneAndCollect) : pruneAndCollect();
      const cutoff = new Date(Date.now() - days * 86400_000).toISOString();
      const tasksPruned = dryRun ? this.st.listTasks({ states: ['finished', 'error', 'canceled'] }).filter((t) => (t.finished ?? t.created) < cutoff).length : this.st.deleteTasksBefore(cutoff);
      // The records of earlier publishes, as old as the tasks pruned (a cron job publishing every
      // few minutes added one per distributor each time, for ever).
      const publishesPruned = this.st.deletePublishesBefore(cutoff, dryRun);
      const stray = this.store.strayTemps();
      if (!dryRun) for (const f of stray) fs.rmSync(f, { force: true, recursive: true });
      let workingDirsRemoved = 0;
      const wroot = path.join(this.dataDir, 'working');
      if (fs.existsSync(wroot)) {
        for (const n of fs.readdirSync(wroot)) {
          if (this.st.getRepo(n)) continue;
          workingDirsRemoved++;
          if (!dryRun) fs.rmSync(path.join(wroot, n), { recursive: true, force: true });
        }
      }
      return { dryRun, versionsPruned, tasksPruned, publishesPruned, orphans, tempFilesRemoved: stray.length, workingDirsRemoved };
    };
    // A dry run only reads: no task is recorded and no lock taken (it changes nothing, not even the task list).
    if (dryRun) return body();
    return this.runTask('gc', null, [...ids, '*gc'], body, (r) => ({ ...r, orphans: { ...r.orphans, orphans: r.orphans.orphans.slice(0, 100) } }) as unknown as Json);
  }

  async fsck(): Promise<FsckReport> {
    const problems: FsckProblem[] = [];
    const notices: FsckProblem[] = [];
    const integrity = this.st.integrityCheck();
    if (!(integrity.length === 1 && integrity[0] === 'ok')) problems.push({ code: 'ENGINE_DB_CORRUPT', message: `database integrity check: ${integrity.join('; ')}`, file: this.st.path });
    const refs = this.st.allReferencedFiles();
    const bySha = new Map<string, { size: number | null; units: number[] }>();
    for (const r of refs) {
      const e = bySha.get(r.sha256) ?? { size: null, units: [] };
      if (r.size !== null) e.size = r.size;
      e.units.push(r.unitId);
      bySha.set(r.sha256, e);
    }
    let filesChecked = 0;
    for (const [sha, e] of bySha) {
      filesChecked++;
      let file: string;
      try {
        file = this.store.pathFor(sha);
      } catch {
        problems.push({ code: 'ENGINE_BAD_SHA256', message: `unit ${e.units.join(', ')} references a malformed digest ${sha}` });
        continue;
      }
      if (!fs.existsSync(file)) {
        problems.push({ code: 'ENGINE_FILE_MISSING', message: `stored file of unit ${e.units.join(', ')} is missing`, file });
        continue;
      }
      const h = hashFileSync(file);
      if (h.sha256 !== sha) problems.push({ code: 'ENGINE_FILE_CORRUPT', message: `stored file of unit ${e.units.join(', ')} has sha256 ${h.sha256}, expected ${sha}`, file });
      else if (e.size !== null && h.size !== e.size) problems.push({ code: 'ENGINE_FILE_CORRUPT', message: `stored file of unit ${e.units.join(', ')} has ${h.size} bytes, expected ${e.size}`, file });
    }
    // Files no unit references: a pinned one is checked too (a pre-push's, which the push that
    // imports it takes as stored without reading it again; a package a yum pool still serves for
    // old metadata). The pins are read, expired ones left in place: fsck changes nothing.
    const pinnedBy = new Map<string, string>();
    for (const p of this.store.pins(Date.now(), false)) for (const x of p.sha256) if (!pinnedBy.has(x)) pinnedBy.set(x, p.name);
    for (const sha of this.store.listAll(true)) {
      if (bySha.has(sha)) continue;
      const file = path.join(this.store.shaDir, sha.slice(0, 2), sha.slice(2));
      const pin = pinnedBy.get(sha);
      if (pin === undefined) {
        notices.push({ code: 'ENGINE_FILE_UNREFERENCED', message: 'stored file referenced by no unit (removed by `stagepush orphans remove` or `gc`)', file });
        continue;
      }
      let h: { sha256: string };
      try {
        h = hashFileSync(file);
      } catch {
        continue; // removed since it was listed (its pin expired, a gc ran)
      }
      filesChecked++;
      if (h.sha256 !== sha) problems.push({ code: 'ENGINE_FILE_CORRUPT', message: `stored file kept by pin ${pin} (referenced by no unit) has sha256 ${h.sha256}, expected ${sha}`, file });
    }
    for (const f of this.store.strayTemps()) problems.push({ code: 'ENGINE_STRAY_TEMP', message: 'temporary file left by a process that is gone (removed by `stagepush gc`)', file: f });
    let publishesChecked = 0;
    for (const r of this.st.listRepos()) {
      for (const d of this.st.listDistributors(r.id)) {
        const last = this.st.lastPublish(r.id, d.id, 'published');
        if (!last) continue;
        publishesChecked++;
        const latest = this.st.lastPublish(r.id, d.id)!;
        const manifest = parseJson<Record<string, Record<string, ManifestEntry>>>(last.manifest, {});
        const diffs: string[] = [];
        for (const [root, entries] of Object.entries(manifest)) diffs.push(...compareManifest(root, entries, path.resolve(this.store.root)));
        // What the plugin keeps beside the recorded tree (yum's Packages/ pool).
        const p = this.registry.get(d.type_id);
        if (p && p.kind === 'distributor') {
          // A plugin that fails its own check (or cannot be made to run it) is a problem of that
          // distributor: every other check still runs and is reported.
          const failed = (e: unknown, what = '') => problems.push({ code: 'ENGINE_FSCK_FAILED', message: `verifyPublished of ${r.id}/${d.id} (${p.id}) failed: ${what}${thrownText(e)}`, file: Object.keys(manifest)[0] });
          let inst: Distributor | undefined;
          try {
            inst = (await this.instance(p, (e) => e)) as Distributor;
          } catch (e) {
            failed(e, 'creating the plugin threw: ');
          }
          if (inst && typeof inst.verifyPublished === 'function') {
            const env = { publishRoot: this.publishRoot, baseUrls: { ...(this.opts.baseUrls ?? {}) }, blobPath: (sha: string) => this.store.pathFor(sha) };
            try {
              const found: unknown = await inst.verifyPublished(this.repoObject(r, this.workingDir(r.id, 'distributor', d.id), true), new CallConfig(p.config, parseJson(d.config, {})), env);
              if (!Array.isArray(found) || !found.every((x) => typeof x === 'string')) {
                problems.push({ code: 'ENGINE_FSCK_FAILED', message: `verifyPublished of ${r.id}/${d.id} (${p.id}) returned ${describeValue(found)}, not a list of problems (strings)`, file: Object.keys(manifest)[0] });
              } else diffs.push(...found);
            } catch (e) {
              failed(e);
            }
          }
        }
        if (!diffs.length) continue;
        // A later publish stopped midway (killed, canceled) may have switched part of the tree: a
        // notice until the next publish. One that failed (refused before its switch, e.g. a path
        // collision) left the live tree as it was: what differs from it is damage.
        const interrupted = latest.seq !== last.seq && ['interrupted', 'canceled', 'running'].includes(latest.state);
        const msg = `published tree of ${r.id}/${d.id} differs from its last publish (version ${last.version}, ${last.finished}): ${diffs.slice(0, 5).join('; ')}${diffs.length > 5 ? `; and ${diffs.length - 5} more` : ''}`;
        if (interrupted) notices.push({ code: 'ENGINE_PUBLISH_INTERRUPTED', message: `${msg} — a later publish was ${latest.state}; run \`stagepush repo publish ${r.id} --distributor ${d.id}\``, file: Object.keys(manifest)[0] });
        else problems.push({ code: 'ENGINE_PUBLISH_MISMATCH', message: msg, file: Object.keys(manifest)[0] });
      }
    }
    return { ok: problems.length === 0, integrity: integrity.join('; '), unitsChecked: new Set(refs.map((r) => r.unitId)).size, filesChecked, publishesChecked, problems, notices };
  }

  // ------------------------------------------------------------------ consumers (plain storage for the agent)
  private consumerInfo(r: Record<string, unknown>): ConsumerInfo {
    return { name: String(r.name), root: String(r.root), notes: parseJson(r.notes as string, {}), created: String(r.created) };
  }

  private requireConsumer(name: string): void {
    if (!this.st.kvGet('consumers', [name])) throw new StagepushError('ENGINE_CONSUMER_NOT_FOUND', `no consumer ${JSON.stringify(name)} is registered`, { kind: 'invalid' });
  }

  readonly consumers = {
    register: (name: string, c: { root: string; notes?: Record<string, unknown> }): ConsumerInfo => {
      checkId(name, 'consumer name');
      if (this.st.kvGet('consumers', [name])) throw new StagepushError('ENGINE_CONSUMER_EXISTS', `consumer ${name} is already registered`, { kind: 'invalid' });
      if (typeof c.root !== 'string' || !c.root) throw new StagepushError('ENGINE_BAD_CONSUMER', `consumer ${name}: root must be a directory path`, { kind: 'invalid', field: 'root' });
      assertJson(c.notes ?? {}, 'consumer notes');
      this.st.kvPut('consumers', { name, root: c.root, notes: JSON.stringify(c.notes ?? {}), created: now() });
      return this.consumers.get(name)!;
    },
    get: (name: string): ConsumerInfo | null => {
      const r = this.st.kvGet('consumers', [name]);
      return r ? this.consumerInfo(r) : null;
    },
    list: (): ConsumerInfo[] => this.st.kvList('consumers', []).map((r) => this.consumerInfo(r)),
    unregister: (name: string): void => {
      this.requireConsumer(name);
      this.st.tx(() => {
        this.st.kvDelete('bindings', [name]);
        this.st.kvDelete('profiles', [name]);
        this.st.kvDelete('consumers', [name]);
      });
    },
    setBinding: (name: string, repoId: string, distId: string, payload: Json): void => {
      this.requireConsumer(name);
      assertJson(payload, 'the binding payload');
      this.st.kvPut('bindings', { consumer: name, repo_id: repoId, dist_id: distId, payload: JSON.stringify(payload), created: now() });
    },
    removeBinding: (name: string, repoId: string): void => {
      this.requireConsumer(name);
      if (!this.st.kvDelete('bindings', [name, repoId])) throw new StagepushError('ENGINE_BINDING_NOT_FOUND', `consumer ${name} is not bound to ${repoId}`, { kind: 'invalid' });
    },
    bindings: (name: string): BindingInfo[] =>
      this.st.kvList('bindings', [name]).map((r) => ({ consumer: String(r.consumer), repoId: String(r.repo_id), distributorId: String(r.dist_id), payload: parseJson(r.payload as string, null), created: String(r.created) })),
    setProfile: (name: string, typeId: string, profile: Json): void => {
      this.requireConsumer(name);
      assertJson(profile, 'the consumer profile');
      this.st.kvPut('profiles', { consumer: name, type_id: typeId, profile: JSON.stringify(profile), updated: now() });
    },
    getProfile: (name: string, typeId: string): Json | null => {
      const r = this.st.kvGet('profiles', [name, typeId]);
      return r ? parseJson(r.profile as string, null) : null;
    },
    // The agent's bind, unbind and clean rewrite a consumer's files and bindings together: one at
    // a time per consumer, across processes.
    lock: (name: string): Promise<() => void> =>
      this.locks.acquire([`consumer:${name}`], { wait: this.opts.lock?.wait ?? true, timeoutSec: this.opts.lock?.timeoutSec, signal: this.opts.signal, events: this.events }),
  };
}

/**
 * Built-in distributor types that publish under `<publish root>/{http,https}/<relative_url>` with
 * the repository id as the default relative_url, and their protocol defaults.
 */
const DEFAULT_RELATIVE_URL_TYPES: Record<string, { http: boolean; https: boolean }> = {
  yum_distributor: { http: true, https: false },
  iso_distributor: { http: true, https: false },
  directory_distributor: { http: true, https: false },
  export_distributor: { http: false, https: false },
};

/** Files above this size are recorded by size, mtime and inode instead of their sha256 (fast publishes of large files). */
const MANIFEST_HASH_LIMIT = 4 * 1024 * 1024;

/**
 * What a published tree holds: files with sha256 and size (large files: size, mtime and inode),
 * symlinks with their target, directories. A root that is a symlink (trees switched atomically by
 * a link) is recorded as a link and walked through.
 */
export function buildManifest(root: string): Record<string, ManifestEntry> {
  const out: Record<string, ManifestEntry> = {};
  const walk = (abs: string, rel: string, follow: boolean) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    const key = rel || '.';
    if (st.isSymbolicLink()) {
      out[key] = { t: 'l', v: fs.readlinkSync(abs), ...(fs.existsSync(abs) ? { r: 1 as const } : {}) };
      if (follow) {
        try {
          if (fs.statSync(abs).isDirectory()) walk(fs.realpathSync(abs), '', false);
        } catch {
          /* dangling root link: recorded as such */
        }
      }
    } else if (st.isDirectory()) {
      if (rel) out[key] = { t: 'd' };
      else if (!out['.']) out['.'] = { t: 'd' };
      for (const n of fs.readdirSync(abs).sort()) walk(path.join(abs, n), rel ? `${rel}/${n}` : n, false);
    } else if (st.isFile()) {
      if (st.size > MANIFEST_HASH_LIMIT) out[key] = { t: 'f', v: `stat:${st.size}:${Math.trunc(st.mtimeMs)}:${st.ino}`, size: st.size };
      else {
        const h = hashFileSync(abs);
        out[key] = { t: 'f', v: h.sha256, size: h.size };
      }
    }
  };
  walk(root, '', true);
  return out;
}

/** `storeRoot`: a symlink into the content store must resolve (one a RAW tree carries as-is need not). */
function compareManifest(root: string, expected: Record<string, ManifestEntry>, storeRoot: string): string[] {
  const actual = buildManifest(root);
  const diffs: string[] = [];
  for (const [k, e] of Object.entries(expected)) {
    const a = actual[k];
    const name = path.join(root, k);
    if (!a) diffs.push(`${name} is missing`);
    else if (a.t !== e.t) diffs.push(`${name} is a ${a.t === 'f' ? 'file' : a.t === 'l' ? 'symlink' : 'directory'}, was a ${e.t === 'f' ? 'file' : e.t === 'l' ? 'symlink' : 'directory'}`);
    else if (a.v !== e.v) diffs.push(a.t === 'l' ? `${name} points to ${a.v}, was ${e.v}` : `${name} changed (sha256 ${a.v}, was ${e.v})`);
    // A symlink that resolved when published and no longer does (a stored file or the package
    // pool gone): what a client gets is a 404. One that did not resolve then (a RAW tree's own
    // dangling link) is as published. (Recorded before the flag existed: links into the store.)
    else if (a.t === 'l' && a.r === undefined && (e.r === 1 || (e.r === undefined && a.v && path.isAbsolute(a.v) && path.resolve(a.v).startsWith(storeRoot + path.sep)))) diffs.push(`${name} points to ${a.v}, which does not exist`);
  }
  for (const k of Object.keys(actual)) if (!expected[k]) diffs.push(`${path.join(root, k)} is new`);
  return diffs;
}

/**
 * Uploads of files already hashed run without real I/O waits: a long series of them is one job
 * for the event loop. Every YIELD_EVERY uploads it gets a turn: signals (Ctrl-C), timers
 * (progress) and the end of the job.
 */
const YIELD_EVERY = 128;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
