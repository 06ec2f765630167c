/**
 * yum_distributor: publishes a repository as a yum repository dnf reads:
 *   Packages/<l>/<file>      hard links to the stored files, else symlinks (package_link: see config.ts)
 *   <directory units>        RAW trees as-is (kickstart .treeinfo, images/ …)
 *   repodata/                primary, filelists, other, updateinfo, comps, modules, productid,
 *                            repomd.xml (+ repomd.xml.asc when gpg_sign_metadata)
 * built in the working directory and switched in atomically by the common publish helper, which
 * also carries over (hard links of) the repodata files earlier repomd.xml files named within
 * remove_old_repodata_threshold.
 */
import { promises as fsp, symlinkSync } from 'node:fs';
import path from 'node:path';
import type {
  Distributor,
  DistributorFactory,
  Json,
  PluginCallConfig,
  PluginMetadata,
  PublishConduit,
  PublishEnv,
  PublishReport,
  RelatedRepositories,
  Repository,
  Unit,
  ValidationResult,
} from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { PathClaims, escapingSymlinks, layoutDirectoryUnit } from '../common/directory.js';
import { mkdirp } from '../common/fsutil.js';
import { distributorKey, normalizeRelativeUrl, protocolsOf, publishWithConduit, relativeUrlConflict, unpublishRecorded, versionsBase } from '../common/publish.js';
import { armoredKeyOrFile, checkDistributorConfig, pemOrFile, distributorSettings, type DistributorSettings } from './config.js';
import { normalizeErratum, type Erratum } from './erratum.js';
import { readRepomdLocations, writeCompsFile, writeExtraFile, writeModulesFile, writeRepomd, writeUpdateinfoFile, type RepomdEntry } from './mdfiles.js';
import { COMPS_TYPES, RPM_TYPES, YUM_TYPES, nevraFull, str } from './units.js';
import { publishPackages } from './packages.js';
import { gpgSignDetached } from './util.js';
import { PackagePool, removeOtherPools, verifyPool } from './pool.js';

export const DISTRIBUTOR_ID = 'yum_distributor';

export const DISTRIBUTOR_METADATA: PluginMetadata = {
  id: DISTRIBUTOR_ID,
  displayName: 'Yum distributor',
  types: [...YUM_TYPES],
};

interface RepomdHistoryEntry {
  /** Seconds since the epoch when that repomd.xml was replaced (or published, for the current one). */
  time: number;
  files: string[];
}

interface YumScratchpad {
  publishedAt: number | null;
  history: RepomdHistoryEntry[];
  /** The files the repomd.xml of the last recorded publish names (null: not recorded yet). */
  current: string[] | null;
  /** The revision the last recorded repomd.xml has. */
  revision: number | null;
}

function readScratch(conduit: PublishConduit): YumScratchpad {
  const s = conduit.getScratchpad();
  const o = s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, Json>) : {};
  return {
    publishedAt: typeof o.publishedAt === 'number' ? o.publishedAt : null,
    history: Array.isArray(o.history) ? (o.history as unknown as RepomdHistoryEntry[]).filter((h) => h && typeof h.time === 'number' && Array.isArray(h.files)) : [],
    current: Array.isArray(o.current) && o.current.every((f) => typeof f === 'string') ? (o.current as string[]) : null,
    revision: typeof o.revision === 'number' ? o.revision : null,
  };
}

function sameFiles(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((f) => set.has(f));
}

function canceled(signal: AbortSignal): void {
  if (signal.aborted) throw new StagepushError('YUM_PUBLISH_CANCELED', 'publish canceled', { kind: 'interrupted' });
}

export class YumDistributor implements Distributor {
  private readonly abort = new AbortController();

  metadata(): PluginMetadata {
    return DISTRIBUTOR_METADATA;
  }

  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult {
    const problem = checkDistributorConfig(repo, config, related);
    return problem ? { valid: false, message: problem } : { valid: true };
  }

  async distributorRemoved(repo: Repository): Promise<void> {
    // Links, versioned trees and the package pool (all under the distributor's versions directory).
    await unpublishRecorded(repo);
  }

  cancelPublishRepo(): void {
    this.abort.abort();
  }

  verifyPublished(repo: Repository, config: PluginCallConfig, env: PublishEnv & { blobPath(sha256: string): string }): string[] {
    const s = distributorSettings(config);
    return verifyPool(versionsBase(env.publishRoot, repo.id, distributorKey(repo)), s.packageLink, s.removeOldRepodata ? s.oldRepodataThreshold : Infinity, env.blobPath);
  }

  async publishRepo(repo: Repository, conduit: PublishConduit, config: PluginCallConfig): Promise<PublishReport> {
    const problem = checkDistributorConfig(repo, config, { repos: [] });
    if (problem) throw new StagepushError('YUM_BAD_CONFIG', `${DISTRIBUTOR_ID} on ${repo.id}: ${problem}`, { kind: 'invalid' });
    const signal = AbortSignal.any([this.abort.signal, conduit.signal]);
    const settings = distributorSettings(config);
    const scratch = readScratch(conduit);
    // The engine skips a publish when neither the repository version nor this config changed since
    // the last one (and forces it with --force): when called, always build a new tree.
    const relativeUrl = normalizeRelativeUrl(str(config.get('relative_url'), '') || repo.id);
    // Unique across every distributor type (defaulted relative_urls included): named on both sides.
    const clash = relativeUrlConflict(relativeUrl, conduit.otherRelativeUrls());
    if (clash) throw new StagepushError('PUBLISH_RELATIVE_URL_CONFLICT', `${DISTRIBUTOR_ID} of ${repo.id}: config key "relative_url": ${clash}`, { kind: 'invalid', field: 'relative_url' });
    const now = Math.floor(Date.now() / 1000);
    // repomd.xml's revision grows with every publish, two in one second too (mirroring tools
    // compare it): the time, or one past the last revision.
    const revision = Math.max(now, (scratch.revision ?? scratch.publishedAt ?? 0) + 1);
    const summary: Record<string, Json> = {};
    let previousFiles: string[] = [];
    let newFiles: string[] = [];
    let history = scratch.history.filter((h) => now - h.time <= settings.oldRepodataThreshold);
    const base = versionsBase(conduit.publishRoot, repo.id, distributorKey(repo));
    // Also when packages are skipped: the pool keeps what kept old metadata names (as prune decides).
    const pool = new PackagePool(base, settings.packageLink);
    pool.reserveOtherPools(base);
    const trees: Unit[] = [];
    const result = await publishWithConduit(
      repo,
      conduit,
      config,
      async (dir) => {
        Object.assign(summary, await buildTree(conduit, settings, dir, signal, now, pool, repo.workingDir, revision, trees));
        newFiles = await readRepomdLocations(path.join(dir, 'repodata', 'repomd.xml'));
        if (pool) {
          // After a package_link change: what kept old metadata names comes along from the old pool.
          const adopted = pool.adoptOtherPools(base, now);
          if (adopted) summary.packages_carried_from_other_link_mode = adopted;
          pool.save();
        }
        return { escapingLinks: escapingSymlinks(trees) };
      },
      {
        carryOver: async (previousDir) => {
          // The repodata the replaced repomd.xml names, and what earlier ones named within the threshold.
          const repomd = path.join(previousDir, 'repodata', 'repomd.xml');
          previousFiles = await readRepomdLocations(repomd).catch(() => [] as string[]);
          // A publish interrupted after its switch (the live tree is not the one last recorded):
          // what the recorded tree named was replaced when the live one was made, and is kept for
          // the threshold from then like any replaced repodata.
          if (scratch.current && !sameFiles(scratch.current, previousFiles)) {
            const replacedAt = await fsp.stat(repomd).then((st) => Math.floor(st.mtimeMs / 1000), () => now);
            if (now - replacedAt <= settings.oldRepodataThreshold) history.push({ time: replacedAt, files: scratch.current });
          }
          if (!settings.removeOldRepodata) {
            const all = await fsp.readdir(path.join(previousDir, 'repodata')).catch(() => [] as string[]);
            return all.filter((f) => !f.startsWith('repomd.xml')).map((f) => `repodata/${f}`);
          }
          const keep = new Set(previousFiles);
          for (const h of history) for (const f of h.files) keep.add(f);
          return [...keep];
        },
      },
    );

    // Only now that the new tree is live: packages gone from the repository leave the pool.
    // Packages gone from the repository stay while kept old metadata names them (see PackagePool.prune).
    if (pool) {
      const pr = pool.prune(now, settings.removeOldRepodata ? settings.oldRepodataThreshold : Infinity);
      summary.packages_unlinked = pr.unlinked;
      summary.packages_kept_for_old_metadata = pr.kept;
      // Their stored files outlive their units (an orphan clean-up would delete what a symlink
      // entry points at) for as long as the entries are there: until a publish prunes them (this
      // pin is replaced by every publish), not until the threshold passes. The old repodata and
      // the entries stay in the tree past it, until the next publish: a clean-up in between left
      // a symlink entry dangling under repodata a client may still hold.
      conduit.keepStoredFiles?.(pr.keptSha256, pr.kept ? Number.MAX_SAFE_INTEGER : 0);
    }
    removeOtherPools(base, settings.packageLink);

    // Remember which repodata each replaced repomd.xml named, and when it was replaced.
    if (previousFiles.length) history = [...history, { time: now, files: previousFiles }];
    conduit.setScratchpad({
      publishedAt: now,
      history: history as unknown as Json,
      current: newFiles,
      revision,
    } as unknown as Json);
    await writePublishInfo(repo, { publishRoot: conduit.publishRoot, baseUrls: conduit.baseUrls, relativeUrl, publishedPaths: result.publishedPaths, urls: result.urls, repoVersion: conduit.repoVersion, publishedAt: now });
    conduit.setProgress({ step: 'done', published: result.publishedPaths });
    return {
      success: true,
      summary: { ...summary, repo_version: conduit.repoVersion, relative_url: relativeUrl, carried_repodata: result.carried.length },
      publishedPaths: result.publishedPaths,
      urls: result.urls,
    };
  }

  async createConsumerPayload(repo: Repository, config: PluginCallConfig, bindingConfig: Record<string, unknown>, env?: PublishEnv): Promise<Json> {
    const info = await readPublishInfo(repo);
    const b = bindingConfig as { publish_root?: unknown; base_urls?: { http?: string; https?: string } };
    // The binding's own values first; then where the files are (the last publish), else where the
    // engine publishes (not published yet); base URLs as configured now, else as last published.
    const configured = env && Object.keys(env.baseUrls).length ? env.baseUrls : undefined;
    return consumerPayload(repo, config, {
      publishRoot: typeof b.publish_root === 'string' ? b.publish_root : (info?.publishRoot ?? env?.publishRoot),
      baseUrls: b.base_urls ?? configured ?? info?.baseUrls,
    });
  }
}

/** Registered by src/plugins/builtins.ts (which imports this module only when the plugin is first used). */
export const yumDistributorFactory: DistributorFactory = {
  kind: 'distributor',
  metadata: DISTRIBUTOR_METADATA,
  create: () => new YumDistributor(),
};

/** Build the complete tree into `dir`. */
async function buildTree(conduit: PublishConduit, s: DistributorSettings, dir: string, signal: AbortSignal, now: number, pool: PackagePool | null, workingDir: string, revision: number, trees: Unit[]): Promise<Record<string, Json>> {
  const repodata = path.join(dir, 'repodata');
  await mkdirp(repodata);
  const entries: RepomdEntry[] = [];
  const summary: Record<string, Json> = {};
  // Whether the repository holds any unit of these types (an index lookup per type when the
  // conduit can scan; getUnits on a large repository would read every unit to find none).
  const has = (typeIds: readonly string[]): boolean => {
    if (!typeIds.length) return false;
    if (!conduit.scanUnitStamps) return conduit.countUnits({ typeIds: [...typeIds] }) > 0;
    for (const page of conduit.scanUnitStamps([...typeIds], 1)) return page.length > 0;
    return false;
  };

  // 1. Directory units first: their paths are checked against the reserved ones before anything is written.
  const claims = new PathClaims();
  claims.reserve('repodata', 'the yum repodata/ directory');
  claims.reserve('Packages', 'the yum Packages/ directory');
  // `trees`: the directory units laid out (the caller records their escaping symlinks).
  if (!s.skip.has('directory')) {
    for (const u of has(['directory']) ? conduit.iterUnits({ typeIds: ['directory'] }) : []) {
      claims.claimUnit(u);
      trees.push(u);
    }
  }
  for (const t of trees) {
    canceled(signal);
    await layoutDirectoryUnit(t, dir, (sha) => conduit.blobPath(sha), { mode: s.packageLink, signal });
  }
  summary.directory = trees.length;

  // 2. Packages and primary/filelists/other, streamed (block-cached: see packages.ts).
  const pkgTypes = RPM_TYPES.filter((t) => !s.skip.has(t));
  // Packages/ when packages are published, or kept (packages skipped now, old metadata naming some).
  if (pool && (pkgTypes.length || pool.holdsAny)) symlinkSync(`../${path.basename(pool.dir)}`, path.join(dir, 'Packages'));
  const wantPresent = !s.skip.has('erratum') && has(['erratum']);
  const pk = await publishPackages(conduit, s, pkgTypes, { repodata, workingDir, now, pool, signal, wantPresent });
  entries.push(...pk.entries);
  const present = pk.present ?? new Set<string>();
  summary.packages = pk.packages;
  summary.metadata_blocks = pk.blocks as unknown as Json;
  summary.package_files_reused = pk.filesReused;
  if (pk.duplicates.length) summary.duplicate_file_names = pk.duplicates;
  if (pool) summary.packages_linked = pool.added;

  // 3. updateinfo: only the packages present in the repository.
  if (!s.skip.has('erratum')) {
    const errata: Erratum[] = [];
    for (const u of has(['erratum']) ? conduit.iterUnits({ typeIds: ['erratum'] }) : []) {
      canceled(signal);
      const e = normalizeErratum(u.metadata);
      const pkglist = e.pkglist.map((c) => ({ ...c, packages: c.packages.filter((p) => present.has(nevraFull(p))) })).filter((c) => c.packages.length);
      errata.push({ ...e, pkglist });
    }
    if (errata.length) entries.push(await writeUpdateinfoFile(repodata, errata, s.checksumType, now));
    summary.errata = errata.length;
  }

  // 4. comps.
  const compsTypes = COMPS_TYPES.filter((t) => !s.skip.has(t));
  if (compsTypes.length) {
    const comps = has(compsTypes) ? conduit.getUnits({ typeIds: compsTypes }) : [];
    if (comps.length) entries.push(await writeCompsFile(repodata, comps, s.checksumType, now));
    summary.comps = comps.length;
  }

  // 5. modules.yaml.
  const modTypes = (['modulemd', 'modulemd_defaults'] as const).filter((t) => !s.skip.has(t));
  if (modTypes.length) {
    const mods = has(modTypes) ? conduit.getUnits({ typeIds: [...modTypes] }) : [];
    if (mods.length) entries.push(await writeModulesFile(repodata, mods, s.checksumType, now));
    summary.modules = mods.length;
  }

  // 6. productid and other repo metadata files.
  if (!s.skip.has('yum_repo_metadata_file')) {
    for (const u of has(['yum_repo_metadata_file']) ? conduit.iterUnits({ typeIds: ['yum_repo_metadata_file'] }) : []) {
      if (!u.storagePath) continue;
      entries.push(await writeExtraFile(repodata, str(u.unitKey.data_type), u.storagePath, s.checksumType, now));
    }
  }

  // 7. repomd.xml (+ signature, + public key).
  canceled(signal);
  await writeRepomd(repodata, entries, String(revision));
  if (s.gpgSign) {
    await gpgSignDetached(path.join(repodata, 'repomd.xml'), path.join(repodata, 'repomd.xml.asc'), s.gpgKeyId!, s.gpgHome, signal);
    summary.signed = true;
  }
  if (s.gpgkey) await fsp.writeFile(path.join(repodata, 'repomd.xml.key'), s.gpgkey.endsWith('\n') ? s.gpgkey : s.gpgkey + '\n');
  return summary;
}

/** The consumer payload for binding (what the agent's yum bind handler writes into a .repo file). */
export function consumerPayload(repo: Repository, config: PluginCallConfig, env: { publishRoot?: string; baseUrls?: { http?: string; https?: string }; serverName?: string }): Json {
  const relativeUrl = normalizeRelativeUrl(str(config.get('relative_url'), '') || repo.id);
  const protocols = protocolsOf(config);
  const baseUrls: Record<string, string> = {};
  const list: string[] = [];
  for (const p of ['http', 'https'] as const) {
    if (!protocols[p]) continue;
    list.push(p);
    const b = env.baseUrls?.[p] ?? config.get<string>(`base_url_${p}`);
    if (b) baseUrls[p] = b.replace(/\/+$/, '');
    else if (env.publishRoot) baseUrls[p] = `file://${path.join(env.publishRoot, p)}`;
  }
  let serverName = env.serverName ?? null;
  for (const b of Object.values(baseUrls)) {
    if (serverName) break;
    try {
      const u = new URL(b);
      if (u.protocol !== 'file:') serverName = u.host;
    } catch {
      /* ignore */
    }
  }
  const gpgkey = config.has('gpgkey') ? armoredKeyOrFile(config.get<string>('gpgkey')!) : null;
  return {
    repo_id: repo.id,
    repo_name: str(config.get('repo_name'), '') || repo.displayName || repo.id,
    server_name: serverName ?? 'localhost',
    relative_path: relativeUrl,
    protocols: list,
    base_urls: baseUrls,
    gpg_keys: gpgkey ? { [`${repo.id}.gpg`]: gpgkey } : {},
    ca_cert: config.has('https_ca') ? pemOrFile(config.get<string>('https_ca')!) : null,
  };
}

/** What the last publish recorded in the working directory (read by createConsumerPayload and `repo show`). */
export interface PublishInfo {
  publishRoot: string;
  baseUrls: { http?: string; https?: string };
  relativeUrl: string;
  publishedPaths: string[];
  urls: string[];
  repoVersion: number;
  publishedAt: number;
}

const PUBLISH_INFO = 'yum-publish.json';

async function writePublishInfo(repo: Repository, info: PublishInfo): Promise<void> {
  const tmp = path.join(repo.workingDir, `.${PUBLISH_INFO}.tmp-${process.pid}`);
  await fsp.writeFile(tmp, JSON.stringify(info, null, 2) + '\n');
  await fsp.rename(tmp, path.join(repo.workingDir, PUBLISH_INFO));
}

export async function readPublishInfo(repo: Pick<Repository, 'workingDir'>): Promise<PublishInfo | null> {
  try {
    return JSON.parse(await fsp.readFile(path.join(repo.workingDir, PUBLISH_INFO), 'utf8')) as PublishInfo;
  } catch {
    return null;
  }
}
