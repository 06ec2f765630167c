/**
 * directory_distributor: publishes a RAW-only repository (directory units) as-is, atomically:
 * every directory unit laid out at the root of the published tree (files as symlinks to the
 * stored blobs by default, `file_link` hardlink or copy; RAW symlinks kept). Two trees claiming the
 * same file path are refused, naming both. A repository holding other content types is refused.
 */
import type { Distributor, DistributorFactory, Json, PluginCallConfig, PluginMetadata, PublishConduit, PublishReport, RelatedRepositories, Repository, ValidationResult } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { COMMON_PUBLISH_KEYS, checkEnum, checkKnownKeys, checkPublishKeys, firstProblem, result } from '../common/config.js';
import { publishPayload } from '../common/consumer.js';
import { DIRECTORY_TYPE, LINK_MODES, PathClaims, escapingSymlinks, layoutDirectoryUnit, type LinkMode } from '../common/directory.js';
import { publishWithConduit, unpublishRecorded } from '../common/publish.js';

const METADATA: PluginMetadata = { id: 'directory_distributor', displayName: 'Directory (RAW) distributor', types: [DIRECTORY_TYPE] };
export const DIRECTORY_DISTRIBUTOR_KEYS = [...COMMON_PUBLISH_KEYS, 'file_link'] as const;

export class DirectoryDistributor implements Distributor {
  private readonly abort = new AbortController();

  metadata(): PluginMetadata {
    return METADATA;
  }

  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult {
    return result(firstProblem([() => checkKnownKeys(config, DIRECTORY_DISTRIBUTOR_KEYS), () => checkPublishKeys(repo, config, related), () => checkEnum(config, 'file_link', LINK_MODES)]));
  }

  async publishRepo(repo: Repository, conduit: PublishConduit, config: PluginCallConfig): Promise<PublishReport> {
    const mode = (config.get<string>('file_link') ?? 'symlink') as LinkMode;
    const signal = AbortSignal.any([conduit.signal, this.abort.signal]);
    const all = conduit.countUnits();
    const raw = conduit.countUnits({ typeIds: [DIRECTORY_TYPE] });
    if (all !== raw) {
      const others = [...new Set(conduit.getUnits({ fields: [] }).map((u) => u.typeId).filter((t) => t !== DIRECTORY_TYPE))].sort();
      throw new StagepushError('FILE_NOT_RAW_ONLY', `directory_distributor publishes RAW-only repositories: ${repo.id} also holds ${all - raw} unit(s) of type ${others.join(', ')}`, { entry: repo.id, kind: 'invalid' });
    }
    const units = conduit.getUnits({ typeIds: [DIRECTORY_TYPE] });
    const claims = new PathClaims();
    for (const u of units) claims.claimUnit(u, `directory unit "${String(u.unitKey.name)}" (${String(u.unitKey.digest).slice(0, 12)})`);
    const counts = { trees: units.length, files: 0, dirs: 0, symlinks: 0 };
    const res = await publishWithConduit(repo, conduit, config, async (dir) => {
      for (const u of units) {
        const c = await layoutDirectoryUnit(u, dir, (s) => conduit.blobPath(s), { mode, signal });
        counts.files += c.files;
        counts.dirs += c.dirs;
        counts.symlinks += c.symlinks;
        conduit.setProgress({ step: 'layout', tree: String(u.unitKey.name), ...counts });
      }
      return { escapingLinks: escapingSymlinks(units) };
    }, { signal });
    return { success: true, summary: { ...counts, published_version: res.version, relative_url: res.relativeUrl }, publishedPaths: res.publishedPaths, urls: res.urls };
  }

  cancelPublishRepo(): void {
    this.abort.abort(new StagepushError('PUBLISH_CANCELED', 'publish canceled', { kind: 'interrupted' }));
  }

  async distributorRemoved(repo: Repository): Promise<void> {
    await unpublishRecorded(repo);
  }

  createConsumerPayload(repo: Repository, config: PluginCallConfig): Json {
    return publishPayload(repo, config);
  }
}

export const directoryDistributorFactory: DistributorFactory = {
  kind: 'distributor',
  metadata: METADATA,
  create: () => new DirectoryDistributor(),
};
