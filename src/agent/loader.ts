/**
 * Loads handler descriptors and their classes.
 *
 * Descriptors come from two places: the built-in descriptors shipped with stagepush
 * (`etc/agent/conf.d/*.conf` in the package) and the conf.d directory (default
 * /etc/stagepush/agent/conf.d). A conf.d file with the same name as a built-in one replaces it
 * (`enabled = 0` there disables a built-in handler), and a conf.d descriptor claiming a type a
 * built-in descriptor claims takes that type over. Two conf.d descriptors claiming the same type:
 * the later one (by file name) is refused.
 *
 * `class = <module>:<Export>`: the module `stagepush` is the built-in handler module; any other
 * module is looked up in the handlers directory (default /usr/lib/stagepush/agent/handlers:
 * `<dir>/<module>`, `<module>.js`, `.mjs`, `.cjs`, `<module>/index.js`), then as an npm package
 * from node_modules. The export is a named export of the module, or a property of what the
 * module's default export returns when it is a function: third-party modules written in plain
 * JavaScript get the base classes that way, without importing stagepush:
 *
 *   export default function (agent) {
 *     class TarHandler extends agent.ContentHandler { ... }
 *     return { TarHandler };
 *   }
 *
 * A descriptor with any problem is refused as a whole; every problem names the file and the
 * section/key, and the other descriptors still load.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Problem } from '../errors.js';
import { CAPABILITIES, type Capability, type Handler } from './handler.js';
import { parseDescriptor, type DescriptorContext, type DescriptorType } from './descriptors.js';
import { handlerApi } from './api.js';
import { describe } from './describe.js';

export const DEFAULT_CONF_DIR = '/etc/stagepush/agent/conf.d';
export const DEFAULT_HANDLERS_DIR = '/usr/lib/stagepush/agent/handlers';
/** The descriptors shipped with stagepush. */
export const BUILTIN_CONF_DIR = fileURLToPath(new URL('../../../etc/agent/conf.d/', import.meta.url));
/** Module name of the built-in handlers in `class = stagepush:<Export>`. */
export const BUILTIN_MODULE = 'stagepush';
const BUILTIN_MODULE_URL = new URL('./handlers/index.js', import.meta.url).href;

export interface LoadedHandler {
  capability: Capability;
  typeId: string;
  /** `<module>:<Export>` as the descriptor says. */
  className: string;
  /** The descriptor that declared it. */
  descriptor: string;
  /** The resolved module file. */
  source: string;
  config: Record<string, string>;
  instance: Handler;
}

export interface DescriptorStatus {
  file: string;
  builtin: boolean;
  state: 'loaded' | 'disabled' | 'refused' | 'replaced';
  /** For a replaced built-in descriptor: the conf.d file that replaced it. */
  replacedBy?: string;
}

export interface HandlerRegistry {
  handlers: LoadedHandler[];
  descriptors: DescriptorStatus[];
  problems: Problem[];
  find(capability: Capability, typeId: string): LoadedHandler | undefined;
  list(capability: Capability): LoadedHandler[];
}

export interface LoadOptions extends DescriptorContext {
  confDir: string;
  handlersDir: string;
  /** Built-in descriptors directory; null leaves them out. */
  builtinConfDir?: string | null;
  /** Report a missing conf.d directory (when it was configured explicitly). */
  confDirRequired?: boolean;
}

function listConf(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.conf') && !n.startsWith('.'))
    .sort();
}

class ModuleNotFound extends Error {}

function resolveModule(module: string, handlersDir: string): { url: string; file: string } {
  if (module === BUILTIN_MODULE) return { url: BUILTIN_MODULE_URL, file: fileURLToPath(BUILTIN_MODULE_URL) };
  const searched: string[] = [];
  const candidates: string[] = [];
  if (path.isAbsolute(module)) candidates.push(module, `${module}.js`, `${module}.mjs`, `${module}.cjs`);
  else {
    const base = path.resolve(handlersDir, module);
    if (base.startsWith(path.resolve(handlersDir) + path.sep)) {
      candidates.push(base, `${base}.js`, `${base}.mjs`, `${base}.cjs`);
      const pkg = path.join(base, 'package.json');
      if (existsSync(pkg)) {
        try {
          const main = (JSON.parse(readFileSync(pkg, 'utf8')) as { main?: string }).main;
          if (main) candidates.push(path.resolve(base, main));
        } catch {
          /* fall through to index.js */
        }
      }
      candidates.push(path.join(base, 'index.js'), path.join(base, 'index.mjs'), path.join(base, 'index.cjs'));
    }
  }
  for (const c of candidates) {
    searched.push(c);
    if (existsSync(c) && statSync(c).isFile()) return { url: pathToFileURL(c).href, file: c };
  }
  if (!path.isAbsolute(module) && !module.startsWith('.')) {
    try {
      const url = import.meta.resolve(module);
      return { url, file: url.startsWith('file:') ? fileURLToPath(url) : url };
    } catch {
      searched.push(`node_modules (${module})`);
    }
  }
  throw new ModuleNotFound(`module "${module}" not found (searched ${path.isAbsolute(module) ? module : `${handlersDir} and node_modules`})`);
}

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** Modules imported once per process; factory default exports called once with the handler API. */
const moduleCache = new Map<string, Promise<Record<string, unknown>>>();

async function moduleExports(url: string): Promise<Record<string, unknown>> {
  let p = moduleCache.get(url);
  if (!p) {
    p = (async () => {
      const mod = (await import(url)) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const def = mod.default;
      if (typeof def === 'function' && !isClass(def)) {
        const made = await (def as (api: unknown) => unknown)(handlerApi);
        if (made && typeof made === 'object') Object.assign(out, made);
      } else if (def && typeof def === 'object') Object.assign(out, def);
      for (const [k, v] of Object.entries(mod)) if (k !== 'default') out[k] = v;
      return out;
    })();
    moduleCache.set(url, p);
  }
  return p;
}

/** Load, check and instantiate the class of one descriptor type; problems name file and section. */
async function loadType(file: string, t: DescriptorType, handlersDir: string): Promise<LoadedHandler | Problem | Problem[]> {
  const where = { file, entry: t.typeId, field: 'class' };
  let resolved: { url: string; file: string };
  try {
    resolved = resolveModule(t.module, handlersDir);
  } catch (err) {
    return { code: 'AGENT_HANDLER_MODULE_NOT_FOUND', message: `[${t.typeId}] class ${t.className}: ${(err as Error).message}`, ...where };
  }
  let exportsOf: Record<string, unknown>;
  try {
    exportsOf = await moduleExports(resolved.url);
  } catch (err) {
    return { code: 'AGENT_HANDLER_MODULE_LOAD', message: `[${t.typeId}] class ${t.className}: module ${resolved.file} failed to load: ${(err as Error)?.message ?? describe(err)}`, ...where };
  }
  const cls = exportsOf[t.exportName];
  if (cls === undefined) {
    const names = Object.keys(exportsOf).sort().join(', ') || 'none';
    return { code: 'AGENT_HANDLER_EXPORT_NOT_FOUND', message: `[${t.typeId}] class ${t.className}: ${resolved.file} has no export "${t.exportName}" (exports: ${names})`, ...where };
  }
  const cap = CAPABILITIES[t.capability];
  if (typeof cls !== 'function' || !(cls.prototype instanceof cap.base)) {
    return {
      code: 'AGENT_HANDLER_WRONG_BASE',
      message: `[${t.typeId}] class ${t.className}: ${typeof cls === 'function' ? `class ${(cls as { name: string }).name || t.exportName}` : `export "${t.exportName}" (${typeof cls})`} does not extend ${cap.baseName} (required for the ${t.capability} capability)`,
      ...where,
    };
  }
  const missing = cap.methods.filter((m) => typeof (cls.prototype as Record<string, unknown>)[m] !== 'function');
  if (missing.length) {
    return { code: 'AGENT_HANDLER_MISSING_METHOD', message: `[${t.typeId}] class ${t.className}: does not implement ${missing.join(', ')} of ${cap.baseName}`, ...where };
  }
  // A class declaring its settings (the built-in handlers) has its section checked now, every key
  // named: a bad value would otherwise fail an operation later, without naming the descriptor.
  const known = (cls as unknown as typeof Handler).settings;
  if (known) {
    const bad: Problem[] = [];
    for (const [key, value] of Object.entries(t.config)) {
      const check = Object.hasOwn(known, key) ? known[key] : undefined;
      const why = check ? check(value) : `unknown setting (${t.className} reads ${Object.keys(known).join(', ')})`;
      if (why) bad.push({ code: check ? 'AGENT_HANDLER_BAD_SETTING' : 'AGENT_HANDLER_UNKNOWN_SETTING', message: `[${t.typeId}] ${key}: ${why}`, file, entry: t.typeId, field: key });
    }
    if (bad.length) return bad;
  }
  let instance: Handler;
  try {
    instance = new (cls as new (config: Record<string, string>, typeId: string) => Handler)(t.config, t.typeId);
  } catch (err) {
    return { code: 'AGENT_HANDLER_INIT', message: `[${t.typeId}] class ${t.className}: constructor failed: ${(err as Error)?.message ?? describe(err)}`, ...where };
  }
  return { capability: t.capability, typeId: t.typeId, className: t.className, descriptor: file, source: resolved.file, config: t.config, instance };
}

/** Load every descriptor; never throws for a bad descriptor (see `problems`). */
export async function loadHandlers(opts: LoadOptions): Promise<HandlerRegistry> {
  const problems: Problem[] = [];
  const descriptors: DescriptorStatus[] = [];
  const builtinDir = opts.builtinConfDir === undefined ? BUILTIN_CONF_DIR : opts.builtinConfDir;
  const userFiles = listConf(opts.confDir);
  if (opts.confDirRequired && !existsSync(opts.confDir)) {
    problems.push({ code: 'AGENT_CONF_DIR_MISSING', message: `descriptor directory ${opts.confDir} does not exist`, file: opts.confDir });
  } else if (existsSync(opts.confDir) && !statSync(opts.confDir).isDirectory()) {
    // A file where the descriptor directory should be (no descriptor of it would be read).
    problems.push({ code: 'AGENT_CONF_DIR_NOT_A_DIRECTORY', message: `descriptor directory ${opts.confDir} is not a directory`, file: opts.confDir });
  }
  const sources: Array<{ file: string; builtin: boolean }> = [];
  if (builtinDir) {
    for (const name of listConf(builtinDir)) {
      const file = path.join(builtinDir, name);
      if (userFiles.includes(name)) descriptors.push({ file, builtin: true, state: 'replaced', replacedBy: path.join(opts.confDir, name) });
      else sources.push({ file, builtin: true });
    }
  }
  for (const name of userFiles) sources.push({ file: path.join(opts.confDir, name), builtin: false });

  const byKey = new Map<string, LoadedHandler & { builtin: boolean }>();
  for (const src of sources) {
    let text: string;
    try {
      text = readFileSync(src.file, 'utf8');
    } catch (err) {
      problems.push({ code: 'AGENT_DESCRIPTOR_UNREADABLE', message: `cannot read: ${(err as Error).message}`, file: src.file });
      descriptors.push({ file: src.file, builtin: src.builtin, state: 'refused' });
      continue;
    }
    const { descriptor, problems: dp } = parseDescriptor(src.file, text, opts);
    if (!descriptor) {
      problems.push(...dp);
      descriptors.push({ file: src.file, builtin: src.builtin, state: 'refused' });
      continue;
    }
    if (!descriptor.enabled) {
      descriptors.push({ file: src.file, builtin: src.builtin, state: 'disabled' });
      continue;
    }
    const loaded: LoadedHandler[] = [];
    const own: Problem[] = [];
    for (const t of descriptor.types) {
      const r = await loadType(src.file, t, opts.handlersDir);
      if (Array.isArray(r)) own.push(...r);
      else if ('instance' in r) loaded.push(r);
      else own.push(r);
    }
    for (const h of loaded) {
      const prev = byKey.get(`${h.capability}\0${h.typeId}`);
      if (prev && !(prev.builtin && !src.builtin)) {
        own.push({
          code: 'AGENT_DESCRIPTOR_DUPLICATE_TYPE',
          message: `[types] ${h.capability}: "${h.typeId}" already has a handler from ${prev.descriptor}`,
          file: src.file,
          entry: 'types',
          field: h.capability,
        });
      }
    }
    if (own.length) {
      problems.push(...own);
      descriptors.push({ file: src.file, builtin: src.builtin, state: 'refused' });
      continue;
    }
    for (const h of loaded) byKey.set(`${h.capability}\0${h.typeId}`, { ...h, builtin: src.builtin });
    descriptors.push({ file: src.file, builtin: src.builtin, state: 'loaded' });
  }
  const handlers: LoadedHandler[] = [...byKey.values()].map(({ builtin: _b, ...h }) => h);
  const order: Record<Capability, number> = { content: 0, bind: 1, system: 2 };
  handlers.sort((a, b) => order[a.capability] - order[b.capability] || a.typeId.localeCompare(b.typeId));
  return {
    handlers,
    descriptors,
    problems,
    find: (capability, typeId) => handlers.find((h) => h.capability === capability && h.typeId === typeId),
    list: (capability) => handlers.filter((h) => h.capability === capability),
  };
}
