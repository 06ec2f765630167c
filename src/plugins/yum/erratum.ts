/**
 * Erratum (advisory) units of the yum importer: pushsource's erratum shape (errata-schema.yaml,
 * as Errata Tool dumps it) normalised into the metadata stored on `erratum` units, and the rule
 * deciding what a re-upload of a known advisory does.
 *
 * The shape is defined once, in src/formats/updateinfo (which writes it as updateinfo.xml); the
 * stored form here is that shape with every optional field resolved.
 */
import { StagepushError } from '../../errors.js';
// The staged source's reader of advisories: an uploaded one is read exactly as a staged one.
import { parseData } from '../../formats/yaml/read.js';
import type { Json } from '../../engine/contract.js';
import {
  ERRATUM_TYPES,
  parseErratumDate,
  type Erratum as UpdateinfoErratum,
  type ErratumCollection as UpdateinfoCollection,
  type ErratumModule,
  type ErratumPackage as UpdateinfoPackage,
  type ErratumReference,
} from '../../formats/updateinfo/index.js';

/** A stored package entry: the updateinfo shape with every field resolved (the raw `sum` list folded into the *sum fields). */
export type ErratumPackage = Required<Omit<UpdateinfoPackage, 'sum'>>;

export type ErratumCollection = Required<Omit<UpdateinfoCollection, 'packages'>> & { packages: ErratumPackage[] };

/** The metadata of an `erratum` unit: the updateinfo erratum with every field resolved, plus the Pulp content_types. */
export type Erratum = Required<Omit<UpdateinfoErratum, 'pkglist'>> & { pkglist: ErratumCollection[]; content_types: string[] };

export type { ErratumModule, ErratumReference };

const TYPE_MAP: Record<string, string> = { RHBA: 'bugfix', RHEA: 'enhancement', RHSA: 'security' };

function bad(file: string | undefined, field: string, message: string, entry?: string): never {
  throw new StagepushError('YUM_ERRATUM_INVALID', `${file ?? 'erratum'}${entry ? ` (${entry})` : ''}: field "${field}" ${message}`, { file, field, entry, kind: 'invalid' });
}

function optStr(raw: Record<string, unknown>, key: string, file: string | undefined, entry: string | undefined): string | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  return bad(file, key, `must be a string, got ${JSON.stringify(v)}`, entry);
}

function intStr(raw: Record<string, unknown>, key: string, def: string, file: string | undefined, entry: string | undefined): string {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return def;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && /^[0-9]*$/.test(v)) return v;
  return bad(file, key, `must be a non-negative integer or a string of digits, got ${JSON.stringify(v)}`, entry);
}

function hex(v: unknown, file: string | undefined, field: string, entry: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || !/^[0-9a-fA-F]+$/.test(v)) return bad(file, field, `must be a hex digest, got ${JSON.stringify(v)}`, entry);
  return v.toLowerCase();
}

/** Normalise a raw erratum (parsed YAML/JSON, or upload metadata) into the stored shape. */
export function normalizeErratum(raw: unknown, file?: string): Erratum {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad(file, '(document)', 'must be a mapping of advisory fields');
  const r = raw as Record<string, unknown>;
  const id = r.id;
  if (typeof id !== 'string' || !id.trim()) bad(file, 'id', 'is required (the advisory id, e.g. RHSA-2024:0001)');
  const entry = id;
  const rawType = optStr(r, 'type', file, entry) ?? 'bugfix';
  const type = TYPE_MAP[rawType] ?? rawType;
  if (!ERRATUM_TYPES.includes(type)) bad(file, 'type', `must be one of ${ERRATUM_TYPES.join(', ')} (or RHBA/RHEA/RHSA), got ${JSON.stringify(rawType)}`, entry);
  const rb = r.reboot_suggested;
  if (rb !== undefined && rb !== null && typeof rb !== 'boolean') bad(file, 'reboot_suggested', 'must be true or false', entry);

  const references: ErratumReference[] = [];
  if (r.references !== undefined && r.references !== null) {
    if (!Array.isArray(r.references)) bad(file, 'references', 'must be a list', entry);
    r.references.forEach((ref: unknown, i: number) => {
      if (!ref || typeof ref !== 'object') bad(file, `references[${i}]`, 'must be a mapping', entry);
      const o = ref as Record<string, unknown>;
      if (typeof o.href !== 'string') bad(file, `references[${i}].href`, 'is required (a string)', entry);
      references.push({
        href: o.href,
        id: o.id === null || o.id === undefined ? null : String(o.id),
        title: o.title === null || o.title === undefined ? null : String(o.title),
        type: typeof o.type === 'string' && o.type ? o.type : 'other',
      });
    });
  }

  const pkglist: ErratumCollection[] = [];
  if (r.pkglist !== undefined && r.pkglist !== null) {
    if (!Array.isArray(r.pkglist)) bad(file, 'pkglist', 'must be a list of collections', entry);
    r.pkglist.forEach((c: unknown, ci: number) => {
      if (!c || typeof c !== 'object') bad(file, `pkglist[${ci}]`, 'must be a mapping', entry);
      const co = c as Record<string, unknown>;
      const packages: ErratumPackage[] = [];
      const pk = co.packages ?? [];
      if (!Array.isArray(pk)) bad(file, `pkglist[${ci}].packages`, 'must be a list', entry);
      pk.forEach((p: unknown, pi: number) => {
        const f = `pkglist[${ci}].packages[${pi}]`;
        if (!p || typeof p !== 'object') bad(file, f, 'must be a mapping', entry);
        const po = p as Record<string, unknown>;
        for (const k of ['name', 'version', 'release', 'arch', 'filename']) {
          if (typeof po[k] !== 'string' || !(po[k] as string)) bad(file, `${f}.${k}`, 'is required (a string)', entry);
        }
        const sums: Record<string, string | null> = { md5: null, sha1: null, sha256: null };
        if (Array.isArray(po.sum)) {
          for (let i = 0; i + 1 < po.sum.length; i += 2) {
            const algo = String(po.sum[i]).toLowerCase();
            if (algo in sums) sums[algo] = hex(po.sum[i + 1], file, `${f}.sum`, entry);
          }
        }
        packages.push({
          name: po.name as string,
          epoch: po.epoch === undefined || po.epoch === null || po.epoch === '' ? '0' : String(po.epoch),
          version: po.version as string,
          release: po.release as string,
          arch: po.arch as string,
          filename: po.filename as string,
          src: typeof po.src === 'string' ? po.src : '',
          reboot_suggested: po.reboot_suggested === true,
          md5sum: hex(po.md5sum, file, `${f}.md5sum`, entry) ?? sums.md5,
          sha1sum: hex(po.sha1sum, file, `${f}.sha1sum`, entry) ?? sums.sha1,
          sha256sum: hex(po.sha256sum, file, `${f}.sha256sum`, entry) ?? sums.sha256,
        });
      });
      let module: ErratumModule | null = null;
      if (co.module && typeof co.module === 'object') {
        const m = co.module as Record<string, unknown>;
        const mod: Record<string, string> = {};
        for (const k of ['name', 'stream', 'version', 'context', 'arch']) {
          if (m[k] === undefined || m[k] === null) bad(file, `pkglist[${ci}].module.${k}`, 'is required', entry);
          mod[k] = String(m[k]);
        }
        module = mod as unknown as ErratumModule;
      }
      // pushsource drops collections without packages.
      if (packages.length) pkglist.push({ name: typeof co.name === 'string' ? co.name : '', short: typeof co.short === 'string' ? co.short : '', module, packages });
    });
  }

  let contentTypes: string[] = [];
  const pum = r.pulp_user_metadata as Record<string, unknown> | undefined;
  const ct = r.content_types ?? pum?.content_types;
  if (Array.isArray(ct)) contentTypes = ct.map(String);

  const updated = optStr(r, 'updated', file, entry);
  const issued = optStr(r, 'issued', file, entry);
  for (const [k, v] of [['updated', updated], ['issued', issued]] as const) {
    if (v !== null && v !== '' && parseErratumDate(v) === null) bad(file, k, `is not a date (YYYY-MM-DD[ HH:MM:SS[ UTC]] or ISO 8601), got ${JSON.stringify(v)}`, entry);
  }

  const out: Erratum = {
    id,
    type,
    title: optStr(r, 'title', file, entry),
    description: optStr(r, 'description', file, entry),
    summary: optStr(r, 'summary', file, entry),
    solution: optStr(r, 'solution', file, entry),
    severity: optStr(r, 'severity', file, entry),
    status: optStr(r, 'status', file, entry) ?? 'final',
    release: intStr(r, 'release', '0', file, entry),
    version: intStr(r, 'version', '1', file, entry),
    pushcount: intStr(r, 'pushcount', '1', file, entry),
    from: optStr(r, 'from', file, entry),
    rights: optStr(r, 'rights', file, entry),
    issued,
    updated,
    reboot_suggested: rb === true,
    references,
    pkglist,
    content_types: contentTypes,
  };
  checkXmlText(out, file, entry);
  return out;
}

/** Characters XML 1.0 cannot carry at all (not even escaped): a control character, U+FFFE/U+FFFF. */
// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const NOT_XML_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Every string of the advisory must fit in updateinfo.xml: one that holds a character XML cannot
 * carry (a JSON "\u0007", a YAML "\a") would publish a file dnf cannot read. Every such field is named.
 */
function checkXmlText(e: Erratum, file: string | undefined, entry: string): void {
  const found: Array<{ field: string; cp: number }> = [];
  const walk = (v: unknown, field: string): void => {
    if (typeof v === 'string') {
      const m = NOT_XML_CHAR.exec(v);
      if (m) found.push({ field, cp: m[0].codePointAt(0)! });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${field}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, field ? `${field}.${k}` : k);
  };
  walk(e, '');
  if (!found.length) return;
  const problems = found.map(({ field, cp }) => ({
    code: 'YUM_ERRATUM_INVALID',
    message: `${file ?? 'erratum'} (${entry}): field "${field}" holds the character U+${cp.toString(16).toUpperCase().padStart(4, '0')}, which updateinfo.xml (XML 1.0) cannot carry`,
    ...(file ? { file } : {}),
    entry,
    field,
  }));
  throw new StagepushError('YUM_ERRATUM_INVALID', problems[0]!.message, { file, field: problems[0]!.field, entry, kind: 'invalid', problems: problems.length > 1 ? problems : [] });
}

/**
 * Parse an erratum file (YAML, or JSON when named *.json) into its normalised form. It is read as
 * the staged source reads a staged advisory (parseData, the same function and options: PyYAML's
 * YAML 1.1 with merge keys, its booleans and integers, the alias checks): with the yaml package's
 * defaults (YAML 1.2 core, no merge keys) `<<: *common` was kept as a literal key, so the fields
 * it shares were silently dropped, and `reboot_suggested: yes` was a string, refused.
 */
export async function parseErratumText(text: string, file: string): Promise<Erratum> {
  const asJson = file.endsWith('.json');
  const parsed = await parseData(text, asJson, { exactIntegers: true });
  if (parsed.error !== undefined) throw new StagepushError('YUM_ERRATUM_INVALID', `${file}: not valid ${asJson ? 'JSON' : 'YAML'}: ${parsed.error.replace(/^invalid (YAML|JSON): /, '')}`, { file, kind: 'invalid' });
  return normalizeErratum(parsed.value, file);
}

function pkgKey(p: ErratumPackage): string {
  return `${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}|${p.filename}`;
}
function collKey(c: ErratumCollection): string {
  return `${c.name}\u0000${c.short}\u0000${c.module ? `${c.module.name}:${c.module.stream}:${c.module.version}:${c.module.context}:${c.module.arch}` : ''}`;
}

/** Union of two package lists: collections matched by name/short/module, packages by NEVRA + filename. */
export function mergePkglists(base: ErratumCollection[], extra: ErratumCollection[]): ErratumCollection[] {
  const out = base.map((c) => ({ ...c, packages: [...c.packages] }));
  // Collections of one name and short name (an advisory may hold several) are matched in order:
  // the first of `extra` with the first of `base`, and so on. Matching each with the last one of
  // its key put the packages of every one into the last, listed twice.
  const byKey = new Map<string, ErratumCollection[]>();
  for (const c of out) {
    const list = byKey.get(collKey(c));
    if (list) list.push(c);
    else byKey.set(collKey(c), [c]);
  }
  const used = new Map<string, number>();
  for (const c of extra) {
    const key = collKey(c);
    const n = used.get(key) ?? 0;
    used.set(key, n + 1);
    const have = byKey.get(key)?.[n];
    if (!have) {
      const copy = { ...c, packages: [...c.packages] };
      out.push(copy);
      const list = byKey.get(key);
      if (list) list.push(copy);
      else byKey.set(key, [copy]);
      continue;
    }
    const seen = new Set(have.packages.map(pkgKey));
    for (const p of c.packages) if (!seen.has(pkgKey(p))) have.packages.push(p);
  }
  return out;
}

/**
 * Is `incoming` newer than `stored`: a later `updated` date, or the same date and a higher
 * `version`. (An erratum without a date is never newer than a dated one.)
 */
export function isNewer(incoming: Erratum, stored: Erratum): boolean {
  const a = incoming.updated ? parseErratumDate(incoming.updated) : null;
  const b = stored.updated ? parseErratumDate(stored.updated) : null;
  if (a !== null && b !== null && a !== b) return a > b;
  if (a !== null && b === null) return true;
  if (a === null && b !== null) return false;
  return Number(incoming.version) > Number(stored.version);
}

/**
 * The `updated` an incoming advisory needs so that a higher version moves it past `stored` (the
 * merge rule compares dates first): the stored date when the incoming one is earlier, or unset
 * while the stored one is set; null when the incoming date does.
 */
export function updatedForNewerVersion(incoming: Erratum, stored: Erratum): string | null {
  const b = stored.updated ? parseErratumDate(stored.updated) : null;
  if (b === null) return null;
  const a = incoming.updated ? parseErratumDate(incoming.updated) : null;
  return a !== null && a >= b ? null : stored.updated;
}

/**
 * What a re-upload stores: the incoming advisory when it is newer (with the package lists of
 * both), else the stored one with the incoming packages merged in. `replaced` says which.
 */
export function resolveErratumUpload(incoming: Erratum, stored: Erratum | null): { erratum: Erratum; replaced: boolean; changed: boolean } {
  if (!stored) return { erratum: incoming, replaced: true, changed: true };
  if (isNewer(incoming, stored)) {
    return { erratum: { ...incoming, pkglist: mergePkglists(incoming.pkglist, stored.pkglist) }, replaced: true, changed: true };
  }
  const merged = mergePkglists(stored.pkglist, incoming.pkglist);
  const changed = JSON.stringify(merged) !== JSON.stringify(stored.pkglist);
  return { erratum: { ...stored, pkglist: merged }, replaced: false, changed };
}

export function erratumToJson(e: Erratum): Record<string, Json> {
  return JSON.parse(JSON.stringify(e)) as Record<string, Json>;
}
