/**
 * The yum importer's own view of comps, modulemd and errata, reused so the plan predicts exactly
 * the units the upload will make (and the merge rule it will apply to advisories).
 */
import type { Unit } from '../engine/contract.js';
import { normalizeErratum, isNewer, resolveErratumUpload, updatedForNewerVersion, type Erratum } from '../plugins/yum/erratum.js';
import { compsUnitsFromXml, modulemdUnitsFromYaml } from '../plugins/yum/metadata.js';
import { normalizeErratumDate } from '../formats/updateinfo/index.js';
import { canonicalJson } from './plan.js';
import type { PushItemLike } from './items.js';

export function compsUnitsOf(text: string | Buffer, repoId: string, file: string): Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }> {
  return compsUnitsFromXml(text, repoId, file) as Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }>;
}

export function modulemdUnitsOf(text: string | Buffer, repoId: string, file: string): Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }> {
  return modulemdUnitsFromYaml(text, repoId, file) as Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }>;
}

/**
 * The advisory with its dates as the publish writes them (`YYYY-MM-DD HH:MM:SS` UTC; an empty
 * date is not written): the plan compares advisories as dnf will read them, so the same instant
 * spelt otherwise ("2026-01-15T00:00:00Z" against a stored "2026-01-15 00:00:00") is unchanged,
 * not a change the merge rule would drop (PUSH_ERRATUM_NOT_FORWARD) or --bump-errata would bump.
 */
function withPublishedDates(e: Erratum): Erratum {
  const norm = (v: string | null, field: string): string | null => (v ? normalizeErratumDate(v, { entry: e.id, field }) : null);
  return { ...e, issued: norm(e.issued, 'issued'), updated: norm(e.updated, 'updated') };
}

/** The advisory of an ErratumPushItem, as the importer stores it (dates as published). */
export function erratumOfItem(item: PushItemLike): Erratum {
  return withPublishedDates(normalizeErratum({ ...item, id: item.name }, item.src ?? undefined));
}

/** A stored advisory (dates as published). */
export function erratumOfUnit(u: Pick<Unit, 'unitKey' | 'metadata'>): Erratum {
  return withPublishedDates(normalizeErratum({ ...u.metadata, ...u.unitKey }));
}

export function erratumFingerprint(e: Erratum): string {
  return canonicalJson(e);
}

export function erratumFingerprintOfItem(item: PushItemLike): string {
  return erratumFingerprint(erratumOfItem(item));
}

/**
 * The fields of the advisory without its package list: what the one unit of an advisory id holds
 * once for every repository (the import merges the package lists, and keeps one set of fields).
 */
export function erratumFieldsFingerprintOfItem(item: PushItemLike): string {
  return erratumFingerprint({ ...erratumOfItem(item), pkglist: [] });
}

export function erratumFingerprintOfUnit(u: Pick<Unit, 'unitKey' | 'metadata'>): string {
  try {
    return erratumFingerprint(erratumOfUnit(u));
  } catch {
    return canonicalJson(u.metadata);
  }
}

/**
 * What uploading this advisory over the stored one does: `unchanged` (the merge keeps the stored
 * one as is), `forward` (newer: replaces it), `merge` (same fields, new packages merged), or
 * `dropped` (changed fields that the merge rule would ignore: bump version or updated).
 */
export function erratumDecision(item: PushItemLike, stored: Pick<Unit, 'unitKey' | 'metadata'>): 'unchanged' | 'forward' | 'merge' | 'dropped' {
  const inc = erratumOfItem(item);
  const old = erratumOfUnit(stored);
  const r = resolveErratumUpload(inc, old);
  if (isNewer(inc, old)) return canonicalJson(r.erratum) === canonicalJson(old) ? 'unchanged' : 'forward';
  const strip = (e: Erratum) => canonicalJson({ ...e, pkglist: [] });
  if (strip(inc) !== strip(old)) {
    // The stored advisory is this one with a higher version (an earlier --bump-errata moved it
    // forward): the staged text brings nothing new, the push is idempotent.
    const bumped = Number(old.version) > Number(inc.version) && (strip({ ...inc, version: old.version }) === strip(old) || strip({ ...inc, version: old.version, updated: old.updated }) === strip(old));
    if (!bumped) return 'dropped';
  }
  return r.changed ? 'merge' : 'unchanged';
}

/**
 * The `updated` a --bump-errata upload must carry to move past the stored advisory: the stored
 * one's when the staged date does not (earlier, or unset while the stored one is set), since the
 * merge rule compares dates before versions; null when the staged date is fine.
 */
export function updatedForBump(item: PushItemLike, stored: Pick<Unit, 'unitKey' | 'metadata'>): string | null {
  return updatedForNewerVersion(erratumOfItem(item), erratumOfUnit(stored));
}
