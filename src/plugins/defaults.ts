/**
 * The built-in plugins' numeric defaults, in one module the plugins and the configuration schema
 * both read (`stagepush config schema` prints them): the schema had restated them, and said 5
 * parallel downloads for the iso importer that takes 4, and nothing for the yum importer's timeout
 * or the yum distributor's changelog limit. No imports: the schema is loaded by every command.
 */
export const YUM_IMPORTER_DEFAULTS = { max_downloads: 5, retries: 3, timeout: 300 } as const;
export const ISO_IMPORTER_DEFAULTS = { max_downloads: 4, retries: 3 } as const;
export const YUM_DISTRIBUTOR_DEFAULTS = { changelog_limit: 10, remove_old_repodata_threshold: 1_209_600 } as const;
/** Of every publishing distributor (yum, iso, directory): earlier published trees kept. */
export const PUBLISH_DEFAULTS = { keep_previous: 1 } as const;

/**
 * The built-in plugins' config keys that hold OpenPGP key ids (hex): a value given on the command
 * line as key=12345678 stays that text rather than becoming a number.
 */
export const PLUGIN_KEY_ID_KEYS: readonly string[] = ['allowed_keys'];

/**
 * The built-in plugins' config keys that hold a filesystem path (or, where the key says so, PEM
 * or key text), by plugin id: a relative path there is relative to the file that writes it (the
 * configuration file, or a plugins.conf.d/<plugin id>.json), not to the working directory.
 */
export const PLUGIN_PATH_KEYS: { importer: Record<string, readonly string[]>; distributor: Record<string, readonly string[]> } = {
  importer: {
    yum_importer: ['ssl_ca_cert', 'ssl_client_cert', 'ssl_client_key'],
    iso_importer: ['ssl_ca_cert', 'ssl_client_cert', 'ssl_client_key'],
  },
  distributor: {
    yum_distributor: ['gpgkey', 'gpg_home', 'https_ca'],
    export_distributor: ['export_dir'],
  },
};
