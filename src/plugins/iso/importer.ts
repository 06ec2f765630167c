/**
 * iso_importer: file repositories (Pulp's ISO importer). Units of type `iso` keyed by
 * {name, checksum (sha256), size}. An upload of a name already in the repository replaces the
 * older unit. Sync reads a PULP_MANIFEST (`feed`: the manifest URL, or the directory holding it;
 * http://, https:// or file://), downloads what the repository lacks (checksum and size verified),
 * and with `remove_missing` removes what the manifest no longer lists. A directory upload is a RAW
 * tree (`directory` unit, see common/directory.ts), published by iso_distributor beside the files.
 */
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ImporterConduit, ImporterFactory, Importer, Json, PluginCallConfig, PluginMetadata, RelatedRepositories, Repository, SyncReport, Unit, UploadReport, UploadRequest, ValidationResult } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { checkBool, checkInt, checkKnownKeys, checkString, firstProblem, getBool, getInt, result } from '../common/config.js';
import { checkFeedUrl, createFetcher, mapLimit } from '../common/download.js';
import { redactUrlPasswords, redactedError } from '../common/httpget.js';
import { ISO_IMPORTER_DEFAULTS } from '../defaults.js';
import { copyAndHash } from '../common/fsutil.js';
import { DIRECTORY_TYPE, storeDirectoryUpload } from '../common/directory.js';
import { MANIFEST_NAME, checkIsoName, parseManifest, type ManifestEntry } from './manifest.js';

export const ISO_TYPE = 'iso';

/** The caller (a push) already hashed this file and it is unchanged since: it may be linked into the store. */
export function vouched(conduit: ImporterConduit, file: string): boolean {
  const c = conduit as ImporterConduit & { fileFacts?: (p: string) => unknown };
  return typeof c.fileFacts === 'function' && c.fileFacts(file) !== undefined;
}

function checkGiven(upload: UploadRequest, sha256: string, size: number): void {
  const given = upload.unitKey.checksum;
  if (typeof given === 'string' && given && given.toLowerCase() !== sha256) {
    throw new StagepushError('FILE_CHECKSUM_MISMATCH', `${upload.filePath}: sha256 ${sha256} differs from the given checksum ${given}`, { file: upload.filePath ?? undefined, field: 'checksum' });
  }
  if (upload.unitKey.size !== undefined && upload.unitKey.size !== null && Number(upload.unitKey.size) !== size) {
    throw new StagepushError('FILE_SIZE_MISMATCH', `${upload.filePath}: ${size} bytes, but the given size is ${String(upload.unitKey.size)}`, { file: upload.filePath ?? undefined, field: 'size' });
  }
}
/**
 * A message when the PEM file a TLS key names cannot be read or holds no PEM block: it was taken
 * as set and every sync then failed (FILE_SYNC_TLS_FILE); the yum importer refuses it when set.
 */
function checkPemFile(config: PluginCallConfig, key: string): string | null {
  if (!config.has(key)) return null;
  const file = String(config.get(key));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return `config key "${key}": cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give the path of a PEM file`;
  }
  return /-----BEGIN [A-Z0-9 ]+-----/.test(text) ? null : `config key "${key}": ${file} is not a PEM file (no -----BEGIN ...----- line)`;
}

const METADATA: PluginMetadata = { id: 'iso_importer', displayName: 'File (ISO) importer', types: [ISO_TYPE, DIRECTORY_TYPE] };
export const ISO_IMPORTER_KEYS = ['feed', 'remove_missing', 'max_downloads', 'retries', 'ssl_ca_cert', 'ssl_client_cert', 'ssl_client_key', 'proxy_url'] as const;

/** The manifest URL of a feed: the feed itself when it names PULP_MANIFEST, else `<feed>/PULP_MANIFEST`. */
export function manifestUrlOf(feed: string): string {
  const u = new URL(feed);
  if (u.pathname.endsWith('/' + MANIFEST_NAME)) return u.toString();
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.pathname += MANIFEST_NAME;
  return u.toString();
}

function sameKey(u: Unit, e: { sha256: string; size: number }): boolean {
  return u.unitKey.checksum === e.sha256 && Number(u.unitKey.size) === e.size;
}

export class IsoImporter implements Importer {
  private readonly abort = new AbortController();

  metadata(): PluginMetadata {
    return METADATA;
  }

  validateConfig(_repo: Repository, config: PluginCallConfig, _related: RelatedRepositories): ValidationResult {
    return result(
      firstProblem([
        () => checkKnownKeys(config, ISO_IMPORTER_KEYS),
        () => {
          if (!config.has('feed')) return null;
          const bad = checkFeedUrl(config.get('feed'));
          return bad ? `config key "feed": ${bad}` : null;
        },
        () => checkBool(config, 'remove_missing'),
        () => checkInt(config, 'max_downloads', 1, 64),
        () => checkInt(config, 'retries', 0, 20),
        () => (config.has('ssl_client_cert') !== config.has('ssl_client_key') ? 'config keys "ssl_client_cert" and "ssl_client_key" must be given together' : null),
        () => checkString(config, 'ssl_ca_cert', { nonEmpty: true }) ?? checkPemFile(config, 'ssl_ca_cert'),
        () => checkString(config, 'ssl_client_cert', { nonEmpty: true }) ?? checkPemFile(config, 'ssl_client_cert'),
        () => checkString(config, 'ssl_client_key', { nonEmpty: true }) ?? checkPemFile(config, 'ssl_client_key'),
        () => {
          if (!config.has('proxy_url')) return null;
          const p = config.get('proxy_url');
          const bad = checkFeedUrl(p);
          return bad || String(p).startsWith('file:') ? `config key "proxy_url": must be an http:// or https:// URL` : null;
        },
      ]),
    );
  }

  detectType(filePath: string): string | null {
    try {
      if (statSync(filePath).isDirectory()) return DIRECTORY_TYPE;
    } catch {
      /* the upload says what is missing */
    }
    return path.basename(filePath) ? ISO_TYPE : null;
  }

  async uploadUnit(_repo: Repository, upload: UploadRequest, conduit: ImporterConduit, _config: PluginCallConfig): Promise<UploadReport> {
    if (upload.typeId === DIRECTORY_TYPE) {
      if (!upload.filePath) throw new StagepushError('FILE_UPLOAD_NO_FILE', 'a directory unit needs a directory', { field: 'file' });
      const st = await fsp.stat(upload.filePath).catch((e: NodeJS.ErrnoException) => {
        throw new StagepushError('FILE_UPLOAD_NOT_FOUND', `${upload.filePath}: ${e.code ?? 'cannot read'}`, { file: upload.filePath!, cause: e });
      });
      if (!st.isDirectory()) throw new StagepushError('FILE_NOT_A_DIRECTORY', `${upload.filePath}: a directory unit is a directory`, { file: upload.filePath, field: 'file' });
      const unit = await storeDirectoryUpload(conduit, upload);
      return { success: true, summary: { type: DIRECTORY_TYPE, unit_key: unit.unitKey } };
    }
    if (upload.typeId !== ISO_TYPE) throw new StagepushError('FILE_UNSUPPORTED_TYPE', `iso_importer does not handle type "${upload.typeId}" (only ${ISO_TYPE} and ${DIRECTORY_TYPE})`, { field: 'type' });
    if (!upload.filePath) throw new StagepushError('FILE_UPLOAD_NO_FILE', 'an iso unit needs a file', { field: 'file' });
    const st = await fsp.stat(upload.filePath).catch((e: NodeJS.ErrnoException) => {
      throw new StagepushError('FILE_UPLOAD_NOT_FOUND', `${upload.filePath}: ${e.code ?? 'cannot read'}`, { file: upload.filePath!, cause: e });
    });
    if (!st.isFile()) throw new StagepushError('FILE_UPLOAD_NOT_A_FILE', `${upload.filePath}: not a regular file`, { file: upload.filePath });
    const name = typeof upload.unitKey.name === 'string' && upload.unitKey.name ? upload.unitKey.name : path.basename(upload.filePath);
    const bad = checkIsoName(name);
    if (bad) throw new StagepushError('FILE_BAD_NAME', `${upload.filePath}: name ${bad}`, { file: upload.filePath, field: 'name' });
    let saved: Unit;
    if (vouched(conduit, upload.filePath)) {
      // A push's staged file, hashed by the push and unchanged since: into the content store as
      // is (hard link on the same filesystem, else a copy hashed while copying and verified).
      const stored = conduit.storeBlob(upload.filePath);
      checkGiven(upload, stored.sha256, stored.size);
      const unit = conduit.initUnit(ISO_TYPE, { name, checksum: stored.sha256, size: stored.size }, { ...upload.metadata }, null);
      saved = conduit.saveUnit({ ...unit, storagePath: conduit.blobPath(stored.sha256), relativePath: name, sha256: stored.sha256, size: stored.size });
    } else {
      // Any other file is copied, and the stored copy is what we hash: a file changed (or
      // rewritten in place) after the upload cannot change what was stored.
      const unit = conduit.initUnit(ISO_TYPE, { name, checksum: '', size: 0 }, { ...upload.metadata }, name);
      try {
        const { sha256, size } = await copyAndHash(upload.filePath, unit.storagePath!, conduit.signal);
        checkGiven(upload, sha256, size);
        unit.unitKey = { name, checksum: sha256, size };
        saved = conduit.saveUnit(unit);
      } catch (e) {
        if (unit.storagePath) await fsp.rm(unit.storagePath, { force: true });
        throw e;
      }
    }
    const replaced: string[] = [];
    for (const old of conduit.getUnits({ typeIds: [ISO_TYPE], filters: { name } })) {
      if (!sameKey(old, { sha256: String(saved.unitKey.checksum), size: Number(saved.unitKey.size) })) {
        conduit.removeUnit(old);
        replaced.push(String(old.unitKey.checksum));
      }
    }
    return { success: true, summary: { name, checksum: saved.unitKey.checksum, size: saved.unitKey.size, replaced } as Json };
  }

  async syncRepo(_repo: Repository, conduit: ImporterConduit, config: PluginCallConfig): Promise<SyncReport> {
    const feed = config.get<string>('feed');
    if (!feed) throw new StagepushError('FILE_SYNC_NO_FEED', 'iso_importer: config key "feed" is not set (the PULP_MANIFEST URL)', { field: 'feed' });
    const bad = checkFeedUrl(feed);
    if (bad) throw new StagepushError('FILE_SYNC_NO_FEED', `config key "feed": ${bad}`, { field: 'feed' });
    // Aborted on cancel, and on the first failed download (the others stop at once).
    const firstFailure = new AbortController();
    const signal = AbortSignal.any([conduit.signal, this.abort.signal, firstFailure.signal]);
    const fetcher = createFetcher({
      caCert: config.get<string>('ssl_ca_cert'),
      clientCert: config.get<string>('ssl_client_cert'),
      clientKey: config.get<string>('ssl_client_key'),
      proxyUrl: config.get<string>('proxy_url'),
      retries: getInt(config, 'retries', ISO_IMPORTER_DEFAULTS.retries),
      signal,
    });
    try {
      const murl = manifestUrlOf(feed);
      conduit.setProgress({ step: 'manifest', url: redactUrlPasswords(murl) });
      const entries = parseManifest((await fetcher.getBuffer(murl)).toString('utf8'), murl);
      const present = conduit.getUnits({ typeIds: [ISO_TYPE] });
      const want = entries.filter((e) => !present.some((u) => u.unitKey.name === e.name && sameKey(u, e)));
      let done = 0;
      let bytes = 0;
      const total = want.reduce((s, e) => s + e.size, 0);
      conduit.setProgress({ step: 'download', done: 0, total: want.length, bytes: 0, total_bytes: total });
      const saved = await mapLimit(
        want,
        getInt(config, 'max_downloads', ISO_IMPORTER_DEFAULTS.max_downloads),
        async (e: ManifestEntry) => {
          // The manifest URL's query string (an access token) goes with every file, as with the manifest.
          const file = new URL(e.name.split('/').map(encodeURIComponent).join('/'), murl);
          file.search = new URL(murl).search;
          const url = file.toString();
          const unit = conduit.initUnit(ISO_TYPE, { name: e.name, checksum: e.sha256, size: e.size }, {}, e.name);
          try {
            await fetcher.download(url, unit.storagePath!, { sha256: e.sha256, size: e.size });
            if (signal.aborted) throw signal.reason;
            const s = conduit.saveUnit(unit);
            done++;
            bytes += e.size;
            conduit.setProgress({ step: 'download', done, total: want.length, bytes, total_bytes: total });
            return s;
          } catch (err) {
            await fsp.rm(unit.storagePath!, { force: true });
            if (!signal.aborted) firstFailure.abort(err);
            throw err;
          }
        },
        signal,
      );
      if (signal.aborted) throw signal.reason;
      // Same name, other content: the manifest's version replaces it. remove_missing: names gone.
      const byName = new Map(entries.map((e) => [e.name, e]));
      const removeMissing = getBool(config, 'remove_missing', false);
      const removed: string[] = [];
      for (const u of present) {
        const e = byName.get(String(u.unitKey.name));
        if ((e && !sameKey(u, e)) || (!e && removeMissing)) {
          conduit.removeUnit(u);
          removed.push(String(u.unitKey.name));
        }
      }
      const summary = { manifest: redactUrlPasswords(murl), listed: entries.length, added: saved.length, removed: removed.length, bytes };
      conduit.setProgress({ step: 'done', ...summary });
      return { success: true, summary, details: { added: saved.map((u) => String(u.unitKey.name)), removed } };
    } catch (e) {
      // A feed's password (http://user:password@host/) is not for the task list or the console.
      throw redactedError(e);
    } finally {
      await fetcher.close();
    }
  }

  cancelSyncRepo(): void {
    this.abort.abort(new StagepushError('FILE_SYNC_CANCELED', 'sync canceled', { kind: 'interrupted' }));
  }
}

export const isoImporterFactory: ImporterFactory = {
  kind: 'importer',
  metadata: METADATA,
  create: () => new IsoImporter(),
};
