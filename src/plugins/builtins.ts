/**
 * The one registry file through which the engine knows the built-in content types and plugins.
 * Each built-in plugin adds its factory to BUILTIN_PLUGINS (one line per plugin).
 */
import type { PluginFactory, TypeDefinition } from '../engine/contract.js';
import { isoImporterFactory } from './iso/importer.js';
import { isoDistributorFactory } from './iso/distributor.js';
import { directoryDistributorFactory } from './directory/distributor.js';
import { genericImporterFactory } from './generic/importer.js';
import { exportDistributorFactory } from './export/distributor.js';
import { yumDistributorFactory, yumImporterFactory } from './yum/index.js';

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

/** Built-in plugins, in the order `plugins list` shows them. */
export const BUILTIN_PLUGINS: PluginFactory[] = [
  // yum_importer, yum_distributor, iso_importer, iso_distributor, directory_distributor,
  // generic_importer, export_distributor: added by the plugins that implement them.
  yumImporterFactory,
  yumDistributorFactory,
  isoImporterFactory,
  isoDistributorFactory,
  directoryDistributorFactory,
  genericImporterFactory,
  exportDistributorFactory,
];
