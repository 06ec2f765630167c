/**
 * iso_distributor: publishes a file repository: every `iso` unit at its name, plus PULP_MANIFEST
 * (`name,sha256,size` per line, sorted by name, iso units only), and the repository's RAW trees
 * (`directory` units) as-is beside them, atomically (see common/publish.ts). A path claimed twice
 * (a tree's file named like a file unit, the manifest) fails the publish before anything is written.
 * Config: relative_url (default the repo id), http (default true), https (default false), keep_previous (1),
 * file_link (symlink to the stored file | hardlink | copy; default symlink).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Distributor, DistributorFactory, Json, PluginCallConfig, PluginMetadata, PublishConduit, PublishReport, RelatedRepositories, Repository, ValidationResult } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { COMMON_PUBLISH_KEYS, checkEnum, checkKnownKeys, checkPublishKeys, firstProblem, result } from '../common/config.js';
import { publishPayload } from '../common/consumer.js';
import { DIRECTORY_TYPE, LINK_MODES, PathClaims, escapingSymlinks, layoutDirectoryUnit, type LinkMode } from '../common/directory.js';
import { copyFile0644, linkOrCopy, linkOrSymlink, mkdirp } from '../common/fsutil.js';
import { publishWithConduit, unpublishRecorded } from '../common/publish.js';
import { ISO_TYPE } from './importer.js';
import { MANIFEST_NAME, checkIsoName, formatManifest, type ManifestEntry } from './manifest.js';

const METADATA: PluginMetadata = { id: 'iso_distributor', displayName: 'File (ISO) distributor', types: [ISO_TYPE, DIRECTORY_TYPE] };
export const ISO_DISTRIBUTOR_KEYS = [...COMMON_PUBLISH_KEYS, 'file_link'] as const;

/** Place a stored file at dest per the link mode. */
export async function placeFile(src: string, dest: string, mode: LinkMode): Promise<void> {
  await mkdirp(path.dirname(dest));
  if (mode === 'symlink') await fsp.symlink(src, dest);
  else if (mode === 'auto') await linkOrSymlink(src, dest);
  else if (mode === 'hardlink') await linkOrCopy(src, dest);
  else await copyFile0644(src, dest);
}

export class IsoDistributor implements Distributor {
  private readonly abort = new AbortController();

  metadata(): PluginMetadata {
    return METADATA;
  }

  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult {
    return result(firstProblem([() => checkKnownKeys(config, ISO_DISTRIBUTOR_KEYS), () => checkPublishKeys(repo, config, related), () => checkEnum(config, 'file_link', LINK_MODES)]));
  }

  async publishRepo(repo: Repository, conduit: PublishConduit, config: PluginCallConfig): Promise<PublishReport> {
    const mode = (config.get<string>('file_link') ?? 'symlink') as LinkMode;
    const signal = AbortSignal.any([conduit.signal, this.abort.signal]);
    const entries: ManifestEntry[] = [];
    const total = conduit.countUnits({ typeIds: [ISO_TYPE] });
    let treeCount = 0;
    const res = await publishWithConduit(repo, conduit, config, async (dir) => {
      const claims = new PathClaims();
      claims.reserve(MANIFEST_NAME, 'the manifest');
      // Every path claimed before anything is written: trees, then files.
      const trees = conduit.countUnits({ typeIds: [DIRECTORY_TYPE] }) ? [...conduit.iterUnits({ typeIds: [DIRECTORY_TYPE] })] : [];
      for (const t of trees) claims.claimUnit(t);
      treeCount = trees.length;
      for (const u of conduit.iterUnits({ typeIds: [ISO_TYPE] })) {
        const name = String(u.unitKey.name);
        const bad = checkIsoName(name);
        if (bad) throw new StagepushError('FILE_BAD_NAME', `iso unit ${name}: ${bad}`, { entry: name, field: 'name' });
        claims.claimFile(name, `iso unit "${name}" (${String(u.unitKey.checksum).slice(0, 12)})`);
      }
      for (const t of trees) {
        if (signal.aborted) throw signal.reason;
        await layoutDirectoryUnit(t, dir, (sha) => conduit.blobPath(sha), { mode, signal });
      }
      let done = 0;
      for (const u of conduit.iterUnits({ typeIds: [ISO_TYPE] })) {
        if (signal.aborted) throw signal.reason;
        const name = String(u.unitKey.name);
        if (!u.storagePath) throw new StagepushError('FILE_UNIT_NO_FILE', `iso unit "${name}" has no stored file`, { entry: name, kind: 'failed' });
        await placeFile(u.storagePath, path.join(dir, ...name.split('/')), mode);
        entries.push({ name, sha256: String(u.unitKey.checksum), size: Number(u.unitKey.size) });
        if (++done % 100 === 0) conduit.setProgress({ step: 'files', done, total });
      }
      await fsp.writeFile(path.join(dir, MANIFEST_NAME), formatManifest(entries), { mode: 0o644 });
      return { escapingLinks: escapingSymlinks(trees) };
    }, { signal });
    const summary = { files: entries.length, directory: treeCount, published_version: res.version, relative_url: res.relativeUrl };
    return { success: true, summary: summary as Json, details: { carried: res.carried, removed_versions: res.removedVersions } as Json, publishedPaths: res.publishedPaths, urls: res.urls };
  }

  cancelPublishRepo(): void {
    this.abort.abort(new StagepushError('PUBLISH_CANCELED', 'publish canceled', { kind: 'interrupted' }));
  }

  async distributorRemoved(repo: Repository, _config: PluginCallConfig): Promise<void> {
    await unpublishRecorded(repo);
  }

  createConsumerPayload(repo: Repository, config: PluginCallConfig): Json {
    return publishPayload(repo, config);
  }
}

export const isoDistributorFactory: DistributorFactory = {
  kind: 'distributor',
  metadata: METADATA,
  create: () => new IsoDistributor(),
};

