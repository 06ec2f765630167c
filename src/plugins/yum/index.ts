/** The yum plugins: factories registered in src/plugins/builtins.ts. */
import type { DistributorFactory, ImporterFactory } from '../../engine/contract.js';
import { DISTRIBUTOR_METADATA, YumDistributor } from './distributor.js';
import { IMPORTER_METADATA, YumImporter } from './importer.js';

export const yumImporterFactory: ImporterFactory = {
  kind: 'importer',
  metadata: IMPORTER_METADATA,
  create: () => new YumImporter(),
};

export const yumDistributorFactory: DistributorFactory = {
  kind: 'distributor',
  metadata: DISTRIBUTOR_METADATA,
  create: () => new YumDistributor(),
};

export { YumImporter, YumDistributor };
export { consumerPayload, readPublishInfo, type PublishInfo } from './distributor.js';
export { repoSnippet, publishedView } from './show.js';
