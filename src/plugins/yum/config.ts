/**
 * Configuration keys of yum_importer and yum_distributor, and their validation (validateConfig
 * refuses unknown keys and bad values, naming the key).
 */
import { X509Certificate } from 'node:crypto';
import { YUM_DISTRIBUTOR_DEFAULTS } from '../defaults.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PluginCallConfig, RelatedRepositories, Repository } from '../../engine/contract.js';
import { checkBool, checkEnum, checkInt, checkKnownKeys, checkPublishKeys, checkString, firstProblem, getBool, getInt } from '../common/config.js';
import { protocolsOf } from '../common/publish.js';
import { parseSkip } from './units.js';

export const IMPORTER_KEYS = [
  'feed',
  'max_downloads',
  'retries',
  'timeout',
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
  'force_full',
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
  'generate_sqlite',
  'changelog_limit',
  'https_ca',
  'repo_name',
] as const;

export const CHECKSUM_TYPES = ['sha256', 'sha1', 'sha512'] as const;
export type ChecksumType = (typeof CHECKSUM_TYPES)[number];
/**
 * How Packages/ entries hold the stored files. `auto` (the default): a hard link, or a symlink
 * where the filesystem refuses one (the publish root on another filesystem than the store, a
 * file another user owns under protected_hardlinks). A hard link makes no inode: on ext4, after
 * many deletions (a cleaned staging area), making a symlink scans for a reusable inode and 5,000
 * took 3.4 s instead of 57 ms for hard links (also twice as fast on a quiet filesystem); and a
 * mirror copied with rsync, or a web server that refuses symlinks, gets plain files.
 */
export const PACKAGE_LINKS = ['auto', 'symlink', 'hardlink', 'copy'] as const;
export type PackageLink = (typeof PACKAGE_LINKS)[number];
export const DEFAULT_OLD_REPODATA_THRESHOLD = YUM_DISTRIBUTOR_DEFAULTS.remove_old_repodata_threshold;

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

/** A PEM value given inline, or the path of a file holding it. */
export function pemOrFile(v: string): string | null {
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(v)) return v;
  try {
    const text = readFileSync(v, 'utf8');
    return /-----BEGIN [A-Z0-9 ]+-----/.test(text) ? text : null;
  } catch {
    return null;
  }
}

function checkPem(config: PluginCallConfig, key: string, what = 'CERTIFICATE'): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  if (typeof v !== 'string' || !v.trim()) return `config key "${key}" must be PEM text or the path of a PEM file`;
  const text = pemOrFile(v);
  const shown = JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  if (text === null) return `config key "${key}": ${shown} is neither PEM text (-----BEGIN ${what}-----) nor a readable PEM file`;
  if (what === 'CERTIFICATE') {
    const certs = pemBlocks(text, /^CERTIFICATE$/);
    if (!certs.length) return `config key "${key}": ${shown} holds no certificate (-----BEGIN CERTIFICATE-----)`;
    for (const c of certs) {
      try {
        new X509Certificate(c);
      } catch (e) {
        return `config key "${key}": ${shown} holds a certificate that cannot be read (${(e as Error).message})`;
      }
    }
  }
  return null;
}

/** The PEM blocks of `text` whose label matches. */
export function pemBlocks(text: string, label: RegExp): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)) if (label.test(m[1]!)) out.push(m[0] + '\n');
  return out;
}

const KEY_LABEL = /^(|RSA |EC |ENCRYPTED |DSA )PRIVATE KEY$/;

/**
 * The client certificate and key of the importer config: `ssl_client_cert` may hold the key too
 * (as Pulp accepts), `ssl_client_key` gives it separately. Null when no client certificate is set.
 */
export function clientCredentials(config: PluginCallConfig): { cert: string; key: string } | { problem: string } | null {
  if (!config.has('ssl_client_cert')) return config.has('ssl_client_key') ? { problem: 'config key "ssl_client_key" needs "ssl_client_cert"' } : null;
  const certText = pemOrFile(String(config.get('ssl_client_cert')));
  if (certText === null) return { problem: 'config key "ssl_client_cert" must be PEM text or the path of a PEM file' };
  const cert = pemBlocks(certText, /^CERTIFICATE$/).join('');
  let keys = pemBlocks(certText, KEY_LABEL);
  let from = 'ssl_client_cert';
  if (config.has('ssl_client_key')) {
    const keyText = pemOrFile(String(config.get('ssl_client_key')));
    keys = keyText === null ? [] : pemBlocks(keyText, KEY_LABEL);
    from = 'ssl_client_key';
    if (!keys.length) return { problem: 'config key "ssl_client_key" holds no private key (-----BEGIN PRIVATE KEY-----)' };
  }
  if (!cert) return { problem: 'config key "ssl_client_cert" holds no certificate (-----BEGIN CERTIFICATE-----)' };
  if (!keys.length) return { problem: 'config key "ssl_client_cert" holds no private key: add it to that file or set "ssl_client_key"' };
  try {
    (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).createSecureContext({ cert, key: keys[0]! }); // node:tls loaded only to check a client certificate
  } catch (e) {
    return { problem: `config key "${from}": the private key does not go with the certificate of "ssl_client_cert" or cannot be read (${(e as Error).message})` };
  }
  return { cert, key: keys[0]! };
}

/** An armored public key given inline, or the path of a file holding it. */
export function armoredKeyOrFile(v: string): string | null {
  const re = /-----BEGIN PGP PUBLIC KEY BLOCK-----/;
  if (re.test(v)) return v;
  try {
    const text = readFileSync(v, 'utf8');
    return re.test(text) ? text : null;
  } catch {
    return null;
  }
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
    () => checkInt(config, 'timeout', 1, 86_400),
    () => checkPem(config, 'ssl_ca_cert'),
    () => checkPem(config, 'ssl_client_cert'),
    () => checkPem(config, 'ssl_client_key', 'PRIVATE KEY'),
    () => {
      const c = clientCredentials(config);
      return c && 'problem' in c ? c.problem : null;
    },
    () => checkBool(config, 'ssl_validation'),
    () => checkUrl(config, 'proxy_url', ['http', 'https']),
    () => checkString(config, 'proxy_username'),
    () => checkString(config, 'proxy_password'),
    // Credentials without their proxy went unused: the sync went to the feed directly, or sent
    // the proxy no credentials (a password without a user), which it then refused with 407.
    () => (config.has('proxy_username') && !config.has('proxy_url') ? 'config key "proxy_username" needs "proxy_url"' : null),
    () => (config.has('proxy_password') && !config.has('proxy_username') ? 'config key "proxy_password" needs "proxy_username"' : null),
    () => checkBool(config, 'remove_missing'),
    () => checkSkip(config),
    () => checkBool(config, 'require_signature'),
    () => checkKeyList(config, 'allowed_keys'),
    () => checkBool(config, 'recursive'),
    () => checkBool(config, 'force_full'),
  ]);
}

export function checkDistributorConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): string | null {
  return firstProblem([
    () => checkKnownKeys(config, DISTRIBUTOR_KEYS),
    () => checkPublishKeys(repo, config, related),
    () => {
      const p = protocolsOf(config);
      return !p.http && !p.https ? 'config keys "http" and "https": at least one must be true' : null;
    },
    () => checkEnum(config, 'checksum_type', CHECKSUM_TYPES),
    () => {
      if (!config.has('gpgkey')) return null;
      const v = config.get('gpgkey');
      if (typeof v !== 'string' || armoredKeyOrFile(v) === null) return 'config key "gpgkey" must be an ASCII-armored public key (-----BEGIN PGP PUBLIC KEY BLOCK-----) or the path of a file holding one';
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
    () => checkInt(config, 'changelog_limit', 0, 1_000_000),
    () => checkPem(config, 'https_ca'),
    () => checkBool(config, 'generate_sqlite'),
    () => (getBool(config, 'generate_sqlite', false) ? 'config key "generate_sqlite": stagepush publishes XML repodata only (what dnf reads); set it to false or leave it out' : null),
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
  changelogLimit: number;
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
    gpgkey: config.has('gpgkey') ? armoredKeyOrFile(config.get<string>('gpgkey')!) : null,
    changelogLimit: getInt(config, 'changelog_limit', YUM_DISTRIBUTOR_DEFAULTS.changelog_limit),
    packageLink: (config.get<string>('package_link') as PackageLink | undefined) ?? 'auto',
  };
}
