/**
 * The JSON schema of the configuration file (`stagepush config schema` prints it, defaults
 * included). Every path and key of the engine, the built-in plugins, the agent and the push is
 * declared here; unknown keys are refused (with the key and line named) so that a typo never
 * silently falls back to a default.
 */

import { ISO_IMPORTER_DEFAULTS, PUBLISH_DEFAULTS, YUM_DISTRIBUTOR_DEFAULTS, YUM_IMPORTER_DEFAULTS } from '../plugins/defaults.js';

const boolKey = (description: string, def?: boolean) => ({ type: 'boolean', description, ...(def !== undefined ? { default: def } : {}) });
const strKey = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra });
/**
 * A filesystem path: the loader makes a relative one absolute against the file's directory (its
 * list of such keys, CONFIG_PATH_KEYS in load.ts, is checked against this mark by a test).
 */
export const RELATIVE_TO_FILE = 'a relative path is relative to this file';
/** A path must not be empty or blank: "" would be the file's own directory (the CLI refuses --data-dir ""). */
export const NON_BLANK = '\\S';
/** agent.log: syslog, stderr or file:PATH, whose path, like every other, must not be empty or blank. */
export const AGENT_LOG = '^(syslog|stderr|file:.*\\S.*)$';
const pathKey = (description: string, extra: Record<string, unknown> = {}) => strKey(`${description}; ${RELATIVE_TO_FILE}`, { pattern: NON_BLANK, ...extra });

const relativeUrl = strKey('path under the publish root (relative, unique across repositories; default: the repository id, or the destination for auto-created repositories)', { minLength: 1, pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$)).*$' });
/** Keys every publishing distributor (yum, iso, directory) takes. */
const publishKeys = {
  relative_url: relativeUrl,
  http: boolKey('publish under <publish root>/http', true),
  https: boolKey('publish under <publish root>/https', false),
  keep_previous: { type: 'integer', minimum: 0, maximum: 100, default: PUBLISH_DEFAULTS.keep_previous, description: 'earlier published trees kept beside the current one' },
};
const linkMode = (key: string) => ({ [key]: { enum: ['symlink', 'hardlink', 'copy'], default: 'symlink', description: 'how published files point at the stored file' } });

/** Repo-level config keys of the yum distributor (Pulp's yum distributor where they apply). */
const yumDistributorConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...publishKeys,
    checksum_type: { enum: ['sha256', 'sha1', 'sha512'], default: 'sha256', description: 'repodata checksum type' },
    gpgkey: pathKey('ASCII-armored GPG public key published as the repository key (content or path)'),
    skip: { type: 'array', items: { type: 'string' }, description: 'content types not to publish (rpm, srpm, erratum, comps, modules, productid, distribution, ...)' },
    remove_old_repodata: boolKey('delete repodata files older than the threshold', true),
    remove_old_repodata_threshold: { type: 'integer', minimum: 0, default: YUM_DISTRIBUTOR_DEFAULTS.remove_old_repodata_threshold, description: 'seconds an older repomd.xml keeps its files published' },
    gpg_sign_metadata: boolKey('write a detached armored repomd.xml.asc with gpg', false),
    gpg_key_id: strKey('key id gpg signs repomd.xml with'),
    gpg_home: pathKey('GNUPGHOME (a directory) for metadata signing'),
    package_link: {
      enum: ['auto', 'symlink', 'hardlink', 'copy'],
      default: 'auto',
      description: 'how Packages/ entries point at the stored file: auto = a hard link, or a symlink where the filesystem refuses one (another filesystem, protected_hardlinks); hardlink = a hard link, or a copy',
    },
    repo_name: strKey('repository name shown to consumers'),
    changelog_limit: { type: 'integer', minimum: 0, maximum: 1000000, default: YUM_DISTRIBUTOR_DEFAULTS.changelog_limit, description: 'changelog entries per package in other.xml' },
    https_ca: pathKey('CA certificate (path or PEM) consumers use for the https repository'),
    generate_sqlite: { const: false, default: false, description: 'sqlite repodata is not published (dnf reads the XML); only false is accepted' },
  },
};

const fileDistributorConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...publishKeys,
    ...linkMode('file_link'),
  },
};

const directoryDistributorConfig = fileDistributorConfig;

const exportDistributorConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['tree', 'manifest'], default: 'manifest', description: 'tree: realised copies of the content; manifest: a JSON manifest of every unit plus its files' },
    export_dir: pathKey('directory receiving the export (default under the publish root)'),
    tar: boolKey('write the export as a tar archive', false),
    skip: { type: 'array', items: { type: 'string' }, description: 'content types not to export' },
    relative_url: relativeUrl,
    http: boolKey('publish the export under <publish root>/http', false),
    https: boolKey('publish the export under <publish root>/https', false),
  },
};

/** Keys the yum and iso importers share (syncing from a feed). */
const feedKeys = (feedDescription: string, defaults: { max_downloads: number; retries: number }) => ({
  feed: strKey(feedDescription, { pattern: '^(https?|file)://' }),
  max_downloads: { type: 'integer', minimum: 1, maximum: 64, default: defaults.max_downloads, description: 'parallel downloads' },
  retries: { type: 'integer', minimum: 0, maximum: 20, default: defaults.retries, description: 'retries per download' },
  ssl_ca_cert: pathKey('CA certificate (path or PEM) for the feed'),
  ssl_client_cert: pathKey('client certificate (path or PEM)'),
  ssl_client_key: pathKey('client key (path or PEM; needs ssl_client_cert)'),
  proxy_url: strKey('proxy for the feed', { pattern: '^https?://' }),
  remove_missing: boolKey('remove units no longer in the feed', false),
});

const yumImporterConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...feedKeys('remote yum repository to sync from (http://, https://, file://)', YUM_IMPORTER_DEFAULTS),
    timeout: { type: 'integer', minimum: 1, maximum: 86400, default: YUM_IMPORTER_DEFAULTS.timeout, description: 'seconds per download' },
    ssl_validation: boolKey('verify the feed TLS certificate', true),
    proxy_username: strKey('proxy user'),
    proxy_password: strKey('proxy password'),
    skip: { type: 'array', items: { type: 'string' }, description: 'content types not to sync' },
    require_signature: boolKey('refuse unsigned packages on sync and upload', false),
    allowed_keys: { type: 'array', items: { type: 'string', pattern: '^(0x)?[0-9A-Fa-f]{8}([0-9A-Fa-f]{8})?$' }, description: 'key ids accepted on sync and upload' },
    recursive: boolKey('copies carry the packages an advisory or module lists', false),
    force_full: boolKey('sync does the work even when the feed and the repository are unchanged since the last sync', false),
  },
};

const isoImporterConfig = {
  type: 'object',
  additionalProperties: false,
  properties: feedKeys('URL of a PULP_MANIFEST (or its directory) to sync from', ISO_IMPORTER_DEFAULTS),
};

const genericImporterConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    replace_same_name: boolKey('a new unit with the name of a stored one replaces it', true),
    refuse_escaping_symlinks: boolKey('refuse RAW trees holding symlinks that leave the tree', false),
  },
};

const IMPORTER_TYPES = ['yum_importer', 'iso_importer', 'generic_importer'];
const DISTRIBUTOR_TYPES = ['yum_distributor', 'iso_distributor', 'directory_distributor', 'export_distributor'];

/** A distributor attached to a repository. Third-party type ids are accepted with any config. */
const distributorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type_id'],
  properties: {
    id: strKey('distributor id, unique in the repository (default: the type id)', { pattern: '^[A-Za-z0-9_.-]+$' }),
    type_id: strKey(`distributor type: ${DISTRIBUTOR_TYPES.join(', ')} or a plugin's`, { pattern: '^[A-Za-z0-9_.-]+$' }),
    auto_publish: boolKey('publish after each change made outside a push (sync, upload, copy)', false),
    config: { type: 'object', default: {}, description: 'repository-level distributor config' },
  },
  allOf: [
    { if: { required: ['type_id'], properties: { type_id: { const: 'yum_distributor' } } }, then: { properties: { config: yumDistributorConfig } } },
    { if: { required: ['type_id'], properties: { type_id: { const: 'iso_distributor' } } }, then: { properties: { config: fileDistributorConfig } } },
    { if: { required: ['type_id'], properties: { type_id: { const: 'directory_distributor' } } }, then: { properties: { config: directoryDistributorConfig } } },
    { if: { required: ['type_id'], properties: { type_id: { const: 'export_distributor' } } }, then: { properties: { config: exportDistributorConfig } } },
  ],
};

const importerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type_id'],
  properties: {
    type_id: strKey(`importer type: ${IMPORTER_TYPES.join(', ')} or a plugin's`, { pattern: '^[A-Za-z0-9_.-]+$' }),
    config: { type: 'object', default: {}, description: 'repository-level importer config' },
  },
  allOf: [
    { if: { required: ['type_id'], properties: { type_id: { const: 'yum_importer' } } }, then: { properties: { config: yumImporterConfig } } },
    { if: { required: ['type_id'], properties: { type_id: { const: 'iso_importer' } } }, then: { properties: { config: isoImporterConfig } } },
    { if: { required: ['type_id'], properties: { type_id: { const: 'generic_importer' } } }, then: { properties: { config: genericImporterConfig } } },
  ],
};

/** The push behaviour of a repository (shared by repositories and templates). */
const pushBehaviour = {
  push_mode: { enum: ['additive', 'mirror'], default: 'additive', description: 'mirror: content absent from the staging area is removed' },
  retain_old_count: { type: 'integer', minimum: 0, description: 'older versions kept per package name (and arch) besides the newest; unset = keep all' },
  duplicate_nevra: { enum: ['replace', 'refuse'], default: 'replace', description: 'the same NEVRA with a new sha256: replace the old unit, or refuse the push' },
  retain_repo_versions: { type: 'integer', minimum: 0, default: 0, description: 'repository versions kept (0 = all)' },
};

const repoShape = {
  type: { enum: ['yum', 'file', 'directory'], description: 'repository kind: yum (RPMs, errata, comps, modules, productid, RAW trees), file (FILES, PULP_MANIFEST), directory (RAW only)' },
  display_name: strKey('display name'),
  description: strKey('description'),
  notes: { type: 'object', additionalProperties: { type: 'string' }, description: 'free notes' },
  importer: importerSchema,
  distributors: { type: 'array', items: distributorSchema, description: 'distributors (published in this order; export last)' },
  ...pushBehaviour,
};

const repositorySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...repoShape,
    template: strKey('start from this template (built-in yum, file, directory, or one under templates:)'),
    destinations: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      description: 'staging destinations routed here (default: the repository id); a destination may feed several repositories',
    },
  },
};

const templateSchema = { type: 'object', additionalProperties: false, properties: { ...repoShape, template: strKey('base template') } };

/**
 * The longest hook timeout: Node.js runs a timer of more than 2^31-1 ms after 1 ms, so a larger
 * one made every hook "time out" at once and the push exit 6.
 */
export const MAX_HOOK_TIMEOUT_SEC = Math.floor(0x7fffffff / 1000);

/**
 * No part of a hook's command may hold a NUL byte, and an argv's program may not be empty or
 * blank: the operating system takes neither (Node's spawn throws for them), so such a hook could
 * never run, and config check passed it while every push failed after publishing.
 */
export const NO_NUL = '^[^\\u0000]*$';
/** Not empty nor blank (NON_BLANK says "a path"; this pattern says "the program"). */
export const HOOK_PROGRAM = '^\\s*\\S';
const hookCommand = {
  anyOf: [
    { type: 'string', minLength: 1, pattern: NO_NUL, description: 'shell command (sh -c); no NUL byte' },
    {
      type: 'array',
      items: [{ type: 'string', allOf: [{ pattern: HOOK_PROGRAM }, { pattern: NO_NUL }] }],
      additionalItems: { type: 'string', pattern: NO_NUL },
      minItems: 1,
      description: 'argv: the program (not empty), then its arguments; no NUL byte',
    },
  ],
};

export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://stagepush.invalid/config.schema.json',
  title: 'stagepush configuration',
  type: 'object',
  additionalProperties: false,
  properties: {
    data_dir: pathKey('engine data directory (database, content store, logs); flag --data-dir and env STAGEPUSH_DATA_DIR win'),
    config_dir: pathKey('directory holding plugins.conf.d/<plugin id>.json (plugin-level configs); default: the directory of this file, else /etc/stagepush'),
    log_retention_days: { type: 'integer', minimum: 0, default: 30, description: 'push logs older than this are deleted by push and gc (0 = keep all)' },
    unknown_destination: {
      type: 'string',
      pattern: '^(auto_create|error|template:[A-Za-z0-9_.-]+)$',
      default: 'auto_create',
      description: 'what a destination with no configured repository gets: auto_create (built-in template chosen by its items), template:<name>, or error',
    },
    allowed_signing_keys: {
      type: 'array',
      items: { type: 'string', pattern: '^[0-9A-Fa-f]{8}$' },
      default: [],
      description: 'short (8 hex) key ids RPMs may be signed with; empty = any key',
    },
    allow_unsigned: boolKey('accept unsigned RPMs', false),
    destinations: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        include: { type: 'array', items: { type: 'string' }, description: 'push only these destinations (--dest adds)' },
        exclude: { type: 'array', items: { type: 'string' }, default: [], description: 'never push these destinations (--exclude-dest adds)' },
      },
    },
    repositories: { type: 'object', default: {}, additionalProperties: repositorySchema, propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' }, description: 'repositories by id' },
    templates: { type: 'object', default: {}, additionalProperties: templateSchema, propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' }, description: 'named repository templates (unknown_destination: template:<name>)' },
    hooks: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        post_publish: {
          type: 'array',
          items: hookCommand,
          default: [],
          description: `run after each repository is published; env REPO_ID, PUBLISHED_PATH, VERSION; the report JSON on stdin; an argv whose first element is a relative path with a slash: ${RELATIVE_TO_FILE}`,
        },
        timeout: { type: 'integer', minimum: 1, maximum: MAX_HOOK_TIMEOUT_SEC, default: 600, description: `seconds a hook may run (at most ${MAX_HOOK_TIMEOUT_SEC}, about 24.8 days: the longest timer Node.js sets)` },
      },
    },
    publish: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        root: pathKey('publish root (default <data dir>/published); trees at <root>/{http,https}/<relative_url>'),
        base_url_http: strKey('public http base URL of <root>/http', { pattern: '^http://' }),
        base_url_https: strKey('public https base URL of <root>/https', { pattern: '^https://' }),
      },
    },
    plugins: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dir: pathKey('directory plugins root (<name>/importer.js, distributor.js, *.conf); default <data dir>/plugins (env STAGEPUSH_PLUGINS_DIR wins)'),
        packages: { type: 'array', items: { type: 'string' }, default: [], description: 'npm packages declaring plugins in their package.json "stagepush" field (env STAGEPUSH_PLUGIN_PACKAGES wins)' },
        node_modules: pathKey('a node_modules directory: every package in it with a "stagepush" field is loaded (env STAGEPUSH_PLUGIN_NODE_MODULES wins)'),
      },
    },
    lock: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        wait: boolKey('wait for a repository lock held by another run (--no-wait overrides)', true),
        timeout: { type: 'number', minimum: 0, description: 'seconds to wait for a lock (--wait-timeout overrides); unset = forever' },
      },
    },
    push: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        threads: {
          type: 'integer',
          minimum: 1,
          description: 'staged source worker threads (URL ?threads= wins); unset: the number of CPUs, at most 4 (hashing is CPU-bound: more threads than cores only contend)',
        },
        timeout: { type: 'integer', minimum: 1, default: 3600, description: 'source timeout without progress (URL ?timeout= wins)' },
        free_space_margin_mb: { type: 'integer', minimum: 0, default: 64, description: 'free space kept in the data dir beyond what the push stores' },
        bump_errata: boolKey('increment the version of a changed advisory that would not move forward (--bump-errata)', false),
        store_files: {
          enum: ['link', 'copy'],
          default: 'link',
          description: 'how staged files reach the content store: link = a hard link on the same filesystem (else a copy), fast and no extra space, but a staged file rewritten in place afterwards (cp over it) changes the stored and published copy too; copy = always a copy (staging areas edited in place)',
        },
        pre_push_retention_hours: { type: 'integer', minimum: 1, default: 168, description: 'content stored by --pre-push is kept from gc/orphan removal this long (or until a push imports it)' },
      },
    },
    agent: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        conf_d: pathKey('handler descriptor directory', { default: '/etc/stagepush/agent/conf.d' }),
        handlers_dir: pathKey('handler modules directory', { default: '/usr/lib/stagepush/agent/handlers' }),
        log: strKey(`handler log: syslog, file:PATH or stderr (${RELATIVE_TO_FILE})`, { default: 'syslog', pattern: AGENT_LOG }),
      },
    },
  },
} as const;

export const KNOWN_DISTRIBUTOR_TYPES = DISTRIBUTOR_TYPES;
export const KNOWN_IMPORTER_TYPES = IMPORTER_TYPES;
