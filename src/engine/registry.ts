/**
 * The plugin registry: content types and plugins from four sources, in this order —
 * built-ins (src/plugins/builtins.ts), extra factories given by the embedding code, npm packages
 * declaring entry points in their package.json `stagepush` field, and directory plugins
 * (`<pluginsDir>/<name>/importer.js|distributor.js`, `*.conf`, `types.json`).
 *
 * A plugin that fails to load gives a coded error naming its path; the others still load.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StagepushError } from '../errors.js';
import { BUILTIN_PLUGINS, BUILTIN_TYPES } from '../plugins/builtins.js';
import { PLUGIN_PATH_KEYS } from '../plugins/defaults.js';
import { resolveSettingPath } from '../paths.js';
import type { Distributor, Importer, PluginFactory, PluginMetadata, TypeDefinition } from './contract.js';
import { thrownText } from './thrown.js';

export interface LoadedPlugin {
  id: string;
  kind: 'importer' | 'distributor';
  factory: PluginFactory;
  metadata: PluginMetadata;
  /** Where it came from, for messages and `plugins list`. */
  source: string;
  /** Plugin-level config (entry point / *.conf, then plugins.conf.d/<id>.json on top). */
  config: Record<string, unknown>;
  /** The file it was loaded from (or "builtin plugin <id>"). */
  where: string;
  /** Its plugins.conf.d/<id>.json, when one is read, and the keys it sets (to name it when one of them is refused). */
  confFile?: string;
  confKeys?: string[];
}

export interface RegistryOptions {
  configDir?: string;
  pluginsDir?: string;
  pluginPackages?: string[];
  pluginNodeModules?: string;
  extraPlugins?: PluginFactory[];
  extraTypes?: TypeDefinition[];
}

interface Candidate {
  kind: 'importer' | 'distributor';
  source: string;
  /** File to name in errors. */
  where: string;
  create: () => Importer | Distributor;
  config: Record<string, unknown>;
  types: TypeDefinition[];
  typesSource: string;
  staticMetadata?: PluginMetadata;
  /** The factory's load(): the plugin's code is imported on first use, so it is not probed. */
  load?: () => Promise<void>;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function perr(code: string, message: string, file?: string, hint?: string): StagepushError {
  return new StagepushError(code, message, { kind: 'invalid', file, hint });
}

function readJsonFile(file: string, code: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw perr(code, `cannot read ${what} ${file}: ${(e as Error).message}`, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw perr(code, `${what} ${file} is not valid JSON: ${(e as Error).message}`, file);
  }
}

/**
 * The names in a directory the registry scans (the plugins dir, a node_modules dir or a scope in
 * it), or undefined when there is none. A directory that is not there is no plugins; one that is
 * there but cannot be listed (a file, no permission) is a coded load problem naming it, so the
 * plugins found elsewhere (the built-ins first) still load, as they do beside a broken plugin.
 */
function listDir(dir: string, what: string, hint: string): string[] | undefined {
  try {
    return fs.readdirSync(dir).sort();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return undefined;
    const why: Record<string, string> = { ENOTDIR: 'not a directory', EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'input/output error' };
    throw perr('PLUGIN_DIR_UNREADABLE', `cannot read ${what} ${dir}: ${why[err.code ?? ''] ?? err.message}; the plugins in it are not loaded`, dir, hint);
  }
}

/** An npm package name, scoped or not. */
const NPM_NAME_RE = /^(?:@[a-z0-9~_][a-z0-9._~-]*\/)?[a-z0-9~_][a-z0-9._~-]*$/i;

/**
 * The node_modules directories Node looks in from `from`, nearest first (as Module._nodeModulePaths):
 * `from` itself when it is one, else `<from>/node_modules`, then the same for every directory above.
 */
function nodeModulesPaths(from: string): string[] {
  const out = new Set<string>();
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    out.add(path.basename(dir) === 'node_modules' ? dir : path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) return [...out];
  }
}

/**
 * The folders Node looks in after the node_modules directories (Module.globalPaths): each
 * NODE_PATH entry, then $HOME/.node_modules, $HOME/.node_libraries and <prefix>/lib/node. Read at
 * the call, not from Node's copy made at startup, so that the environment the command runs with is
 * the one that counts.
 */
function globalFolders(): string[] {
  const out = (process.env.NODE_PATH ?? '').split(path.delimiter).filter((p) => p).map((p) => path.resolve(p));
  const home = process.env.HOME;
  if (home) out.push(path.join(home, '.node_modules'), path.join(home, '.node_libraries'));
  out.push(path.resolve(process.execPath, '..', '..', 'lib', 'node'));
  return out;
}

/**
 * The directory of the installed package `name`, looked for as Node finds a package: in `nm`
 * (the plugin node_modules directory, whatever it is called), then in the node_modules
 * directories from each of `starts` up, then in each NODE_PATH entry and global folder. In each
 * of them `<dir>/<name>/package.json` is looked for directly, never by resolving anything through
 * the package: resolving `<name>/package.json` is refused when the `exports` map does not export
 * it, and resolving its main entry finds nothing for a package without one (only a `stagepush`
 * field) or one whose exports map only has an `import` condition, although each is a plugin package.
 */
function findPackageDir(name: string, nm: string | undefined, starts: string[]): string | undefined {
  // A package name, not a path (`a/../../b` would be looked for outside every node_modules).
  if (!NPM_NAME_RE.test(name)) return undefined;
  const dirs = [...(nm ? [nm] : []), ...starts.flatMap(nodeModulesPaths), ...globalFolders()];
  for (const d of dirs) {
    const dir = path.join(d, name);
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

function checkTypes(value: unknown, where: string): TypeDefinition[] {
  if (!Array.isArray(value)) throw perr('PLUGIN_BAD_TYPES', `content type declarations in ${where} must be a JSON array of {id, unitKey}`, where);
  return value.map((t, i) => {
    const o = t as Record<string, unknown>;
    if (!o || typeof o !== 'object' || typeof o.id !== 'string' || !ID_RE.test(o.id)) throw perr('PLUGIN_BAD_TYPES', `content type #${i} in ${where}: "id" must be a string of letters, digits, _ . -`, where);
    if (!Array.isArray(o.unitKey) || !o.unitKey.length || !o.unitKey.every((k) => typeof k === 'string' && k))
      throw perr('PLUGIN_BAD_TYPES', `content type ${o.id} in ${where}: "unitKey" must be a non-empty array of field names`, where);
    return { id: o.id, unitKey: o.unitKey as string[], displayName: typeof o.displayName === 'string' ? o.displayName : o.id, description: typeof o.description === 'string' ? o.description : undefined, searchIndexes: Array.isArray(o.searchIndexes) ? (o.searchIndexes as string[]) : undefined };
  });
}

function isClassLike(fn: unknown): boolean {
  if (typeof fn !== 'function') return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return true;
  const proto = (fn as { prototype?: Record<string, unknown> }).prototype;
  return !!proto && typeof proto.metadata === 'function';
}

function makeCreate(ctor: unknown, where: string): () => Importer | Distributor {
  if (typeof ctor !== 'function') throw perr('PLUGIN_BAD_SHAPE', `${where}: the entry point must return a plugin class or factory function, got ${ctor === null ? 'null' : typeof ctor}`, where);
  if (isClassLike(ctor)) return () => new (ctor as new () => Importer | Distributor)();
  return () => (ctor as () => Importer | Distributor)();
}

/** Interpret an entry point's return value: [PluginClass, config] or {plugin, config}. */
function fromEntryResult(res: unknown, where: string): { create: () => Importer | Distributor; config: Record<string, unknown> } {
  let ctor: unknown;
  let config: unknown = {};
  if (Array.isArray(res)) {
    [ctor, config = {}] = res;
  } else if (res && typeof res === 'object' && 'plugin' in res) {
    ctor = (res as { plugin: unknown }).plugin;
    config = (res as { config?: unknown }).config ?? {};
  } else {
    throw perr('PLUGIN_BAD_SHAPE', `${where}: the entry point must return [PluginClass, config] or {plugin, config}`, where);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw perr('PLUGIN_BAD_SHAPE', `${where}: the entry point's plugin-level config must be an object`, where);
  return { create: makeCreate(ctor, where), config: config as Record<string, unknown> };
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new StagepushError('PLUGIN_LOAD_FAILED', `cannot load plugin ${file}: ${thrownText(e)}`, { kind: 'invalid', file, cause: e });
  }
}

/** Call an entry point (or use a default-exported class) from a loaded module. */
function entryFromModule(mod: Record<string, unknown>, exportName: string | undefined, where: string): { create: () => Importer | Distributor; config: Record<string, unknown> } {
  const names = exportName ? [exportName] : ['entryPoint', 'default'];
  for (const n of names) {
    const ep = mod[n];
    if (ep === undefined) continue;
    if (n === 'default' && isClassLike(ep)) return { create: makeCreate(ep, where), config: {} };
    if (typeof ep !== 'function') throw perr('PLUGIN_BAD_SHAPE', `${where}: export "${n}" must be a function (the entry point) or a plugin class`, where);
    let res: unknown;
    try {
      res = (ep as () => unknown)();
    } catch (e) {
      throw new StagepushError('PLUGIN_LOAD_FAILED', `${where}: the entry point "${n}" threw: ${thrownText(e)}`, { kind: 'invalid', file: where, cause: e });
    }
    if (res && typeof (res as { then?: unknown }).then === 'function') throw perr('PLUGIN_BAD_SHAPE', `${where}: the entry point "${n}" must return synchronously, not a Promise`, where);
    return fromEntryResult(res, where);
  }
  throw perr('PLUGIN_MISSING_EXPORT', `${where} exports no ${names.map((n) => `"${n}"`).join(' or ')} (the entry point returning [PluginClass, config])`, where, 'export function entryPoint() { return [MyImporter, {}]; }');
}

function probe(c: Candidate): PluginMetadata {
  let inst: Importer | Distributor;
  try {
    inst = c.create();
  } catch (e) {
    throw new StagepushError('PLUGIN_LOAD_FAILED', `${c.where}: creating the plugin threw: ${thrownText(e)}`, { kind: 'invalid', file: c.where, cause: e });
  }
  if (!inst || typeof inst !== 'object') throw perr('PLUGIN_BAD_SHAPE', `${c.where}: the plugin factory returned ${inst === null ? 'null' : typeof inst}, not a plugin object`, c.where);
  const o = inst as unknown as Record<string, unknown>;
  for (const m of ['metadata', 'validateConfig']) {
    if (typeof o[m] !== 'function') throw perr('PLUGIN_BAD_SHAPE', `${c.where}: the ${c.kind} has no ${m}() method`, c.where);
  }
  const importerOps = ['syncRepo', 'uploadUnit', 'importUnits', 'removeUnits', 'importerAdded', 'importerRemoved'];
  const distOps = ['publishRepo', 'createConsumerPayload', 'distributorAdded', 'distributorRemoved'];
  const has = (names: string[]) => names.filter((n) => typeof o[n] === 'function');
  if (c.kind === 'importer' && has(distOps).length && !has(importerOps).length) throw perr('PLUGIN_BAD_SHAPE', `${c.where}: this is a distributor (it has ${has(distOps).join(', ')}), registered as an importer`, c.where);
  if (c.kind === 'distributor' && has(importerOps).length && !has(distOps).length) throw perr('PLUGIN_BAD_SHAPE', `${c.where}: this is an importer (it has ${has(importerOps).join(', ')}), registered as a distributor`, c.where);
  for (const [op, cancel] of [['syncRepo', 'cancelSyncRepo'], ['publishRepo', 'cancelPublishRepo']] as const) {
    if (typeof o[op] === 'function' && typeof o[cancel] !== 'function') throw perr('PLUGIN_NO_CANCEL', `${c.where}: the ${c.kind} has ${op}() but no ${cancel}() (a plugin with one must have the other)`, c.where);
    if (typeof o[cancel] === 'function' && typeof o[op] !== 'function') throw perr('PLUGIN_NO_CANCEL', `${c.where}: the ${c.kind} has ${cancel}() but no ${op}()`, c.where);
  }
  let md: unknown;
  try {
    md = (inst as Importer).metadata();
  } catch (e) {
    throw new StagepushError('PLUGIN_BAD_METADATA', `${c.where}: metadata() threw: ${thrownText(e)}`, { kind: 'invalid', file: c.where, cause: e });
  }
  const m = md as Record<string, unknown>;
  if (!m || typeof m !== 'object') throw perr('PLUGIN_BAD_METADATA', `${c.where}: metadata() must return {id, displayName, types}`, c.where);
  if (typeof m.id !== 'string' || !ID_RE.test(m.id)) throw perr('PLUGIN_BAD_METADATA', `${c.where}: metadata().id must be a string of letters, digits, _ . - (got ${JSON.stringify(m.id)})`, c.where);
  if (!Array.isArray(m.types) || !m.types.every((t) => typeof t === 'string')) throw perr('PLUGIN_BAD_METADATA', `${c.where}: metadata().types of ${m.id} must be an array of content type ids`, c.where);
  return { id: m.id, displayName: typeof m.displayName === 'string' ? m.displayName : m.id, types: m.types as string[] };
}

/** The checks probe() makes on metadata(), for a lazily loaded plugin's stated metadata. */
function checkStaticMetadata(m: PluginMetadata, where: string): PluginMetadata {
  if (typeof m.id !== 'string' || !ID_RE.test(m.id)) throw perr('PLUGIN_BAD_METADATA', `${where}: metadata.id must be a string of letters, digits, _ . - (got ${JSON.stringify(m.id)})`, where);
  if (!Array.isArray(m.types) || !m.types.every((t) => typeof t === 'string')) throw perr('PLUGIN_BAD_METADATA', `${where}: metadata.types of ${m.id} must be an array of content type ids`, where);
  return { id: m.id, displayName: typeof m.displayName === 'string' ? m.displayName : m.id, types: [...m.types] };
}

export class PluginRegistry {
  readonly types = new Map<string, { def: TypeDefinition; source: string }>();
  readonly plugins = new Map<string, LoadedPlugin>();
  readonly errors: StagepushError[] = [];

  static async load(opts: RegistryOptions): Promise<PluginRegistry> {
    const reg = new PluginRegistry();
    await reg.loadAll(opts);
    return reg;
  }

  private fail(e: unknown, where: string): void {
    if (e instanceof StagepushError) this.errors.push(e);
    else this.errors.push(new StagepushError('PLUGIN_LOAD_FAILED', `cannot load plugin ${where}: ${thrownText(e)}`, { kind: 'invalid', file: where, cause: e }));
  }

  /** A source's type declarations, all or none: a refused source leaves none of its types declared. */
  private addTypes(defs: TypeDefinition[], source: string): void {
    const added = new Map<string, { def: TypeDefinition; source: string }>();
    for (const d of defs) {
      const prev = this.types.get(d.id) ?? added.get(d.id);
      if (prev) {
        if (JSON.stringify(prev.def.unitKey) !== JSON.stringify(d.unitKey))
          throw perr('PLUGIN_TYPE_CLASH', `content type ${d.id} declared by ${source} with unit key [${d.unitKey.join(', ')}] clashes with its declaration by ${prev.source} (unit key [${prev.def.unitKey.join(', ')}])`, source);
        continue;
      }
      added.set(d.id, { def: d, source });
    }
    for (const [id, t] of added) this.types.set(id, t);
  }

  private async loadAll(opts: RegistryOptions): Promise<void> {
    this.addTypes(BUILTIN_TYPES, 'builtin');
    const candidates: Candidate[] = [];
    const fromFactory = (f: PluginFactory, source: string): Candidate => ({
      kind: f.kind,
      source,
      where: `${source} plugin ${f.metadata?.id ?? '?'}`,
      create: () => f.create(),
      config: f.config ?? {},
      types: f.types ?? [],
      typesSource: source,
      staticMetadata: f.metadata,
      load: f.load ? () => f.load!() : undefined,
    });
    for (const f of BUILTIN_PLUGINS) candidates.push(fromFactory(f, 'builtin'));
    if (opts.extraTypes) {
      try {
        this.addTypes(opts.extraTypes, 'extra');
      } catch (e) {
        this.fail(e, 'extra');
      }
    }
    for (const f of opts.extraPlugins ?? []) candidates.push(fromFactory(f, 'extra'));
    for (const c of await this.npmCandidates(opts)) candidates.push(c);
    for (const c of await this.dirCandidates(opts.pluginsDir)) candidates.push(c);

    // Types first (so plugins may use types declared by another package), then plugins. A source
    // whose declarations are refused (a clash) has every plugin refused, not only the first: its
    // other plugins were written for its own definition of the type and would have been loaded
    // against the other one.
    const typesKey = (c: Candidate) => `${c.typesSource}\0${JSON.stringify(c.types)}`;
    const typeFailed = new Set<string>();
    const seenTypeSources = new Set<string>();
    for (const c of candidates) {
      if (!c.types.length || seenTypeSources.has(typesKey(c))) continue;
      seenTypeSources.add(typesKey(c));
      try {
        this.addTypes(c.types, c.typesSource);
      } catch (e) {
        typeFailed.add(typesKey(c));
        const refused = candidates.filter((x) => x.types.length && typesKey(x) === typesKey(c)).map((x) => x.where);
        if (e instanceof StagepushError) this.fail(new StagepushError(e.code, `${e.message}; ${refused.length > 1 ? 'its plugins are' : 'its plugin is'} refused: ${refused.join(', ')}`, { kind: e.kind, file: e.file, hint: e.hint, cause: e.cause }), c.where);
        else this.fail(e, c.where);
      }
    }
    for (const c of candidates) {
      if (c.types.length && typeFailed.has(typesKey(c))) continue;
      try {
        const md = c.load && c.staticMetadata ? checkStaticMetadata(c.staticMetadata, c.where) : probe(c);
        const undeclared = md.types.filter((t) => !this.types.has(t));
        if (undeclared.length)
          throw perr('PLUGIN_UNDECLARED_TYPE', `plugin ${md.id} (${c.where}) handles content type${undeclared.length > 1 ? 's' : ''} ${undeclared.join(', ')} that no one declares; the plugin is refused`, c.where, 'declare the type in types.json beside the plugin (or in the package.json "stagepush" field)');
        const prev = this.plugins.get(md.id);
        if (prev) throw perr('PLUGIN_ID_CLASH', `plugin id ${md.id} of ${c.where} is already used by ${prev.where === prev.source ? prev.source : `${prev.where} (${prev.source})`}; plugin ids must be unique`, c.where);
        let config = { ...c.config };
        let conf: { confFile: string; confKeys: string[] } | undefined;
        if (opts.configDir) {
          const f = path.resolve(opts.configDir, 'plugins.conf.d', `${md.id}.json`);
          if (fs.existsSync(f)) {
            const v = readJsonFile(f, 'PLUGIN_BAD_CONF', 'plugin config file');
            if (!v || typeof v !== 'object' || Array.isArray(v)) throw perr('PLUGIN_BAD_CONF', `plugin config file ${f} must hold a JSON object`, f);
            // A relative path there is relative to the file, as in the configuration file (the
            // same keys): a yum_distributor gpgkey "keys/key.asc" depended on the working
            // directory, so a check or a push run from / (cron) refused or broke the repository.
            const own = { ...(v as Record<string, unknown>) };
            for (const k of PLUGIN_PATH_KEYS[c.kind][md.id] ?? []) if (own[k] !== undefined) own[k] = resolveSettingPath(own[k], path.dirname(f));
            config = { ...config, ...own };
            conf = { confFile: f, confKeys: Object.keys(own) };
          }
        }
        const factory: PluginFactory =
          c.kind === 'importer'
            ? { kind: 'importer', metadata: md, create: c.create as () => Importer, load: c.load, config, types: c.types }
            : { kind: 'distributor', metadata: md, create: c.create as () => Distributor, load: c.load, config, types: c.types };
        this.plugins.set(md.id, { id: md.id, kind: c.kind, factory, metadata: md, source: c.source, config, where: c.where, ...conf });
      } catch (e) {
        this.fail(e, c.where);
      }
    }
  }

  /** listDir, its problem recorded as a load error (undefined then, as for no directory). */
  private tryList(dir: string, what: string, hint: string): string[] | undefined {
    try {
      return listDir(dir, what, hint);
    } catch (e) {
      this.fail(e, dir);
      return undefined;
    }
  }

  private async npmCandidates(opts: RegistryOptions): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const pkgDirs: string[] = [];
    // Packages are told apart by their real directory: one linked into place (npm link, pnpm) and
    // reached by two paths (named by its path and found in the node_modules dir, or there under
    // two names) is loaded once, not twice to clash with itself (PLUGIN_ID_CLASH).
    const seen = new Set<string>();
    const real = (dir: string): string => {
      try {
        return fs.realpathSync(dir);
      } catch {
        return dir;
      }
    };
    const nm = opts.pluginNodeModules ? path.resolve(opts.pluginNodeModules) : undefined;
    for (const name of opts.pluginPackages ?? []) {
      if (!name.trim()) continue;
      let dir: string | undefined;
      if (path.isAbsolute(name) || name.startsWith('.')) {
        dir = path.resolve(name);
        if (!fs.existsSync(path.join(dir, 'package.json'))) dir = undefined;
      } else {
        dir = findPackageDir(name, nm, [...(nm ? [path.join(nm, '..')] : []), process.cwd()]);
      }
      if (!dir) {
        this.errors.push(perr('PLUGIN_PACKAGE_NOT_FOUND', `plugin package ${name} not found${nm ? ` in ${nm}` : ''}`, name, 'install it with npm, or fix STAGEPUSH_PLUGIN_PACKAGES'));
        continue;
      }
      if (!seen.has(real(dir))) {
        seen.add(real(dir));
        pkgDirs.push(dir);
      }
    }
    const nmHint = 'fix STAGEPUSH_PLUGIN_NODE_MODULES (plugins.node_modules in the config): a node_modules directory this user can read';
    const top = nm ? this.tryList(nm, 'the plugin node_modules directory', nmHint) : undefined;
    if (nm && top) {
      const names: string[] = [];
      for (const n of top) {
        if (n.startsWith('.')) continue;
        if (n.startsWith('@')) for (const s of this.tryList(path.join(nm, n), 'the npm scope directory', nmHint) ?? []) names.push(`${n}/${s}`);
        else names.push(n);
      }
      for (const n of names) {
        const dir = path.join(nm, n);
        const pj = path.join(dir, 'package.json');
        if (seen.has(real(dir)) || !fs.existsSync(pj)) continue;
        try {
          const v = JSON.parse(fs.readFileSync(pj, 'utf8')) as Record<string, unknown>;
          if (v && typeof v === 'object' && 'stagepush' in v) {
            seen.add(real(dir));
            pkgDirs.push(dir);
          }
        } catch {
          /* not ours to judge: only packages with a stagepush field matter */
        }
      }
    }
    for (const dir of pkgDirs) {
      const pj = path.join(dir, 'package.json');
      try {
        const pkg = readJsonFile(pj, 'PLUGIN_BAD_PACKAGE', 'package.json') as Record<string, unknown>;
        const sp = pkg.stagepush as Record<string, unknown> | undefined;
        if (!sp || typeof sp !== 'object' || Array.isArray(sp)) throw perr('PLUGIN_BAD_PACKAGE', `${pj}: the "stagepush" field must be an object {importers, distributors, types}`, pj);
        const pkgName = typeof pkg.name === 'string' ? pkg.name : path.basename(dir);
        let types: TypeDefinition[] = [];
        if (sp.types !== undefined) {
          types = typeof sp.types === 'string' ? checkTypes(readJsonFile(path.resolve(dir, sp.types), 'PLUGIN_BAD_TYPES', 'types file'), path.resolve(dir, sp.types)) : checkTypes(sp.types, `${pj} "stagepush.types"`);
        }
        for (const kind of ['importer', 'distributor'] as const) {
          const field = sp[`${kind}s`];
          if (field === undefined) continue;
          const entries: string[] = Array.isArray(field) ? (field as string[]) : field && typeof field === 'object' ? Object.values(field as Record<string, string>) : [];
          if (!entries.length || !entries.every((e) => typeof e === 'string')) {
            this.errors.push(perr('PLUGIN_BAD_PACKAGE', `${pj}: "stagepush.${kind}s" must list entry points like "./lib/${kind}.js#entryPoint"`, pj));
            continue;
          }
          for (const spec of entries) {
            const [rel, exp] = spec.split('#') as [string, string | undefined];
            const file = path.resolve(dir, rel);
            const where = file;
            try {
              if (!fs.existsSync(file)) throw perr('PLUGIN_LOAD_FAILED', `${pj}: entry point file ${file} does not exist`, file);
              const mod = await importModule(file);
              const { create, config } = entryFromModule(mod, exp, where);
              out.push({ kind, source: `npm:${pkgName} (${file})`, where, create, config, types, typesSource: `npm:${pkgName}` });
            } catch (e) {
              this.fail(e, where);
            }
          }
        }
      } catch (e) {
        this.fail(e, pj);
      }
    }
    return out;
  }

  private async dirCandidates(pluginsDir: string | undefined): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const names = pluginsDir ? this.tryList(pluginsDir, 'the plugins directory', 'fix STAGEPUSH_PLUGINS_DIR (plugins.dir in the config): a directory this user can read, or none') : undefined;
    if (!pluginsDir || !names) return out;
    for (const name of names) {
      const dir = path.join(pluginsDir, name);
      if (name.startsWith('.')) continue;
      try {
        // A dangling symlink or an entry that cannot be looked at is that plugin's load problem.
        if (!fs.statSync(dir).isDirectory()) continue;
        let config: Record<string, unknown> = {};
        for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.conf')).sort()) {
          const file = path.join(dir, f);
          const v = readJsonFile(file, 'PLUGIN_BAD_CONF', 'plugin config file');
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw perr('PLUGIN_BAD_CONF', `plugin config file ${file} must hold a JSON object`, file);
          config = { ...config, ...(v as Record<string, unknown>) };
        }
        let types: TypeDefinition[] = [];
        const tj = path.join(dir, 'types.json');
        if (fs.existsSync(tj)) types = checkTypes(readJsonFile(tj, 'PLUGIN_BAD_TYPES', 'types file'), tj);
        let found = 0;
        for (const kind of ['importer', 'distributor'] as const) {
          const file = ['.js', '.mjs', '.cjs'].map((ext) => path.join(dir, kind + ext)).find((f) => fs.existsSync(f));
          if (!file) continue;
          found++;
          try {
            const mod = await importModule(file);
            const ep = entryFromModule(mod, undefined, file);
            out.push({ kind, source: `dir:${dir}`, where: file, create: ep.create, config: { ...ep.config, ...config }, types, typesSource: `dir:${dir}` });
          } catch (e) {
            this.fail(e, file);
          }
        }
        if (!found) this.errors.push(perr('PLUGIN_MISSING_EXPORT', `plugin directory ${dir} has neither importer.js nor distributor.js`, dir));
      } catch (e) {
        this.fail(e, dir);
      }
    }
    return out;
  }

  get(id: string): LoadedPlugin | undefined {
    return this.plugins.get(id);
  }
}
