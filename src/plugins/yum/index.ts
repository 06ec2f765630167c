/** The yum plugins: factories (defined beside each plugin) registered in src/plugins/builtins.ts. */
export { yumImporterFactory, YumImporter } from './importer.js';
export { yumDistributorFactory, YumDistributor } from './distributor.js';
export { consumerPayload, readPublishInfo, type PublishInfo } from './distributor.js';
export { repoSnippet, publishedView } from './show.js';
