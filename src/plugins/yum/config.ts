/**
 * Configuration keys of yum_importer and yum_distributor, and their validation (validateConfig
 * refuses unknown keys and bad values, naming the key).
 */
import type { PluginCallConfig, RelatedRepositories, Repository } from '../../engine/contract.js';
import { checkBool, checkEnum, checkInt, checkKnownKeys, checkPublishKeys, checkString, firstProblem, getBool, getInt } from '../common/config.js';
import { parseSkip } from './units.js';

export const IMPORTER_KEYS = [
  'feed',
  'max_downloads',
  'retries',
  'download_timeout',
  'ssl_ca_cert',
  'ssl_client_cert',
  'ssl_client_key',
  'ssl_validation',
  'proxy_url',
  'proxy_username',
  'proxy_password',
  'remove_missing',
  'skip',
  'require_signature',
  'allowed_keys',
  'recursive',
] as const;

export const DISTRIBUTOR_KEYS = [
  'relative_url',
  'http',
  'https',
  'keep_previous',
  'checksum_type',
  'gpgkey',
  'skip',
  'remove_old_repodata',
  'remove_old_repodata_threshold',
  'gpg_sign_metadata',
  'gpg_key_id',
  'gpg_home',
  'package_link',
  'repo_name',
] as const;

export const CHECKSUM_TYPES = ['sha256', 'sha1', 'sha512'] as const;
export type ChecksumType = (typeof CHECKSUM_TYPES)[number];
export const PACKAGE_LINKS = ['symlink', 'hardlink', 'copy'] as const;
export type PackageLink = (typeof PACKAGE_LINKS)[number];
export const DEFAULT_OLD_REPODATA_THRESHOLD = 1_209_600;

function checkSkip(config: PluginCallConfig): string | null {
  if (!config.has('skip')) return null;
  const r = parseSkip(config.get('skip'));
  return 'problem' in r ? r.problem : null;
}

function checkUrl(config: PluginCallConfig, key: string, schemes: string[]): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  if (typeof v !== 'string' || !v.trim()) return `config key "${key}" must be a URL, got ${JSON.stringify(v)}`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `config key "${key}" is not a valid URL: ${JSON.stringify(v)}`;
  }
  if (!schemes.includes(u.protocol.replace(/:$/, ''))) return `config key "${key}" must use ${schemes.join(', ')}, got ${JSON.stringify(v)}`;
  return null;
}

function checkPem(config: PluginCallConfig, key: string): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  if (typeof v !== 'string' || !/-----BEGIN [A-Z ]+-----/.test(v)) return `config key "${key}" must be PEM text (-----BEGIN ...-----)`;
  return null;
}

function checkKeyList(config: PluginCallConfig, key: string): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : null;
  if (!list) return `config key "${key}" must be a list of key ids, got ${JSON.stringify(v)}`;
  for (const k of list) if (typeof k !== 'string' || !/^(0x)?[0-9A-Fa-f]{8}([0-9A-Fa-f]{8})?$/.test(k)) return `config key "${key}": ${JSON.stringify(k)} is not an 8 or 16 hex digit key id`;
  return null;
}

export function checkImporterConfig(config: PluginCallConfig): string | null {
  return firstProblem([
    () => checkKnownKeys(config, IMPORTER_KEYS),
    () => checkUrl(config, 'feed', ['http', 'https', 'file']),
    () => checkInt(config, 'max_downloads', 1, 64),
    () => checkInt(config, 'retries', 0, 20),
    () => checkInt(config, 'download_timeout', 1, 86_400),
    () => checkPem(config, 'ssl_ca_cert'),
    () => checkPem(config, 'ssl_client_cert'),
    () => checkPem(config, 'ssl_client_key'),
    () => (config.has('ssl_client_key') && !config.has('ssl_client_cert') ? 'config key "ssl_client_key" needs "ssl_client_cert"' : null),
    () => checkBool(config, 'ssl_validation'),
    () => checkUrl(config, 'proxy_url', ['http', 'https']),
    () => checkString(config, 'proxy_username'),
    () => checkString(config, 'proxy_password'),
    () => checkBool(config, 'remove_missing'),
    () => checkSkip(config),
    () => checkBool(config, 'require_signature'),
    () => checkKeyList(config, 'allowed_keys'),
    () => checkBool(config, 'recursive'),
  ]);
}

export function checkDistributorConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): string | null {
  return firstProblem([
    () => checkKnownKeys(config, DISTRIBUTOR_KEYS),
    () => checkPublishKeys(repo, config, related),
    () => (config.has('http') || config.has('https') ? (!getBool(config, 'http', true) && !getBool(config, 'https', true) ? 'config keys "http" and "https": at least one must be true' : null) : null),
    () => checkEnum(config, 'checksum_type', CHECKSUM_TYPES),
    () => {
      if (!config.has('gpgkey')) return null;
      const v = config.get('gpgkey');
      if (typeof v !== 'string' || !v.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return 'config key "gpgkey" must be an ASCII-armored public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)';
      return null;
    },
    () => checkSkip(config),
    () => checkBool(config, 'remove_old_repodata'),
    () => checkInt(config, 'remove_old_repodata_threshold', 0),
    () => checkBool(config, 'gpg_sign_metadata'),
    () => checkString(config, 'gpg_key_id', { nonEmpty: true }),
    () => (getBool(config, 'gpg_sign_metadata', false) && !config.has('gpg_key_id') ? 'config key "gpg_sign_metadata" needs "gpg_key_id" (the key to sign repomd.xml with)' : null),
    () => checkString(config, 'gpg_home', { nonEmpty: true }),
    () => checkEnum(config, 'package_link', PACKAGE_LINKS),
    () => checkString(config, 'repo_name', { nonEmpty: true }),
  ]);
}

export interface DistributorSettings {
  checksumType: ChecksumType;
  skip: Set<string>;
  removeOldRepodata: boolean;
  oldRepodataThreshold: number;
  gpgSign: boolean;
  gpgKeyId: string | null;
  gpgHome: string | null;
  gpgkey: string | null;
  packageLink: PackageLink;
}

export function distributorSettings(config: PluginCallConfig): DistributorSettings {
  const skip = parseSkip(config.get('skip'));
  return {
    checksumType: (config.get<string>('checksum_type') as ChecksumType | undefined) ?? 'sha256',
    skip: 'types' in skip ? skip.types : new Set(),
    removeOldRepodata: getBool(config, 'remove_old_repodata', true),
    oldRepodataThreshold: getInt(config, 'remove_old_repodata_threshold', DEFAULT_OLD_REPODATA_THRESHOLD),
    gpgSign: getBool(config, 'gpg_sign_metadata', false),
    gpgKeyId: config.get<string>('gpg_key_id') ?? null,
    gpgHome: config.get<string>('gpg_home') ?? null,
    gpgkey: config.get<string>('gpgkey') ?? null,
    packageLink: (config.get<string>('package_link') as PackageLink | undefined) ?? 'symlink',
  };
}
