/**
 * The plugin contract: the one file importers and distributors (built-in, npm-package or
 * directory plugins) are written against. It follows Pulp's plugin model (see
 * ../shared/spec/pulp-importers.rst, pulp-distributors.rst, pulp-plugin-conventions.rst) in
 * idiomatic TypeScript: typed objects, camelCase, async operations.
 *
 * Plugins never see SQL or engine internals: everything goes through the repository object,
 * the call configuration and a conduit. A plugin instance is created fresh for every operation
 * (`create()` of its PluginFactory); state across operations lives in scratchpads.
 *
 * This file imports nothing else of ours, so third-party plugins can depend on it alone.
 */

/** A content type declaration: id and the fields that make up its unit key. */
export interface TypeDefinition {
  id: string;
  displayName?: string;
  description?: string;
  /** Fields whose values identify a unit of this type (e.g. name, epoch, version, release, arch, checksum). */
  unitKey: string[];
  /** Fields worth indexing for getUnits filters (advisory only). */
  searchIndexes?: string[];
}

/** What `metadata()` returns. */
export interface PluginMetadata {
  /** Unique among every installed plugin (importers and distributors alike). */
  id: string;
  displayName: string;
  /** Content type ids the plugin handles; each must be declared, or the plugin is refused. */
  types: string[];
}

/** The repository as plugins see it (passed to every call, lifecycle hooks included). */
export interface Repository {
  id: string;
  displayName: string;
  description: string;
  notes: Record<string, string>;
  /** This plugin's own working directory for this repository; deleted with the repository. */
  workingDir: string;
  /** The repository's current version number (0 = empty, before any change). */
  version: number;
}

/** JSON-serialisable values (scratchpads, progress, configs, unit metadata). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The brand of JsonText values (a registered symbol: plugins with their own copy of this file agree). */
export const JSON_TEXT: unique symbol = Symbol.for('stagepush.jsonText');

/**
 * A metadata value a plugin already holds as JSON text (e.g. a header record it read back from a
 * cache), given to `initUnit`/`saveUnit` as a top-level value of the metadata: the engine stores
 * the text as it is instead of parsing, copying and serialising it again. The plugin vouches that
 * the text is JSON (the engine checks only that it is a non-empty string); a unit read back holds
 * the parsed value. Until it is saved, a unit from `initUnit` holds the JsonText itself.
 */
export interface JsonText {
  readonly [JSON_TEXT]: string;
}

export function jsonText(text: string): JsonText {
  return { [JSON_TEXT]: text };
}

export function isJsonText(v: unknown): v is JsonText {
  return typeof v === 'object' && v !== null && typeof (v as { [JSON_TEXT]?: unknown })[JSON_TEXT] === 'string';
}

/** Unit metadata as a plugin gives it: JSON, with JsonText allowed as top-level values. */
export type MetadataInput = Record<string, Json | JsonText>;

/**
 * Call configuration: `get(key)` looks in the call's overrides, then the repository-level
 * config, then the plugin-level config, then `def`. Overrides are never saved.
 */
export interface PluginCallConfig {
  get<T = unknown>(key: string, def?: T): T | undefined;
  has(key: string): boolean;
  /** Every key of every layer, merged with the same precedence. */
  flatten(): Record<string, unknown>;
  readonly override: Readonly<Record<string, unknown>>;
  readonly repo: Readonly<Record<string, unknown>>;
  readonly plugin: Readonly<Record<string, unknown>>;
}

/** Result of validateConfig: ok, or a message the CLI shows (naming the key). */
export type ValidationResult = { valid: true } | { valid: false; message: string };

/** Everything validateConfig may consult: the other repositories' configs of the same plugin type. */
export interface RelatedRepositories {
  /** Other repositories using the same plugin type, with their repository-level config. */
  repos: Array<{ id: string; pluginId: string; config: Record<string, unknown> }>;
  /**
   * For a distributor: where every other distributor publishes under the publish root (any type,
   * the same repository's others included), by "repository/distributor" (what the publish checks
   * through PublishConduit.otherRelativeUrls).
   */
  relativeUrls?: Record<string, string>;
}

/** A content unit. `storagePath` is set for units with a file. */
export interface Unit {
  /** Engine id (stable); absent on a unit returned by initUnit until saved. */
  id?: string;
  typeId: string;
  unitKey: Record<string, Json>;
  metadata: Record<string, Json>;
  /** Where the file lives (read it there). For initUnit: a temporary path to write to. */
  storagePath: string | null;
  /** Path requested by the plugin (e.g. "Packages/f/foo-1.0-1.noarch.rpm"); null for metadata-only. */
  relativePath: string | null;
  /** sha256 and size of the stored file (set by saveUnit). */
  sha256?: string | null;
  size?: number | null;
  /**
   * Extra stored files this unit references, by sha256 (e.g. every file of a RAW directory tree),
   * stored with `storeBlob`. Orphan clean-up and fsck treat them like the unit's own file.
   */
  blobs?: string[];
}

/**
 * Unit selection: by type, by field filters on unit key and metadata, loading only `fields`
 * (unit key fields are always loaded). Filter values: a plain value (equality), or an operator
 * object: {$in: [...]}, {$nin: [...]}, {$ne: v}, {$regex: "..."}, {$gt|$gte|$lt|$lte: v}, {$exists: bool}.
 * Fields of the unit itself are addressed with a leading underscore: `_id`, `_typeId`, `_sha256`,
 * `_size`, `_relativePath`.
 */
export interface UnitCriteria {
  typeIds?: string[];
  filters?: Record<string, unknown>;
  fields?: string[];
  /** Sorted by type id then unit key; limit/skip page through. */
  limit?: number;
  skip?: number;
}

/** A link between two units (e.g. an erratum to the RPMs it lists). */
export interface UnitLink {
  fromId: string;
  toId: string;
}

/** What every conduit offers. Using a conduit after its operation returned throws CONDUIT_EXPIRED. */
export interface BaseConduit {
  /** Latest progress report (JSON), stored in the database and shown by `task show`. */
  setProgress(progress: Json): void;
  /** This plugin's scratchpad on this repository (JSON). */
  getScratchpad(): Json | undefined;
  setScratchpad(value: Json): void;
  /** The repository-wide scratchpad shared by every plugin on the repository. */
  getRepoScratchpad(): Json | undefined;
  setRepoScratchpad(value: Json): void;
  /** Aborted when the operation is canceled (in addition to cancelSyncRepo/cancelPublishRepo). */
  readonly signal: AbortSignal;
}

export interface UnitReader extends BlobReader {
  /** Units currently in the repository (for an import: the destination repository). */
  getUnits(criteria?: UnitCriteria): Unit[];
  /** The same, streamed in pages so memory stays flat on large repositories. */
  iterUnits(criteria?: UnitCriteria): Iterable<Unit>;
  /** Count without loading. */
  countUnits(criteria?: UnitCriteria): number;
  /** Links from the given unit (e.g. erratum → rpms). */
  getLinkedUnits(unit: Unit, criteria?: UnitCriteria): Unit[];
}

/**
 * The conduit of importer operations (sync, upload, import, remove). Changes are staged and
 * committed by the engine as one new repository version when the operation returns; a failed or
 * canceled operation leaves the repository's content as it was.
 */
export interface ImporterConduit extends BaseConduit, UnitReader {
  /**
   * Prepare a unit: returns it with `storagePath` set to a fresh temporary path under the content
   * store (when relativePath is not null) for the plugin to write the file to.
   */
  initUnit(typeId: string, unitKey: Record<string, Json>, metadata: MetadataInput, relativePath: string | null): Unit;
  /**
   * Save a unit and associate it with the repository. For a unit from initUnit, the file at
   * storagePath is hashed, synced and renamed into the content store (one copy per sha256).
   * A unit with the same type and key already stored is updated (metadata) and shared.
   */
  saveUnit(unit: Unit): Unit;
  /** Save a unit whose file already exists somewhere (hard-linked or copied into the store). */
  saveUnitFromFile(unit: Unit, filePath: string): Unit;
  /**
   * Store a file content-addressed without making it a unit (hard link when possible, else copy;
   * hashed, synced, renamed into place). Returns its sha256; reference it in `unit.blobs` and find
   * it again with `blobPath(sha256)`.
   */
  storeBlob(filePath: string): { sha256: string; size: number; linked: boolean };
  /** Link two saved units. */
  linkUnit(from: Unit, to: Unit, bidirectional?: boolean): void;
  /**
   * The unit of this type and key as the engine stores it, in whatever repository (Pulp's
   * search_all_units): a unit shared by key (an advisory) is merged with, not overwritten. Null
   * when there is none.
   */
  getStoredUnit(typeId: string, unitKey: Record<string, Json>): Unit | null;
  /** Remove the unit's association with the repository (the stored file stays until orphan clean-up). */
  removeUnit(unit: Unit): void;
}

/** The import (copy) conduit also reads the source repository. */
export interface ImportConduit extends ImporterConduit {
  getSourceUnits(criteria?: UnitCriteria): Unit[];
  iterSourceUnits(criteria?: UnitCriteria): Iterable<Unit>;
}

/**
 * A unit without its metadata (what a publish needs to decide whether anything it derived from
 * the unit earlier is still valid), from PublishConduit.scanUnitStamps.
 */
export interface UnitStamp {
  id: string;
  typeId: string;
  unitKey: Record<string, Json>;
  sha256: string | null;
  size: number | null;
  /** Opaque; changes whenever the unit's stored metadata or file changes. */
  stamp: string;
}

/** The publish conduit: read-only view of the repository version being published. */
export interface PublishConduit extends BaseConduit, UnitReader {
  /** The repository version being published. */
  readonly repoVersion: number;
  /** Root under which published trees live: `<publishRoot>/{http,https}/<relative_url>/`. */
  readonly publishRoot: string;
  /** Configured public base URLs (publish.base_url_http / publish.base_url_https), if any. */
  readonly baseUrls: { http?: string; https?: string };
  /** Every other distributor's relative_url (for uniqueness checks), keyed "repoId/distributorId". */
  otherRelativeUrls(): Record<string, string>;
  /** The engine's content store root (read-only), for checking symlink targets. */
  readonly contentRoot: string;
  /**
   * The repository's units of these types without their metadata, sorted by type id then unit
   * key (the order of getUnits), in pages of at most `pageSize` (keyset-paged: memory stays flat
   * and each page costs the same). Load the metadata of the units that need it with getUnits
   * and an `_id` filter. Optional: conduits of other hosts may lack it.
   */
  scanUnitStamps?(typeIds: string[], pageSize?: number): Iterable<UnitStamp[]>;
  /** The repository's units with these ids, metadata included (in no particular order). Optional. */
  getUnitsById?(ids: string[]): Unit[];
  /**
   * Stored files the published tree still serves after their units left the repository (a yum
   * package kept for clients holding the old metadata): kept from orphan clean-up until
   * `untilMs`, replacing what this distributor kept before (an empty list keeps nothing).
   * Optional: conduits of other hosts may lack it.
   */
  keepStoredFiles?(sha256s: string[], untilMs: number): void;
}

/** Both conduits can find a stored blob's path. */
export interface BlobReader {
  blobPath(sha256: string): string;
}

export interface SyncReport {
  success: boolean;
  summary: Json;
  details?: Json;
}
export type UploadReport = SyncReport;
export type PublishReport = SyncReport & {
  /** Directories that now hold the published tree (e.g. <root>/http/<relative_url>). */
  publishedPaths?: string[];
  /** URLs under which the tree is served, when base URLs are configured. */
  urls?: string[];
};

/** Everything an upload hands the importer. */
export interface UploadRequest {
  typeId: string;
  unitKey: Record<string, Json>;
  metadata: Record<string, Json>;
  /** The uploaded file (read it; do not move it), or null for metadata-only units. */
  filePath: string | null;
}

export interface Importer {
  metadata(): PluginMetadata;
  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult | Promise<ValidationResult>;
  importerAdded?(repo: Repository, config: PluginCallConfig): void | Promise<void>;
  importerRemoved?(repo: Repository, config: PluginCallConfig): void | Promise<void>;
  /** Must come with cancelSyncRepo (called on the same instance). */
  syncRepo?(repo: Repository, conduit: ImporterConduit, config: PluginCallConfig): Promise<SyncReport>;
  cancelSyncRepo?(): void | Promise<void>;
  /** Guess the content type of a file given to `content upload` without --type. */
  detectType?(filePath: string): string | null | Promise<string | null>;
  uploadUnit?(repo: Repository, upload: UploadRequest, conduit: ImporterConduit, config: PluginCallConfig): Promise<UploadReport>;
  /** Called on the destination repository: share units (saveUnit) or make new ones (initUnit). */
  importUnits?(source: Repository, dest: Repository, conduit: ImportConduit, config: PluginCallConfig, units: Unit[]): Promise<Unit[]>;
  /**
   * Clean-up hook after units were unassociated; never deletes stored files. Gets whole units
   * (their metadata), at most 500 per call: a removal of more calls it once per page.
   */
  removeUnits?(repo: Repository, units: Unit[], config: PluginCallConfig): void | Promise<void>;
}

export interface Distributor {
  metadata(): PluginMetadata;
  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult | Promise<ValidationResult>;
  distributorAdded?(repo: Repository, config: PluginCallConfig): void | Promise<void>;
  distributorRemoved?(repo: Repository, config: PluginCallConfig): void | Promise<void>;
  /** Must come with cancelPublishRepo (called on the same instance). */
  publishRepo?(repo: Repository, conduit: PublishConduit, config: PluginCallConfig): Promise<PublishReport>;
  cancelPublishRepo?(): void | Promise<void>;
  /**
   * fsck: what is wrong with what this distributor published, beyond the tree the engine recorded
   * at its last publish (the engine compares that one itself): e.g. yum's Packages/ pool, shared
   * by every published version. Each problem is a sentence naming its path; none when whole.
   * Reads only: it changes nothing and makes no directory.
   */
  verifyPublished?(repo: Repository, config: PluginCallConfig, env: PublishEnv & { blobPath(sha256: string): string }): string[] | Promise<string[]>;
  /**
   * What a consumer needs to bind. `env`: where the engine publishes now (publish root, base URLs
   * from the configuration), for a repository not published yet or published elsewhere since.
   */
  createConsumerPayload?(repo: Repository, config: PluginCallConfig, bindingConfig: Record<string, unknown>, env?: PublishEnv): Json | Promise<Json>;
}

/** Where the engine publishes (see Distributor.createConsumerPayload). */
export interface PublishEnv {
  publishRoot: string;
  baseUrls: { http?: string; https?: string };
}

/** How a plugin is registered: a factory making a fresh instance per operation. */
export interface ImporterFactory {
  kind: 'importer';
  /** Static metadata (same as an instance's metadata()). */
  metadata: PluginMetadata;
  create(): Importer;
  /**
   * Optional: prepares create() (e.g. imports the plugin's module on first use). The engine awaits
   * it before every create(); the registry then trusts `metadata` instead of probing an instance.
   */
  load?(): Promise<void>;
  /** Plugin-level configuration (from the entry point, *.conf files or plugins.conf.d). */
  config?: Record<string, unknown>;
  /** Content types this plugin declares (third parties declare their own). */
  types?: TypeDefinition[];
}

export interface DistributorFactory {
  kind: 'distributor';
  metadata: PluginMetadata;
  create(): Distributor;
  /**
   * Optional: prepares create() (e.g. imports the plugin's module on first use). The engine awaits
   * it before every create(); the registry then trusts `metadata` instead of probing an instance.
   */
  load?(): Promise<void>;
  config?: Record<string, unknown>;
  types?: TypeDefinition[];
}

export type PluginFactory = ImporterFactory | DistributorFactory;

/**
 * Entry points of npm-package plugins take no arguments and return the plugin (a class or a
 * factory function producing an instance) and its plugin-level config, like Pulp's
 * `entry_point()` returning `(PluginClass, {})`.
 */
export type EntryPoint = () => [PluginConstructor, Record<string, unknown>] | { plugin: PluginConstructor; config?: Record<string, unknown> };
export type PluginConstructor = (new () => Importer | Distributor) | (() => Importer | Distributor);
