/**
 * Plugin configs given on the command line (--importer-config, --distributor-config, --override):
 * a relative path in a path-valued key (CONFIG_PATH_KEYS: gpgkey, https_ca, ssl_*, export_dir…)
 * is relative to the working directory, and is made absolute before the engine stores or uses it.
 * Stored as written, `https_ca=ca.pem` was read later from whatever directory each command ran in
 * (repo show named an sslcacert= file that did not exist, a publish from cron read another file).
 */
import { CONFIG_PATH_KEYS } from '../config/load.js';
import { resolveSettingPath } from '../paths.js';

/** `config` (from parseConfigArgs) with the path keys of these plugin types resolved against `cwd`, in place. */
export function resolveCliConfigPaths(config: Record<string, unknown>, kind: 'importer' | 'distributor', typeIds: Iterable<string | undefined>, cwd = process.cwd()): Record<string, unknown> {
  const keys = new Set<string>();
  for (const t of typeIds) if (t) for (const k of CONFIG_PATH_KEYS[kind][t] ?? []) keys.add(k);
  for (const k of keys) if (config[k] !== undefined) config[k] = resolveSettingPath(config[k], cwd);
  return config;
}
