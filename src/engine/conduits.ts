/**
 * Conduits and the staging area behind them. Importer operations never write the repository's
 * content directly: saveUnit/removeUnit/linkUnit/scratchpad writes are staged here (files are
 * already in the content store) and the engine commits them as one new repository version in one
 * transaction when the operation succeeds. Every conduit expires when its operation returns.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StagepushError } from '../errors.js';
import { assertJson } from './config.js';
import { NOT_PLAIN, plainJson } from '../json.js';
import { compileFilters, projectUnit, validateCriteria } from './criteria.js';
import { JSON_TEXT, isJsonText } from './contract.js';
import type {
  ImportConduit,
  ImporterConduit,
  Json,
  MetadataInput,
  PublishConduit,
  TypeDefinition,
  Unit,
  UnitCriteria,
  UnitStamp,
} from './contract.js';
import { knownFileFacts, type ContentStore } from './store.js';
import type { Storage, UnitRow } from './storage.js';
import type { UnitOutcome, UnitOutcomeKind } from './types.js';

export interface ConduitHost {
  st: Storage;
  store: ContentStore;
  typeDef(typeId: string): TypeDefinition;
}

export interface StagedUnit {
  ukey: string;
  existingId: number | null;
  tempId: string;
  typeId: string;
  keyCanon: string;
  unitKey: Record<string, Json>;
  metadata: Record<string, Json>;
  sha256: string | null;
  size: number | null;
  relativePath: string | null;
  blobs: string[];
  /** Needs an insert or update at commit. */
  dirty: boolean;
  /** The unit's id once committed (see Staging.settle); null before. */
  committedId: number | null;
}

export class RepoStage {
  readonly adds = new Set<string>();
  readonly removes = new Set<string>();
  private committed: Set<number> | null = null;
  constructor(readonly repoId: string) {}
  committedIds(st: Storage): Set<number> {
    if (!this.committed) this.committed = st.contentIds(this.repoId);
    return this.committed;
  }
  get empty(): boolean {
    return this.adds.size === 0 && this.removes.size === 0;
  }
}

/**
 * `structuredClone` of a unit key or metadata, faster for what they nearly always are: a tree of
 * plain JSON values (copied directly); anything else (shared or circular references, holes,
 * non-plain objects, nesting deeper than 256) is left to `structuredClone` itself.
 */
export function cloneJson<T>(v: T): T {
  const c = plainJson(v, true);
  return c === NOT_PLAIN ? structuredClone(v) : (c as T);
}

/**
 * `cloneJson` that also checks the value as `assertJson` does (and throws its errors): a tree of
 * plain JSON values is checked by the copy itself, in one walk instead of two.
 */
export function checkedCloneJson<T>(v: T, what: string): T {
  const c = plainJson(v, true);
  if (c !== NOT_PLAIN) return c as T;
  assertJson(v, what);
  return structuredClone(v);
}

/**
 * The JSON text of unit metadata that holds JsonText values (spliced in as they are, the other
 * values serialised, keys in JSON.stringify's order); null when it holds none.
 */
export function metadataTextOf(md: MetadataInput): string | null {
  const keys = Object.keys(md);
  if (!keys.some((k) => isJsonText(md[k]))) return null;
  const parts: string[] = [];
  for (const k of keys) {
    const v = md[k];
    if (v === undefined) continue;
    parts.push(JSON.stringify(k) + ':' + (isJsonText(v) ? v[JSON_TEXT] : JSON.stringify(v)));
  }
  return '{' + parts.join(',') + '}';
}

/**
 * Unit metadata checked as assertJson checks (a copy with `copy`), its top-level JsonText values
 * aside: each must hold a non-empty string and is kept as it is.
 */
function checkedMetadata(md: MetadataInput, copy: boolean): MetadataInput {
  const proto: unknown = md && typeof md === 'object' && !Array.isArray(md) ? Object.getPrototypeOf(md) : undefined;
  const keys = proto === Object.prototype || proto === null ? Object.keys(md) : null;
  if (!keys || !keys.some((k) => isJsonText(md[k]))) return copy ? checkedCloneJson(md, 'the unit metadata') : (assertJson(md, 'the unit metadata') as Record<string, Json>);
  const rest: Record<string, unknown> = {};
  for (const k of keys) {
    const v = md[k];
    if (!isJsonText(v)) rest[k] = v;
    else if (!v[JSON_TEXT]) throw new StagepushError('ENGINE_BAD_UNIT', `the unit metadata: ${k} is an empty JsonText`, { kind: 'failed', field: `metadata.${k}` });
  }
  const checked = (copy ? checkedCloneJson(rest, 'the unit metadata') : assertJson(rest, 'the unit metadata')) as Record<string, Json>;
  if (!copy) return md;
  const out: MetadataInput = {};
  for (const k of keys) out[k] = isJsonText(md[k]) ? md[k] : (checked[k] as Json);
  return out;
}

/** Units loaded with `fields`: saving one merges its metadata into the stored one. */
export const partialUnits = new WeakSet<Unit>();

export function keyCanon(def: TypeDefinition, unitKey: Record<string, unknown>, where = 'unit key'): string {
  if (!unitKey || typeof unitKey !== 'object' || Array.isArray(unitKey)) throw new StagepushError('ENGINE_BAD_UNIT_KEY', `${where} of a ${def.id} unit must be an object with ${def.unitKey.join(', ')}`, { kind: 'invalid', field: 'unitKey' });
  for (const f of def.unitKey) {
    if (unitKey[f] === undefined) throw new StagepushError('ENGINE_BAD_UNIT_KEY', `${where} of a ${def.id} unit lacks the field ${f} (the unit key of ${def.id} is ${def.unitKey.join(', ')})`, { kind: 'invalid', field: `unitKey.${f}` });
  }
  for (const f of Object.keys(unitKey)) {
    if (!def.unitKey.includes(f)) throw new StagepushError('ENGINE_BAD_UNIT_KEY', `${where} of a ${def.id} unit has the field ${f}, which is not part of the unit key (${def.unitKey.join(', ')}); put it in the metadata`, { kind: 'invalid', field: `unitKey.${f}` });
  }
  return JSON.stringify(def.unitKey.map((f) => unitKey[f]));
}

export function rowToUnit(store: ContentStore, r: UnitRow, partial = false): Unit {
  const u: Unit = {
    id: String(r.id),
    typeId: r.type_id,
    unitKey: JSON.parse(r.unit_key) as Record<string, Json>,
    metadata: JSON.parse(r.metadata) as Record<string, Json>,
    storagePath: r.sha256 ? store.pathFor(r.sha256) : null,
    relativePath: r.relative_path,
    sha256: r.sha256,
    size: r.size,
    blobs: r.blobs ? (JSON.parse(r.blobs) as string[]) : [],
  };
  if (partial) partialUnits.add(u);
  return u;
}

/** Past this many staged units, large metadata (RPM header records) is kept on disk, not in memory. */
export const SPILL_AFTER_UNITS = 500;
/** Metadata at least this long (as JSON) is spilled. */
export const SPILL_MIN_BYTES = 512;

/**
 * Where a large transaction keeps the metadata of its staged units: a private temporary SQLite
 * database (deleted when closed or when the process ends), so a push of 20,000 packages does not
 * hold 20,000 header records until it commits.
 */
class MetadataSpill {
  private readonly db: Database.Database;
  private readonly put: Database.Statement;
  private readonly get: Database.Statement;
  private static readonly closer = new FinalizationRegistry<Database.Database>((db) => {
    try {
      db.close();
    } catch {
      /* already closed */
    }
  });

  constructor(owner: object) {
    this.db = new Database('');
    // Written once a unit, read back rarely: a small page cache (the default 16 MiB grew with the transaction).
    this.db.pragma('cache_size = -2048');
    this.db.exec('CREATE TABLE m (id TEXT PRIMARY KEY, v TEXT NOT NULL)');
    // One transaction for the spill's life (never committed: the database is private and
    // temporary): no journal and lock round per unit spilled.
    this.db.exec('BEGIN');
    this.put = this.db.prepare('INSERT OR REPLACE INTO m (id, v) VALUES (?, ?)');
    this.get = this.db.prepare('SELECT v FROM m WHERE id = ?');
    MetadataSpill.closer.register(owner, this.db);
  }

  /** The spilled metadata of a unit, as the JSON text it is kept as. */
  text(id: string): string {
    return (this.get.get(id) as { v: string }).v;
  }

  /** Keep a unit's metadata (as JSON text) on disk. */
  write(id: string, json: string): void {
    this.put.run(id, json);
  }

  /**
   * A staged unit whose metadata lives here: `metadata` reads it back (a fresh object) and writes
   * it through. The accessor is one shared pair (defined before the other properties), so the
   * thousands of units of a large transaction keep one hidden class instead of a dictionary and
   * two closures each (~500 bytes per unit).
   */
  stagedUnit(fields: Omit<StagedUnit, 'metadata'>, json: string): StagedUnit {
    this.write(fields.tempId, json);
    const s = { ukey: fields.ukey } as StagedUnit;
    SPILL_OF.set(s, this);
    Object.defineProperty(s, 'metadata', SPILLED_METADATA);
    return Object.assign(s, fields);
  }
}

const SPILL_OF = new WeakMap<object, MetadataSpill>();
const SPILLED_METADATA: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: StagedUnit) {
    return JSON.parse(SPILL_OF.get(this)!.text(this.tempId)) as Record<string, Json>;
  },
  set(this: StagedUnit, v: Record<string, Json>) {
    SPILL_OF.get(this)!.write(this.tempId, JSON.stringify(v));
  },
};

/**
 * What a handed-out unit of a staged unit reads through its accessors: the staged unit, and what
 * was read or set on the handed-out unit itself.
 */
interface HandedState {
  s: StagedUnit;
  md?: Record<string, Json>;
  id?: string;
}
const HANDED_STATE = new WeakMap<object, HandedState>();
/**
 * The metadata of a handed-out unit of a spilled staged unit: read back from the spill when first
 * used, then kept (a caller may change it and save the unit). One shared accessor pair, as above.
 */
const HANDED_METADATA: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: Unit) {
    const st = HANDED_STATE.get(this)!;
    return (st.md ??= st.s.metadata);
  },
  set(this: Unit, v: Record<string, Json>) {
    HANDED_STATE.get(this)!.md = v;
  },
};
/**
 * The id of a handed-out unit of a new staged unit: its temporary id, then (once committed) its
 * stored id. Read from the staged unit rather than written into every handed-out unit after the
 * commit: that needed a WeakRef to each, and V8 keeps the target of a new WeakRef alive until the
 * current job ends, so a synchronous loop over 20,000 staged units kept every unit it was handed.
 */
const HANDED_ID: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: Unit) {
    const st = HANDED_STATE.get(this)!;
    return st.id ?? (st.s.committedId !== null ? String(st.s.committedId) : st.s.tempId);
  },
  set(this: Unit, v: string) {
    HANDED_STATE.get(this)!.id = v;
  },
};

/**
 * Order of sort keys (`type id \0 canonical unit key`) by code point, as SQLite orders the
 * committed units (its BINARY collation compares UTF-8 bytes): a page of committed units and the
 * staged units merged with it must follow one order, or keyset paging would skip or repeat units.
 * JavaScript's `<` compares UTF-16 code units, which differs only where a surrogate (a character
 * past U+FFFF) meets a character from U+E000 to U+FFFF; only then is the slow path taken.
 */
export function compareSortKeys(a: string, b: string): number {
  if (a === b) return 0;
  if (!HIGH_UNITS.test(a) || !HIGH_UNITS.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (U+D800-U+DFFF) sort after U+E000-U+FFFF by code point.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
const HIGH_UNITS = /[\ud800-\uffff]/;

/** Where a paged listing (`Staging.page`) stands; opaque to callers. */
export interface QueryCursor {
  /** Sort key of the last unit handed out (null: none yet). */
  after: string | null;
  /** The listing's candidate staged units past `after`, sorted once: reused while no unit is newly staged. */
  staged?: StagedUnit[];
  generation?: number;
  /** The listing's filters made into a test once (an $in list read into a set once, not once per page). */
  matches?: (u: Unit) => boolean;
}

/** How a unit key value is indexed (values compare as criteria's `same` does: equal JSON). */
function keyFieldValue(v: unknown): string {
  return v === undefined ? '\0undefined' : JSON.stringify(v);
}

function isPlainValue(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** The values a filter condition asks for when it is a plain value or `{ $in: [plain values] }` alone; null otherwise. */
function wantedValues(cond: unknown): unknown[] | null {
  if (isPlainValue(cond)) return [cond];
  if (!cond || typeof cond !== 'object' || Array.isArray(cond) || Object.keys(cond).length !== 1) return null;
  const list = (cond as { $in?: unknown }).$in;
  return Array.isArray(list) && list.every(isPlainValue) ? list : null;
}

function addTo(idx: Map<string, StagedUnit[]>, k: string, s: StagedUnit): void {
  const l = idx.get(k);
  if (l) l.push(s);
  else idx.set(k, [s]);
}

/** Every staged change of one engine transaction (one operation, or a push batch). */
export class Staging {
  private spillStore: MetadataSpill | null = null;
  private readonly spilled = new WeakSet<StagedUnit>();
  readonly units = new Map<string, StagedUnit>();
  /** Staged units by type, and (built on first use, then kept up to date) by the value of one unit key field: query() pre-selects with them. */
  private readonly byType = new Map<string, StagedUnit[]>();
  private readonly byKeyField = new Map<string, Map<string, StagedUnit[]>>();
  /** Ids of the stored units that have a staged state. */
  private readonly stagedExistingIds: number[] = [];
  readonly repos = new Map<string, RepoStage>();
  readonly links: Array<[string, string]> = [];
  readonly scratchpads = new Map<string, { repoId: string; owner: string; value: string }>();
  /** Importer configurations set by the operation (repository id → config), stored with its commit. */
  readonly importerConfigs = new Map<string, Record<string, unknown>>();
  /** Counts each newly staged unit: a paged listing's sorted staged units are stale once it moved. */
  private generation = 0;
  private nextTemp = 1;

  constructor(private host: ConduitHost) {}

  repo(repoId: string): RepoStage {
    let s = this.repos.get(repoId);
    if (!s) {
      s = new RepoStage(repoId);
      this.repos.set(repoId, s);
    }
    return s;
  }

  ukeyOf(u: { typeId: string; unitKey: Record<string, unknown> }): string {
    const def = this.host.typeDef(u.typeId);
    return `${u.typeId}\0${keyCanon(def, u.unitKey)}`;
  }

  /** The current (staged or stored) state of a unit, or undefined when it does not exist. */
  lookup(ukey: string): { staged?: StagedUnit; row?: UnitRow } {
    const staged = this.units.get(ukey);
    if (staged) return { staged };
    const i = ukey.indexOf('\0');
    const row = this.host.st.findUnit(ukey.slice(0, i), ukey.slice(i + 1));
    return row ? { row } : {};
  }

  /** The unit is in the repository as the operation sees it (`found`: its `lookup`, when the caller has it). */
  inRepo(repoId: string, ukey: string, found?: { staged?: StagedUnit; row?: UnitRow }): boolean {
    const rs = this.repo(repoId);
    if (rs.removes.has(ukey)) return false;
    if (rs.adds.has(ukey)) return true;
    const { staged, row } = found ?? this.lookup(ukey);
    const id = staged ? staged.existingId : row ? row.id : null;
    return id !== null && rs.committedIds(this.host.st).has(id);
  }

  private indexStaged(s: StagedUnit): void {
    this.generation++;
    if (s.existingId !== null) this.stagedExistingIds.push(s.existingId);
    let list = this.byType.get(s.typeId);
    if (!list) this.byType.set(s.typeId, (list = []));
    list.push(s);
    for (const [k, idx] of this.byKeyField) {
      const i = k.indexOf('\0');
      if (k.slice(0, i) === s.typeId) addTo(idx, keyFieldValue(s.unitKey[k.slice(i + 1)]), s);
    }
  }

  /** The staged units of a type by the value of one of its unit key fields. */
  private keyFieldIndex(typeId: string, field: string): Map<string, StagedUnit[]> {
    const k = `${typeId}\0${field}`;
    let idx = this.byKeyField.get(k);
    if (!idx) {
      idx = new Map();
      for (const s of this.byType.get(typeId) ?? []) addTo(idx, keyFieldValue(s.unitKey[field]), s);
      this.byKeyField.set(k, idx);
    }
    return idx;
  }

  /**
   * The staged units a query can select: all of them; those of its types; or, when a filter asks
   * a unit key field of every one of those types for a value or a list of values ($in), only the
   * units holding them. A superset: the query still matches every filter on each.
   */
  private candidates(criteria: UnitCriteria | undefined): Iterable<StagedUnit> {
    const types = criteria?.typeIds;
    if (!types) return this.units.values();
    for (const [field, cond] of Object.entries(criteria.filters ?? {})) {
      if (field.startsWith('_') || !types.every((t) => this.host.typeDef(t).unitKey.includes(field))) continue;
      const values = wantedValues(cond);
      if (!values) continue;
      const out: StagedUnit[] = [];
      const keys = new Set(values.map(keyFieldValue));
      for (const t of new Set(types)) {
        const idx = this.keyFieldIndex(t, field);
        for (const v of keys) out.push(...(idx.get(v) ?? []));
      }
      return out;
    }
    const out: StagedUnit[] = [];
    for (const t of new Set(types)) out.push(...(this.byType.get(t) ?? []));
    return out;
  }

  /** A read-only view of a staged unit for filtering (metadata and storage path worked out only when a filter needs them). */
  private view(s: StagedUnit): Unit {
    const store = this.host.store;
    return {
      id: s.existingId !== null ? String(s.existingId) : s.tempId,
      typeId: s.typeId,
      unitKey: s.unitKey,
      get metadata() {
        return s.metadata;
      },
      get storagePath() {
        return s.sha256 ? store.pathFor(s.sha256) : null;
      },
      relativePath: s.relativePath,
      sha256: s.sha256,
      size: s.size,
    };
  }

  /** A staged unit's metadata as JSON text (a spilled one's stored text as it is: not parsed to be serialised again). */
  metadataJson(s: StagedUnit): string {
    return this.spilled.has(s) && this.spillStore ? this.spillStore.text(s.tempId) : JSON.stringify(s.metadata);
  }

  /**
   * The unit handed out for a staged unit: a copy (changing it changes nothing staged). With
   * `fields`, only those metadata fields: none read at all for `[]` (a listing of 20,000 staged
   * packages without metadata reads no header record back from the spill).
   */
  stagedToUnit(s: StagedUnit, fields?: string[]): Unit {
    const spilled = this.spilled.has(s);
    const rest = {
      storagePath: s.sha256 ? this.host.store.pathFor(s.sha256) : null,
      relativePath: s.relativePath,
      sha256: s.sha256,
      size: s.size,
      blobs: [...s.blobs],
    };
    const head = {} as Unit;
    const state: HandedState = { s };
    // A new unit's id is its temporary id until the commit (see HANDED_ID).
    if (s.existingId === null) Object.defineProperty(head, 'id', HANDED_ID);
    else head.id = String(s.existingId);
    head.typeId = s.typeId;
    head.unitKey = cloneJson(s.unitKey);
    if (fields) {
      const md: Record<string, Json> = {};
      if (fields.length) {
        const all = s.metadata;
        for (const f of fields) if (Object.prototype.hasOwnProperty.call(all, f)) md[f] = cloneJson(all[f]!);
      }
      head.metadata = md;
    } else if (spilled) {
      // Read back from the spill when first used (outcomes and handed-out units of a large
      // transaction stay small until someone looks at their metadata).
      Object.defineProperty(head, 'metadata', HANDED_METADATA);
    } else head.metadata = cloneJson(s.metadata);
    const u = Object.assign(head, rest);
    if (s.existingId === null || (spilled && !fields)) HANDED_STATE.set(u, state);
    if (fields) partialUnits.add(u);
    return u;
  }

  /**
   * After the commit: the stored ids of the staged units (by staged key), which the units handed
   * out for new ones report from now on.
   */
  settle(ids: Map<string, number>): void {
    for (const [ukey, id] of ids) {
      const s = this.units.get(ukey);
      if (s) s.committedId = id;
    }
  }

  /** Stage a unit (new or updated) and associate it with the repository. */
  save(repoId: string, u: { typeId: string; unitKey: Record<string, Json>; metadata: MetadataInput; relativePath: string | null; sha256: string | null; size: number | null; blobs: string[] }, merge: boolean): { unit: Unit; outcome: UnitOutcomeKind } {
    const def = this.host.typeDef(u.typeId);
    // One flat string for the staged unit's key; its canonical part is a slice of it (JSON.stringify
    // and template literals build trees of string pieces, ~200 bytes more per staged unit).
    const ukey = [u.typeId, '\0', keyCanon(def, u.unitKey)].join('');
    const kc = ukey.slice(u.typeId.length + 1);
    // One lookup (a query of the units table when not staged) serves both questions.
    const found = this.lookup(ukey);
    const { staged, row } = found;
    const before = this.inRepo(repoId, ukey, found);
    const cur = staged
      ? { metadata: staged.metadata, sha256: staged.sha256, size: staged.size, relativePath: staged.relativePath, blobs: staged.blobs }
      : row
        ? { metadata: JSON.parse(row.metadata) as Record<string, Json>, sha256: row.sha256, size: row.size, relativePath: row.relative_path, blobs: row.blobs ? (JSON.parse(row.blobs) as string[]) : [] }
        : null;
    // The metadata as an object and as JSON text, each made only when needed: metadata holding
    // JsonText values (a header record the plugin had as text) is kept as text, never parsed, when
    // it goes to the spill.
    let text = metadataTextOf(u.metadata);
    let metadata: Record<string, Json> | null = text === null ? (u.metadata as Record<string, Json>) : null;
    if (merge && cur) {
      metadata = { ...cur.metadata, ...(metadata ?? (JSON.parse(text!) as Record<string, Json>)) };
      text = null;
    }
    /** The metadata parsed from its text: a fresh object, nobody else's. */
    const parsedHere = metadata === null;
    const mdObject = (): Record<string, Json> => (metadata ??= JSON.parse(text!) as Record<string, Json>);
    const mdText = (): string => (text ??= JSON.stringify(metadata));
    const next = { sha256: u.sha256, size: u.size, relativePath: u.relativePath, blobs: [...u.blobs].sort() };
    const changed = !cur || JSON.stringify(cur.metadata) !== mdText() || cur.sha256 !== next.sha256 || cur.relativePath !== next.relativePath || JSON.stringify([...cur.blobs].sort()) !== JSON.stringify(next.blobs);
    let s: StagedUnit;
    if (staged) {
      s = staged;
      if (changed) Object.assign(s, next, { metadata: mdObject(), dirty: true });
    } else {
      // Large metadata of a large transaction goes to the spill as JSON text straight away (that
      // text is the copy: no structured clone of it first).
      const json = this.units.size + 1 > SPILL_AFTER_UNITS ? mdText() : null;
      const spill = json !== null && json.length >= SPILL_MIN_BYTES;
      const fields = {
        ukey,
        existingId: row ? row.id : null,
        tempId: `staged:${this.nextTemp++}`,
        typeId: u.typeId,
        keyCanon: kc,
        unitKey: cloneJson(u.unitKey),
        sha256: next.sha256,
        size: next.size,
        relativePath: next.relativePath,
        blobs: next.blobs,
        dirty: changed,
        committedId: null,
      };
      if (spill) {
        s = (this.spillStore ??= new MetadataSpill(this)).stagedUnit(fields, json);
        this.spilled.add(s);
      } else s = Object.assign(fields, { metadata: parsedHere ? mdObject() : cloneJson(mdObject()) });
      this.units.set(ukey, s);
      this.indexStaged(s);
    }
    const rs = this.repo(repoId);
    rs.removes.delete(ukey);
    rs.adds.add(ukey);
    const outcome: UnitOutcomeKind = !before ? 'added' : changed ? 'replaced' : 'unchanged';
    return { unit: this.stagedToUnit(s), outcome };
  }

  remove(repoId: string, u: { typeId: string; unitKey: Record<string, unknown> }): boolean {
    const ukey = this.ukeyOf(u);
    if (!this.inRepo(repoId, ukey)) return false;
    const rs = this.repo(repoId);
    rs.adds.delete(ukey);
    rs.removes.add(ukey);
    return true;
  }

  link(from: { typeId: string; unitKey: Record<string, unknown> }, to: { typeId: string; unitKey: Record<string, unknown> }): void {
    const a = this.ukeyOf(from);
    const b = this.ukeyOf(to);
    for (const k of [a, b]) {
      const { staged, row } = this.lookup(k);
      if (!staged && !row) throw new StagepushError('ENGINE_UNIT_NOT_SAVED', `linkUnit: save the unit ${k.replace('\0', ' ')} first`, { kind: 'failed' });
    }
    this.links.push([a, b]);
  }

  /** The filtered fields that are unit key fields of every type the criteria name (none without types). */
  private keyFields(criteria: UnitCriteria | undefined): string[] {
    if (!criteria?.typeIds?.length || !criteria.filters) return [];
    const defs = criteria.typeIds.map((t) => {
      try {
        return this.host.typeDef(t).unitKey;
      } catch {
        return [];
      }
    });
    return Object.keys(criteria.filters).filter((f) => defs.every((k) => k.includes(f)));
  }

  /**
   * The candidate staged units of a listing (see candidates) past the sort key `after`, sorted:
   * only references, sorted once per listing (not once per page).
   */
  private sortedCandidates(criteria: UnitCriteria | undefined, after: string | null): StagedUnit[] {
    const out: StagedUnit[] = [];
    for (const s of this.candidates(criteria)) {
      if (criteria?.typeIds && !criteria.typeIds.includes(s.typeId)) continue;
      if (after !== null && compareSortKeys(s.ukey, after) <= 0) continue;
      out.push(s);
    }
    return out.sort((x, y) => compareSortKeys(x.ukey, y.ukey));
  }

  /**
   * The next `want` units (at most) of a listing after the cursor, merged in sort order from the
   * committed units (a keyset query: those after the cursor's key) and the staged ones (the
   * candidates sorted once, walked from the cursor's key): each a stored row or a staged unit,
   * none made into a unit yet. The cursor is not moved.
   */
  private entries(repoId: string, criteria: UnitCriteria | undefined, cursor: QueryCursor, want: number): Array<UnitRow | StagedUnit> {
    const st = this.host.st;
    const rs = this.repos.get(repoId);
    // Nothing staged for this repository: its committed units as they are.
    const plain = (!rs || rs.empty) && this.stagedExistingIds.length === 0;
    const after = cursor.after;
    let from: { typeId: string; keyCanon: string } | undefined;
    if (after !== null) {
      const i = after.indexOf('\0');
      from = { typeId: after.slice(0, i), keyCanon: after.slice(i + 1) };
    }
    const bare = criteria ? { ...criteria, skip: undefined, limit: undefined } : {};
    // Committed units this operation removed are not in the repository any more (a page short of
    // them is topped up from where it ended).
    const removed = rs?.removes;
    const rows: UnitRow[] = [];
    for (;;) {
      const ask = want - rows.length;
      const batch = st.queryUnits({ repoId, criteria: { ...bare, limit: ask === Infinity ? undefined : ask }, excludeIds: plain ? undefined : this.stagedExistingIds, after: from, keyFields: this.keyFields(criteria) });
      for (const r of batch) if (!removed?.has(`${r.type_id}\0${r.key_canon}`)) rows.push(r);
      if (ask === Infinity || batch.length < ask || rows.length >= want) break;
      const last = batch[batch.length - 1]!;
      from = { typeId: last.type_id, keyCanon: last.key_canon };
    }
    const picked: StagedUnit[] = [];
    if (!plain) {
      if (!cursor.staged || cursor.generation !== this.generation) {
        cursor.staged = this.sortedCandidates(criteria, after);
        cursor.generation = this.generation;
      }
      const list = cursor.staged;
      const matches = criteria?.filters ? (cursor.matches ??= compileFilters(criteria.filters)) : null;
      // The first candidate past the cursor's key (the list is sorted).
      let lo = 0;
      if (after !== null) {
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareSortKeys(list[mid]!.ukey, after) <= 0) lo = mid + 1;
          else hi = mid;
        }
      }
      for (let i = lo; i < list.length && picked.length < want; i++) {
        const s = list[i]!;
        if (!this.inRepo(repoId, s.ukey)) continue;
        // Filtered on a view of the staged unit first: no copy (and no metadata read back from the
        // spill) for the many units a query does not select (an erratum looking up its packages
        // among thousands of staged RPMs).
        if (matches && !matches(this.view(s))) continue;
        picked.push(s);
      }
    }
    const out: Array<UnitRow | StagedUnit> = [];
    let i = 0;
    let j = 0;
    while (out.length < want && (i < rows.length || j < picked.length)) {
      const r = rows[i];
      const s = picked[j];
      if (s && (!r || compareSortKeys(s.ukey, `${r.type_id}\0${r.key_canon}`) < 0)) {
        out.push(s);
        j++;
      } else {
        out.push(r!);
        i++;
      }
    }
    return out;
  }

  /** Units of the repository as the operation sees them (committed content plus staged changes), by type id, then unit key. */
  query(repoId: string, criteria: UnitCriteria | undefined, version?: number): Unit[] {
    validateCriteria(criteria);
    const rs = this.repos.get(repoId);
    if (version !== undefined || ((!rs || rs.empty) && this.stagedExistingIds.length === 0)) {
      const partial = !!criteria?.fields;
      return this.host.st.queryUnits({ repoId, version, criteria, keyFields: this.keyFields(criteria) }).map((r) => rowToUnit(this.host.store, r, partial));
    }
    return this.page(repoId, criteria, { after: null }, criteria?.limit ?? Infinity, criteria?.skip ?? 0);
  }

  /**
   * The next page of a listing (`query` by pages): at most `limit` units after the cursor (and
   * past `skip` more), the cursor moved to the last. Keyset-paged, so listing N units costs N, not
   * N²/page, and only the page's units are made: paging by skip and limit listed, copied and
   * sorted every unit the query selects for each page, which held N²/500 units (with their
   * metadata read back from the spill) of a 20,000-package sync until it ran out of memory.
   */
  page(repoId: string, criteria: UnitCriteria | undefined, cursor: QueryCursor, limit: number, skip = 0): Unit[] {
    validateCriteria(criteria);
    if (limit <= 0) return [];
    const found = this.entries(repoId, criteria, cursor, skip + limit);
    const fields = criteria?.fields;
    const out: Unit[] = [];
    for (let k = skip; k < found.length; k++) {
      const e = found[k]!;
      out.push('ukey' in e ? this.stagedToUnit(e, fields) : rowToUnit(this.host.store, e, !!fields));
    }
    const last = found[found.length - 1];
    if (last) cursor.after = 'ukey' in last ? last.ukey : `${last.type_id}\0${last.key_canon}`;
    return out;
  }

  /** How many units `query` would list (skip and limit aside), none of them made into a unit. */
  count(repoId: string, criteria: UnitCriteria | undefined): number {
    validateCriteria(criteria);
    const bare = { ...criteria, skip: undefined, limit: undefined, fields: [] };
    const cursor: QueryCursor = { after: null };
    const pageSize = 1000;
    let n = 0;
    for (;;) {
      const found = this.entries(repoId, bare, cursor, pageSize);
      n += found.length;
      if (found.length < pageSize) return n;
      const last = found[found.length - 1]!;
      cursor.after = 'ukey' in last ? last.ukey : `${last.type_id}\0${last.key_canon}`;
    }
  }

  linked(unit: Unit, criteria: UnitCriteria | undefined): Unit[] {
    const ukey = this.ukeyOf(unit);
    const targets = new Set<string>();
    const { staged, row } = this.lookup(ukey);
    const id = staged ? staged.existingId : row ? row.id : null;
    const out: Unit[] = [];
    const seen = new Set<string>();
    if (id !== null) {
      const ids = this.host.st.linkedIds(id);
      if (ids.length) {
        for (const r of this.host.st.queryUnits({ unitIds: ids, criteria })) {
          seen.add(`${r.type_id}\0${r.key_canon}`);
          out.push(rowToUnit(this.host.store, r, !!criteria?.fields));
        }
      }
    }
    for (const [a, b] of this.links) if (a === ukey) targets.add(b);
    let matches: ((u: Unit) => boolean) | undefined;
    for (const t of targets) {
      if (seen.has(t)) continue;
      const { staged: s2, row: r2 } = this.lookup(t);
      const u = s2 ? this.view(s2) : r2 ? rowToUnit(this.host.store, r2) : null;
      if (!u) continue;
      if (criteria?.typeIds && !criteria.typeIds.includes(u.typeId)) continue;
      if (!(matches ??= compileFilters(criteria?.filters))(u)) continue;
      // A staged unit is copied only once selected, projected as it is made (its id stays live).
      out.push(s2 ? this.stagedToUnit(s2, criteria?.fields) : projectUnit(u, criteria?.fields));
    }
    return out;
  }

  getScratch(repoId: string, owner: string): Json | undefined {
    const s = this.scratchpads.get(`${repoId}\0${owner}`);
    const v = s ? s.value : this.host.st.getScratchpad(repoId, owner);
    return v === undefined ? undefined : (JSON.parse(v) as Json);
  }

  setScratch(repoId: string, owner: string, value: unknown): void {
    const what = owner === 'repo' ? 'the repository scratchpad' : 'the scratchpad';
    if (value === undefined) throw new StagepushError('ENGINE_NOT_JSON', `${what} must be JSON-serialisable: undefined is not JSON`, { kind: 'failed' });
    assertJson(value, what);
    this.scratchpads.set(`${repoId}\0${owner}`, { repoId, owner, value: JSON.stringify(value) });
  }
}

/** Operation context shared by the conduit of one plugin call. */
export interface OpContext {
  repoId: string;
  pluginId: string;
  /** Types the plugin declared it handles. */
  pluginTypes: string[];
  owner: string;
  signal: AbortSignal;
  setProgress(p: Json): void;
  /**
   * The engine's stat of the operation's input file, taken as the operation started (an upload):
   * file facts and `saveUnitFromFile` of that same path use it instead of asking again.
   */
  fileStat?: { path: string; st: fs.Stats };
}

class ConduitBase {
  protected expired = false;
  readonly outcomes: UnitOutcome[] = [];
  protected readonly temps = new Set<string>();
  private outcomeIndex = new Map<string, number>();

  constructor(
    protected host: ConduitHost,
    protected staging: Staging,
    protected ctx: OpContext,
  ) {}

  protected live(): void {
    if (this.expired)
      throw new StagepushError('ENGINE_CONDUIT_EXPIRED', `this conduit of ${this.ctx.pluginId} on repository ${this.ctx.repoId} expired when its operation returned; conduits must not be kept between operations`, { kind: 'failed', hint: 'keep state in scratchpads, not in conduits' });
  }

  /** Called by the engine when the operation returned: the conduit stops working; unsaved temp files are deleted. */
  expire(): void {
    this.expired = true;
    for (const t of this.temps) fs.rmSync(t, { force: true });
    this.temps.clear();
  }

  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  setProgress(progress: Json): void {
    this.live();
    assertJson(progress, 'progress');
    this.ctx.setProgress(progress);
  }
  getScratchpad(): Json | undefined {
    this.live();
    return this.staging.getScratch(this.ctx.repoId, this.ctx.owner);
  }
  setScratchpad(value: Json): void {
    this.live();
    this.staging.setScratch(this.ctx.repoId, this.ctx.owner, value);
  }
  getRepoScratchpad(): Json | undefined {
    this.live();
    return this.staging.getScratch(this.ctx.repoId, 'repo');
  }
  setRepoScratchpad(value: Json): void {
    this.live();
    this.staging.setScratch(this.ctx.repoId, 'repo', value);
  }
  blobPath(sha256: string): string {
    this.live();
    return this.host.store.pathFor(sha256);
  }
  getUnits(criteria?: UnitCriteria): Unit[] {
    this.live();
    return this.staging.query(this.ctx.repoId, criteria);
  }

  iterUnits(criteria?: UnitCriteria): Iterable<Unit> {
    return this.pages(this.ctx.repoId, criteria);
  }

  /** A repository's units in keyset pages of 500: each starts after the last unit of the one before (see Staging.page). */
  protected *pages(repoId: string, criteria?: UnitCriteria): Iterable<Unit> {
    this.live();
    const page = 500;
    const cursor: QueryCursor = { after: null };
    let skip = criteria?.skip ?? 0;
    let left = criteria?.limit ?? Infinity;
    for (;;) {
      const want = Math.min(page, left);
      if (want <= 0) return;
      const batch = this.staging.page(repoId, criteria, cursor, want, skip);
      skip = 0;
      for (const u of batch) yield u;
      left -= batch.length;
      if (batch.length < want) return;
      this.live();
    }
  }
  countUnits(criteria?: UnitCriteria): number {
    this.live();
    const rs = this.staging.repos.get(this.ctx.repoId);
    if ((!rs || rs.empty) && this.staging.units.size === 0) return this.host.st.countUnits({ repoId: this.ctx.repoId, criteria });
    return this.staging.count(this.ctx.repoId, criteria);
  }
  getLinkedUnits(unit: Unit, criteria?: UnitCriteria): Unit[] {
    this.live();
    return this.staging.linked(unit, criteria);
  }

  protected record(unit: Unit, outcome: UnitOutcomeKind): void {
    const k = `${unit.typeId}\0${JSON.stringify(unit.unitKey)}`;
    const i = this.outcomeIndex.get(k);
    if (i === undefined) {
      this.outcomeIndex.set(k, this.outcomes.length);
      this.outcomes.push({ outcome, unit });
    } else {
      const prev = this.outcomes[i]!;
      // added then saved again stays "added"; anything then removed is "removed".
      const kind: UnitOutcomeKind = outcome === 'removed' ? (prev.outcome === 'added' ? 'unchanged' : 'removed') : prev.outcome === 'added' ? 'added' : prev.outcome === 'removed' ? 'replaced' : outcome === 'unchanged' ? prev.outcome : outcome;
      this.outcomes[i] = { outcome: kind, unit };
    }
  }
}

export class ImporterConduitImpl extends ConduitBase implements ImporterConduit {
  getStoredUnit(typeId: string, unitKey: Record<string, Json>): Unit | null {
    this.live();
    this.checkType(typeId);
    const { staged, row } = this.staging.lookup(this.staging.ukeyOf({ typeId, unitKey }));
    if (staged) return this.staging.stagedToUnit(staged);
    return row ? rowToUnit(this.host.store, row) : null;
  }

  private checkType(typeId: string): TypeDefinition {
    const def = this.host.typeDef(typeId);
    if (!this.ctx.pluginTypes.includes(typeId))
      throw new StagepushError('ENGINE_TYPE_NOT_SUPPORTED', `plugin ${this.ctx.pluginId} does not handle content type ${typeId} (its types: ${this.ctx.pluginTypes.join(', ') || 'none'})`, { kind: 'invalid' });
    return def;
  }

  initUnit(typeId: string, unitKey: Record<string, Json>, metadata: MetadataInput, relativePath: string | null): Unit {
    this.live();
    const def = this.checkType(typeId);
    keyCanon(def, unitKey);
    // Checked while copied (one walk of the metadata, not two).
    const key = checkedCloneJson(unitKey, 'the unit key');
    // JsonText values stay as they are until the unit is saved (see JsonText in contract.ts).
    const md = checkedMetadata(metadata ?? {}, true) as Record<string, Json>;
    let storagePath: string | null = null;
    if (relativePath !== null && relativePath !== undefined) {
      if (typeof relativePath !== 'string' || !relativePath) throw new StagepushError('ENGINE_BAD_RELATIVE_PATH', `initUnit: relativePath must be a non-empty string or null`, { kind: 'failed' });
      storagePath = this.host.store.tempPath(path.basename(relativePath));
      this.temps.add(storagePath);
    }
    return { typeId, unitKey: key, metadata: md, storagePath, relativePath: relativePath ?? null };
  }

  private checkBlobs(unit: Unit): string[] {
    const blobs = unit.blobs ?? [];
    if (!Array.isArray(blobs)) throw new StagepushError('ENGINE_BAD_UNIT', 'unit.blobs must be an array of sha256 digests', { kind: 'failed', field: 'blobs' });
    for (const b of blobs) {
      if (!this.host.store.has(b)) throw new StagepushError('ENGINE_BLOB_MISSING', `unit ${unit.typeId} ${JSON.stringify(unit.unitKey)} references blob ${b}, which is not in the content store (store it with storeBlob first)`, { kind: 'failed', field: 'blobs' });
    }
    return blobs;
  }

  saveUnit(unit: Unit): Unit {
    return this.saveChecked(unit, false);
  }

  /** `saveUnit`; `stored`: the unit's file was just put into the store by this conduit (not checked again). */
  private saveChecked(unit: Unit, stored: boolean): Unit {
    this.live();
    this.checkType(unit.typeId);
    assertJson(unit.unitKey, 'the unit key');
    checkedMetadata(unit.metadata ?? {}, false);
    let sha256: string | null = null;
    let size: number | null = null;
    if (unit.storagePath && this.temps.has(unit.storagePath)) {
      const r = this.host.store.commitTemp(unit.storagePath, unit.relativePath ?? unit.storagePath);
      this.temps.delete(unit.storagePath);
      sha256 = r.sha256;
      size = r.size;
    } else if (unit.storagePath) {
      const sha = unit.sha256 ?? null;
      if (!sha || this.host.store.pathFor(sha) !== unit.storagePath || (!stored && !this.host.store.has(sha))) {
        throw new StagepushError('ENGINE_BAD_STORAGE_PATH', `saveUnit: ${unit.storagePath} is neither a path from initUnit nor a stored file; use saveUnitFromFile for files outside the content store`, { kind: 'failed', file: unit.storagePath });
      }
      sha256 = sha;
      size = unit.size ?? null;
    }
    const blobs = this.checkBlobs(unit);
    const { unit: saved, outcome } = this.staging.save(
      this.ctx.repoId,
      { typeId: unit.typeId, unitKey: unit.unitKey, metadata: unit.metadata ?? {}, relativePath: unit.relativePath ?? null, sha256, size, blobs },
      partialUnits.has(unit),
    );
    this.record(saved, outcome);
    return saved;
  }

  saveUnitFromFile(unit: Unit, filePath: string): Unit {
    this.live();
    this.checkType(unit.typeId);
    const r = this.host.store.ingestFile(filePath, { st: this.statOf(filePath) });
    return this.saveChecked({ ...unit, storagePath: r.path, sha256: r.sha256, size: r.size }, true);
  }

  /** The operation's stat of its input file when `filePath` is that file; else undefined (asked afresh). */
  private statOf(filePath: string): fs.Stats | undefined {
    const f = this.ctx.fileStat;
    return f && f.path === filePath ? f.st : undefined;
  }

  /**
   * What the caller of the operation already knows about a file it hashed and parsed (the push's
   * loader): sha256, size and e.g. the RPM header record, when the file is unchanged since (same
   * device, inode, size, mtime). Importers use it to skip re-reading the file; `saveUnitFromFile`
   * then links it in without hashing it again. Undefined for unknown files (plain uploads).
   */
  fileFacts(filePath: string): { sha256: string; size: number; extra?: unknown } | undefined {
    this.live();
    const f = knownFileFacts(filePath, this.statOf(filePath));
    if (!f) return undefined;
    // Read once: a provider may work it out on each read (the push parses a stored header record).
    const extra = f.extra;
    return { sha256: f.sha256, size: f.size, ...(extra !== undefined ? { extra } : {}) };
  }

  storeBlob(filePath: string): { sha256: string; size: number; linked: boolean } {
    this.live();
    const r = this.host.store.ingestFile(filePath, { st: this.statOf(filePath) });
    return { sha256: r.sha256, size: r.size, linked: r.linked };
  }

  linkUnit(from: Unit, to: Unit, bidirectional = false): void {
    this.live();
    this.staging.link(from, to);
    if (bidirectional) this.staging.link(to, from);
  }

  removeUnit(unit: Unit): void {
    this.live();
    if (this.staging.remove(this.ctx.repoId, unit)) this.record(unit, 'removed');
  }
}

export class ImportConduitImpl extends ImporterConduitImpl implements ImportConduit {
  constructor(host: ConduitHost, staging: Staging, ctx: OpContext, private sourceRepoId: string) {
    super(host, staging, ctx);
  }
  getSourceUnits(criteria?: UnitCriteria): Unit[] {
    this.live();
    return this.staging.query(this.sourceRepoId, criteria);
  }
  /** Keyset pages of the source repository, as iterUnits pages the destination (a copy of a large repository held every unit at once). */
  iterSourceUnits(criteria?: UnitCriteria): Iterable<Unit> {
    return this.pages(this.sourceRepoId, criteria);
  }
}

/** The pin of what a repository's distributor keeps for old metadata (a pin name allows no other characters). */
export function publishPinName(repoId: string, owner: string): string {
  return `publish-${createHash('sha256').update(`${repoId}\0${owner}`).digest('hex').slice(0, 24)}`;
}

export class PublishConduitImpl extends ConduitBase implements PublishConduit {
  constructor(
    host: ConduitHost,
    staging: Staging,
    ctx: OpContext,
    readonly repoVersion: number,
    readonly publishRoot: string,
    readonly baseUrls: { http?: string; https?: string },
    private others: () => Record<string, string>,
  ) {
    super(host, staging, ctx);
  }
  get contentRoot(): string {
    return this.host.store.root;
  }
  otherRelativeUrls(): Record<string, string> {
    this.live();
    return this.others();
  }
  keepStoredFiles(sha256s: string[], untilMs: number): void {
    this.live();
    const name = publishPinName(this.ctx.repoId, this.ctx.owner);
    if (!sha256s.length) this.host.store.unpin(name);
    else this.host.store.pin(name, sha256s, Math.min(untilMs, 253402300799000));
  }
  getUnitsById(ids: string[]): Unit[] {
    this.live();
    const nums = ids.map(Number).filter((n) => Number.isSafeInteger(n));
    return this.host.st.repoUnitsByIds(this.ctx.repoId, nums).map((r) => rowToUnit(this.host.store, r));
  }
  *scanUnitStamps(typeIds: string[], pageSize = 1000): Iterable<UnitStamp[]> {
    this.live();
    const limit = Math.max(1, Math.floor(pageSize));
    let after: { typeId: string; keyCanon: string } | null = null;
    for (;;) {
      const rows = this.host.st.scanUnitStamps(this.ctx.repoId, typeIds, after, limit);
      if (!rows.length) return;
      yield rows.map(([id, typeId, , unitKey, sha256, size, updated]) => ({ id: String(id), typeId, unitKey: JSON.parse(unitKey) as Record<string, Json>, sha256, size, stamp: `${updated}/${sha256 ?? ''}/${size ?? ''}` }));
      if (rows.length < limit) return;
      const last = rows[rows.length - 1]!;
      after = { typeId: last[1], keyCanon: last[2] };
      this.live();
    }
  }
}
