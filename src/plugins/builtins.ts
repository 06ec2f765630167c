/**
 * The one registry file through which the engine knows the built-in content types and plugins.
 * Each built-in plugin adds its factory to BUILTIN_PLUGINS (one line per plugin).
 */
import type { Distributor, DistributorFactory, Importer, ImporterFactory, PluginFactory, PluginMetadata, TypeDefinition } from '../engine/contract.js';
import { StagepushError } from '../errors.js';

/** Built-in content types (third-party plugins declare their own). */
export const BUILTIN_TYPES: TypeDefinition[] = [
  { id: 'rpm', displayName: 'RPM', unitKey: ['name', 'epoch', 'version', 'release', 'arch', 'checksum'], searchIndexes: ['name', 'arch'] },
  { id: 'srpm', displayName: 'Source RPM', unitKey: ['name', 'epoch', 'version', 'release', 'arch', 'checksum'], searchIndexes: ['name'] },
  { id: 'erratum', displayName: 'Erratum (advisory)', unitKey: ['id'] },
  { id: 'package_group', displayName: 'Package group (comps)', unitKey: ['id', 'repo_id'] },
  { id: 'package_category', displayName: 'Package category (comps)', unitKey: ['id', 'repo_id'] },
  { id: 'package_environment', displayName: 'Package environment (comps)', unitKey: ['id', 'repo_id'] },
  { id: 'package_langpacks', displayName: 'Langpacks (comps)', unitKey: ['repo_id'] },
  { id: 'modulemd', displayName: 'Module stream', unitKey: ['name', 'stream', 'version', 'context', 'arch'] },
  { id: 'modulemd_defaults', displayName: 'Module defaults', unitKey: ['module', 'repo_id'] },
  { id: 'yum_repo_metadata_file', displayName: 'Yum repo metadata file (productid, ...)', unitKey: ['data_type', 'repo_id'] },
  { id: 'directory', displayName: 'Directory tree (RAW)', unitKey: ['name', 'digest'] },
  { id: 'iso', displayName: 'File (ISO)', unitKey: ['name', 'checksum', 'size'] },
  { id: 'cgw', displayName: 'Content Gateway definitions', unitKey: ['name', 'checksum'] },
  { id: 'ami', displayName: 'Amazon Machine Image', unitKey: ['name', 'checksum'] },
  { id: 'vhd', displayName: 'Azure VHD image', unitKey: ['name', 'checksum'] },
];

const YUM_TYPES = ['rpm', 'srpm', 'erratum', 'package_group', 'package_category', 'package_environment', 'package_langpacks', 'modulemd', 'modulemd_defaults', 'yum_repo_metadata_file', 'directory'];
const GENERIC_TYPES = ['cgw', 'ami', 'vhd'];

/**
 * A built-in plugin whose module is imported on first use (engine start-up loads no plugin code):
 * its metadata is stated here, and checked against the plugin's own on load.
 */
function lazy<F extends PluginFactory>(kind: F['kind'], metadata: PluginMetadata, loader: () => Promise<F>): F {
  let real: F | undefined;
  const factory = {
    kind,
    metadata,
    async load(): Promise<void> {
      if (real) return;
      const f = await loader();
      if (JSON.stringify(f.metadata) !== JSON.stringify(metadata))
        throw new StagepushError('PLUGIN_BAD_METADATA', `builtin plugin ${metadata.id}: its metadata ${JSON.stringify(f.metadata)} differs from src/plugins/builtins.ts ${JSON.stringify(metadata)}`, { kind: 'failed' });
      real = f;
    },
    create(): Importer | Distributor {
      if (!real) throw new StagepushError('PLUGIN_NOT_LOADED', `builtin plugin ${metadata.id} was created before load() completed`, { kind: 'failed' });
      return real.create();
    },
  };
  return factory as unknown as F;
}

/** Built-in plugins, in the order `plugins list` shows them. */
export const BUILTIN_PLUGINS: PluginFactory[] = [
  lazy<ImporterFactory>('importer', { id: 'yum_importer', displayName: 'Yum importer', types: YUM_TYPES }, async () => (await import('./yum/importer.js')).yumImporterFactory),
  lazy<DistributorFactory>('distributor', { id: 'yum_distributor', displayName: 'Yum distributor', types: YUM_TYPES }, async () => (await import('./yum/distributor.js')).yumDistributorFactory),
  lazy<ImporterFactory>('importer', { id: 'iso_importer', displayName: 'File (ISO) importer', types: ['iso', 'directory'] }, async () => (await import('./iso/importer.js')).isoImporterFactory),
  lazy<DistributorFactory>('distributor', { id: 'iso_distributor', displayName: 'File (ISO) distributor', types: ['iso', 'directory'] }, async () => (await import('./iso/distributor.js')).isoDistributorFactory),
  lazy<DistributorFactory>('distributor', { id: 'directory_distributor', displayName: 'Directory (RAW) distributor', types: ['directory'] }, async () => (await import('./directory/distributor.js')).directoryDistributorFactory),
  lazy<ImporterFactory>('importer', { id: 'generic_importer', displayName: 'Generic importer (CGW, AMI, VHD, RAW directories)', types: [...GENERIC_TYPES, 'directory'] }, async () => (await import('./generic/importer.js')).genericImporterFactory),
  lazy<DistributorFactory>('distributor', { id: 'export_distributor', displayName: 'Export distributor (tree, manifest, tar)', types: [...YUM_TYPES, 'iso', ...GENERIC_TYPES] }, async () => (await import('./export/distributor.js')).exportDistributorFactory),
];
