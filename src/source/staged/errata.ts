/**
 * ERRATA/<file>: one advisory per file (`.json` → JSON, anything else → YAML). `cdn_repo` is dropped
 * before validation; the item is built as pushsource's ErratumPushItem._from_data does, but every
 * field it would crash on (KeyError, TypeError, ValueError) is reported as a coded problem naming
 * the file, the advisory (or package filename) and the field.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Problem } from '../../errors.js';
import { erratumPushItem } from '../../items/model.js';
import type { ErratumPushItem } from '../../items/types.js';
import { ajvProblems, validators } from './schemas.js';
import { canonical } from './metadata.js';
import { ioReason, itemErrorProblems, namedKeysOnly, notYetNamed, problem } from './common.js';
import { decodeStagedText, isPlainObject, parseData } from '../../formats/yaml/read.js';

/** Keys pushsource reads with data[key] (KeyError when absent). */
const REQUIRED_BY_MODEL = ['type', 'release', 'status', 'pushcount', 'reboot_suggested', 'rights', 'title', 'from', 'description', 'version', 'updated', 'issued', 'severity', 'summary', 'solution'] as const;
const PKG_REQUIRED = ['arch', 'epoch', 'filename', 'name', 'version', 'release', 'src'] as const;
/** The keys ErratumReference._from_data and ErratumModule._from_data read (their classes' fields). */
const REFERENCE_KEYS = ['href', 'id', 'title', 'type'] as const;
const MODULE_KEYS = ['name', 'stream', 'version', 'context', 'arch'] as const;

export interface ErratumLoad {
  item?: ErratumPushItem;
  problems: Problem[];
  /** Keys of a reference or a module that pushsource drops (STAGED_FIELD_IGNORED). */
  warnings?: Problem[];
}

/**
 * Advisories built before, by key (a digest of the file's text, its path, destinations and
 * origin, and the code that builds them): an unchanged advisory is taken as JSON instead of being
 * parsed and validated again, which in a short run costs ~0.3 ms each (the parser and the model
 * run cold). Only advisories without problems are kept.
 */
export interface ParsedCache {
  get(key: string): string | undefined;
  set(key: string, json: string): void;
}

/** Bump when an advisory built from the same file could differ (besides the sources hashed below). */
const PARSED_FORMAT = 1;
let codeKey: string | undefined;
/** A digest of the modules that turn a file into an advisory: a new stagepush never reuses an older one's advisories. */
function buildCodeKey(): string {
  if (codeKey === undefined) {
    const h = createHash('sha256').update(String(PARSED_FORMAT));
    for (const m of ['./errata.js', '../../formats/yaml/fast.js', '../../formats/yaml/read.js', '../../formats/yaml/aliases.js', './common.js', './schemas.js', '../../items/model.js']) {
      try {
        h.update(readFileSync(new URL(m, import.meta.url)));
      } catch {
        h.update(`missing ${m}`);
      }
    }
    codeKey = h.digest('hex');
  }
  return codeKey;
}

/** Build the item from parsed erratum data (exported for tests). */
export function erratumFromData(raw: unknown, file: string, opts: { dest: string[]; src: string; origin: string }): ErratumLoad {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  if (!isPlainObject(raw)) {
    return { problems: [problem('STAGED_ERRATUM_INVALID', `an erratum must be a mapping (got ${raw === null ? 'an empty document' : JSON.stringify(raw)})`, { file })] };
  }
  const data: Record<string, unknown> = { ...raw };
  delete data.cdn_repo;
  const id = typeof data.id === 'string' && data.id !== '' ? data.id : undefined;
  const entry = id;
  const v = validators();
  if (!v.erratum(data as unknown)) {
    // Entry label: the package filename for errors inside a package, else the advisory id.
    for (const p of ajvProblems(v.erratum.errors, 'STAGED_ERRATUM_INVALID', { file, ...(entry ? { entry } : {}) }, '', data)) {
      const m = p.field ? /^pkglist\[(\d+)\]\.packages\[(\d+)\]/.exec(p.field) : null;
      if (m) {
        const pkg = (((data as Record<string, unknown>).pkglist as Array<Record<string, unknown>>)[Number(m[1])]!.packages as Array<Record<string, unknown>>)[Number(m[2])];
        if (isPlainObject(pkg) && typeof pkg.filename === 'string') p.entry = pkg.filename;
      }
      problems.push(p);
    }
  }
  const loc = { file, ...(entry ? { entry } : {}) };
  // Unique elements, as the schema's uniqueItems says (deep equality), found with a hash set.
  const unique = (list: unknown, field: string) => {
    if (!Array.isArray(list)) return;
    const seen = new Map<string, number>();
    list.forEach((x, i) => {
      const k = canonical(x);
      const first = seen.get(k);
      if (first === undefined) seen.set(k, i);
      else if (!problems.some((p) => p.field === field && p.message.startsWith('has non-unique'))) {
        problems.push(problem('STAGED_ERRATUM_INVALID', `has non-unique elements (must NOT have duplicate items (items ## ${i} and ${first} are identical))`, { ...loc, field }));
      }
    });
  };
  unique(data.references, 'references');
  unique(data.pkglist, 'pkglist');
  if (Array.isArray(data.pkglist)) {
    data.pkglist.forEach((c, ci) => {
      if (isPlainObject(c)) unique(c.packages, `pkglist[${ci}].packages`);
    });
  }
  for (const k of REQUIRED_BY_MODEL) {
    if (!(k in data) && !problems.some((p) => p.field === k)) {
      problems.push(problem('STAGED_ERRATUM_MISSING_FIELD', `'${k}' is required (pushsource reads it unconditionally)`, { ...loc, field: k }));
    }
  }
  const pkglist = Array.isArray(data.pkglist) ? data.pkglist : [];
  const collections: Array<Record<string, unknown>> = [];
  pkglist.forEach((c, ci) => {
    if (!isPlainObject(c)) return;
    const packages: Array<Record<string, unknown>> = [];
    // The file's index of each package the model gets (one that is not a mapping is left out).
    const fileIndex: number[] = [];
    const rawPkgs = Array.isArray(c.packages) ? c.packages : [];
    rawPkgs.forEach((pkg, pi) => {
      if (!isPlainObject(pkg)) return;
      fileIndex.push(pi);
      const field = `pkglist[${ci}].packages[${pi}]`;
      const pkgLoc = { file, entry: typeof pkg.filename === 'string' ? pkg.filename : (entry ?? field) };
      for (const k of PKG_REQUIRED) {
        if (!(k in pkg) && !problems.some((p) => p.field === `${field}.${k}`)) {
          problems.push(problem('STAGED_ERRATUM_MISSING_FIELD', `package '${k}' is required`, { ...pkgLoc, field: `${field}.${k}` }));
        }
      }
      const sums: Record<string, unknown> = {};
      const rawSum = Array.isArray(pkg.sum) ? pkg.sum : [];
      if (rawSum.length % 2) problems.push(problem('STAGED_ERRATUM_INVALID', `sum must be a list of algorithm, digest pairs (odd length ${rawSum.length})`, { ...pkgLoc, field: `${field}.sum` }));
      for (let i = 0; i + 1 < rawSum.length; i += 2) sums[String(rawSum[i])] = rawSum[i + 1];
      packages.push({
        arch: pkg.arch,
        filename: pkg.filename,
        epoch: pkg.epoch,
        name: pkg.name,
        version: pkg.version,
        release: pkg.release,
        src: pkg.src,
        reboot_suggested: pkg.reboot_suggested || false,
        md5sum: sums.md5 ?? null,
        sha1sum: sums.sha1 ?? null,
        sha256sum: sums.sha256 ?? null,
      });
    });
    // Python's truth value: an empty module mapping (or list) is no module (pushsource's _from_data).
    let module = c.module && typeof c.module === 'object' && Object.keys(c.module).length === 0 ? null : c.module || null;
    if (isPlainObject(module)) module = namedKeysOnly(module, MODULE_KEYS, 'ErratumModule', { ...loc, field: `pkglist[${ci}].module` }, warnings);
    collections.push({ name: c.name || '', short: c.short || '', packages, module, __index: ci, __packages: fileIndex });
  });
  const pum = isPlainObject(data.pulp_user_metadata) ? data.pulp_user_metadata : {};
  let containerList: unknown = data.container_list ?? [];
  if (pum.container_list !== undefined && pum.container_list !== null) containerList = pum.container_list;
  const input: Record<string, unknown> = {
    name: data.id,
    state: 'PENDING',
    src: opts.src,
    dest: opts.dest,
    origin: opts.origin,
    references: Array.isArray(data.references) ? data.references.map((r, i) => (isPlainObject(r) ? namedKeysOnly(r, REFERENCE_KEYS, 'ErratumReference', { ...loc, field: `references[${i}]` }, warnings) : r)) : [],
    // Collections without packages are dropped (pushsource keeps only non-empty ones).
    pkglist: collections.filter((c) => (c.packages as unknown[]).length > 0).map(({ __index: _i, __packages: _p, ...c }) => c),
    container_list: containerList,
  };
  for (const k of REQUIRED_BY_MODEL) input[k] = data[k];
  if (pum.content_types) input.content_types = pum.content_types;
  // The model's checks run even when the schema refused something: every problem is listed, and
  // the model's are added for the fields the schema did not already name.
  try {
    const item = erratumPushItem(input as { name: unknown });
    return problems.length ? { problems, warnings } : { item, problems, warnings };
  } catch (e) {
    // Map the model's fields back to the file's: pkglist and package indexes of the filtered lists,
    // the fields taken from pulp_user_metadata, the advisory's id.
    const kept = collections.filter((c) => (c.packages as unknown[]).length > 0);
    const fromPum = new Set<string>();
    if (pum.content_types) fromPum.add('content_types');
    if (pum.container_list !== undefined && pum.container_list !== null) fromPum.add('container_list');
    const toFile = (f: string) =>
      f
        .replace(/^pkglist\[(\d+)\](?:\.packages\[(\d+)\])?/, (m, n: string, k: string | undefined) => {
          const c = kept[Number(n)];
          if (!c) return m;
          return `pkglist[${c.__index as number}]${k === undefined ? '' : `.packages[${(c.__packages as number[])[Number(k)] ?? k}]`}`;
        })
        .replace(/^(content_types|container_list)(?=$|[.[])/, (m) => (fromPum.has(m) ? `pulp_user_metadata.${m}` : m))
        .replace(/^name$/, 'id');
    const model = itemErrorProblems(e, loc, toFile);
    // A package's problem is labelled with its file name, as the schema's are.
    for (const p of model) {
      const m = p.field ? /^pkglist\[(\d+)\]\.packages\[(\d+)\]/.exec(p.field) : null;
      const pkgs = m && Array.isArray(data.pkglist) && isPlainObject(data.pkglist[Number(m[1])]) ? (data.pkglist[Number(m[1])] as Record<string, unknown>).packages : undefined;
      const pkg = m && Array.isArray(pkgs) ? pkgs[Number(m[2])] : undefined;
      if (isPlainObject(pkg) && typeof pkg.filename === 'string') p.entry = pkg.filename;
    }
    if (!problems.length) return { problems: model, warnings };
    // A list's duplicates say nothing of its elements: they hide none of their problems.
    const named = problems.filter((p) => !p.message.startsWith('has non-unique')).map((p) => p.field);
    return { problems: [...problems, ...notYetNamed(named, model)], warnings };
  }
}

export async function loadErratumFile(path: string, opts: { dest: string[]; origin: string; cache?: ParsedCache }): Promise<ErratumLoad> {
  let text: string;
  try {
    // Read synchronously: advisories are small, and an awaited read per file left the walk idle
    // for a thread-pool round trip each (40 ms for 100 advisories).
    const decoded = decodeStagedText(readFileSync(path));
    if (decoded.error !== undefined) return { problems: [problem('STAGED_ERRATUM_PARSE', decoded.error, { file: path })] };
    text = decoded.text;
  } catch (e) {
    return { problems: [problem('STAGED_FILE_UNREADABLE', `cannot read: ${ioReason(e)}`, { file: path })] };
  }
  const key = opts.cache ? createHash('sha256').update(JSON.stringify([buildCodeKey(), path, opts.dest, opts.origin, text])).digest('hex') : null;
  const hit = key !== null ? opts.cache!.get(key) : undefined;
  if (hit !== undefined) {
    try {
      return { item: JSON.parse(hit) as ErratumPushItem, problems: [], warnings: [] };
    } catch {
      /* a damaged entry: built again below */
    }
  }
  const parsed = await parseData(text, path.endsWith('.json'), { exactIntegers: true });
  if (parsed.error !== undefined) return { problems: [problem('STAGED_ERRATUM_PARSE', parsed.error, { file: path })] };
  const r = erratumFromData(parsed.value, path, { ...opts, src: path });
  // One with warnings is not kept: taken from the cache, it would load without them.
  if (key !== null && r.item && !r.problems.length && !r.warnings?.length) opts.cache!.set(key, JSON.stringify(r.item));
  return r;
}
