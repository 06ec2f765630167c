/**
 * Unit criteria: the same filter semantics in SQL (committed units) and in JavaScript (staged
 * units). Filter fields are looked up in the unit key, then the metadata; `_id`, `_typeId`,
 * `_sha256`, `_size` and `_relativePath` address the unit itself.
 */
import { StagepushError } from '../errors.js';
import type { Unit, UnitCriteria } from './contract.js';

const OPS = new Set(['$in', '$nin', '$ne', '$regex', '$gt', '$gte', '$lt', '$lte', '$eq', '$exists']);
/** Fields of the unit itself (not of its key or metadata) start with an underscore. */
const COLUMN_FIELDS: Record<string, string> = { _id: 'u.id', _typeId: 'u.type_id', _sha256: 'u.sha256', _size: 'u.size', _relativePath: 'u.relative_path' };
/** The JSON class of each such field's values (`_id` compares as a number, given as text or not). */
const COLUMN_CLASS: Record<string, string> = { _id: 'number', _typeId: 'text', _sha256: 'text', _size: 'number', _relativePath: 'text' };

function badCriteria(msg: string): StagepushError {
  return new StagepushError('ENGINE_BAD_CRITERIA', msg, { kind: 'invalid', field: 'filters' });
}

function isOpObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith('$'));
}

export function validateCriteria(c: UnitCriteria | undefined): void {
  if (!c) return;
  for (const [f, v] of Object.entries(c.filters ?? {})) {
    if (isOpObject(v)) {
      for (const op of Object.keys(v)) if (!OPS.has(op)) throw badCriteria(`unknown filter operator ${op} on field ${f} (known: ${[...OPS].join(', ')})`);
      if ('$in' in v && !Array.isArray(v.$in)) throw badCriteria(`$in on field ${f} needs an array`);
      if ('$nin' in v && !Array.isArray(v.$nin)) throw badCriteria(`$nin on field ${f} needs an array`);
      if ('$regex' in v) {
        try {
          new RegExp(String(v.$regex));
        } catch (e) {
          throw badCriteria(`bad $regex on field ${f}: ${(e as Error).message}`);
        }
      }
    }
  }
  if (c.limit !== undefined && (!Number.isInteger(c.limit) || c.limit < 0)) throw badCriteria('limit must be a non-negative integer');
  if (c.skip !== undefined && (!Number.isInteger(c.skip) || c.skip < 0)) throw badCriteria('skip must be a non-negative integer');
}

function jsonPath(field: string): string {
  return `'$."${field.replace(/[\\"']/g, (c) => (c === "'" ? "''" : '\\' + c))}"'`;
}

/** SQL expression for a field's value. */
function fieldExpr(field: string): string {
  const col = COLUMN_FIELDS[field];
  if (col) return col;
  const p = jsonPath(field);
  return `(CASE WHEN json_type(u.unit_key, ${p}) IS NOT NULL THEN json_extract(u.unit_key, ${p}) ELSE json_extract(u.metadata, ${p}) END)`;
}

/**
 * SQL expression for the JSON class of a field's value ('number', 'text', 'boolean', 'object',
 * 'array', 'null'; NULL when absent), as `jsonClass` gives it in JavaScript: a comparison holds
 * only between values of one class (SQLite alone would compare the text "[1]" with an array,
 * 1 with true, and order any text after any number).
 */
function classExpr(field: string): string {
  const p = jsonPath(field);
  const t = `COALESCE(json_type(u.unit_key, ${p}), json_type(u.metadata, ${p}))`;
  return `(CASE ${t} WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE ${t} END)`;
}

/** The JSON class of a value (see classExpr); null for undefined. */
function jsonClass(v: unknown): string | null {
  if (v === undefined) return null;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' ? 'number' : typeof v === 'string' ? 'text' : typeof v === 'boolean' ? 'boolean' : 'object';
}

function sqlValue(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/** SQL WHERE fragments (joined by AND) and parameters for the filters. Units table alias: u. */
/** Unit key fields with an index (sqlite.ts migration 3): an equality or `$in` on one uses it. */
const INDEXED_KEY_FIELDS = new Set(['name', 'id']);

/**
 * `keyFields`: fields that are unit key fields of every type the query returns; they are read
 * from the unit key alone, and an equality or `$in` on `name` or `id` is written so that the
 * index on it applies (`indexed` names that field: the query can start from those units).
 */
export function filtersToSql(filters: Record<string, unknown> | undefined, keyFields: readonly string[] = []): { sql: string[]; params: unknown[]; indexed: string | null } {
  const sql: string[] = [];
  const params: unknown[] = [];
  let indexed: string | null = null;
  for (const [field, cond] of Object.entries(filters ?? {})) {
    const column = COLUMN_FIELDS[field] !== undefined;
    const inKey = !column && keyFields.includes(field);
    const x = inKey ? `json_extract(u.unit_key, ${jsonPath(field)})` : fieldExpr(field);
    const cls = column ? null : inKey ? keyClassExpr(field) : classExpr(field);
    // A plain equality or $in on an indexed key field, not under NOT: written bare (not in
    // COALESCE, which hides the expression from the index; in a WHERE of ANDs NULL is false anyway).
    const ops0: Record<string, unknown> = isOpObject(cond) ? cond : { $eq: cond };
    const bare = inKey && INDEXED_KEY_FIELDS.has(field) && Object.keys(ops0).length === 1;
    if (bare && '$eq' in ops0 && ops0.$eq !== null && ops0.$eq !== undefined && (typeof ops0.$eq === 'string' || typeof ops0.$eq === 'number')) {
      sql.push(`(${x} = ? AND ${cls} = ?)`);
      params.push(sqlValue(ops0.$eq), jsonClass(ops0.$eq));
      indexed ??= field;
      continue;
    }
    if (bare && '$in' in ops0 && Array.isArray(ops0.$in) && ops0.$in.length && ops0.$in.every((v) => typeof v === 'string')) {
      sql.push(`(${x} IN (SELECT value FROM json_each(?)) AND ${cls} = 'text')`);
      params.push(JSON.stringify(ops0.$in));
      indexed ??= field;
      continue;
    }
    const norm = (v: unknown) => (field === '_id' ? Number(v) : sqlValue(v));
    /** An expression true when the field equals `v` (never NULL). */
    const eq = (v: unknown): string => {
      if (v === null) return `(${x} IS NULL)`;
      if (column) {
        if (jsonClass(norm(v)) !== COLUMN_CLASS[field]) return '0';
        params.push(norm(v));
        return `COALESCE(${x} = ?, 0)`;
      }
      params.push(jsonClass(v), norm(v));
      return `COALESCE((${cls} = ? AND ${x} = ?), 0)`;
    };
    const ops: Record<string, unknown> = isOpObject(cond) ? cond : { $eq: cond };
    for (const [op, v] of Object.entries(ops)) {
      switch (op) {
        case '$eq':
          sql.push(eq(v));
          break;
        case '$ne':
          sql.push(`NOT ${eq(v)}`);
          break;
        case '$in':
        case '$nin': {
          // One term per JSON class, each value list passed as one JSON array (json_each): a list
          // of any length (the push removes thousands of units by id) makes neither a deep
          // expression nor thousands of parameters.
          const list = v as unknown[];
          const byClass = new Map<string, unknown[]>();
          let withNull = false;
          for (const item of list) {
            if (item === null) {
              withNull = true;
              continue;
            }
            const n = norm(item);
            const c = jsonClass(field === '_id' ? n : item)!;
            if (column && c !== COLUMN_CLASS[field]) continue; // never equal
            let l = byClass.get(c);
            if (!l) byClass.set(c, (l = []));
            l.push(n);
          }
          const terms: string[] = withNull ? [`(${x} IS NULL)`] : [];
          for (const [c, vals] of byClass) {
            if (column) terms.push(`COALESCE(${x} IN (SELECT value FROM json_each(?)), 0)`);
            else {
              terms.push(`COALESCE((${cls} = ? AND ${x} IN (SELECT value FROM json_each(?))), 0)`);
              params.push(c);
            }
            params.push(JSON.stringify(vals));
          }
          const any = terms.length ? `(${terms.join(' OR ')})` : '0';
          sql.push(op === '$in' ? any : `NOT ${any}`);
          break;
        }
        case '$regex':
          // Matched against the value as text (a boolean as true/false, an object as its JSON).
          sql.push(`(${x} IS NOT NULL AND regexp(?, ${cls ? `(CASE ${cls} WHEN 'boolean' THEN (CASE ${x} WHEN 1 THEN 'true' ELSE 'false' END) ELSE ${x} END)` : x}))`);
          params.push(String(v));
          break;
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte': {
          const sym = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op];
          const c = jsonClass(field === '_id' ? Number(v) : v);
          // Ordered only within numbers and within text.
          if ((c !== 'number' && c !== 'text') || (column && c !== COLUMN_CLASS[field])) sql.push('0');
          else if (column) {
            sql.push(`COALESCE(${x} ${sym} ?, 0)`);
            params.push(norm(v));
          } else {
            sql.push(`COALESCE((${cls} = ? AND ${x} ${sym} ?), 0)`);
            params.push(c, norm(v));
          }
          break;
        }
        case '$exists':
          sql.push(v ? `${x} IS NOT NULL` : `${x} IS NULL`);
          break;
        default:
          throw badCriteria(`unknown filter operator ${op} on field ${field}`);
      }
    }
  }
  return { sql, params, indexed };
}

/** The JSON class of a unit key field (see classExpr), read from the unit key alone. */
function keyClassExpr(field: string): string {
  const t = `json_type(u.unit_key, ${jsonPath(field)})`;
  return `(CASE ${t} WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE ${t} END)`;
}

export function unitField(u: Unit, field: string): unknown {
  switch (field) {
    case '_id':
      return u.id;
    case '_typeId':
      return u.typeId;
    case '_sha256':
      return u.sha256 ?? null;
    case '_size':
      return u.size ?? null;
    case '_relativePath':
      return u.relativePath;
  }
  if (Object.prototype.hasOwnProperty.call(u.unitKey, field)) return u.unitKey[field];
  if (Object.prototype.hasOwnProperty.call(u.metadata, field)) return u.metadata[field];
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function cmp(a: unknown, b: unknown): number | null {
  if (a === undefined || a === null || b === undefined || b === null) return null;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

/** The values of an $in or $nin list as keys compared as `same` compares (equal JSON), read once. */
interface ValueSet {
  keys: Set<string>;
  hasNull: boolean;
  hasUndefined: boolean;
}

function valueSet(list: unknown[], asId: (x: unknown) => unknown): ValueSet {
  const out: ValueSet = { keys: new Set(), hasNull: false, hasUndefined: false };
  for (const raw of list) {
    const x = asId(raw);
    if (x === null) out.hasNull = true;
    else if (x === undefined) out.hasUndefined = true;
    else out.keys.add(JSON.stringify(x));
  }
  return out;
}

function inValueSet(val: unknown, isNull: boolean, set: ValueSet): boolean {
  if (isNull && set.hasNull) return true;
  if (val === undefined) return set.hasUndefined;
  return val !== null && set.keys.has(JSON.stringify(val));
}

/**
 * The JavaScript twin of filtersToSql, made once for a listing: an $in or $nin list is read into a
 * set here, not searched for each unit (an erratum listing 20,000 packages looked each of its
 * 20,000 staged candidates up in its list: 400 million comparisons, minutes of a push).
 */
export function compileFilters(filters: Record<string, unknown> | undefined): (u: Unit) => boolean {
  const checks: Array<(u: Unit) => boolean> = [];
  for (const [field, cond] of Object.entries(filters ?? {})) {
    // The engine id is a number in SQL: compared as one here too ("171" > "9").
    const asId = (x: unknown) => (field === '_id' && x !== null && x !== undefined && typeof x !== 'object' ? Number(x) : x);
    const ops: Record<string, unknown> = isOpObject(cond) ? cond : { $eq: cond };
    for (const [op, raw] of Object.entries(ops)) {
      const v = op === '$in' || op === '$nin' ? raw : asId(raw);
      const get = (u: Unit) => asId(unitField(u, field));
      switch (op) {
        case '$eq':
          checks.push((u) => {
            const val = get(u);
            return v === null ? val === undefined || val === null : same(val, v);
          });
          break;
        case '$ne':
          checks.push((u) => {
            const val = get(u);
            const isNull = val === undefined || val === null;
            return v === null ? !isNull : isNull || !same(val, v);
          });
          break;
        case '$in':
        case '$nin': {
          const set = valueSet(v as unknown[], asId);
          const want = op === '$in';
          checks.push((u) => {
            const val = get(u);
            return inValueSet(val, val === undefined || val === null, set) === want;
          });
          break;
        }
        case '$regex': {
          const re = new RegExp(String(v));
          checks.push((u) => {
            const val = get(u);
            return val !== undefined && val !== null && re.test(typeof val === 'string' ? val : JSON.stringify(val));
          });
          break;
        }
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          checks.push((u) => {
            const c = cmp(get(u), v);
            return c !== null && (op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0);
          });
          break;
        case '$exists':
          checks.push((u) => {
            const val = get(u);
            const isNull = val === undefined || val === null;
            return v ? !isNull : isNull;
          });
          break;
        default:
          throw badCriteria(`unknown filter operator ${op} on field ${field}`);
      }
    }
  }
  return (u) => checks.every((c) => c(u));
}

/** The JavaScript twin of filtersToSql, for one unit (a listing compiles its filters once: compileFilters). */
export function matchesFilters(u: Unit, filters: Record<string, unknown> | undefined): boolean {
  return compileFilters(filters)(u);
}

/**
 * Keep only the asked-for metadata fields (unit key fields are always kept). The metadata is read
 * once, and not at all for no fields: a copy by spreading read it even then, and the metadata of
 * a large transaction's staged unit is read back from disk and parsed on each read.
 */
export function projectUnit(u: Unit, fields: string[] | undefined): Unit {
  if (!fields) return u;
  const md: Record<string, Unit['metadata'][string]> = {};
  if (fields.length) {
    const all = u.metadata;
    for (const f of fields) if (Object.prototype.hasOwnProperty.call(all, f)) md[f] = all[f]!;
  }
  const out = {} as Record<string, unknown>;
  for (const k of Object.keys(u)) out[k] = k === 'metadata' ? md : u[k as keyof Unit];
  out.metadata = md;
  return out as unknown as Unit;
}
