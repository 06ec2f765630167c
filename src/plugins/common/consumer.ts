/** The consumer payload of the built-in publishing distributors. */
import type { Json, PluginCallConfig, Repository } from '../../engine/contract.js';
import { relativeUrlOf } from './config.js';
import { protocolsOf } from './publish.js';

export function publishPayload(repo: Repository, config: PluginCallConfig, extra: Record<string, Json> = {}): Json {
  const protocols = protocolsOf(config);
  return {
    repo_name: repo.displayName || repo.id,
    repo_id: repo.id,
    relative_path: relativeUrlOf(repo, config),
    protocols: (['http', 'https'] as const).filter((p) => protocols[p]),
    ...extra,
  };
}
