/**
 * Unit shapes of the yum plugins: how an RPM record becomes an rpm/srpm unit, the type aliases
 * accepted by `skip`, and small helpers shared by the importer and the distributor.
 */
import type { Json, Unit } from '../../engine/contract.js';
import { JSON_TEXT, isJsonText } from '../../engine/contract.js';
import type { RpmRecord } from '../../formats/rpm/types.js';
import { StagepushError } from '../../errors.js';

export const RPM_TYPES = ['rpm', 'srpm'] as const;
export const COMPS_TYPES = ['package_group', 'package_category', 'package_environment', 'package_langpacks'] as const;
export const MODULE_TYPES = ['modulemd', 'modulemd_defaults'] as const;
export const YUM_TYPES = [...RPM_TYPES, 'erratum', ...COMPS_TYPES, ...MODULE_TYPES, 'yum_repo_metadata_file', 'directory'];

/**
 * `skip` values: type ids, plus the aliases Pulp's yum plugins use ("errata", "comps"/"groups",
 * "modules", "productid", "distribution" for directory trees).
 */
const SKIP_ALIASES: Record<string, string[]> = {
  rpm: ['rpm'],
  srpm: ['srpm'],
  erratum: ['erratum'],
  errata: ['erratum'],
  comps: [...COMPS_TYPES],
  groups: [...COMPS_TYPES],
  package_group: ['package_group'],
  package_category: ['package_category'],
  package_environment: ['package_environment'],
  package_langpacks: ['package_langpacks'],
  modulemd: ['modulemd'],
  modulemd_defaults: ['modulemd_defaults'],
  modules: [...MODULE_TYPES],
  yum_repo_metadata_file: ['yum_repo_metadata_file'],
  productid: ['yum_repo_metadata_file'],
  directory: ['directory'],
  distribution: ['directory'],
};
export const SKIP_VALUES = Object.keys(SKIP_ALIASES);

/** A `skip` value (list, or comma-separated string) → problem message or the set of skipped type ids. */
export function parseSkip(v: unknown, key = 'skip'): { types: Set<string> } | { problem: string } {
  if (v === undefined || v === null || v === '') return { types: new Set() };
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : null;
  if (!list) return { problem: `config key "${key}" must be a list of content types, got ${JSON.stringify(v)}` };
  const types = new Set<string>();
  for (const item of list) {
    const t = SKIP_ALIASES[String(item)];
    if (!t) return { problem: `config key "${key}": unknown content type ${JSON.stringify(item)} (accepted: ${SKIP_VALUES.join(', ')})` };
    for (const x of t) types.add(x);
  }
  return { types };
}

/** The canonical file name of a package: name-version-release.arch.rpm (src.rpm for sources). */
/** The longest file name (bytes) Linux file systems hold. */
const NAME_MAX = 255;

/**
 * Refuse a package whose published file name (name-version-release.arch.rpm from its header,
 * whatever the staged or uploaded file is called) no file system can hold: every publish of its
 * repository would fail (ENAMETOOLONG) from the import on. The push, an upload and a sync refuse it
 * (RPM_NAME_TOO_LONG); `entry`: the item's name, when a push names it.
 */
export function checkPublishedName(r: Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch'>, file: string | null, entry?: string): void {
  const bytes = Buffer.byteLength(rpmFilename(r));
  if (bytes <= NAME_MAX) return;
  throw new StagepushError('RPM_NAME_TOO_LONG', `${file}: the package would be published as a file name of ${bytes} bytes (name-version-release.arch.rpm from its header), longer than a file name can be (${NAME_MAX}); the repository cannot publish it`, {
    kind: 'invalid',
    file: file ?? undefined,
    ...(entry !== undefined ? { entry } : {}),
    field: 'name',
  });
}

export function rpmFilename(r: Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch'>): string {
  return `${r.name}-${r.version}-${r.release}.${r.arch}.rpm`;
}

/**
 * The file name of another build of a package whose file name is taken: two builds of one NEVRA
 * (e.g. unsigned and signed) share `rpmFilename`, and the one that does not keep it is published
 * as `<sha256 prefix>-<file>` (by the yum distributor, and so exported by the export distributor).
 */
export function rebuiltPackageFilename(filename: string, sha256: string): string {
  return `${sha256.slice(0, 12)}-${filename}`;
}

/** Where a package is published: Packages/<first letter, lower-case>/<file>. */
export function packageLocation(filename: string): string {
  return `Packages/${filename[0]!.toLowerCase()}/${filename}`;
}

export function rpmUnitKey(r: Pick<RpmRecord, 'name' | 'epoch' | 'version' | 'release' | 'arch'>, sha256: string): Record<string, Json> {
  return { name: r.name, epoch: String(r.epoch ?? 0), version: r.version, release: r.release, arch: r.arch, checksum: sha256 };
}

export function nevra(u: Pick<Unit, 'unitKey'>): string {
  const k = u.unitKey;
  return `${k.name}-${k.epoch && k.epoch !== '0' ? `${k.epoch}:` : ''}${k.version}-${k.release}.${k.arch}`;
}

/** "name-epoch:version-release.arch" with the epoch always present (matching erratum packages). */
export function nevraFull(k: { name: unknown; epoch: unknown; version: unknown; release: unknown; arch: unknown }): string {
  return `${k.name}-${k.epoch ?? '0'}:${k.version}-${k.release}.${k.arch}`;
}

export function str(v: unknown, def = ''): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? def : String(v);
}

/**
 * The yum importer's signature rule (require_signature, allowed_keys as short or long key ids):
 * why a package signed with `signingKey` (null: unsigned) is refused, or null. The importer and
 * the push (which refuses up front, every file listed) apply this one rule.
 */
export function signatureRefusal(
  signingKey: string | null,
  opts: { requireSignature?: boolean; allowedKeys?: string[] },
  longKeyIds?: () => string[] | undefined,
): { code: 'YUM_UNSIGNED' | 'YUM_KEY_NOT_ALLOWED'; field: 'require_signature' | 'allowed_keys'; allowed: string[] } | null {
  const allowed = (opts.allowedKeys ?? []).map((k) => k.toUpperCase().replace(/^0X/, ''));
  if (opts.requireSignature && !signingKey) return { code: 'YUM_UNSIGNED', field: 'require_signature', allowed };
  if (!signingKey || !allowed.length) return null;
  const short = signingKey.toUpperCase();
  // A long key id (16 hex digits) is compared whole with the signatures' long key ids when they
  // are known: its last 8 digits alone (the short id, which anyone can make a key for) let a
  // package of another key through. Without them (the push's early look, with the short id
  // alone) the short id is compared, and the import compares the long one.
  let longs: string[] | undefined | null = null;
  const ok = allowed.some((a) => {
    if (a.length <= 8) return a === short;
    if (longs === null) longs = longKeyIds?.()?.map((x) => x.toUpperCase());
    return longs ? longs.includes(a) : a.slice(-8) === short;
  });
  return ok ? null : { code: 'YUM_KEY_NOT_ALLOWED', field: 'allowed_keys', allowed };
}

/** The long key ids of a record's signatures (a record held as JSON text is read for them); undefined when it holds none. */
export function signatureLongKeyIds(record: unknown): string[] | undefined {
  let r = record;
  if (isJsonText(r)) {
    try {
      r = JSON.parse(r[JSON_TEXT]) as unknown;
    } catch {
      return undefined;
    }
  }
  const sigs = (r as { signatures?: unknown } | null)?.signatures;
  if (!Array.isArray(sigs)) return undefined;
  const ids = sigs.map((x) => (x as { longKeyId?: unknown })?.longKeyId).filter((x): x is string => typeof x === 'string' && /^[0-9A-Fa-f]{16}$/.test(x));
  return ids.length ? ids : undefined;
}
