/**
 * Planning (pure): given what a repository holds and what the staging area wants in it, decide
 * per item pushed / unchanged / replaced / failed and which units are removed (replaced NEVRAs,
 * mirror mode, retain_old_count). The dry run and the real push use this same function, so the
 * dry run's (repository, unit, action) set is the one the push then reports.
 */
import type { Problem } from '../errors.js';
import type { RepoSpec } from '../config/index.js';
import type { Assignment } from './route.js';

/** Append to the list under a key (in place: no copy per item). */
function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export type ItemAction = 'pushed' | 'unchanged' | 'replaced' | 'removed' | 'failed';

/** A unit as the plan compares it. */
export interface PlanUnit {
  typeId: string;
  unitKey: Record<string, unknown>;
  /** Equal fingerprints = same content (sha256, canonical metadata...). */
  fingerprint: string;
  /** Units with the same replace key are versions of the same thing (same NEVRA, same file name...). */
  replaceKey: string;
  /** Human label: "rpm:foo-0:1.0-1.noarch", "iso:disk.iso". */
  label: string;
  /** A module stream's artifacts (name-epoch:version-release.arch): packages retention keeps. */
  artifacts?: string[];
  /**
   * What the unit shares among repositories, when it is less than the fingerprint (canonical
   * JSON): an advisory's fields without its package list, since the import merges the package
   * lists of one advisory id staged for several repositories but keeps one set of its fields.
   */
  sharedFingerprint?: string;
}

export interface ExistingUnit extends PlanUnit {
  id: string;
  /** For erratum ordering: updated / version of the stored advisory. */
  updated?: string | null;
  version?: string | null;
}

export interface DesiredItem {
  assignment: Assignment;
  /** Label of the item in the report. */
  label: string;
  units: PlanUnit[];
  /**
   * For an advisory already in the repository: what the importer's merge rule does with it
   * (unchanged, forward = newer, merge = new packages only, dropped = changed but not newer).
   */
  erratum?: { decision: 'new' | 'unchanged' | 'forward' | 'merge' | 'dropped'; updated: string | null; version: string; storedUpdated?: string | null; storedVersion?: string | null; bumpUpdated?: string | null; storedFor?: string[] };
  /** What the item holds that the repository will not (modulemd obsoletes documents…): said as warnings. */
  warnings?: Array<{ code: string; message: string; field?: string }>;
  /** A RAW tree: the paths it will publish (checked against the repository's other paths before anything changes). */
  tree?: Array<{ path: string; type: 'file' | 'dir' | 'symlink' }>;
}

export interface PlanEntry {
  repository: string;
  unit: string;
  action: ItemAction;
  type: string;
  item?: string;
  src?: string | null;
  dest?: string;
  reason?: string;
  /** The existing unit id (removed / replaced). */
  unitId?: string;
}

export interface Upload {
  assignment: Assignment;
  desired: DesiredItem;
  /** New erratum version when --bump-errata moved it forward. */
  bumpVersion?: string;
  /** With it, the stored `updated` when the staged one would not move it forward (dates are compared first). */
  bumpUpdated?: string;
}

export interface RepoPlan {
  repoId: string;
  entries: PlanEntry[];
  uploads: Upload[];
  /** Existing units to remove from the repository. */
  removals: ExistingUnit[];
  problems: Problem[];
  /** True when the new version differs from the current one. */
  changed: boolean;
}

/** Unit types whose replace key names one content: two staged contents for it are refused. */
const ONE_CONTENT_TYPES = new Set(['rpm', 'srpm', 'iso', 'directory', 'erratum', 'yum_repo_metadata_file', 'cgw', 'ami', 'vhd']);

export interface PlanOptions {
  bumpErrata: boolean;
  /**
   * Why a mirror must not remove what is absent from the staging area this time (the
   * destination filters left out a destination that feeds the repository); its removals are skipped.
   */
  mirrorHeld?: string;
}

const keys = new WeakMap<object, string>();
/**
 * Type and canonical unit key (memoised per unit object: the plan asks for it many times). Built
 * by joining, so the memo holds one flat string per unit: template literals and `+=` make V8
 * concatenation trees (~15 nodes, ~480 bytes for a package key), which a 20,000-package push
 * kept for every desired and stored unit (9 MiB, 300,000 objects for each GC to mark).
 */
export const keyOf = (u: { typeId: string; unitKey: Record<string, unknown> }): string => {
  let k = keys.get(u);
  if (k === undefined) {
    k = [u.typeId, nevraKeyJson(u.unitKey) ?? canonicalJson(u.unitKey)].join('\u0000');
    keys.set(u, k);
  }
  return k;
};

/**
 * `canonicalJson` of a package unit key (exactly name, epoch, version, release, arch, checksum,
 * all strings), written directly in sorted key order; undefined for any other key. The plan
 * computes it for every package of a repository and of the staging area.
 */
function nevraKeyJson(k: Record<string, unknown>): string | undefined {
  const { arch, checksum, epoch, name, release, version } = k;
  if (typeof arch !== 'string' || typeof checksum !== 'string' || typeof epoch !== 'string' || typeof name !== 'string' || typeof release !== 'string' || typeof version !== 'string') return undefined;
  let n = 0;
  for (const f of Object.keys(k)) if (k[f] !== undefined) n++;
  if (n !== 6) return undefined;
  const q = JSON.stringify;
  return ['{"arch":', q(arch), ',"checksum":', q(checksum), ',"epoch":', q(epoch), ',"name":', q(name), ',"release":', q(release), ',"version":', q(version), '}'].join('');
}

/**
 * JSON with sorted object keys (stable fingerprints). Built by appending, without intermediate
 * arrays: the plan computes it for every unit key of a repository and of the staging area.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonicalJson(v[i]);
    return s + ']';
  }
  const o = v as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(x);
    first = false;
  }
  return s + '}';
}

/** rpm's version comparison (rpmvercmp). */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  const re = /([0-9]+)|([A-Za-z]+)|(~)|(\^)/g;
  const seg = (s: string) => {
    const out: string[] = [];
    let m: RegExpExecArray | null;
    re.lastIndex = 0;
    while ((m = re.exec(s))) out.push(m[0]);
    return out;
  };
  const x = seg(a);
  const y = seg(b);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '~' || q === '~') {
      if (p !== '~') return 1;
      if (q !== '~') return -1;
      continue;
    }
    if (p === '^' || q === '^') {
      if (p === undefined) return -1;
      if (q === undefined) return 1;
      if (p !== '^') return 1;
      if (q !== '^') return -1;
      continue;
    }
    if (p === undefined && q === undefined) return 0;
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^[0-9]/.test(p);
    const qn = /^[0-9]/.test(q);
    if (pn && !qn) return 1;
    if (!pn && qn) return -1;
    if (pn) {
      const pp = p.replace(/^0+/, '');
      const qq = q.replace(/^0+/, '');
      if (pp.length !== qq.length) return pp.length > qq.length ? 1 : -1;
      if (pp !== qq) return pp > qq ? 1 : -1;
    } else if (p !== q) return p > q ? 1 : -1;
  }
}

export function evrCompare(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ea = Number(a.epoch ?? 0) || 0;
  const eb = Number(b.epoch ?? 0) || 0;
  if (ea !== eb) return ea > eb ? 1 : -1;
  return rpmvercmp(String(a.version ?? ''), String(b.version ?? '')) || rpmvercmp(String(a.release ?? ''), String(b.release ?? ''));
}

function sortedEntries(e: PlanEntry[]): PlanEntry[] {
  const rank: Record<ItemAction, number> = { failed: 0, removed: 1, replaced: 2, pushed: 3, unchanged: 4 };
  return [...e].sort((a, b) => rank[a.action] - rank[b.action] || (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0));
}

type EntryBase = Pick<PlanEntry, 'repository' | 'unit' | 'type' | 'item' | 'src' | 'dest'>;

/**
 * A plan entry, its properties written out in the report's order: `{ ...base, action }` made a
 * new hidden class for nearly every entry (V8 does not share the map of a spread followed by a
 * property), ~20,000 of them in a large push.
 */
function planEntry(base: EntryBase, action: ItemAction, more?: { reason?: string; unitId?: string }): PlanEntry {
  const e: PlanEntry = { repository: base.repository, unit: base.unit, type: base.type, item: base.item, src: base.src, dest: base.dest, action };
  if (more?.reason !== undefined) e.reason = more.reason;
  if (more?.unitId !== undefined) e.unitId = more.unitId;
  return e;
}

/**
 * Unit types one unit of which is shared by every repository holding it, and whose fingerprint
 * holds staged fields beside the content (a file's description and version, an image's region):
 * the unit holds one set of fields.
 */
const SHARED_FIELDS_TYPES = new Set(['iso', 'cgw', 'ami', 'vhd']);

/**
 * The item type is one whose shared unit holds what the item stages, fields or a document (see
 * sharedUnitRivals): a FILES, CGW or cloud image file, a modulemd file (its module streams,
 * one unit per NSVCA shared by every repository holding it, hold one document each), or an
 * advisory (one unit per id, holding one set of fields).
 */
export const holdsStagedFields = (typeId: string): boolean => SHARED_FIELDS_TYPES.has(typeId) || typeId === 'modulemd' || typeId === 'erratum';

/** The top-level fields two canonical JSON objects give differently (for the message naming them). */
function differingFields(a: string, b: string): string[] {
  try {
    const x = JSON.parse(a) as Record<string, unknown>;
    const y = JSON.parse(b) as Record<string, unknown>;
    return [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k])).sort();
  } catch {
    return [];
  }
}

/**
 * The same unit (same key: name and content) staged for two repositories with different fields:
 * the repositories share that one unit, so each push would write one set of fields over the other
 * and report both items replaced, push after push. Each item involved is refused, naming the
 * others (as two contents staged for one repository are: PUSH_STAGED_TWICE). `desired` holds
 * every item of the staging areas, those of destinations --dest/--exclude-dest leave out too:
 * pushed one destination at a time, the area would rewrite the unit on every run all the same.
 */
export function sharedUnitRivals(desired: Map<string, DesiredItem[]>): Problem[] {
  const stagings = new Map<string, Array<{ repoId: string; d: DesiredItem; u: PlanUnit }>>();
  for (const [repoId, list] of desired) {
    for (const d of list) {
      // A modulemd file stages several streams; the other types one unit.
      const units = d.assignment.typeId === 'modulemd' ? d.units.filter((u) => u.typeId === 'modulemd') : d.units.slice(0, 1).filter((u) => SHARED_FIELDS_TYPES.has(u.typeId) || u.typeId === 'erratum');
      for (const u of units) pushTo(stagings, keyOf(u), { repoId, d, u });
    }
  }
  const problems: Problem[] = [];
  const shared = (u: PlanUnit) => u.sharedFingerprint ?? u.fingerprint;
  for (const list of stagings.values()) {
    if (new Set(list.map((x) => shared(x.u))).size < 2) continue;
    for (const me of list) {
      const stream = me.u.typeId === 'modulemd';
      const advisory = me.u.typeId === 'erratum';
      // Two documents of one stream (two texts of one advisory) for one repository are the plan's
      // to say (PUSH_STAGED_TWICE).
      const rivals = list.filter((x) => shared(x.u) !== shared(me.u) && !((stream || advisory) && x.repoId === me.repoId));
      if (!rivals.length) continue;
      const others = rivals.map((x) => `${x.d.assignment.item.src ?? x.d.label} for ${x.repoId}`);
      const a = me.d.assignment;
      const fields = advisory ? [...new Set(rivals.flatMap((x) => differingFields(shared(me.u), shared(x.u))))].sort() : [];
      problems.push({
        code: 'PUSH_SHARED_UNIT_FIELDS',
        file: a.item.src ?? undefined,
        entry: a.item.name,
        ...(fields.length ? { field: fields.join(', ') } : {}),
        message: advisory
          ? `${a.item.src ?? me.d.label} stages advisory ${String(me.u.unitKey.id)} for ${me.repoId} with other fields${fields.length ? ` (${fields.join(', ')})` : ''} than ${[...new Set(others)].join(', ')}: the repositories share one unit per advisory id, which holds one set of fields (the package lists are merged), so the merge rule would keep one and drop the other's (give the advisory the same fields everywhere it is staged)`
          : stream
          ? `${a.item.src ?? me.d.label} stages module stream ${[me.u.unitKey.name, me.u.unitKey.stream, me.u.unitKey.version, me.u.unitKey.context, me.u.unitKey.arch].map(String).join(':')} for ${me.repoId} with another document than ${[...new Set(others)].join(', ')}: the repositories share one unit per stream (NSVCA), which holds one document (give the stream the same document everywhere it is staged, or a new version)`
          : `${a.item.src ?? me.d.label} stages ${me.d.label} for ${me.repoId} with other staged fields than ${[...new Set(others)].join(', ')}: the repositories share one unit for one file, which holds one set of fields (give it the same fields everywhere it is staged)`,
      });
    }
  }
  return problems;
}

export function planRepo(repo: RepoSpec, desired: DesiredItem[], existing: ExistingUnit[], opts: PlanOptions): RepoPlan {
  const entries: PlanEntry[] = [];
  const uploads: Upload[] = [];
  const problems: Problem[] = [];
  const removals = new Map<string, ExistingUnit>();
  const byKey = new Map<string, ExistingUnit>();
  const byReplace = new Map<string, ExistingUnit[]>();
  for (const u of existing) {
    byKey.set(keyOf(u), u);
    pushTo(byReplace, u.replaceKey, u);
  }
  const wantedKeys = new Set<string>();
  const wantedReplace = new Set<string>();
  const entryOf = new Map<Upload, PlanEntry>();
  /** Stored unit id → the entry of the staged item that is that unit, unchanged. */
  const unchangedOf = new Map<string, PlanEntry>();

  // The same unit staged twice for one repository (e.g. a file under two destinations that both
  // map here) is planned once. Items are grouped by their first unit's key (memoised anyway), and
  // compared in full only within a group: no signature string is built per item.
  const seenItems = new Map<string, DesiredItem | DesiredItem[]>();
  const sameDesired = (x: DesiredItem, y: DesiredItem): boolean =>
    x.label === y.label && x.units.length === y.units.length && x.units.every((u, i) => keyOf(u) === keyOf(y.units[i]!) && u.fingerprint === y.units[i]!.fingerprint);

  // Two different contents for one unit staged for this repository (two builds of one NEVRA, two
  // FILES given the same name, one advisory with two texts, two product certificates, e.g. under
  // two destinations that both map here): which one it should hold is not said, whatever
  // duplicate_nevra is (it decides between a staged build and a stored one). Each is refused,
  // naming the other.
  const builds = new Map<string, { fingerprint: string; src: string | null }[]>();
  for (const d of desired) {
    const u = d.units[0];
    if (!u || !ONE_CONTENT_TYPES.has(u.typeId)) continue;
    const list = builds.get(u.replaceKey);
    const me = { fingerprint: u.fingerprint, src: d.assignment.item.src };
    if (!list) builds.set(u.replaceKey, [me]);
    else if (!list.some((b) => b.fingerprint === u.fingerprint)) list.push(me);
  }
  const rivalsOf = (d: DesiredItem): string[] => {
    const u = d.units[0];
    const list = u && ONE_CONTENT_TYPES.has(u.typeId) ? builds.get(u.replaceKey) : undefined;
    return list && list.length > 1 ? list.filter((b) => b.fingerprint !== u!.fingerprint).map((b) => b.src ?? b.fingerprint) : [];
  };

  // The units of comps and modulemd files (groups, categories, environments, langpacks, module
  // streams and defaults): one staged by two files with different content is ambiguous (one
  // would silently win). Each file involved is refused, naming the unit and the other files.
  const metaOwners = new Map<string, Array<{ fingerprint: string; src: string | null }>>();
  for (const d of desired) {
    if (d.assignment.typeId !== 'comps' && d.assignment.typeId !== 'modulemd') continue;
    for (const u of d.units) {
      const k = keyOf(u);
      const list = metaOwners.get(k);
      const me = { fingerprint: u.fingerprint, src: d.assignment.item.src };
      if (!list) metaOwners.set(k, [me]);
      else if (!list.some((o) => o.fingerprint === u.fingerprint)) list.push(me);
    }
  }
  const metaRivals = (d: DesiredItem): string[] => {
    if (d.assignment.typeId !== 'comps' && d.assignment.typeId !== 'modulemd') return [];
    // One unit written twice in the file itself (a group id, a module's defaults, a stream's
    // NSVCA) is said so, once: it was listed once per copy, each "also in" the file itself.
    const out = new Set<string>();
    for (const u of d.units) {
      const list = metaOwners.get(keyOf(u));
      if (!list || list.length < 2) continue;
      const others = [...new Set(list.filter((o) => o.fingerprint !== u.fingerprint).map((o) => o.src ?? '?'))];
      const where = others.map((o) => (o === d.assignment.item.src ? 'twice in this file' : `also in ${o}`));
      out.add(`${u.label} (${where.join(', ')}, with other content)`);
    }
    return [...out];
  };

  for (const d of desired) {
    const a = d.assignment;
    const group = d.units.length ? keyOf(d.units[0]!) : `\u0000${d.label}`;
    const seen = seenItems.get(group);
    if (seen === undefined) seenItems.set(group, d);
    else if (Array.isArray(seen) ? seen.some((o) => sameDesired(o, d)) : sameDesired(seen, d)) continue;
    else seenItems.set(group, Array.isArray(seen) ? (seen.push(d), seen) : [seen, d]);
    const base: EntryBase = { repository: repo.id, unit: d.label, type: a.typeId, item: a.item.name, src: a.item.src, dest: a.dest };
    for (const u of d.units) {
      wantedKeys.add(keyOf(u));
      wantedReplace.add(u.replaceKey);
    }
    const clashes = metaRivals(d);
    if (clashes.length) {
      const reason = `${a.item.src ?? d.label} stages for ${repo.id} ${clashes.join('; ')}: stage each once, in one file`;
      entries.push(planEntry(base, 'failed', { reason }));
      problems.push({ code: 'PUSH_STAGED_TWICE', file: a.item.src ?? undefined, entry: a.item.name, message: reason });
      continue;
    }
    const rivals = rivalsOf(d);
    if (rivals.length) {
      const rpm = a.typeId === 'rpm' || a.typeId === 'srpm';
      const reason = rpm
        ? `${d.label} is staged for ${repo.id} in builds with other content too: ${rivals.join(', ')} (stage one build of a NEVRA per repository)`
        : `${d.label} is staged for ${repo.id} with other content too: ${rivals.join(', ')} (one ${a.typeId === 'iso' ? 'file name' : 'unit'} per repository: ${a.typeId === 'iso' ? 'rename one (staged.yaml filename)' : 'stage one of them'})`;
      entries.push(planEntry(base, 'failed', { reason }));
      problems.push({ code: rpm ? 'PUSH_NEVRA_STAGED_TWICE' : 'PUSH_STAGED_TWICE', file: a.item.src ?? undefined, entry: a.item.name, field: a.typeId === 'iso' ? 'filename' : a.typeId === 'erratum' ? 'id' : 'sha256sum', message: reason });
      continue;
    }
    // An item that makes no unit (a modulemd file of obsoletes only, an empty comps file) changes
    // nothing: unchanged, on every push (it was "pushed" each time, and nothing was made).
    let same = true;
    if (d.erratum && d.erratum.decision === 'unchanged') {
      entries.push(planEntry(base, 'unchanged'));
      continue;
    }
    const replaced: ExistingUnit[] = [];
    for (const u of d.units) {
      const ex = byKey.get(keyOf(u));
      if (ex && ex.fingerprint === u.fingerprint) continue;
      same = false;
      if (ex) replaced.push(ex);
      for (const old of byReplace.get(u.replaceKey) ?? []) if (keyOf(old) !== keyOf(u)) replaced.push(old);
    }
    if (same) {
      const entry = planEntry(base, 'unchanged');
      entries.push(entry);
      for (const u of d.units) unchangedOf.set(byKey.get(keyOf(u))!.id, entry);
      continue;
    }
    let bumpVersion: string | undefined;
    let bumpUpdated: string | undefined;
    if (a.typeId === 'erratum' && d.erratum && d.erratum.decision === 'dropped') {
      if (opts.bumpErrata) {
        bumpVersion = String((Number(d.erratum.storedVersion ?? 0) || 0) + 1);
        bumpUpdated = d.erratum.bumpUpdated ?? undefined;
      } else {
        const reason = `bump version or updated: advisory ${a.item.name} changed but its updated (${d.erratum.updated ?? 'unset'}) and version (${d.erratum.version}) do not move it past the stored one (updated ${d.erratum.storedUpdated ?? 'unset'}, version ${d.erratum.storedVersion ?? 'unset'}${d.erratum.storedFor ? `, stored for ${d.erratum.storedFor.length ? d.erratum.storedFor.join(', ') : 'no repository'}: one advisory per id` : ''}), so the merge rule would drop the change (or use --bump-errata)`;
        entries.push(planEntry(base, 'failed', { reason }));
        problems.push({ code: 'PUSH_ERRATUM_NOT_FORWARD', file: a.item.src ?? undefined, entry: a.item.name, field: 'version', message: reason });
        continue;
      }
    }
    if (replaced.length && (a.typeId === 'rpm' || a.typeId === 'srpm') && repo.duplicateNevra === 'refuse') {
      const old = replaced[0]!;
      const reason = `${old.label} is already in ${repo.id} with sha256 ${old.fingerprint}; the staged file has ${d.units[0]!.fingerprint} (duplicate_nevra: refuse)`;
      entries.push(planEntry(base, 'failed', { reason }));
      problems.push({ code: 'PUSH_DUPLICATE_NEVRA', file: a.item.src ?? undefined, entry: a.item.name, field: 'duplicate_nevra', message: reason });
      continue;
    }
    for (const old of replaced) {
      // A unit whose key is still wanted is updated in place, not removed.
      if (!d.units.some((u) => keyOf(u) === keyOf(old))) removals.set(old.id, old);
    }
    const entry = planEntry(base, replaced.length ? 'replaced' : 'pushed', replaced.length ? { unitId: replaced[0]!.id } : undefined);
    entries.push(entry);
    const up: Upload = { assignment: a, desired: d, ...(bumpVersion ? { bumpVersion } : {}), ...(bumpUpdated ? { bumpUpdated } : {}) };
    uploads.push(up);
    entryOf.set(up, entry);
  }

  if (repo.pushMode === 'mirror' && !opts.mirrorHeld) {
    for (const u of existing) {
      if (wantedKeys.has(keyOf(u)) || removals.has(u.id)) continue;
      // A unit replaced in place by an upload keeps its key; any other is absent from the area.
      if (wantedReplace.has(u.replaceKey) && u.typeId !== 'rpm' && u.typeId !== 'srpm' && u.typeId !== 'iso') continue;
      removals.set(u.id, u);
    }
  }

  if (repo.retainOldCount !== undefined) {
    // Newest (1 + retain_old_count) per name and arch, over what the repository will hold: older
    // stored units are removed, older staged ones are not uploaded (reported unchanged, so that
    // pushing the same area again reports the same).
    const keep = 1 + repo.retainOldCount;
    // A package a module stream the repository will hold lists in its artifacts is that stream's
    // content, not an older version of the name: dropping it left the stream without its
    // packages (dnf: "No match for package"), while a newer non-modular build took its place.
    // As Pulp's retention, only non-modular packages are counted and dropped.
    const modular = new Set<string>();
    for (const u of existing) if (!removals.has(u.id)) for (const a of u.artifacts ?? []) modular.add(a);
    for (const up of uploads) for (const u of up.desired.units) for (const a of u.artifacts ?? []) modular.add(a);
    const groups = new Map<string, Array<{ key: Record<string, unknown>; existing?: ExistingUnit; upload?: Upload }>>();
    const add = (typeId: string, key: Record<string, unknown>, ex?: ExistingUnit, upload?: Upload) => {
      if (typeId !== 'rpm' && typeId !== 'srpm') return;
      if (modular.size && modular.has(`${String(key.name)}-${String(key.epoch ?? '0')}:${String(key.version)}-${String(key.release)}.${String(key.arch)}`)) return;
      const g = `${typeId}\u0000${key.name}\u0000${key.arch}`;
      pushTo(groups, g, { key, existing: ex, upload });
    };
    for (const u of existing) if (!removals.has(u.id)) add(u.typeId, u.unitKey, u);
    for (const up of uploads) for (const u of up.desired.units) if (!byKey.has(keyOf(u))) add(u.typeId, u.unitKey, undefined, up);
    const dropped = new Set<Upload>();
    for (const list of groups.values()) {
      list.sort((x, y) => -evrCompare(x.key, y.key));
      for (const old of list.slice(keep)) {
        if (old.existing) {
          removals.set(old.existing.id, old.existing);
          // Staged and stored already: the item's own entry says it goes, not "unchanged" and a
          // second "removed" entry for the same unit.
          const entry = unchangedOf.get(old.existing.id);
          if (entry) {
            entry.action = 'removed';
            entry.unitId = old.existing.id;
            entry.reason = `not kept: older than the ${keep} newest of ${String(old.key.name)} (retain_old_count: ${repo.retainOldCount})`;
          }
        } else if (old.upload) dropped.add(old.upload);
      }
    }
    for (const up of dropped) {
      const entry = entryOf.get(up)!;
      // A replaced unit of the same NEVRA is removed all the same.
      entry.action = entry.action === 'replaced' ? 'removed' : 'unchanged';
      entry.reason = `not kept: older than the ${keep} newest of ${String(up.desired.units[0]!.unitKey.name)} (retain_old_count: ${repo.retainOldCount})`;
    }
    if (dropped.size) uploads.splice(0, uploads.length, ...uploads.filter((u) => !dropped.has(u)));
  }

  // Units a staged item's entry already reports (replaced; removed when retention drops it).
  const replacedIds = new Set(entries.filter((e) => e.unitId !== undefined && e.item !== undefined).map((e) => e.unitId));
  for (const r of removals.values()) {
    if (replacedIds.has(r.id)) continue;
    entries.push({ repository: repo.id, unit: r.label, action: 'removed', type: r.typeId, unitId: r.id });
  }
  const changed = problems.length === 0 && (uploads.length > 0 || removals.size > 0);
  return { repoId: repo.id, entries: sortedEntries(entries), uploads, removals: [...removals.values()], problems, changed };
}
