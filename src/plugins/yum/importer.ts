/**
 * yum_importer: uploads (rpm, srpm, erratum, comps, modulemd, productid, directory trees), sync
 * from a remote yum repository (sync.ts), copy between repositories (errata carrying their
 * packages with `recursive`), remove.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  ImportConduit,
  Importer,
  ImporterConduit,
  ImporterFactory,
  Json,
  JsonText,
  MetadataInput,
  PluginCallConfig,
  PluginMetadata,
  RelatedRepositories,
  Repository,
  SyncReport,
  Unit,
  UploadReport,
  UploadRequest,
  ValidationResult,
} from '../../engine/contract.js';
import { isJsonText, jsonText } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { readRpmFile } from '../../formats/rpm/index.js';
import { controlCharsField } from '../../formats/repodata/package.js';
import { erratumToJson, normalizeErratum, parseErratumText, resolveErratumUpload, type Erratum } from './erratum.js';
import { COMPS_TYPES, MODULE_TYPES, RPM_TYPES, YUM_TYPES, nevraFull, packageLocation, parseSkip, rpmFilename, rpmUnitKey, checkPublishedName, signatureLongKeyIds, signatureRefusal, str } from './units.js';
import { toBool, toList } from '../common/config.js';
import { compsUnitsFromXml, modulemdUnitsFromYaml, type MetaUnit } from './metadata.js';
import { checkImporterConfig } from './config.js';
import { copyAndHash } from '../common/fsutil.js';
import { storeDirectoryUpload } from '../common/directory.js';
import type { YumSync } from './sync.js';

export const IMPORTER_ID = 'yum_importer';

export const IMPORTER_METADATA: PluginMetadata = {
  id: IMPORTER_ID,
  displayName: 'Yum importer',
  types: [...YUM_TYPES],
};

function uploadError(code: string, message: string, file?: string, field?: string): StagepushError {
  return new StagepushError(code, message, { kind: 'invalid', file, field });
}

/** Guess the content type of an uploaded file (content upload without --type). */
export async function detectYumType(filePath: string): Promise<string | null> {
  let st;
  try {
    st = await fsp.stat(filePath);
  } catch {
    return null;
  }
  if (st.isDirectory()) return 'directory';
  const name = path.basename(filePath).toLowerCase();
  if (name.endsWith('.src.rpm') || name.endsWith('.nosrc.rpm')) return 'srpm';
  if (name.endsWith('.rpm')) return 'rpm';
  if (name.endsWith('.pem') || name === 'productid') return 'yum_repo_metadata_file';
  const head = (await readHead(filePath, 4096)).trimStart();
  if (name.endsWith('.xml') || head.startsWith('<')) return /<comps[\s>]|<!DOCTYPE comps/.test(head) ? 'package_group' : null;
  if (/-----BEGIN CERTIFICATE-----/.test(head)) return 'yum_repo_metadata_file';
  if (/^\s*document:\s*["']?modulemd(-defaults)?["']?\s*$/m.test(head)) return /^\s*document:\s*["']?modulemd-defaults/m.test(head) && !/^\s*document:\s*["']?modulemd["']?\s*$/m.test(head) ? 'modulemd_defaults' : 'modulemd';
  if (/\.(ya?ml|json)$/.test(name) || /^(id|"id")\s*:/m.test(head)) return 'erratum';
  return null;
}

async function readHead(file: string, n: number): Promise<string> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

type RpmRecord = import('../../formats/rpm/types.js').RpmRecord;

/** The fields of a header record the importer itself needs (the unit key, the file name, the type, the signature gate). */
type RpmHead = Pick<RpmRecord, 'name' | 'epoch' | 'version' | 'release' | 'arch' | 'isSource' | 'signingKey'> & { controlChars?: string };

function isRpmHead(r: unknown): r is RpmHead {
  const h = r as Partial<RpmHead> | null;
  return !!h && typeof h === 'object' && typeof h.name === 'string' && typeof h.version === 'string' && typeof h.release === 'string' && typeof h.arch === 'string' && typeof h.isSource === 'boolean';
}

/**
 * What the caller of the operation already read from this file (the push's loader), when the
 * conduit knows it and the file is unchanged since; else undefined. The facts' `extra` is the
 * header record, or (the push) `{ json, summary }`: the record as the JSON text it stored, which
 * becomes the unit's record without being parsed, and its head fields.
 */
export function knownRpm(conduit: ImporterConduit, filePath: string): { head: RpmHead; record: RpmRecord | JsonText; sha256: string } | undefined {
  const c = conduit as ImporterConduit & { fileFacts?: (p: string) => { sha256: string; size: number; extra?: unknown } | undefined };
  if (typeof c.fileFacts !== 'function') return undefined;
  const f = c.fileFacts(filePath);
  const x = f?.extra as { json?: unknown; summary?: unknown } | undefined;
  if (!f || !x || typeof x !== 'object') return undefined;
  if (typeof x.json === 'string' && x.json.startsWith('{') && isRpmHead(x.summary)) return { head: x.summary, record: jsonText(x.json), sha256: f.sha256 };
  return isRpmHead(x) ? { head: x, record: x as RpmRecord, sha256: f.sha256 } : undefined;
}

/**
 * Upload (or sync) an RPM file: reads its header, stores the record on the unit. A file whose
 * header and sha256 the push already read (conduit file facts) is not read again.
 */
export async function saveRpmFile(
  conduit: ImporterConduit,
  filePath: string,
  opts: { expectSha256?: string; requireSignature?: boolean; allowedKeys?: string[]; private?: boolean } = {},
): Promise<{ unit: Unit; filename: string }> {
  let known = knownRpm(conduit, filePath);
  if (!known && !opts.private) return saveRpmCopy(conduit, filePath, opts);
  if (!known) {
    const r = await readRpmFile(filePath, { checksums: ['sha256'] });
    known = { head: r.record, record: r.record, sha256: r.checksums.sha256! };
  }
  const { head, record, sha256 } = known;
  if (opts.expectSha256 && opts.expectSha256.toLowerCase() !== sha256) {
    throw new StagepushError('YUM_CHECKSUM_MISMATCH', `${filePath}: sha256 ${sha256} does not match the expected ${opts.expectSha256}`, { kind: 'failed', file: filePath });
  }
  checkSignature(head.signingKey ?? null, filePath, opts, record);
  // A record passed as JSON text is the push's, which checked its changelog against the
  // repository's own changelog limit (its summary says the rest); another with createrepo_c's
  // default limit.
  checkPublishable(isJsonText(record) ? (head.controlChars ?? null) : controlCharsField(record as RpmRecord), filePath);
  checkPublishedName(head, filePath);
  const typeId = head.isSource ? 'srpm' : 'rpm';
  const filename = rpmFilename(head);
  const metadata: MetadataInput = {
    filename,
    location: packageLocation(filename),
    checksumtype: 'sha256',
    signing_key: head.signingKey ?? null,
    record: record as unknown as Json | JsonText,
  };
  // No temporary file: the file goes into the store from where it is (linked or copied).
  const unit = { ...conduit.initUnit(typeId, rpmUnitKey(head, sha256), metadata, null), relativePath: filename };
  return { unit: conduit.saveUnitFromFile(unit, filePath), filename };
}

/**
 * An uploaded RPM that is not a push's vouched staged file (nor a sync's own download): copied
 * into the store, and the copy is what is parsed and stored, so that the user's file rewritten in
 * place later (cp over it) cannot change a stored or published package (a hard link would share it).
 */
async function saveRpmCopy(conduit: ImporterConduit, filePath: string, opts: { expectSha256?: string; requireSignature?: boolean; allowedKeys?: string[] }): Promise<{ unit: Unit; filename: string }> {
  const tmp = conduit.initUnit('rpm', { name: '-', epoch: '0', version: '-', release: '-', arch: '-', checksum: '-' }, {}, path.basename(filePath));
  try {
    const { sha256 } = await copyAndHash(filePath, tmp.storagePath!, conduit.signal);
    let r: Awaited<ReturnType<typeof readRpmFile>>;
    try {
      r = await readRpmFile(tmp.storagePath!);
    } catch (e) {
      // Said of the user's file (the copy read is a temporary file, deleted below).
      if (!(e instanceof StagepushError)) throw e;
      throw new StagepushError(e.code, e.message.split(tmp.storagePath!).join(filePath), { kind: e.kind, file: filePath, entry: e.entry, field: e.field, hint: e.hint, cause: e.cause, details: e.details });
    }
    if (opts.expectSha256 && opts.expectSha256.toLowerCase() !== sha256) {
      throw new StagepushError('YUM_CHECKSUM_MISMATCH', `${filePath}: sha256 ${sha256} does not match the expected ${opts.expectSha256}`, { kind: 'failed', file: filePath });
    }
    checkSignature(r.record.signingKey ?? null, filePath, opts, r.record);
    checkPublishable(controlCharsField(r.record), filePath);
    checkPublishedName(r.record, filePath);
    const filename = rpmFilename(r.record);
    const metadata: MetadataInput = { filename, location: packageLocation(filename), checksumtype: 'sha256', signing_key: r.record.signingKey ?? null, record: r.record as unknown as Json };
    const init = conduit.initUnit(r.record.isSource ? 'srpm' : 'rpm', rpmUnitKey(r.record, sha256), metadata, null);
    const unit = { ...init, storagePath: tmp.storagePath, relativePath: filename };
    return { unit: conduit.saveUnit(unit), filename };
  } catch (e) {
    if (tmp.storagePath) await fsp.rm(tmp.storagePath, { force: true });
    throw e;
  }
}

/** Refuse a package no repository could publish: a control character in its header text (createrepo_c refuses it too). */
function checkPublishable(field: string | null, file: string): void {
  if (field) throw new StagepushError('REPODATA_CONTROL_CHARS', `${file}: the header's ${field} holds a control character (below 0x20 other than tab, LF, CR); a repository cannot publish the package (createrepo_c refuses it too)`, { kind: 'invalid', file, field });
}

/** `record`: the package's header record (or its JSON text): a long key id in allowed_keys is compared with its signatures' long key ids. */
export function checkSignature(signingKey: string | null, file: string, opts: { requireSignature?: boolean; allowedKeys?: string[] }, record?: unknown): void {
  const no = signatureRefusal(signingKey, opts, () => signatureLongKeyIds(record));
  if (!no) return;
  const message = no.code === 'YUM_UNSIGNED' ? `${file}: the package is not signed and require_signature is on` : `${file}: signed with key ${signingKey}, not one of allowed_keys (${no.allowed.join(', ')})`;
  throw new StagepushError(no.code, message, { kind: 'policy', file, field: no.field });
}

/** Save metadata-only units (comps, modules) into the repository. */
export function saveMetaUnits(conduit: ImporterConduit, units: MetaUnit[]): Unit[] {
  return units.map((u) => conduit.saveUnit(conduit.initUnit(u.typeId, u.unitKey, u.metadata, null)));
}

/**
 * Store an erratum, applying the re-upload rule (newer replaces, package lists merged) against
 * the stored advisory of that id. An advisory is one unit shared by every repository holding it:
 * the rule is applied to it as stored, whatever repository it came from, so that an upload
 * never drops another repository's package lists nor moves an advisory back to an older version.
 */
export function saveErratum(conduit: ImporterConduit, incoming: Erratum): { unit: Unit | null; replaced: boolean; changed: boolean } {
  const existing = conduit.getUnits({ typeIds: ['erratum'], filters: { id: incoming.id } })[0];
  const shared = existing ?? conduit.getStoredUnit('erratum', { id: incoming.id });
  const stored = shared ? normalizeErratum(shared.metadata) : null;
  const r = resolveErratumUpload(incoming, stored);
  if (!r.changed && existing) return { unit: existing, replaced: false, changed: false };
  const unit = conduit.saveUnit(conduit.initUnit('erratum', { id: incoming.id }, erratumToJson(r.erratum), null));
  linkErratumPackages(conduit, unit, r.erratum);
  return { unit, replaced: r.replaced, changed: true };
}

/** Link an erratum to the repository's packages it lists (by NEVRA). */
function linkErratumPackages(conduit: ImporterConduit, unit: Unit, e: Erratum): void {
  const wanted = new Set<string>();
  const names = new Set<string>();
  for (const c of e.pkglist) for (const p of c.packages) {
    wanted.add(nevraFull(p));
    names.add(p.name);
  }
  if (!names.size) return;
  for (const u of conduit.iterUnits({ typeIds: [...RPM_TYPES], filters: { name: { $in: [...names] } } })) {
    if (wanted.has(nevraFull(u.unitKey as Record<string, unknown> as { name: unknown; epoch: unknown; version: unknown; release: unknown; arch: unknown }))) conduit.linkUnit(unit, u);
  }
}

/** Registered by src/plugins/builtins.ts (which imports this module only when the plugin is first used). */
export const yumImporterFactory: ImporterFactory = {
  kind: 'importer',
  metadata: IMPORTER_METADATA,
  create: () => new YumImporter(),
};

export class YumImporter implements Importer {
  private sync: YumSync | null = null;
  private canceled = false;

  metadata(): PluginMetadata {
    return IMPORTER_METADATA;
  }

  validateConfig(_repo: Repository, config: PluginCallConfig, _related: RelatedRepositories): ValidationResult {
    const problem = checkImporterConfig(config);
    return problem ? { valid: false, message: problem } : { valid: true };
  }

  detectType(filePath: string): Promise<string | null> {
    return detectYumType(filePath);
  }

  async uploadUnit(repo: Repository, upload: UploadRequest, conduit: ImporterConduit, config: PluginCallConfig): Promise<UploadReport> {
    const file = upload.filePath ?? undefined;
    const type = upload.typeId;
    switch (type) {
      case 'rpm':
      case 'srpm': {
        if (!upload.filePath) throw uploadError('YUM_UPLOAD_NO_FILE', `an ${type} upload needs a file`);
        const { unit, filename } = await saveRpmFile(conduit, upload.filePath, {
          requireSignature: boolFrom(config.get('require_signature'), false),
          allowedKeys: listFrom(config.get('allowed_keys')),
        });
        // The header decides rpm vs srpm (a source package is an srpm whatever --type said). The
        // file name is the one saveRpmFile put in the metadata (not read back from the unit: in a
        // large transaction its metadata is kept on disk).
        return { success: true, summary: { type: unit.typeId, unit_key: unit.unitKey, filename } };
      }
      case 'erratum': {
        let e: Erratum;
        if (upload.filePath) e = await parseErratumText(await fsp.readFile(upload.filePath, 'utf8'), upload.filePath);
        else e = normalizeErratum({ ...upload.metadata, ...upload.unitKey }, undefined);
        const r = saveErratum(conduit, e);
        return { success: true, summary: { type: 'erratum', id: e.id, replaced: r.replaced, changed: r.changed } };
      }
      case 'package_group':
      case 'package_category':
      case 'package_environment':
      case 'package_langpacks':
      case 'comps': {
        if (!upload.filePath) throw uploadError('YUM_UPLOAD_NO_FILE', 'a comps upload needs the comps.xml file');
        const units = compsUnitsFromXml(await fsp.readFile(upload.filePath), repo.id, upload.filePath);
        const saved = saveMetaUnits(conduit, units);
        return { success: true, summary: { type: 'comps', units: countByType(saved) } };
      }
      case 'modulemd':
      case 'modulemd_defaults': {
        if (!upload.filePath) throw uploadError('YUM_UPLOAD_NO_FILE', 'a modulemd upload needs the YAML file');
        const units = modulemdUnitsFromYaml(await fsp.readFile(upload.filePath), repo.id, upload.filePath);
        const saved = saveMetaUnits(conduit, units);
        return { success: true, summary: { type: 'modulemd', units: countByType(saved) } };
      }
      case 'yum_repo_metadata_file': {
        if (!upload.filePath) throw uploadError('YUM_UPLOAD_NO_FILE', 'a productid upload needs the file');
        const dataType = str(upload.unitKey.data_type ?? upload.metadata.data_type, 'productid');
        if (!/^[A-Za-z0-9_-]+$/.test(dataType)) throw uploadError('YUM_BAD_DATA_TYPE', `data_type ${JSON.stringify(dataType)} must be letters, digits, _ or -`, file, 'data_type');
        if (dataType === 'productid') {
          const text = await readHead(upload.filePath, 64 * 1024);
          if (!text.includes('-----BEGIN CERTIFICATE-----')) throw uploadError('YUM_BAD_PRODUCTID', `${upload.filePath}: a productid must be a PEM certificate (no BEGIN CERTIFICATE line)`, file);
        }
        const unit = conduit.initUnit('yum_repo_metadata_file', { data_type: dataType, repo_id: repo.id }, { data_type: dataType, filename: path.basename(upload.filePath) }, dataType);
        const saved = conduit.saveUnitFromFile(unit, upload.filePath);
        return { success: true, summary: { type: 'yum_repo_metadata_file', data_type: dataType, sha256: saved.sha256 ?? null } };
      }
      case 'directory': {
        if (!upload.filePath) throw uploadError('YUM_UPLOAD_NO_FILE', 'a directory upload needs the directory');
        const unit = await storeDirectoryUpload(conduit, upload);
        return { success: true, summary: { type: 'directory', unit_key: unit.unitKey } };
      }
      default:
        throw uploadError('YUM_UNSUPPORTED_TYPE', `${IMPORTER_ID} cannot upload content of type "${type}" (types: ${YUM_TYPES.join(', ')})`, file, 'type');
    }
  }

  async syncRepo(repo: Repository, conduit: ImporterConduit, config: PluginCallConfig): Promise<SyncReport> {
    // Loaded on demand: the sync brings in the HTTP client (undici), which uploads and pushes never need.
    const { YumSync: Sync } = await import('./sync.js');
    this.sync = new Sync(repo, conduit, config);
    if (this.canceled) this.sync.cancel();
    return this.sync.run();
  }

  cancelSyncRepo(): void {
    this.canceled = true;
    this.sync?.cancel();
  }

  async importUnits(source: Repository, dest: Repository, conduit: ImportConduit, config: PluginCallConfig, units: Unit[]): Promise<Unit[]> {
    const recursive = boolFrom(config.get('recursive'), false);
    const out: Unit[] = [];
    const seen = new Set<string>();
    const add = (u: Unit): void => {
      const k = `${u.typeId}\u0000${JSON.stringify(u.unitKey)}`;
      if (seen.has(k)) return;
      seen.add(k);
      out.push(u);
    };
    // The destination's signature policy holds for what is copied into it, as for what is
    // uploaded or synced: a copy was the way round require_signature / allowed_keys. Every
    // package it refuses is listed, and the copy changes nothing.
    const policy = { requireSignature: boolFrom(config.get('require_signature'), false), allowedKeys: listFrom(config.get('allowed_keys')) };
    const refused: StagepushError[] = [];
    const savePackage = (u: Unit): Unit | null => {
      const key = typeof u.metadata.signing_key === 'string' && u.metadata.signing_key ? u.metadata.signing_key : null;
      try {
        checkSignature(key, `${source.id}: ${str(u.metadata.filename, rpmFilename(u.unitKey as never))}`, policy, u.metadata.record);
      } catch (e) {
        if (!(e instanceof StagepushError)) throw e;
        refused.push(e);
        return null;
      }
      return conduit.saveUnit(u);
    };
    for (const u of units) {
      if (conduit.signal.aborted) throw new StagepushError('YUM_CANCELED', 'copy canceled', { kind: 'interrupted' });
      if (u.typeId === 'erratum') {
        const e = normalizeErratum(u.metadata);
        const r = saveErratum(conduit, e);
        if (r.unit) add(r.unit);
        if (recursive) for (const p of erratumPackagesIn(conduit, e)) {
          const saved = savePackage(p);
          if (saved) add(saved);
        }
      } else if (u.unitKey.repo_id !== undefined) {
        // Units keyed by repository (comps, module defaults, productid) are made anew for the destination.
        const key = { ...u.unitKey, repo_id: dest.id };
        const metadata = { ...u.metadata };
        if (u.storagePath) add(conduit.saveUnitFromFile(conduit.initUnit(u.typeId, key, metadata, u.relativePath ?? str(u.unitKey.data_type, 'file')), u.storagePath));
        else add(conduit.saveUnit(conduit.initUnit(u.typeId, key, metadata, null)));
      } else if ((RPM_TYPES as readonly string[]).includes(u.typeId)) {
        const saved = savePackage(u);
        if (saved) add(saved);
      } else {
        add(conduit.saveUnit(u));
        if (recursive && u.typeId === 'modulemd') for (const p of moduleArtifactsIn(conduit, u)) {
          const saved = savePackage(p);
          if (saved) add(saved);
        }
      }
    }
    if (refused.length) {
      const first = refused[0]!;
      const more = refused.length > 1 ? ` (and ${refused.length - 1} more)` : '';
      throw new StagepushError(first.code, `copy into ${dest.id}: ${refused.length} package(s) refused by its signature policy: ${first.message}${more}`, {
        kind: 'policy',
        field: first.field,
        problems: refused.map((e) => ({ code: e.code, message: e.message, field: e.field })),
      });
    }
    return out;
  }

  removeUnits(): void {
    // Nothing kept per unit in the working directory: stored files go with orphan clean-up.
  }
}

/** The source repository's packages an erratum lists (matched by NEVRA). */
function erratumPackagesIn(conduit: ImportConduit, e: Erratum): Unit[] {
  const wanted = new Set<string>();
  const names = new Set<string>();
  for (const c of e.pkglist) for (const p of c.packages) {
    wanted.add(nevraFull(p));
    names.add(p.name);
  }
  if (!names.size) return [];
  const out: Unit[] = [];
  for (const u of conduit.iterSourceUnits({ typeIds: [...RPM_TYPES], filters: { name: { $in: [...names] } } })) {
    if (wanted.has(nevraFull(u.unitKey as never))) out.push(u);
  }
  return out;
}

/** The source repository's packages a module stream lists in its artifacts (name-epoch:version-release.arch). */
function moduleArtifactsIn(conduit: ImportConduit, m: Unit): Unit[] {
  const arts = Array.isArray(m.metadata.artifacts) ? (m.metadata.artifacts as string[]) : [];
  if (!arts.length) return [];
  const wanted = new Set(arts);
  const names = new Set(arts.map((a) => a.replace(/-[^-]+-[^-]+$/, '')));
  const out: Unit[] = [];
  for (const u of conduit.iterSourceUnits({ typeIds: [...RPM_TYPES], filters: { name: { $in: [...names] } } })) {
    if (wanted.has(nevraFull(u.unitKey as never))) out.push(u);
  }
  return out;
}

function countByType(units: Unit[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of units) out[u.typeId] = (out[u.typeId] ?? 0) + 1;
  return out;
}

export function boolFrom(v: unknown, def: boolean): boolean {
  return toBool(v) ?? def;
}

export const listFrom = toList;

export { COMPS_TYPES, MODULE_TYPES, parseSkip };
