/**
 * Sync of a yum repository from its `feed` (http://, https://, file://): repomd.xml, then primary
 * (packages downloaded concurrently, checksums verified), updateinfo, comps, modules, productid.
 * An unchanged repomd.xml (same revision and record checksums as the last successful sync,
 * remembered in the scratchpad, with the same content-affecting config and no unit added to or
 * removed from the repository since) does no work; `force_full=true` makes it do the work anyway. Cancel aborts every download; the engine then
 * drops the staged changes, so the repository stays as it was.
 */
import { createHash, getHashes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ImporterConduit, Json, PluginCallConfig, Repository, SyncReport, Unit } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { parseRepomd, type Repomd, type RepomdRecord } from '../../formats/repomd/index.js';
import { getBool, getInt } from '../common/config.js';
import { YUM_IMPORTER_DEFAULTS } from '../defaults.js';
import { clientCredentials, pemOrFile } from './config.js';
import { redactUrlPasswords, redactedError } from '../common/httpget.js';
import { decompressMetadata } from './decompress.js';
import { Downloader, canceledError, joinUrl, pool } from './download.js';
import { erratumToJson, type Erratum } from './erratum.js';
import { boolFrom, listFrom, saveErratum, saveMetaUnits, saveRpmFile } from './importer.js';
import { compsUnitsFromXml, errataFromUpdateinfoXml, iteratePrimary, modulemdUnitsFromYaml, type MetaUnit, type RemotePackage } from './metadata.js';
import { COMPS_TYPES, MODULE_TYPES, RPM_TYPES, nevraFull, parseSkip, str } from './units.js';

interface SyncScratch {
  feed: string;
  repomdChecksum: string;
  revision: string;
  records: Record<string, string>;
  skip: string[];
  removeMissing: boolean;
  /** The signature policy: relaxing it must let the next sync take the packages it refused. */
  requireSignature: boolean;
  allowedKeys: string[];
  /** Digest of the repository's unit identities after the sync: a unit removed or added since (upload, remove, copy) makes the next sync do the work. */
  content?: string;
}

function identity(u: { typeId: string; unitKey: Record<string, unknown> }): string {
  return `${u.typeId}\u0000${JSON.stringify(Object.keys(u.unitKey).sort().map((k) => [k, u.unitKey[k]]))}`;
}

export class YumSync {
  private readonly abort = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly repo: Repository,
    private readonly conduit: ImporterConduit,
    private readonly config: PluginCallConfig,
  ) {
    this.signal = AbortSignal.any([this.abort.signal, conduit.signal]);
  }

  cancel(): void {
    this.abort.abort();
  }

  private check(): void {
    if (this.signal.aborted) throw canceledError();
  }

  private progress(step: string, extra: Record<string, Json> = {}): void {
    this.conduit.setProgress({ step, ...extra });
  }

  async run(): Promise<SyncReport> {
    const feedRaw = this.config.get<string>('feed');
    if (!feedRaw) throw new StagepushError('YUM_NO_FEED', `repository ${this.repo.id}: the importer has no "feed" to sync from`, { kind: 'invalid', field: 'feed', hint: 'stagepush repo importer set ID yum_importer --importer-config feed=https://…' });
    // The feed's path ends with a slash (before a query string, which joinUrl keeps on every file).
    let feedUrl: URL;
    try {
      feedUrl = new URL(feedRaw);
    } catch {
      throw new StagepushError('YUM_NO_FEED', `repository ${this.repo.id}: the importer's "feed" is not a URL: ${redactUrlPasswords(JSON.stringify(feedRaw))}`, { kind: 'invalid', field: 'feed' });
    }
    if (!feedUrl.pathname.endsWith('/')) feedUrl.pathname += '/';
    const feed = feedUrl.toString();
    const skipR = parseSkip(this.config.get('skip'));
    const skip = 'types' in skipR ? skipR.types : new Set<string>();
    const removeMissing = getBool(this.config, 'remove_missing', false);
    const creds = clientCredentials(this.config);
    if (creds && 'problem' in creds) throw new StagepushError('YUM_BAD_CONFIG', `repository ${this.repo.id}: ${creds.problem}`, { kind: 'invalid', field: 'ssl_client_cert' });
    const client = creds;
    const dl = new Downloader({
      caCert: pem(this.config.get<string>('ssl_ca_cert')),
      clientCert: client?.cert,
      clientKey: client?.key,
      sslValidation: getBool(this.config, 'ssl_validation', true),
      proxyUrl: this.config.get<string>('proxy_url'),
      proxyUsername: this.config.get<string>('proxy_username'),
      proxyPassword: this.config.get<string>('proxy_password'),
      retries: getInt(this.config, 'retries', YUM_IMPORTER_DEFAULTS.retries),
      timeout: getInt(this.config, 'timeout', YUM_IMPORTER_DEFAULTS.timeout),
      signal: this.signal,
    });
    const work = path.join(this.repo.workingDir, `sync-${process.pid}-${Date.now()}`);
    await fsp.mkdir(work, { recursive: true });
    try {
      return await this.sync(feed, dl, work, skip, removeMissing);
    } catch (e) {
      // A feed's password (http://user:password@host/) is not for the task list or the console.
      throw redactedError(e);
    } finally {
      await dl.close();
      await fsp.rm(work, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async sync(feed: string, dl: Downloader, work: string, skip: Set<string>, removeMissing: boolean): Promise<SyncReport> {
    this.progress('repomd', { feed: redactUrlPasswords(feed) });
    const repomdBuf = await dl.fetchBuffer(joinUrl(feed, 'repodata/repomd.xml'));
    const repomdChecksum = createHash('sha256').update(repomdBuf).digest('hex');
    const repomd = parseRepomd(repomdBuf, joinUrl(feed, 'repodata/repomd.xml'));
    const records: Record<string, string> = {};
    for (const r of repomd.records) records[r.type] = `${r.checksumType}:${r.checksum}`;
    const state: SyncScratch = {
      feed,
      repomdChecksum,
      revision: repomd.revision,
      records,
      skip: [...skip].sort(),
      removeMissing,
      requireSignature: boolFrom(this.config.get('require_signature'), false),
      allowedKeys: listFrom(this.config.get('allowed_keys'))
        .map((k) => k.toUpperCase().replace(/^0X/, '').slice(-8))
        .sort(),
    };
    const prev = this.conduit.getScratchpad() as unknown as { sync?: SyncScratch; digests?: Record<string, Record<string, string>> | null } | undefined;
    if (prev?.digests && typeof prev.digests === 'object') this.digests = prev.digests;
    if (!getBool(this.config, 'force_full', false) && prev?.sync && JSON.stringify(prev.sync) === JSON.stringify({ ...state, content: this.contentDigest() })) {
      this.progress('done', { unchanged: true });
      return { success: true, summary: { unchanged: true, revision: repomd.revision, feed: redactUrlPasswords(feed), bytes: dl.bytes, requests: dl.requests } };
    }

    const summary: Record<string, Json> = { feed: redactUrlPasswords(feed), revision: repomd.revision };
    const details: Record<string, Json> = {};
    const rec = (type: string): RepomdRecord | undefined => repomd.records.find((r) => r.type === type);
    // A metadata file downloaded (checksum verified) and decompressed by its actual compression:
    // the plain file's path, and the URL that names it in errors.
    const fetchMd = async (r: RepomdRecord): Promise<{ file: string; url: string }> => {
      const url = joinUrl(feed, r.location, r.locationBase);
      const dest = path.join(work, path.basename(r.location));
      await dl.fetchFile(url, dest, [], { algo: hashName(r.checksumType, joinUrl(feed, 'repodata/repomd.xml')), hex: r.checksum });
      try {
        return { file: await decompressMetadata(dest, url, this.signal), url };
      } catch (e) {
        if (this.signal.aborted) throw canceledError();
        throw e;
      }
    };

    // Packages.
    const pkgTypes = RPM_TYPES.filter((t) => !skip.has(t));
    if (pkgTypes.length) {
      const primary = rec('primary');
      if (!primary) throw new StagepushError('YUM_SYNC_BAD_REPO', `${feed}: repomd.xml has no primary record`, { kind: 'failed', file: joinUrl(feed, 'repodata/repomd.xml') });
      this.progress('primary');
      const md = await fetchMd(primary);
      const remote: RemotePackage[] = [];
      await feedMetadata(async () => {
        for await (const p of iteratePrimary(md.file, md.url)) {
          if (pkgTypes.includes(p.arch === 'src' ? 'srpm' : 'rpm')) remote.push(p);
        }
      });
      const r = await this.syncPackages(feed, dl, work, remote, pkgTypes, removeMissing);
      Object.assign(summary, r.summary);
      if (r.refused.length) details.refused = r.refused as unknown as Json;
    }
    this.check();

    // Errata.
    if (!skip.has('erratum') && rec('updateinfo')) {
      this.progress('errata');
      const md = await fetchMd(rec('updateinfo')!);
      const errata = await feedMetadata(() => errataFromUpdateinfoXml(md.file, md.url));
      summary.errata = this.syncErrata(errata, removeMissing);
    } else if (!skip.has('erratum') && removeMissing) {
      summary.errata = this.syncErrata([], true);
    }
    this.check();

    // Comps.
    const compsTypes = COMPS_TYPES.filter((t) => !skip.has(t));
    const compsRec = rec('group') ?? rec('group_gz');
    if (compsTypes.length && compsRec) {
      this.progress('comps');
      const md = await fetchMd(compsRec);
      const units = (await feedMetadata(async () => compsUnitsFromXml(await fsp.readFile(md.file), this.repo.id, md.url))).filter((u) => compsTypes.includes(u.typeId as (typeof COMPS_TYPES)[number]));
      summary.comps = this.syncMeta(units, compsTypes, removeMissing);
    } else if (compsTypes.length && removeMissing) {
      summary.comps = this.syncMeta([], compsTypes, true);
    }
    this.check();

    // Modules.
    const modTypes = MODULE_TYPES.filter((t) => !skip.has(t));
    if (modTypes.length && rec('modules')) {
      this.progress('modules');
      const md = await fetchMd(rec('modules')!);
      const units = (await feedMetadata(async () => modulemdUnitsFromYaml(await fsp.readFile(md.file), this.repo.id, md.url))).filter((u) => modTypes.includes(u.typeId as (typeof MODULE_TYPES)[number]));
      summary.modules = this.syncMeta(units, modTypes, removeMissing);
    } else if (modTypes.length && removeMissing) {
      summary.modules = this.syncMeta([], modTypes, true);
    }
    this.check();

    // productid.
    if (!skip.has('yum_repo_metadata_file') && rec('productid')) {
      this.progress('productid');
      const { file: plain } = await fetchMd(rec('productid')!);
      const unit = this.conduit.initUnit('yum_repo_metadata_file', { data_type: 'productid', repo_id: this.repo.id }, { data_type: 'productid', filename: 'productid' }, 'productid');
      this.conduit.saveUnitFromFile(unit, plain);
      summary.productid = 1;
    } else if (!skip.has('yum_repo_metadata_file') && removeMissing) {
      // Gone from the feed: removed, as the advisories, groups and modules gone from it are
      // (published, the repository would go on naming the product of a feed that dropped it).
      summary.productid_removed = this.removeAllBut({ typeIds: ['yum_repo_metadata_file'], fields: [] }, (u) => u.unitKey.data_type !== 'productid');
    }

    summary.bytes = dl.bytes;
    summary.requests = dl.requests;
    // Remembered only now: a failed or canceled sync leaves the previous state, so the next one redoes the work.
    const pad = this.conduit.getScratchpad();
    // Digests of files no longer in the repository are dropped.
    const present = new Set<string>();
    for (const u of this.conduit.iterUnits({ typeIds: RPM_TYPES as unknown as string[], fields: [] })) present.add(str(u.unitKey.checksum));
    const digests = Object.fromEntries(Object.entries(this.digests).filter(([sha]) => present.has(sha)));
    const next: Record<string, Json> = { ...(pad && typeof pad === 'object' && !Array.isArray(pad) ? pad : {}), sync: { ...state, content: this.contentDigest() } as unknown as Json };
    if (Object.keys(digests).length) next.digests = digests;
    else delete next.digests;
    this.conduit.setScratchpad(next);
    this.progress('done', summary);
    return { success: true, summary, details };
  }

  /**
   * Digests (other than sha256) of stored package files, by sha256 then algorithm: worked out
   * once per file and kept in the importer's scratchpad, so a feed with sha1 or sha512 checksums
   * is compared by content without reading every stored file on every sync.
   */
  private digests: Record<string, Record<string, string>> = {};

  private async storedDigest(u: Unit, algo: string): Promise<string | null> {
    const sha = str(u.unitKey.checksum) || str(u.sha256);
    const known = this.digests[sha]?.[algo];
    if (known) return known;
    if (!u.storagePath) return null;
    const h = createHash(algo);
    for await (const chunk of createReadStream(u.storagePath, { signal: this.signal }) as AsyncIterable<Buffer>) h.update(chunk);
    const hex = h.digest('hex');
    (this.digests[sha] ??= {})[algo] = hex;
    return hex;
  }

  /** sha256 of the sorted identities (type + unit key) of every unit in the repository. */
  private contentDigest(): string {
    const ids: string[] = [];
    for (const u of this.conduit.iterUnits({ fields: [] })) ids.push(identity(u));
    ids.sort();
    const h = createHash('sha256');
    for (const id of ids) h.update(id + '\n');
    return h.digest('hex');
  }

  private async syncPackages(
    feed: string,
    dl: Downloader,
    work: string,
    remote: RemotePackage[],
    pkgTypes: string[],
    removeMissing: boolean,
  ): Promise<{ summary: Record<string, Json>; refused: Array<{ location: string; reason: string }> }> {
    const bySha = new Map<string, Unit>();
    const byNevra = new Map<string, Unit>();
    for (const u of this.conduit.iterUnits({ typeIds: pkgTypes, fields: [] })) {
      bySha.set(str(u.unitKey.checksum), u);
      byNevra.set(`${u.typeId}:${nevraFull(u.unitKey as never)}`, u);
    }
    const keep = new Set<Unit>();
    const todo: RemotePackage[] = [];
    // A package the feed lists at several locations is fetched once (from the first).
    const listed = new Set<string>();
    for (const p of remote) {
      const id = `${p.checksumType}:${p.pkgid.toLowerCase()}`;
      if (listed.has(id)) continue;
      listed.add(id);
      let have: Unit | undefined;
      if (p.checksumType === 'sha256') have = bySha.get(p.pkgid.toLowerCase());
      else {
        // A feed with other checksums (sha1, sha512...): the package of the same NEVRA is the
        // same only when its stored file has the feed's digest (a rebuilt package keeps its NEVRA).
        const same = byNevra.get(`${p.arch === 'src' ? 'srpm' : 'rpm'}:${nevraFull(p)}`);
        if (same && (await this.storedDigest(same, hashName(p.checksumType, joinUrl(feed, 'repodata/primary')))) === p.pkgid.toLowerCase()) have = same;
      }
      if (have) keep.add(have);
      else todo.push(p);
    }
    const requireSignature = boolFrom(this.config.get('require_signature'), false);
    const allowedKeys = listFrom(this.config.get('allowed_keys'));
    const max = getInt(this.config, 'max_downloads', YUM_IMPORTER_DEFAULTS.max_downloads);
    const refused: Array<{ location: string; reason: string }> = [];
    let done = 0;
    let added = 0;
    this.progress('packages', { done, total: todo.length, present: keep.size });
    await pool(todo, max, async (p, i) => {
      this.check();
      const dest = path.join(work, `pkg-${i}.rpm`);
      try {
        const url = joinUrl(feed, p.locationHref, p.locationBase);
        await dl.fetchFile(url, dest, ['sha256'], { algo: hashName(p.checksumType, joinUrl(feed, 'repodata/primary')), hex: p.pkgid, size: p.sizePackage ?? undefined });
        this.check();
        try {
          // The sync's own download (verified against the feed's checksum): stored as it is.
          const { unit } = await saveRpmFile(this.conduit, dest, { requireSignature, allowedKeys, private: true });
          keep.add(unit);
          added++;
        } catch (e) {
          // Named by its place in the feed (the message names the download's temp file). A
          // package no repository could publish is left out as createrepo_c leaves it out.
          if (e instanceof StagepushError && (e.kind === 'policy' || e.code === 'REPODATA_CONTROL_CHARS' || e.code === 'RPM_NAME_TOO_LONG')) refused.push({ location: url, reason: e.message.split(dest).join(p.locationHref) });
          else throw e;
        }
      } finally {
        await fsp.rm(dest, { force: true });
      }
      done++;
      this.progress('packages', { done, total: todo.length, bytes: dl.bytes });
    });
    let removed = 0;
    if (removeMissing) {
      const keepIds = new Set([...keep].map((u) => identity(u)));
      removed = this.removeAllBut({ typeIds: pkgTypes, fields: [] }, (u) => keepIds.has(identity(u)));
    }
    return { summary: { packages_remote: listed.size, packages_added: added, packages_present: listed.size - todo.length, packages_removed: removed, packages_refused: refused.length }, refused };
  }

  /**
   * Remove the units of these criteria that `keep` does not keep; how many. Listed first, removed
   * after: the listing pages through the units, and removing while paging skipped a page's worth
   * each time (a feed shrinking by more than 500 units left the rest).
   */
  private removeAllBut(criteria: { typeIds: string[]; fields: string[] }, keep: (u: Unit) => boolean): number {
    const gone: Unit[] = [];
    for (const u of this.conduit.iterUnits(criteria)) if (!keep(u)) gone.push(u);
    for (const u of gone) this.conduit.removeUnit(u);
    return gone.length;
  }

  private syncErrata(errata: Erratum[], removeMissing: boolean): Json {
    let changed = 0;
    const ids = new Set<string>();
    for (const e of errata) {
      ids.add(e.id);
      if (saveErratum(this.conduit, e).changed) changed++;
    }
    let removed = 0;
    if (removeMissing) {
      removed = this.removeAllBut({ typeIds: ['erratum'], fields: [] }, (u) => ids.has(str(u.unitKey.id)));
    }
    void erratumToJson;
    return { remote: errata.length, changed, removed };
  }

  private syncMeta(units: MetaUnit[], types: readonly string[], removeMissing: boolean): Json {
    const saved = saveMetaUnits(this.conduit, units);
    let removed = 0;
    if (removeMissing) {
      const ids = new Set(saved.map((u) => identity(u)));
      removed = this.removeAllBut({ typeIds: [...types], fields: [] }, (u) => ids.has(identity(u)));
    }
    return { remote: units.length, removed };
  }
}

/** A checksum type of yum metadata as a node hash name ("sha" is sha1 in old repositories). */
function hashName(type: string, file: string): string {
  const t = type.toLowerCase() === 'sha' ? 'sha1' : type.toLowerCase();
  if (!getHashes().includes(t)) throw new StagepushError('YUM_SYNC_BAD_REPO', `${file}: unsupported checksum type ${JSON.stringify(type)}`, { kind: 'failed', file });
  return t;
}

function pem(v: string | undefined): string | undefined {
  return v ? (pemOrFile(v) ?? undefined) : undefined;
}

/**
 * Run a reader of a feed's metadata file: what it refuses (not well formed, truncated, a package
 * count that differs from the one announced, a bad field) fails the sync (exit 6, the
 * repository unchanged), keeping the reader's code and message, which name the file's URL.
 */
async function feedMetadata<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof StagepushError && e.kind === 'invalid') throw new StagepushError(e.code, e.message, { kind: 'failed', file: e.file, entry: e.entry, field: e.field, hint: e.hint, problems: e.problems, details: e.details, cause: e });
    throw e;
  }
}

export type { Repomd };
