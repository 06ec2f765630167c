/**
 * generic_importer: content delivered as-is (until its services are wired): `cgw` (Content
 * Gateway definitions), `ami` and `vhd` (cloud images), and `directory` (a RAW tree).
 *
 * cgw/ami/vhd: unit key {name, checksum}; the item's metadata is the unit's metadata; the file
 * (image, definitions YAML) is stored when there is one and `checksum` is its sha256; a
 * metadata-only unit's checksum is the sha256 of its canonical metadata JSON. An upload with the
 * name of a unit of the same type already in the repository replaces it (`replace_same_name`,
 * default true).
 * directory: the upload's file path is a directory, or a tar archive of one (.tar, .tar.gz, .tgz,
 * .tar.xz, .tar.bz2; extracted with GNU tar), stored with common/directory.ts (name: the unit key's
 * name, else the directory's base name, or the archive's name without its extension).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ImporterConduit, ImporterFactory, Importer, Json, PluginCallConfig, PluginMetadata, RelatedRepositories, Repository, Unit, UploadReport, UploadRequest, ValidationResult } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { checkBool, checkKnownKeys, firstProblem, getBool, result } from '../common/config.js';
import { DIRECTORY_TYPE, ingestDirectory } from '../common/directory.js';

export const GENERIC_TYPES = ['cgw', 'ami', 'vhd'] as const;
const METADATA: PluginMetadata = { id: 'generic_importer', displayName: 'Generic importer (CGW, AMI, VHD, RAW directories)', types: [...GENERIC_TYPES, DIRECTORY_TYPE] };
export const GENERIC_IMPORTER_KEYS = ['replace_same_name', 'refuse_escaping_symlinks'] as const;

const TAR_NAME = /^(.+?)\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2)$/;

/**
 * Extract a tar archive with GNU tar into an empty directory: members with absolute names or ".."
 * are refused by tar itself (it strips "/" and rejects ".."); owners are not kept, modes are.
 */
async function extractTar(file: string, dest: string, signal: AbortSignal): Promise<void> {
  const { spawn } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', ['-x', '-f', file, '-C', dest, '--no-same-owner', '--preserve-permissions', '--delay-directory-restore'], { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new StagepushError('FILE_TAR_FAILED', `${file}: cannot run tar (${(e as NodeJS.ErrnoException).code ?? e.message})`, { file, cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StagepushError('FILE_TAR_FAILED', `${file}: tar could not extract it (exit ${code}): ${err.trim().split('\n').slice(0, 3).join('; ')}`, { file }));
    });
  });
}

/** JSON with object keys sorted, recursively (a stable form for hashing). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function nameOf(upload: UploadRequest): string {
  const n = upload.unitKey.name ?? upload.metadata.name;
  if (typeof n === 'string' && n.trim()) return n.trim();
  if (upload.filePath) return path.basename(upload.filePath);
  throw new StagepushError('FILE_GENERIC_NO_NAME', `a ${upload.typeId} unit without a file needs a name (unit key or metadata field "name")`, { field: 'name' });
}

export class GenericImporter implements Importer {
  metadata(): PluginMetadata {
    return METADATA;
  }

  validateConfig(_repo: Repository, config: PluginCallConfig, _related: RelatedRepositories): ValidationResult {
    return result(firstProblem([() => checkKnownKeys(config, GENERIC_IMPORTER_KEYS), () => checkBool(config, 'replace_same_name'), () => checkBool(config, 'refuse_escaping_symlinks')]));
  }

  async detectType(filePath: string): Promise<string | null> {
    try {
      if ((await fsp.stat(filePath)).isDirectory()) return DIRECTORY_TYPE;
    } catch {
      /* not there (yet): guess from the name */
    }
    const lower = filePath.toLowerCase();
    if (lower.endsWith('.vhd') || lower.endsWith('.vhd.xz') || lower.endsWith('.vhd.gz')) return 'vhd';
    if (lower.endsWith('.raw') || lower.endsWith('.raw.xz') || lower.endsWith('.ami')) return 'ami';
    return null;
  }

  async uploadUnit(_repo: Repository, upload: UploadRequest, conduit: ImporterConduit, config: PluginCallConfig): Promise<UploadReport> {
    if (upload.typeId === DIRECTORY_TYPE) return this.uploadDirectory(_repo, upload, conduit, config);
    if (!(GENERIC_TYPES as readonly string[]).includes(upload.typeId)) {
      throw new StagepushError('FILE_UNSUPPORTED_TYPE', `generic_importer does not handle type "${upload.typeId}" (only ${[...GENERIC_TYPES, DIRECTORY_TYPE].join(', ')})`, { field: 'type' });
    }
    const name = nameOf(upload);
    const metadata: Record<string, Json> = { ...upload.metadata };
    let saved: Unit;
    if (upload.filePath) {
      const st = await fsp.stat(upload.filePath).catch((e: NodeJS.ErrnoException) => {
        throw new StagepushError('FILE_UPLOAD_NOT_FOUND', `${upload.filePath}: ${e.code ?? 'cannot read'}`, { file: upload.filePath!, cause: e });
      });
      if (!st.isFile()) throw new StagepushError('FILE_UPLOAD_NOT_A_FILE', `${upload.filePath}: not a regular file (type ${upload.typeId})`, { file: upload.filePath });
      // Hard-linked into the store on the same filesystem, else copied (hashed while copying).
      const stored = conduit.storeBlob(upload.filePath);
      const given = upload.unitKey.checksum;
      if (typeof given === 'string' && given && given.toLowerCase() !== stored.sha256) {
        throw new StagepushError('FILE_CHECKSUM_MISMATCH', `${upload.filePath}: sha256 ${stored.sha256} differs from the given checksum ${given}`, { file: upload.filePath, field: 'checksum' });
      }
      const unit = conduit.initUnit(upload.typeId, { name, checksum: stored.sha256 }, { ...metadata, size: stored.size, filename: path.basename(upload.filePath) }, null);
      saved = conduit.saveUnit({ ...unit, storagePath: conduit.blobPath(stored.sha256), relativePath: `${upload.typeId}/${path.basename(upload.filePath)}`, sha256: stored.sha256, size: stored.size });
    } else {
      const checksum = createHash('sha256').update(canonicalJson(metadata)).digest('hex');
      saved = conduit.saveUnit(conduit.initUnit(upload.typeId, { name, checksum }, metadata, null));
    }
    const replaced = this.replaceSameName(conduit, config, saved);
    return { success: true, summary: { type: upload.typeId, name, checksum: saved.unitKey.checksum, replaced } };
  }

  private replaceSameName(conduit: ImporterConduit, config: PluginCallConfig, saved: Unit): string[] {
    if (!getBool(config, 'replace_same_name', true)) return [];
    const out: string[] = [];
    for (const u of conduit.getUnits({ typeIds: [saved.typeId], filters: { name: saved.unitKey.name } })) {
      const same = Object.keys(saved.unitKey).every((k) => u.unitKey[k] === saved.unitKey[k]);
      if (!same) {
        conduit.removeUnit(u);
        out.push(String(u.unitKey.checksum ?? u.unitKey.digest));
      }
    }
    return out;
  }

  private async uploadDirectory(repo: Repository, upload: UploadRequest, conduit: ImporterConduit, config: PluginCallConfig): Promise<UploadReport> {
    if (!upload.filePath) throw new StagepushError('FILE_UPLOAD_NO_FILE', 'a directory unit needs a directory path (or a tar archive of the tree)', { field: 'file' });
    const n = upload.unitKey.name;
    const st = await fsp.stat(upload.filePath).catch((e: NodeJS.ErrnoException) => {
      throw new StagepushError('FILE_UPLOAD_NOT_FOUND', `${upload.filePath}: ${e.code ?? 'cannot read'}`, { file: upload.filePath!, cause: e });
    });
    let dir = upload.filePath;
    let extracted: string | null = null;
    let name = typeof n === 'string' && n ? n : path.basename(path.resolve(upload.filePath));
    if (st.isFile()) {
      // A tree given as a tar archive: extracted (no owners, modes kept) into the working directory.
      const m = TAR_NAME.exec(path.basename(upload.filePath));
      if (!m) throw new StagepushError('FILE_NOT_A_DIRECTORY', `${upload.filePath}: a directory unit is a directory or a tar archive (.tar, .tar.gz, .tgz, .tar.xz, .tar.bz2)`, { file: upload.filePath, field: 'file' });
      if (!(typeof n === 'string' && n)) name = m[1]!;
      await fsp.mkdir(repo.workingDir, { recursive: true });
      extracted = await fsp.mkdtemp(path.join(repo.workingDir, 'upload-tree-'));
      dir = extracted;
      await extractTar(upload.filePath, extracted, conduit.signal);
    }
    let unit: Unit;
    try {
      unit = await ingestDirectory(conduit, dir, name, {
        refuseEscapingSymlinks: getBool(config, 'refuse_escaping_symlinks', false),
        signal: conduit.signal,
        metadata: upload.metadata,
      });
    } finally {
      if (extracted) await fsp.rm(extracted, { recursive: true, force: true });
    }
    const replaced = this.replaceSameName(conduit, config, unit);
    return { success: true, summary: { type: DIRECTORY_TYPE, name, digest: unit.unitKey.digest, files: unit.metadata.file_count ?? 0, replaced } };
  }
}

export const genericImporterFactory: ImporterFactory = {
  kind: 'importer',
  metadata: METADATA,
  create: () => new GenericImporter(),
};
