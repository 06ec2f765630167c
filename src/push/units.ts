/**
 * What each routed item becomes in its repository (the units the plan compares), computed the
 * way the built-in importers compute them, and the same view of the units a repository holds.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Unit } from '../engine/contract.js';
import type { RpmRecord } from '../formats/rpm/types.js';
import { DEFAULT_CHANGELOG_LIMIT } from '../formats/repodata/package.js';
import { toBool } from '../plugins/common/config.js';
import { scanDirectory, manifestDigest } from '../plugins/common/directory.js';
import { hashFile } from '../plugins/common/fsutil.js';
import { canonicalJson, type DesiredItem, type ExistingUnit, type PlanUnit } from './plan.js';
import type { Assignment } from './route.js';
import type { PushItemLike } from './items.js';
import { compsUnitsOf, modulemdUnitsOf, erratumFieldsFingerprintOfItem, erratumFingerprintOfItem, erratumFingerprintOfUnit } from './yumunits.js';
import { checkIsoName } from '../plugins/iso/manifest.js';
import { ignoredModulemdDocuments } from '../plugins/yum/metadata.js';
import { checkPublishedName } from '../plugins/yum/units.js';
import { StagepushError } from '../errors.js';

/**
 * "rpm:name-epoch:version-release.arch": a package's label, which is also its replace key (one
 * string for both). Joined from an array: a template literal of ten parts is a tree of nine
 * concatenation nodes in V8 (~300 bytes per package held by the plan, the report and each
 * desired and existing unit), joining makes one flat string.
 */
const packageLabel = (typeId: string, k: Record<string, unknown>): string =>
  [typeId, ':', String(k.name), '-', String(k.epoch ?? '0'), ':', String(k.version), '-', String(k.release), '.', String(k.arch)].join('');

/**
 * The fingerprint of a file, image or CGW unit: its content's sha256 and the metadata the push
 * stores with it. The checksum alone said a unit whose staged.yaml fields changed (a FILES
 * version or description, an AMI's region or billing codes) was unchanged, and the change was
 * dropped; with the metadata, the unit is replaced (its metadata updated in place, a new version).
 */
const metadataFingerprint = (checksum: unknown, fields: Record<string, unknown>): string => [String(checksum ?? ''), canonicalJson(fields)].join('\u0000');

/**
 * The metadata fields of a FILES unit the push sets (run.ts uploadSpec): a missing field is null,
 * so a synced unit (no metadata) is the file pushed without any.
 */
const isoMetadataFields = (md: Record<string, unknown>): Record<string, unknown> => ({
  description: md.description ?? null,
  version: md.version ?? null,
  display_order: md.display_order ?? null,
});

/**
 * Fields of a CGW, AMI or VHD unit's metadata that say where and how the item was staged, or that
 * the importer adds from the file, not what the item is: the same item pushed from a staging area
 * moved elsewhere (src, origin), or under two destinations (dest), is the same unit.
 */
const PLACEMENT_FIELDS = new Set(['kind', 'state', 'src', 'dest', 'origin', 'size', 'filename']);

/** The metadata of a CGW, AMI or VHD unit (the item's own fields) that its fingerprint holds. */
function itemMetadataFields(md: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(md)) if (!PLACEMENT_FIELDS.has(k)) out[k] = v;
  return out;
}

/** Label, replace key and fingerprint of a stored unit. */
export function existingUnit(u: Unit): ExistingUnit {
  const k = u.unitKey as Record<string, unknown>;
  const id = u.id ?? '';
  switch (u.typeId) {
    case 'rpm':
    case 'srpm': {
      const label = packageLabel(u.typeId, k);
      return { id, typeId: u.typeId, unitKey: k, fingerprint: String(k.checksum), replaceKey: label, label };
    }
    case 'iso':
      return { id, typeId: 'iso', unitKey: k, fingerprint: metadataFingerprint(k.checksum, isoMetadataFields(u.metadata)), replaceKey: `iso:${k.name}`, label: `iso:${k.name}` };
    case 'erratum':
      return {
        id,
        typeId: 'erratum',
        unitKey: k,
        fingerprint: erratumFingerprintOfUnit(u),
        replaceKey: `erratum:${k.id}`,
        label: `erratum:${k.id}`,
        updated: (u.metadata.updated as string | null | undefined) ?? null,
        version: u.metadata.version === undefined || u.metadata.version === null ? null : String(u.metadata.version),
      };
    case 'directory':
      return { id, typeId: 'directory', unitKey: k, fingerprint: String(k.digest), replaceKey: `directory:${k.name}`, label: `directory:${k.name}` };
    case 'yum_repo_metadata_file':
      return { id, typeId: u.typeId, unitKey: k, fingerprint: String(u.sha256 ?? ''), replaceKey: `yum_repo_metadata_file:${k.data_type}`, label: `yum_repo_metadata_file:${k.data_type}` };
    case 'cgw':
    case 'ami':
    case 'vhd':
      return { id, typeId: u.typeId, unitKey: k, fingerprint: metadataFingerprint(k.checksum, itemMetadataFields(u.metadata)), replaceKey: `${u.typeId}:${k.name}`, label: `${u.typeId}:${k.name}` };
    default: {
      const key = canonicalJson(k);
      const e: ExistingUnit = { id, typeId: u.typeId, unitKey: k, fingerprint: canonicalJson(u.metadata), replaceKey: `${u.typeId}:${key}`, label: `${u.typeId}:${Object.values(k).join(':')}` };
      // A module stream's packages, which retain_old_count keeps (plan.ts).
      if (u.typeId === 'modulemd' && Array.isArray(u.metadata.artifacts)) e.artifacts = u.metadata.artifacts.map(String);
      return e;
    }
  }
}

export interface DesiredContext {
  repoId: string;
  /** The configuration the repository's importer will upload with (what it refuses is refused now). */
  importerConfig?: Record<string, unknown>;
  /** The parsed header of an RPM item (its summary, from the staging table). */
  record(item: PushItemLike): (Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch' | 'isSource'> & { epoch?: unknown; controlChars?: string; controlCharsChangelog?: number }) | undefined;
  /** The most changelog entries the repository publishes per package (its yum distributors'). */
  changelogLimit?: number;
}

/** The units an item becomes in a repository. */
export async function desiredItem(a: Assignment, ctx: DesiredContext): Promise<DesiredItem> {
  const item = a.item;
  const sha = item.sha256sum ?? '';
  const one = (u: PlanUnit): DesiredItem => ({ assignment: a, label: u.label, units: [u] });
  switch (a.typeId) {
    case 'rpm':
    case 'srpm': {
      const r = ctx.record(item);
      if (!r) throw new Error(`no parsed header for ${item.src}`);
      // A control character in what the repository would publish: it could never be published
      // (createrepo_c refuses it too); refused before anything changes.
      const limit = ctx.changelogLimit ?? DEFAULT_CHANGELOG_LIMIT;
      const field = r.controlChars ?? (r.controlCharsChangelog !== undefined && r.controlCharsChangelog < limit ? `changelog entry ${r.controlCharsChangelog + 1} (from the newest; the repository publishes ${limit})` : undefined);
      if (field) {
        throw new StagepushError('REPODATA_CONTROL_CHARS', `${item.src}: the header's ${field} holds a control character (below 0x20 other than tab, LF, CR); the repository cannot publish the package (createrepo_c refuses it too)`, { kind: 'invalid', file: item.src ?? undefined, entry: item.name, field: r.controlChars ?? 'changelogs' });
      }
      checkPublishedName(r, item.src, item.name);
      const typeId = r.isSource ? 'srpm' : 'rpm';
      a.typeId = typeId;
      const key = { name: r.name, epoch: String(r.epoch ?? 0), version: r.version, release: r.release, arch: r.arch, checksum: sha };
      const label = packageLabel(typeId, key);
      return one({ typeId, unitKey: key, fingerprint: sha, replaceKey: label, label });
    }
    case 'iso': {
      // The importer's own check of the name (a path inside the published tree), before anything changes.
      const bad = checkIsoName(item.name);
      if (bad) throw new StagepushError('FILE_BAD_NAME', `${item.src ?? item.name}: file name ${bad}`, { kind: 'invalid', file: item.src ?? undefined, entry: item.name, field: 'filename' });
      const size = item.src ? (await stat(item.src)).size : 0;
      const key = { name: item.name, checksum: sha, size };
      return one({ typeId: 'iso', unitKey: key, fingerprint: metadataFingerprint(sha, isoMetadataFields(item)), replaceKey: `iso:${item.name}`, label: `iso:${item.name}` });
    }
    case 'erratum': {
      const key = { id: item.name };
      return {
        assignment: a,
        label: `erratum:${item.name}`,
        units: [{ typeId: 'erratum', unitKey: key, fingerprint: erratumFingerprintOfItem(item), sharedFingerprint: erratumFieldsFingerprintOfItem(item), replaceKey: `erratum:${item.name}`, label: `erratum:${item.name}` }],
        erratum: { decision: 'new', updated: (item.updated as string | null) ?? null, version: String(item.version ?? '1') },
      };
    }
    case 'yum_repo_metadata_file': {
      const key = { data_type: 'productid', repo_id: ctx.repoId };
      return one({ typeId: 'yum_repo_metadata_file', unitKey: key, fingerprint: sha, replaceKey: 'yum_repo_metadata_file:productid', label: 'yum_repo_metadata_file:productid' });
    }
    case 'directory': {
      // The digest the importer will compute: the manifest with every file's sha256 and size.
      const { entries, files } = await scanDirectory(item.src!);
      const escaping = toBool(ctx.importerConfig?.refuse_escaping_symlinks) === true ? entries.find((e) => e.escapes) : undefined;
      if (escaping) {
        const at = path.join(item.src!, escaping.path);
        throw new StagepushError('FILE_DIRECTORY_ESCAPING_SYMLINK', `${at}: symlink to "${escaping.target}" leaves the tree (refuse_escaping_symlinks)`, { kind: 'invalid', file: at, field: 'refuse_escaping_symlinks' });
      }
      const byRel = new Map(entries.map((e) => [e.path, e]));
      for (const f of files) {
        const h = await hashFile(f.abs);
        const e = byRel.get(f.path)!;
        e.sha256 = h.sha256;
        e.size = h.size;
      }
      const key = { name: item.name, digest: manifestDigest(entries) };
      return { ...one({ typeId: 'directory', unitKey: key, fingerprint: key.digest, replaceKey: `directory:${item.name}`, label: `directory:${item.name}` }), tree: entries.map((e) => ({ path: e.path, type: e.type })) };
    }
    case 'cgw':
    case 'ami':
    case 'vhd': {
      const key = { name: item.name, checksum: sha };
      // The item as the push uploads it (plain JSON: what the importer stores as the unit's metadata).
      const md = itemMetadataFields(JSON.parse(JSON.stringify(item)) as Record<string, unknown>);
      return one({ typeId: a.typeId, unitKey: key, fingerprint: metadataFingerprint(sha, md), replaceKey: `${a.typeId}:${item.name}`, label: `${a.typeId}:${item.name}` });
    }
    case 'comps': {
      const units = compsUnitsOf(await readFile(item.src!), ctx.repoId, item.src!);
      return { assignment: a, label: `comps:${path.basename(item.src!)}`, units: units.map((u) => planUnitOfMeta(u)) };
    }
    case 'modulemd': {
      const text = await readFile(item.src!);
      const units = modulemdUnitsOf(text, ctx.repoId, item.src!);
      // Documents the repository does not keep are said, not dropped silently.
      const ignored = ignoredModulemdDocuments(text, item.src!);
      const warnings = ignored.map((d) => ({ code: 'PUSH_MODULEMD_DOCUMENT_IGNORED', field: `document ${d.index + 1}`, message: `${item.src}: document ${d.index + 1} (${d.kind}) is not published: modules.yaml carries modulemd and modulemd-defaults documents only` }));
      return { assignment: a, label: `modulemd:${path.basename(item.src!)}`, units: units.map((u) => planUnitOfMeta(u)), ...(warnings.length ? { warnings } : {}) };
    }
    default:
      throw new Error(`cannot plan content type ${a.typeId}`);
  }
}

function planUnitOfMeta(u: { typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }): PlanUnit {
  const e = existingUnit({ typeId: u.typeId, unitKey: u.unitKey as Unit['unitKey'], metadata: u.metadata as Unit['metadata'], storagePath: null, relativePath: null, id: '' });
  return { typeId: e.typeId, unitKey: e.unitKey, fingerprint: e.fingerprint, replaceKey: e.replaceKey, label: e.label, ...(e.artifacts ? { artifacts: e.artifacts } : {}) };
}
