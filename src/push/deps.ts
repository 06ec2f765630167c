/**
 * The push's view of the engine and of the staged source: the few operations it needs, adapted
 * from `openEngine` (src/engine) and `loadStaged` (src/source/staged).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventSink } from '../events.js';
import { StagepushError, type Problem } from '../errors.js';
import type { Settings, RepoSpec } from '../config/index.js';
import type { Unit, Json } from '../engine/contract.js';
import type { Engine, PublishOutcome, UploadSpec } from '../engine/index.js';
import type { PushItemLike } from './items.js';
import { canonicalJson } from './plan.js';

export interface PushBatch {
  listUnits(repoId: string): Unit[];
  upload(repoId: string, spec: UploadSpec): Promise<unknown>;
  /** Uploads into one repository through one engine call, in order; `before`/`after` run around each. */
  uploadMany(repoId: string, specs: Iterable<UploadSpec>, hooks: { before(index: number): void; after(index: number): void }): Promise<unknown>;
  removeUnits(repoId: string, unitIds: string[]): Promise<unknown>;
  /** The repository's declared importer configuration, used by this batch's imports and stored with its commit. */
  configureImporter(repoId: string, config: Record<string, unknown>): Promise<void>;
}

/** The pin of what a --pre-push stored is named `<prefix><push id>`; a push importing that content releases only these. */
export const PRE_PUSH_PIN_PREFIX = 'pre-push-';

export interface PushEngine {
  importerTypes(): Record<string, string[]>;
  hasRepo(id: string): boolean;
  /** The importer type of an existing repository (null: none, or no such repository). */
  importerType(id: string): string | null;
  /** The importer configuration of an existing repository (null: no such repository). */
  importerConfig(id: string): Record<string, unknown> | null;
  /** A plugin's own configuration (plugin level: its entry point, plugins.conf.d/<id>.json); {} when unknown. */
  pluginConfig(pluginId: string): Promise<Record<string, unknown>>;
  repoVersion(id: string): number | null;
  listUnits(id: string): Unit[];
  /** The current version is not yet published by every distributor. */
  /** `configs`: distributor id → the configuration it will have (a drift applied), taken instead of the stored one. */
  needsPublish(id: string, configs?: Record<string, Record<string, unknown>>): boolean;
  /** Create the repository when missing; true when created. */
  ensureRepo(spec: RepoSpec): Promise<boolean>;
  /**
   * How an existing repository declared in the config differs from its declaration (display
   * name, description, notes, retained versions, importer config, distributors declared but
   * missing or configured otherwise). Null when it does not exist, was not declared (made from a
   * template: its declaration applied at creation only) or matches. Distributors it has but the
   * config does not name are left alone.
   */
  configDrift(spec: RepoSpec): ConfigDrift | null;
  /**
   * Check a drift's configurations with the plugins (validateConfig), changing nothing.
   * `planned`: the repositories this push will create (their relative_urls are taken).
   */
  checkDrift(spec: RepoSpec, drift: ConfigDrift, planned?: RepoSpec[]): Promise<void>;
  /**
   * Check a repository this push will create as its creation will (the plugins' validateConfig),
   * changing nothing. `planned`: the other repositories this push creates.
   */
  checkNewRepo(spec: RepoSpec, planned: RepoSpec[]): Promise<void>;
  /** Bring the repository in line with its declaration. */
  applyDrift(spec: RepoSpec, drift: ConfigDrift): Promise<void>;
  /**
   * Delete a repository this push created, when it is still as created (version 0, no unit):
   * the push failed before its commit. True when deleted.
   */
  discardCreated(id: string): Promise<boolean>;
  /**
   * Run `fn` under the locks of `repoIds` (sorted) and commit what it did. A unit shared with a
   * repository outside `repoIds` that the commit would change fails it, nothing changed
   * (ENGINE_SHARED_NOT_LOCKED, `details.repos`): that repository's lock is not held.
   */
  transaction<T>(repoIds: string[], fn: (batch: PushBatch) => Promise<T>): Promise<T>;
  /** The stored units of these types and keys (null where none is), each with the repositories holding it. */
  unitHolders(units: Array<{ typeId: string; unitKey: Record<string, unknown> }>): Array<{ unit: Unit; repos: string[] } | null>;
  /** An existing repository's notes ({} when there is no such repository). */
  repoNotes(id: string): Record<string, string>;
  /** An existing repository's creation time (null when there is no such repository): tells it from one deleted since and made again with its id. */
  repoCreated(id: string): string | null;
  storedPath(sha256: string): string | null;
  contentRoot(): string;
  distributors(repoId: string): Array<{ id: string; typeId: string; config?: Record<string, unknown> }>;
  /**
   * `starting`: called under the repository's lock when the publish begins (not when it is
   * skipped, already done), with the version it publishes: the current one, which may be newer
   * than the version this push committed (another push committed since).
   */
  publish(repoId: string, distributorId: string, force: boolean, starting?: (version: number) => void): Promise<PublishOutcome>;
  publishedPaths(repoId: string): string[];
  /**
   * Store files (linked or copied) without making them units, pinned under `pinName` until
   * `untilMs` so that orphan clean-up keeps them for the push that will import them.
   */
  preStore(files: string[], pin: { name: string; untilMs: number; expected: string[] }): Promise<{ bytesLinked: number; bytesCopied: number; sha256: string[]; how: Map<string, 'linked' | 'copied' | 'existing'> }>;
  /** Release pre-push pins (PRE_PUSH_PIN_PREFIX) of these digests (a push imported them). */
  releasePins(sha256s: string[]): Promise<number>;
  /** Keep these digests from a concurrent orphan clean-up while this push imports (see Engine.pinForOperation). */
  pinForPush(name: string, sha256s: string[]): Promise<void>;
  unpin(name: string): void;
  close(): void;
}

/** What a declared repository's configuration changes (see PushEngine.configDrift). */
export interface ConfigDrift {
  /** Human lines, one per change ("display_name: 'a' -> 'b'", "distributor yum_distributor: config"). */
  changes: string[];
  repo?: { displayName?: string; description?: string; notes?: Record<string, string>; retainRepoVersions?: number };
  importer?: { typeId: string; config: Record<string, unknown> };
  distributors: Array<{ op: 'add' | 'update'; id: string; typeId: string; config: Record<string, unknown>; autoPublish: boolean }>;
  /** A change the push cannot make (another importer type: the units would not fit). */
  conflict?: string;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** The patch (mergeConfig semantics: null deletes) that turns `from` into `to`. */
function replacePatch(from: Record<string, unknown>, to: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...to };
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  return patch;
}

export function driftOf(spec: RepoSpec, r: NonNullable<ReturnType<Engine['getRepo']>>): ConfigDrift | null {
  if (spec.origin !== 'config') return null;
  const d: ConfigDrift = { changes: [], distributors: [] };
  const repo: NonNullable<ConfigDrift['repo']> = {};
  const q = (v: unknown) => JSON.stringify(v);
  if (r.displayName !== spec.displayName) {
    repo.displayName = spec.displayName;
    d.changes.push(`display_name: ${q(r.displayName)} -> ${q(spec.displayName)}`);
  }
  if (r.description !== spec.description) {
    repo.description = spec.description;
    d.changes.push(`description: ${q(r.description)} -> ${q(spec.description)}`);
  }
  const notes = Object.fromEntries(Object.entries(spec.notes).filter(([k, v]) => r.notes[k] !== v));
  if (Object.keys(notes).length) {
    repo.notes = notes;
    d.changes.push(`notes: ${Object.keys(notes).join(', ')}`);
  }
  if (r.retainRepoVersions !== spec.retainRepoVersions) {
    repo.retainRepoVersions = spec.retainRepoVersions;
    d.changes.push(`retain_repo_versions: ${r.retainRepoVersions} -> ${spec.retainRepoVersions}`);
  }
  if (Object.keys(repo).length) d.repo = repo;
  if (r.importer && r.importer.typeId !== spec.importer.typeId) {
    d.conflict = `repository ${r.id} has importer ${r.importer.typeId}; the config declares ${spec.importer.typeId} (a repository does not change type: delete it or use another id)`;
  } else if (!r.importer || !same(r.importer.config, spec.importer.config)) {
    d.importer = spec.importer;
    d.changes.push(`importer ${spec.importer.typeId}: config`);
  }
  for (const want of spec.distributors) {
    const have = r.distributors.find((x) => x.id === want.id);
    if (!have) {
      d.distributors.push({ op: 'add', ...want });
      d.changes.push(`distributor ${want.id}: added`);
    } else if (have.typeId !== want.typeId) {
      d.conflict ??= `repository ${r.id}: distributor ${want.id} is a ${have.typeId}; the config declares ${want.typeId} (remove it with stagepush repo, or use another id)`;
    } else if (!same(have.config, want.config) || have.autoPublish !== want.autoPublish) {
      d.distributors.push({ op: 'update', ...want });
      d.changes.push(`distributor ${want.id}: ${same(have.config, want.config) ? 'auto_publish' : 'config'}`);
    }
  }
  return d.changes.length || d.conflict ? d : null;
}

export async function openPushEngine(settings: Settings, opts: { events: EventSink; signal?: AbortSignal; readOnly: boolean; storeFiles?: 'link' | 'copy' }): Promise<PushEngine> {
  const { BUILTIN_PLUGINS } = await import('../plugins/builtins.js');
  // A dry run on a data dir without a database opens nothing (it must not create one).
  if (opts.readOnly && !existsSync(path.join(settings.dataDir, 'engine.db'))) {
    const types: Record<string, string[]> = {};
    for (const p of BUILTIN_PLUGINS) if (p.kind === 'importer') types[p.metadata.id] = p.metadata.types;
    // New repositories are checked by the plugins of an engine opened on an empty temporary
    // data dir (the data dir is left as it is), made on first use.
    let checker: ScratchEngine | null = null;
    const checkNewRepo: PushEngine['checkNewRepo'] = async (spec, planned) => {
      checker ??= await openScratchEngine(settings, 'stagepush-dry-run-');
      await checker.eng.checkRepoSpec(engineSpecOf(spec), plannedUrls(planned));
    };
    const pluginConfig: PushEngine['pluginConfig'] = async (id) => {
      checker ??= await openScratchEngine(settings, 'stagepush-dry-run-');
      return checker.eng.listPlugins().find((p) => p.id === id)?.config ?? {};
    };
    return emptyEngine(types, path.join(settings.dataDir, 'content'), checkNewRepo, pluginConfig, () => checker?.close());
  }
  const { openEngine } = await import('../engine/index.js');
  const { engineOptionsOf } = await import('../config/index.js');
  const eng = await openEngine({ ...engineOptionsOf(settings), events: opts.events, signal: opts.signal, storeFiles: opts.storeFiles });
  return adapt(eng, opts.storeFiles ?? 'link');
}

interface ScratchEngine {
  eng: Engine;
  /** Close the engine and remove its temporary data dir. */
  close(): void;
}

/**
 * An engine with the configured plugins over an empty temporary data dir and publish root: the
 * plugins' checks without touching (or making) the real data dir.
 */
async function openScratchEngine(settings: Settings, prefix: string): Promise<ScratchEngine> {
  const { openEngine } = await import('../engine/index.js');
  const { engineOptionsOf } = await import('../config/index.js');
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  try {
    const eng = await openEngine({ ...engineOptionsOf(settings), pluginsDir: settings.pluginsDir ?? path.join(settings.dataDir, 'plugins'), dataDir: dir, publishRoot: path.join(dir, 'published'), events: () => {} });
    return {
      eng,
      close: () => {
        eng.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** What the engine is asked to create for a repository of the configuration. */
function engineSpecOf(spec: RepoSpec): Parameters<Engine['createRepo']>[0] {
  return {
    id: spec.id,
    displayName: spec.displayName,
    description: spec.description,
    notes: { ...spec.notes, created_by: `stagepush push (${spec.origin})` },
    importer: { typeId: spec.importer.typeId, config: spec.importer.config },
    distributors: spec.distributors.map((d) => ({ id: d.id, typeId: d.typeId, config: d.config, autoPublish: d.autoPublish })),
    retainRepoVersions: spec.retainRepoVersions,
  };
}

/** The relative_urls (owner "repo/distributor" → url) the distributors of these repositories will take. */
function plannedUrls(planned: RepoSpec[]): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const r of planned) {
    for (const d of r.distributors) {
      const rel = d.config.relative_url;
      const on = (k: string) => d.config[k] === true || d.config[k] === 'true';
      const served = d.typeId === 'export_distributor' ? on('http') || on('https') : d.config.http !== false || on('https');
      if (!served) continue;
      urls[`${r.id}/${d.id ?? d.typeId}`] = typeof rel === 'string' && rel.trim() ? rel : r.id;
    }
  }
  return urls;
}

function emptyEngine(types: Record<string, string[]>, contentRoot: string, checkNewRepo: PushEngine['checkNewRepo'], pluginConfig: PushEngine['pluginConfig'], closeChecker: () => void): PushEngine {
  const no = (): never => {
    throw new Error('the dry run has no engine database');
  };
  return {
    importerTypes: () => types,
    hasRepo: () => false,
    importerType: () => null,
    importerConfig: () => null,
    pluginConfig,
    repoVersion: () => null,
    listUnits: () => [],
    needsPublish: () => true,
    ensureRepo: no,
    configDrift: () => null,
    checkDrift: no,
    checkNewRepo,
    applyDrift: no,
    discardCreated: no,
    transaction: no,
    unitHolders: (units) => units.map(() => null),
    repoNotes: () => ({}),
    repoCreated: () => null,
    storedPath: () => null,
    contentRoot: () => contentRoot,
    distributors: () => [],
    publish: no,
    publishedPaths: () => [],
    preStore: no,
    releasePins: async () => 0,
    pinForPush: no,
    unpin: () => undefined,
    close: closeChecker,
  };
}

/**
 * Types whose plan view needs only the unit key (and the stored sha256): their metadata (RPM
 * header records) is not loaded. RAW trees' is (their manifest: the paths a staged tree or file
 * must not take), and so is that of files and images (small: their fingerprint holds it).
 */
const KEY_ONLY_TYPES = ['rpm', 'srpm'];

function adapt(eng: Engine, storeFiles: 'link' | 'copy'): PushEngine {
  const otherTypes = eng.listTypes().map((t) => t.id).filter((t) => !KEY_ONLY_TYPES.includes(t));
  const planView = (list: (c: { typeIds: string[]; fields?: string[] }) => Unit[]): Unit[] => [
    ...list({ typeIds: KEY_ONLY_TYPES, fields: [] }),
    ...(otherTypes.length ? list({ typeIds: otherTypes }) : []),
  ];
  const storePath = (sha: string) => path.join(eng.contentRoot, 'sha256', sha.slice(0, 2), sha.slice(2));
  // getRepo counts the repository's units (a query over its content): asked many times per push,
  // it is cached until something changes the repository (create, transaction, publish).
  const infos = new Map<string, ReturnType<Engine['getRepo']>>();
  const info = (id: string) => {
    if (!infos.has(id)) infos.set(id, eng.getRepo(id));
    return infos.get(id) ?? null;
  };
  return {
    importerTypes() {
      const out: Record<string, string[]> = {};
      for (const p of eng.listPlugins()) if (p.kind === 'importer') out[p.id] = p.types;
      return out;
    },
    hasRepo: (id) => info(id) !== null,
    importerType: (id) => info(id)?.importer?.typeId ?? null,
    importerConfig: (id) => (info(id) ? (info(id)!.importer?.config ?? {}) : null),
    pluginConfig: async (id) => eng.listPlugins().find((p) => p.id === id)?.config ?? {},
    repoVersion: (id) => info(id)?.version ?? null,
    listUnits: (id) => planView((c) => eng.listUnits(id, c)),
    needsPublish(id, configs) {
      // What the engine's publish would do (version, configuration, an unfinished attempt).
      if (!info(id)) return true;
      return eng.publishPending(id, configs).length > 0;
    },
    async ensureRepo(spec) {
      if (info(spec.id)) return false;
      infos.delete(spec.id);
      try {
        await eng.createRepo(engineSpecOf(spec));
        return true;
      } catch (e) {
        // Another push created it meanwhile.
        if (eng.getRepo(spec.id)) return false;
        throw e;
      }
    },
    configDrift(spec) {
      const r = info(spec.id);
      return r ? driftOf(spec, r) : null;
    },
    async checkDrift(spec, drift, planned = []) {
      await eng.checkConfigs(spec.id, { importer: drift.importer, distributors: drift.distributors }, plannedUrls(planned));
    },
    async checkNewRepo(spec, planned) {
      await eng.checkRepoSpec(engineSpecOf(spec), plannedUrls(planned));
    },
    async applyDrift(spec, drift) {
      const id = spec.id;
      try {
        const r = eng.getRepo(id);
        if (!r) return;
        if (drift.repo) await eng.updateRepo(id, drift.repo);
        if (drift.importer) await eng.setImporter(id, drift.importer.typeId, drift.importer.config);
        for (const d of drift.distributors) {
          const have = r.distributors.find((x) => x.id === d.id);
          if (d.op === 'add' || !have) await eng.addDistributor(id, { id: d.id, typeId: d.typeId, config: d.config, autoPublish: d.autoPublish });
          else await eng.updateDistributor(id, d.id, { config: replacePatch(have.config, d.config), autoPublish: d.autoPublish });
        }
      } finally {
        infos.delete(id);
      }
    },
    async discardCreated(id) {
      infos.delete(id);
      if (!eng.getRepo(id)) return false;
      try {
        // Checked again under the repository's lock: another push may have found it and used it.
        return await eng.deleteRepo(id, { ifUnused: true });
      } finally {
        infos.delete(id);
      }
    },
    async transaction(ids, fn) {
      infos.clear();
      return eng.transaction(ids, async (b) => {
        return fn({
          listUnits: (id) => planView((c) => b.listUnits(id, c)),
          upload: (id, spec) => b.upload(id, spec),
          uploadMany: (id, specs, hooks) => b.uploadMany(id, specs, { before: hooks.before, after: (i) => hooks.after(i), discardResults: true }),
          removeUnits: (id, unitIds) => b.removeUnits(id, { filters: { _id: { $in: unitIds } } }),
          configureImporter: (id, config) => b.configureImporter(id, config),
        });
      }, { lockedOnly: true }).finally(() => infos.clear());
    },
    unitHolders: (units) => eng.unitHolders(units),
    repoNotes: (id) => info(id)?.notes ?? {},
    repoCreated: (id) => info(id)?.created ?? null,
    storedPath(sha) {
      const p = storePath(sha);
      return existsSync(p) ? p : null;
    },
    contentRoot: () => eng.contentRoot,
    distributors: (id) => eng.listDistributors(id).map((d) => ({ id: d.id, typeId: d.typeId, config: d.config })),
    async publish(repoId, distributorId, force, starting) {
      try {
        const out = await eng.publish(repoId, { distributorId, force, ...(starting ? { starting: (_d: string, version: number) => starting(version) } : {}) });
        return out[0]!;
      } finally {
        infos.delete(repoId);
      }
    },
    publishedPaths(id) {
      const r = info(id);
      return r ? [...new Set(r.distributors.flatMap((d) => d.lastPublish?.publishedPaths ?? []))] : [];
    },
    async preStore(files, pin) {
      const { ContentStore, deferDurability, flushDurabilityAsync } = await import('../engine/store.js');
      const store = new ContentStore(eng.contentRoot, { linkFiles: storeFiles !== 'copy' });
      let bytesLinked = 0;
      let bytesCopied = 0;
      const shas: string[] = [];
      const how = new Map<string, 'linked' | 'copied' | 'existing'>();
      // Pinned before anything is stored: a gc running meanwhile keeps what is being stored.
      store.pin(pin.name, pin.expected, pin.untilMs);
      deferDurability();
      try {
        for (const f of files) {
          const r = store.ingestFile(f);
          if (r.how === 'linked') bytesLinked += r.size;
          else if (r.how === 'copied') bytesCopied += r.size;
          how.set(f, r.how);
          shas.push(r.sha256);
        }
      } finally {
        await flushDurabilityAsync();
      }
      store.pin(pin.name, shas, pin.untilMs);
      return { bytesLinked, bytesCopied, sha256: shas, how };
    },
    // Released with the push (a crashed push's pin expires after a day).
    pinForPush: (name, sha256s) => eng.pinForOperation(name, sha256s, Date.now() + 86400_000),
    unpin: (name) => eng.unpin(name),
    async releasePins(sha256s) {
      const { ContentStore } = await import('../engine/store.js');
      return new ContentStore(eng.contentRoot).release(sha256s, PRE_PUSH_PIN_PREFIX);
    },
    close: () => eng.close(),
  };
}

export interface StagingLoad {
  items: PushItemLike[];
  problems: Problem[];
  warnings: Problem[];
  /** Every staging directory read (their metadata files are kept in the audit trail). */
  dirs: string[];
}

export async function loadStagingAreas(
  urls: string[],
  opts: {
    events: EventSink;
    signal?: AbortSignal;
    threads: number;
    timeout: number;
    checksumCache: import('../source/staged/index.js').ChecksumCache;
    parsedCache: import('../source/staged/index.js').ParsedCache;
    onRpmRecord: (item: PushItemLike, json: string, summary: import('../source/staged/index.js').RpmRecordSummary) => void;
  },
): Promise<StagingLoad> {
  const { loadStaged } = await import('../source/staged/index.js');
  const r = await loadStaged(
    urls,
    {
      checksums: ['sha256'],
      // The config's defaults, for URLs that do not give ?threads= / ?timeout= (the URLs stay as written in events and the report).
      urlDefaults: { threads: opts.threads, timeout: opts.timeout },
      events: opts.events,
      signal: opts.signal,
      checksumCache: opts.checksumCache,
      parsedCache: opts.parsedCache,
      onRpmRecordJson: (item, json, summary) => opts.onRpmRecord(item as unknown as PushItemLike, json, summary),
    },
  );
  return { items: r.items as unknown as PushItemLike[], problems: r.problems, warnings: r.warnings, dirs: r.sources.flatMap((s) => s.dirs) };
}

export type { Json };

/**
 * The plugins' check of repositories as their creation would check them (`config check`), on an
 * engine opened over an empty temporary data dir (the real one is not touched): each refusal
 * with its repository.
 */
export async function checkRepoSpecs(settings: Settings, specs: RepoSpec[]): Promise<Array<{ id: string; error: StagepushError }>> {
  if (!specs.length) return [];
  const scratch = await openScratchEngine(settings, 'stagepush-check-');
  const out: Array<{ id: string; error: StagepushError }> = [];
  try {
    for (const s of specs) {
      try {
        await scratch.eng.checkRepoSpec(engineSpecOf(s), plannedUrls(specs.filter((x) => x !== s)));
      } catch (e) {
        if (!(e instanceof StagepushError) || e.kind !== 'invalid') throw e;
        out.push({ id: s.id, error: e });
      }
    }
  } finally {
    scratch.close();
  }
  return out;
}
