import path from 'node:path';
import { StagepushError } from '../errors.js';
import type { LoadedConfig, RepoKind, RepoShape, StagepushConfig, DuplicateNevra, PushMode } from './types.js';

export * from './types.js';
export { loadConfig, loadConfigFile, parseConfigText, defaultConfig, configCandidates, fileLines } from './load.js';
export { CONFIG_SCHEMA } from './schema.js';
export { engineOptionsOf } from './engine-options.js';

/** Global settings after precedence: flag > environment > config file > default. */
export interface Settings {
  dataDir: string;
  configDir: string;
  publishRoot: string;
  baseUrls: { http?: string; https?: string };
  pluginsDir?: string;
  pluginPackages: string[];
  /** A node_modules directory whose packages with a `stagepush` field are loaded as plugins. */
  pluginNodeModules?: string;
  lock: { wait: boolean; timeoutSec?: number };
  logRetentionDays: number;
}

export interface SettingFlags {
  dataDir?: string;
  publishRoot?: string;
  wait?: boolean;
  waitTimeout?: number;
}

/** Default data dir: $XDG_DATA_HOME/stagepush, or /var/lib/stagepush when run as root. */
function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/stagepush';
  const xdg = env.XDG_DATA_HOME && env.XDG_DATA_HOME.trim() ? env.XDG_DATA_HOME : path.join(env.HOME || '/root', '.local', 'share');
  return path.join(xdg, 'stagepush');
}

function nonEmpty(v: string | undefined): string | undefined {
  return v && v.trim() ? v : undefined;
}

/** `a,b c:d` → [a, b, c, d]; undefined when the variable is not set. */
function listEnv(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(/[,:\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Directory holding plugins.conf.d when the file does not say (config_dir): the directory of the
 * file, else of an explicit --config / $STAGEPUSH_CONFIG path even when that file does not exist,
 * else $XDG_CONFIG_HOME/stagepush, else /etc/stagepush for root, else ~/.config/stagepush.
 */
export function defaultConfigDir(loaded: Pick<LoadedConfig, 'file'> & { explicit?: string | null }, env: NodeJS.ProcessEnv = process.env): string {
  if (loaded.file) return path.dirname(loaded.file);
  if (loaded.explicit) return path.dirname(path.resolve(loaded.explicit));
  if (nonEmpty(env.XDG_CONFIG_HOME)) return path.join(env.XDG_CONFIG_HOME!, 'stagepush');
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/etc/stagepush';
  return path.join(env.HOME || '/root', '.config', 'stagepush');
}

/**
 * Resolve the settings every command uses (push, repo, content, gc, serve, consumer…).
 * `flags.dataDir` is the --data-dir flag only (not already merged with the environment);
 * environment variables: STAGEPUSH_DATA_DIR, STAGEPUSH_PUBLISH_ROOT, STAGEPUSH_BASE_URL_HTTP,
 * STAGEPUSH_BASE_URL_HTTPS, STAGEPUSH_PLUGINS_DIR, STAGEPUSH_PLUGIN_PACKAGES,
 * STAGEPUSH_PLUGIN_NODE_MODULES. Relative paths in the file are relative to it.
 */
export function resolveSettings(loaded: LoadedConfig, flags: SettingFlags = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const c = loaded.config;
  const base = loaded.file ? path.dirname(loaded.file) : process.cwd();
  const fromFile = (p: string | undefined) => (p === undefined ? undefined : path.resolve(base, p));
  const dataDir = path.resolve(flags.dataDir ?? nonEmpty(env.STAGEPUSH_DATA_DIR) ?? fromFile(c.data_dir) ?? defaultDataDir(env));
  const publishRoot = path.resolve(flags.publishRoot ?? nonEmpty(env.STAGEPUSH_PUBLISH_ROOT) ?? fromFile(c.publish.root) ?? path.join(dataDir, 'published'));
  const configDir = fromFile(c.config_dir) ?? defaultConfigDir(loaded, env);
  const envPath = (v: string | undefined) => (nonEmpty(v) ? path.resolve(v!) : undefined);
  return {
    dataDir,
    configDir,
    publishRoot,
    baseUrls: {
      http: nonEmpty(env.STAGEPUSH_BASE_URL_HTTP) ?? c.publish.base_url_http,
      https: nonEmpty(env.STAGEPUSH_BASE_URL_HTTPS) ?? c.publish.base_url_https,
    },
    pluginsDir: envPath(env.STAGEPUSH_PLUGINS_DIR) ?? fromFile(c.plugins.dir),
    pluginPackages: listEnv(env.STAGEPUSH_PLUGIN_PACKAGES) ?? c.plugins.packages,
    pluginNodeModules: envPath(env.STAGEPUSH_PLUGIN_NODE_MODULES) ?? fromFile(c.plugins.node_modules),
    lock: {
      // --no-wait, or --wait-timeout (which says to wait that long, whatever the file says).
      wait: flags.wait === false ? false : flags.waitTimeout !== undefined ? true : c.lock.wait,
      timeoutSec: flags.waitTimeout ?? c.lock.timeout,
    },
    logRetentionDays: c.log_retention_days,
  };
}

/** A repository as the push sees it: config entry + template, fully resolved. */
export interface RepoSpec {
  id: string;
  kind: RepoKind;
  displayName: string;
  description: string;
  notes: Record<string, string>;
  importer: { typeId: string; config: Record<string, unknown> };
  distributors: Array<{ id: string; typeId: string; config: Record<string, unknown>; autoPublish: boolean }>;
  pushMode: PushMode;
  retainOldCount?: number;
  duplicateNevra: DuplicateNevra;
  retainRepoVersions: number;
  destinations: string[];
  /** 'config' (declared), or how it was made for an unknown destination. */
  origin: 'config' | 'auto_create' | `template:${string}`;
}

/** Built-in templates: yum, file, directory (relative_url = destination, http on, https off). */
export const BUILTIN_TEMPLATES: Record<RepoKind, RepoShape> = {
  yum: {
    type: 'yum',
    importer: { type_id: 'yum_importer', config: {} },
    distributors: [{ id: 'yum_distributor', type_id: 'yum_distributor', config: { http: true, https: false } }],
  },
  file: {
    type: 'file',
    importer: { type_id: 'iso_importer', config: {} },
    distributors: [{ id: 'iso_distributor', type_id: 'iso_distributor', config: { http: true, https: false } }],
  },
  directory: {
    type: 'directory',
    importer: { type_id: 'generic_importer', config: {} },
    distributors: [{ id: 'directory_distributor', type_id: 'directory_distributor', config: { http: true, https: false } }],
  },
};

const EXPORT_DISTRIBUTOR = { id: 'export_distributor', type_id: 'export_distributor', config: { mode: 'manifest' } };

function templateChain(config: StagepushConfig, name: string, seen: string[] = []): RepoShape {
  if (seen.includes(name)) throw new StagepushError('CONFIG_INVALID', `template cycle: ${[...seen, name].join(' -> ')}`, { kind: 'invalid', field: `templates.${name}.template` });
  const t = config.templates[name] ?? (BUILTIN_TEMPLATES as Record<string, RepoShape>)[name];
  if (!t) throw new StagepushError('CONFIG_INVALID', `unknown template ${JSON.stringify(name)}`, { kind: 'invalid', field: 'template' });
  if (t.template && t.template !== name) return mergeShape(templateChain(config, t.template, [...seen, name]), t);
  // A user template named like a built-in extends the built-in one.
  if (config.templates[name] && (BUILTIN_TEMPLATES as Record<string, RepoShape>)[name]) return mergeShape((BUILTIN_TEMPLATES as Record<string, RepoShape>)[name]!, t);
  return t;
}

function mergeShape(base: RepoShape, over: RepoShape): RepoShape {
  const out: RepoShape = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined && k !== 'template') (out as Record<string, unknown>)[k] = v;
  if (base.importer && over.importer && base.importer.type_id === over.importer.type_id) {
    out.importer = { type_id: over.importer.type_id, config: { ...(base.importer.config ?? {}), ...(over.importer.config ?? {}) } };
  }
  return out;
}

function toSpec(id: string, shape: RepoShape, destinations: string[], origin: RepoSpec['origin'], defaultRelativeUrl: string): RepoSpec {
  const kind: RepoKind = shape.type ?? (shape.importer?.type_id === 'iso_importer' ? 'file' : shape.importer?.type_id === 'generic_importer' ? 'directory' : 'yum');
  const tmpl = BUILTIN_TEMPLATES[kind];
  const importer = shape.importer ?? tmpl.importer!;
  const dists = (shape.distributors ?? tmpl.distributors!).map((d) => {
    const cfg = { ...(d.config ?? {}) };
    if (d.type_id !== 'export_distributor' && cfg.relative_url === undefined) cfg.relative_url = defaultRelativeUrl;
    return { id: d.id ?? d.type_id, typeId: d.type_id, config: cfg, autoPublish: d.auto_publish ?? false };
  });
  return {
    id,
    kind,
    displayName: shape.display_name ?? id,
    description: shape.description ?? '',
    notes: shape.notes ?? {},
    importer: { typeId: importer.type_id, config: { ...(importer.config ?? {}) } },
    distributors: dists,
    pushMode: shape.push_mode ?? 'additive',
    retainOldCount: shape.retain_old_count,
    duplicateNevra: shape.duplicate_nevra ?? 'replace',
    retainRepoVersions: shape.retain_repo_versions ?? 0,
    destinations,
    origin,
  };
}

/** The repositories declared in the configuration (destinations default to the repository id). */
export function declaredRepos(config: StagepushConfig): RepoSpec[] {
  return Object.entries(config.repositories)
    .map(([id, r]) => {
      const shape = r.template ? mergeShape(templateChain(config, r.template), r) : r.type ? mergeShape(BUILTIN_TEMPLATES[r.type], r) : r;
      return toSpec(id, shape, r.destinations ?? [id], 'config', id);
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * A repository made from each template of the file (its id and destination: the template's
 * name), as a destination using the template would get it: `config check` checks the plugin
 * configs a template gives before a push meets them.
 */
export function templateRepos(config: StagepushConfig): RepoSpec[] {
  return Object.keys(config.templates)
    .sort()
    .map((name) => toSpec(name, templateChain(config, name), [name], `template:${name}`, name));
}

/**
 * The path in the file of the importer config (`part` 'importer') or of distributor number `part`
 * of a repository or template, and of `key` in it when it is written there: the node the
 * repository's own entry or its template chain gives it. Null when a built-in template gives it.
 */
export function pluginConfigPath(config: StagepushConfig, section: 'repositories' | 'templates', id: string, part: 'importer' | number, key?: string): string[] | null {
  let sec: 'repositories' | 'templates' = section;
  let name: string | undefined = id;
  let found: string[] | null = null;
  const seen = new Set<string>();
  while (name !== undefined && !seen.has(`${sec}/${name}`)) {
    seen.add(`${sec}/${name}`);
    const shape: RepoShape | undefined = config[sec][name];
    if (!shape) break;
    const written = part === 'importer' ? shape.importer : shape.distributors ? shape.distributors[part] : undefined;
    if (part !== 'importer' && shape.distributors) {
      // Distributors are given whole by the first of the chain that lists them.
      const base = [sec, name, 'distributors', String(part), 'config'];
      return key !== undefined && written?.config?.[key] !== undefined ? [...base, key] : base;
    }
    if (written) {
      // An importer's config is merged along the chain: the key is where it is written.
      const base = [sec, name, 'importer', 'config'];
      if (key !== undefined && written.config?.[key] !== undefined) return [...base, key];
      found ??= base;
    }
    name = shape.template;
    sec = 'templates';
  }
  return found;
}

/**
 * The repository made for an unknown destination: from the built-in template chosen by its
 * items (`kind`), or from a named template. `withExport` adds the export distributor (CGW, cloud images).
 */
export function autoRepo(config: StagepushConfig, dest: string, kind: RepoKind, withExport: boolean, opts: { companion?: boolean } = {}): RepoSpec {
  // The companion export repository of a destination (`<dest>-export`, CGW and cloud images next
  // to content its repository cannot hold) is the directory kind's, whatever template
  // unknown_destination names for the destination's own repository: made from a yum template it
  // would refuse the very items it is made for.
  const mode = opts.companion ? 'auto_create' : config.unknown_destination;
  let shape: RepoShape;
  let origin: RepoSpec['origin'];
  if (mode.startsWith('template:')) {
    const name = mode.slice('template:'.length);
    shape = templateChain(config, name);
    origin = `template:${name}`;
  } else {
    shape = config.templates[kind] ? templateChain(config, kind) : BUILTIN_TEMPLATES[kind];
    origin = 'auto_create';
  }
  const spec = toSpec(dest, shape, [dest], origin, dest);
  if (withExport && !spec.distributors.some((d) => d.typeId === 'export_distributor')) {
    spec.distributors.push({ id: EXPORT_DISTRIBUTOR.id, typeId: EXPORT_DISTRIBUTOR.type_id, config: { ...EXPORT_DISTRIBUTOR.config }, autoPublish: false });
  }
  return spec;
}
