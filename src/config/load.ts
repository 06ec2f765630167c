import { createHash } from 'node:crypto';
import { readFileSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { createRequire } from 'node:module';
import type { LineCounter, Node as YamlNode } from 'yaml';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { StagepushError, type Problem } from '../errors.js';
import { NOT_PLAIN, plainJson } from '../json.js';
import { cachedValidator, validatorCacheFile } from '../validator-cache.js';
import { aliasProblems } from '../formats/yaml/aliases.js';
import { AGENT_LOG, CONFIG_SCHEMA, HOOK_PROGRAM, NON_BLANK, NO_NUL } from './schema.js';
import { PLUGIN_PATH_KEYS } from '../plugins/defaults.js';
import { resolveSettingPath } from '../paths.js';
import type { LoadedConfig, StagepushConfig } from './types.js';

const require = createRequire(import.meta.url);

/** The yaml package (~0.1 s to load) is loaded when a configuration file is actually parsed, not at start-up. */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlModule ??= require('yaml') as typeof import('yaml'));
}

let validator: ValidateFunction | undefined;
const AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: false };

/** The compiled config validator, cached on disk (config-validator-<key>.cjs): see validator-cache.ts. */
function getValidator(): ValidateFunction {
  validator ??= cachedValidator('config-validator', CONFIG_SCHEMA, AJV_OPTIONS);
  return validator;
}

/** Where the config file is looked for: --config, $STAGEPUSH_CONFIG, $XDG_CONFIG_HOME/stagepush/config.yaml, /etc/stagepush/config.yaml. */
export function configCandidates(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): { explicit: string | null; candidates: string[] } {
  if (explicit) return { explicit: path.resolve(explicit), candidates: [path.resolve(explicit)] };
  if (env.STAGEPUSH_CONFIG && env.STAGEPUSH_CONFIG.trim()) {
    const p = path.resolve(env.STAGEPUSH_CONFIG);
    return { explicit: p, candidates: [p] };
  }
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim() ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return { explicit: null, candidates: [path.join(xdg, 'stagepush', 'config.yaml'), '/etc/stagepush/config.yaml'] };
}

type SchemaNode = { default?: unknown; properties?: Record<string, SchemaNode> };

/** Fill the schema's defaults into `value`, as the validator's useDefaults does for missing keys. */
function fillDefaults(schema: SchemaNode, value: Record<string, unknown>): Record<string, unknown> {
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (value[k] === undefined && sub.default !== undefined) value[k] = structuredClone(sub.default);
    const v = value[k];
    if (sub.properties && v && typeof v === 'object' && !Array.isArray(v)) fillDefaults(sub, v as Record<string, unknown>);
  }
  return value;
}

/**
 * The embedded default configuration (no file): every default of the schema. Built without the
 * validator, so that a command run without a config file does not pay for compiling the schema.
 */
export function defaultConfig(): StagepushConfig {
  return fillDefaults(CONFIG_SCHEMA as unknown as SchemaNode, {}) as unknown as StagepushConfig;
}

/**
 * Find and load the configuration. An explicit file (--config / $STAGEPUSH_CONFIG) must exist
 * (unless `allowMissing`: the engine commands accept a path that only locates plugins.conf.d);
 * otherwise the first existing candidate is used, or the embedded default when none exists.
 */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, opts: { allowMissing?: boolean } = {}): LoadedConfig {
  const { explicit: ex, candidates } = configCandidates(explicit, env);
  if (ex) {
    if (!existsSync(ex)) {
      if (opts.allowMissing) return { config: defaultConfig(), file: null, searched: candidates, explicit: ex };
      // --config naming no file is a bad command line (2); $STAGEPUSH_CONFIG naming none is a
      // configuration problem of the environment (3), like an invalid file.
      throw new StagepushError('CONFIG_NOT_FOUND', `configuration file ${ex} does not exist${explicit ? '' : ' (named by $STAGEPUSH_CONFIG)'}`, { kind: explicit ? 'usage' : 'invalid', file: ex, field: explicit ? '--config' : 'STAGEPUSH_CONFIG', hint: explicit ? 'check the path given' : 'check $STAGEPUSH_CONFIG' });
    }
    return { ...loadConfigFile(ex), searched: candidates, explicit: ex };
  }
  for (const c of candidates) {
    if (existsSync(c) && statSync(c).isFile()) return { ...loadConfigFile(c), searched: candidates, explicit: null };
  }
  return { config: defaultConfig(), file: null, searched: candidates, explicit: null };
}

export function loadConfigFile(file: string): { config: StagepushConfig; file: string } {
  let text: string;
  try {
    // Stat before open: a FIFO (or a device) named as the configuration would block the read.
    const st = statSync(file);
    if (!st.isFile()) throw new StagepushError('CONFIG_UNREADABLE', `configuration file ${file} is not a regular file`, { kind: 'invalid', file });
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof StagepushError) throw err;
    throw new StagepushError('CONFIG_UNREADABLE', `cannot read configuration file ${file}: ${(err as Error).message}`, { kind: 'invalid', file, cause: err });
  }
  const cache = parsedCacheFile(file, text);
  if (cache) {
    try {
      const hit = JSON.parse(readFileSync(cache.path, 'utf8')) as { key?: unknown; config?: unknown };
      if (hit.key === cache.key && hit.config && typeof hit.config === 'object') return { config: resolveConfigPaths(hit.config as StagepushConfig, path.dirname(path.resolve(file))), file };
    } catch {
      // No cached result (or a damaged one): parsed below.
    }
  }
  const config = parseConfigText(text, file);
  // Only what JSON keeps as it is (a plugin config is free-form: `.inf` would come back null).
  // The cache holds the paths as written: they are resolved below, on every load.
  if (cache && plainJson(config, false) !== NOT_PLAIN) {
    try {
      mkdirSync(path.dirname(cache.path), { recursive: true });
      const tmp = `${cache.path}.${process.pid}.tmp`;
      // Owner-only: a config may hold secrets (feed passwords, client keys) its own mode protects.
      writeFileSync(tmp, JSON.stringify({ key: cache.key, config }), { mode: 0o600 });
      renameSync(tmp, cache.path);
    } catch {
      // No writable cache: parsed again next time.
    }
  }
  return { config: resolveConfigPaths(config, path.dirname(path.resolve(file))), file };
}

/**
 * Every path-valued key the schema knows, in one place: a relative path there is relative to the
 * configuration file (README). They are resolved as the file is loaded, before any command or the
 * engine sees them: a repository created by a push run from another directory (cron runs from /)
 * recorded `gpgkey: keys/demo-key.asc` as written, and its publish then read it from the working
 * directory. `settings`: dotted keys of the file's own settings; `importer` and `distributor`:
 * the config keys of the built-in plugins by type id (a third-party plugin's keys are passed as
 * written). The PEM and key keys take the text itself too: a value holding it is not a path.
 * Besides these: `agent.log` when it is `file:PATH`, and a `hooks.post_publish` argv whose first
 * element is a relative path with a slash (`hooks/notify.sh`; a bare name is looked up in $PATH,
 * and a shell command string is the shell's). The plugin keys are the plugins' own list
 * (PLUGIN_PATH_KEYS), which the engine's registry applies to plugins.conf.d files, against their
 * directory.
 */
export const CONFIG_PATH_KEYS = {
  settings: ['data_dir', 'config_dir', 'publish.root', 'plugins.dir', 'plugins.node_modules', 'agent.conf_d', 'agent.handlers_dir'],
  importer: PLUGIN_PATH_KEYS.importer,
  distributor: PLUGIN_PATH_KEYS.distributor,
} as const;

/** `config` with the relative paths of CONFIG_PATH_KEYS made absolute against `dir` (in place). */
export function resolveConfigPaths(config: StagepushConfig, dir: string): StagepushConfig {
  const resolve = (v: unknown) => resolveSettingPath(v, dir);
  for (const dotted of CONFIG_PATH_KEYS.settings) {
    const keys = dotted.split('.');
    let holder = config as unknown as Record<string, unknown> | undefined;
    for (const k of keys.slice(0, -1)) holder = holder?.[k] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1]!;
    if (holder && holder[last] !== undefined) holder[last] = resolve(holder[last]);
  }
  const log = config.agent?.log;
  if (typeof log === 'string' && log.startsWith('file:') && log.length > 5) config.agent.log = `file:${resolve(log.slice(5)) as string}`;
  const inPlace = (cfg: Record<string, unknown> | undefined, keys: readonly string[] | undefined) => {
    for (const k of keys ?? []) if (cfg && cfg[k] !== undefined) cfg[k] = resolve(cfg[k]);
  };
  for (const section of ['repositories', 'templates'] as const) {
    for (const r of Object.values(config[section] ?? {})) {
      if (r.importer) inPlace(r.importer.config, CONFIG_PATH_KEYS.importer[r.importer.type_id]);
      for (const d of r.distributors ?? []) inPlace(d.config, CONFIG_PATH_KEYS.distributor[d.type_id]);
    }
  }
  for (const h of config.hooks?.post_publish ?? []) {
    if (Array.isArray(h) && typeof h[0] === 'string' && h[0].includes('/')) h[0] = resolve(h[0]) as string;
  }
  return config;
}

/**
 * The validated result of a config file is cached beside the compiled validators (one file per
 * config path), keyed by the file's text, the schema, and the versions of ajv and yaml: a command
 * then neither loads the yaml package nor validates again (~25 ms of every run, cron's included).
 * Only valid files are cached; an invalid one is parsed each time, so its errors name the lines.
 */
function parsedCacheFile(file: string, text: string): { path: string; key: string } | null {
  try {
    const validatorFile = validatorCacheFile('config-validator', CONFIG_SCHEMA, AJV_OPTIONS);
    const yamlVersion = (require('yaml/package.json') as { version: string }).version;
    const key = createHash('sha256').update(JSON.stringify([path.basename(validatorFile), yamlVersion, text])).digest('hex');
    const name = createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 16);
    return { path: path.join(path.dirname(validatorFile), `config-parsed-${name}.json`), key };
  } catch {
    return null;
  }
}

/** Parse and validate YAML text; errors name the key and the line. */
export function parseConfigText(text: string, file: string): StagepushConfig {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  // Merge keys (`<<: *base`) let repositories share settings, as release engineers write them.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const yamlProblem = (offset: number, message: string): Problem => {
    const pos = lineCounter.linePos(offset);
    return { code: 'CONFIG_YAML', file, field: `line ${pos.line}`, message: `line ${pos.line}, column ${pos.col}: ${message}` };
  };
  const problems: Problem[] = doc.errors.length
    ? doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return {
          code: 'CONFIG_YAML',
          file,
          field: pos ? `line ${pos.line}` : undefined,
          message: `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]}`,
        };
      })
    : // The aliases are checked here, each problem with its line: toJS would throw a bare
      // ReferenceError for them (and refuse a realistic number of uses of one anchor).
      aliasProblems(doc, { merge: true, uniqueAnchors: true }).map((p) => yamlProblem(p.offset, p.message));
  if (problems.length) {
    throw new StagepushError('CONFIG_YAML', `${file}: not valid YAML (${problems.map((p) => p.message).join('; ')})`, { kind: 'invalid', file, field: problems[0]!.field, problems });
  }
  keyIdsAsWritten(doc.contents as YamlNode | null);
  const value = doc.toJS({ maxAliasCount: -1 }) as unknown;
  const data = value === null || value === undefined ? {} : value;
  return validateConfigObject(data, file, (p) => lineOf(doc.contents as YamlNode | null, p, lineCounter)).config;
}

/**
 * Importer and distributor types of the file's repositories and templates that are not installed
 * (`installed`: plugin ids by kind), each problem naming the key and its line. The schema cannot
 * know them (plugins come from npm packages and directories).
 */
export function checkPluginTypes(config: StagepushConfig, file: string | null, installed: { importer: Set<string>; distributor: Set<string> }): Problem[] {
  const line = fileLines(file);
  const problems: Problem[] = [];
  const at = (segments: string[], message: string) => {
    const ln = line ? line(segments) : undefined;
    problems.push({ code: 'CONFIG_UNKNOWN_PLUGIN', file: file ?? undefined, entry: ln !== undefined ? `line ${ln}` : undefined, field: segments.join('.'), message });
  };
  const list = (kind: 'importer' | 'distributor') => [...installed[kind]].sort().join(', ') || 'none';
  for (const section of ['repositories', 'templates'] as const) {
    for (const [id, r] of Object.entries(config[section] ?? {})) {
      const imp = r.importer?.type_id;
      if (imp && !installed.importer.has(imp)) at([section, id, 'importer', 'type_id'], `no importer plugin ${JSON.stringify(imp)} is installed (installed: ${list('importer')})`);
      (r.distributors ?? []).forEach((d, i) => {
        if (!installed.distributor.has(d.type_id)) at([section, id, 'distributors', String(i), 'type_id'], `no distributor plugin ${JSON.stringify(d.type_id)} is installed (installed: ${list('distributor')})`);
      });
    }
  }
  return problems;
}

/** The line of a key path in a config file (null without a file, or when it cannot be read again). */
export function fileLines(file: string | null): ((segments: string[]) => number | undefined) | null {
  if (!file) return null;
  try {
    const { LineCounter, parseDocument } = yaml();
    const lc = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lc, prettyErrors: false, merge: true });
    return (p) => lineOf(doc.contents as YamlNode | null, p, lc);
  } catch {
    return null;
  }
}

/**
 * Short key ids are hex: one such as `12345678` or `1234e567` reads as a YAML number (the second
 * as Infinity). Keep every plain scalar of `allowed_signing_keys` (top level) and of an importer's
 * `allowed_keys` (anywhere) as it is written.
 */
const KEY_ID_LISTS = new Set(['allowed_signing_keys', 'allowed_keys']);
function keyIdsAsWritten(node: YamlNode | null): void {
  const { isMap, isSeq, isScalar, isPair } = yaml();
  if (isSeq(node)) {
    for (const item of node.items) keyIdsAsWritten(item as YamlNode);
    return;
  }
  if (!isMap(node)) return;
  for (const pair of node.items) {
    if (!isPair(pair)) continue;
    if (isScalar(pair.key) && KEY_ID_LISTS.has(String(pair.key.value)) && isSeq(pair.value)) {
      for (const item of pair.value.items) {
        if (isScalar(item) && typeof item.value === 'number' && typeof item.source === 'string') item.value = item.source;
      }
    } else {
      keyIdsAsWritten(pair.value as YamlNode | null);
    }
  }
}

/** Line of the node at a JSON-pointer path (1-based), or of its closest existing parent. */
function lineOf(root: YamlNode | null, segments: string[], lc: LineCounter): number | undefined {
  const { isMap, isSeq, isScalar, isPair } = yaml();
  let node: unknown = root;
  let keyNode: unknown = undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === seg);
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node)) {
      const it = node.items[Number(seg)];
      if (it === undefined) break;
      keyNode = it;
      node = it;
    } else break;
  }
  const n = (keyNode ?? node) as { range?: [number, number, number] } | null;
  if (n && n.range) return lc.linePos(n.range[0]).line;
  return undefined;
}

function pointerToSegments(p: string): string[] {
  if (!p) return [];
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describeError(e: ErrorObject): { key: string; message: string; segments: string[] } {
  const segments = pointerToSegments(e.instancePath);
  let key = segments.join('.');
  let message = e.message ?? 'invalid';
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      segments.push(extra);
      key = segments.join('.');
      message = 'unknown key';
      break;
    }
    case 'required': {
      const missing = String(params.missingProperty);
      key = [...segments, missing].join('.');
      message = 'required key missing';
      break;
    }
    case 'pattern':
      if (params.pattern === NON_BLANK) message = 'must not be empty (a path)';
      else if (params.pattern === NO_NUL) message = 'must not contain a NUL byte (no command can hold one)';
      else if (params.pattern === HOOK_PROGRAM) message = 'must not be empty (the program the hook runs)';
      else if (params.pattern === AGENT_LOG) message = 'must be syslog, stderr or file:PATH, with a path that is not empty';
      break;
    case 'minLength':
    case 'minItems':
      if (params.limit === 1) message = 'must not be empty';
      break;
    case 'maximum':
      message = `must be at most ${String(params.limit)}`;
      break;
    case 'minimum':
      message = `must be at least ${String(params.limit)}`;
      break;
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'propertyNames': {
      message = `invalid name ${JSON.stringify(params.propertyName)}`;
      break;
    }
    default:
      break;
  }
  return { key: key || '(top level)', message, segments };
}

/** Validate a plain object against the schema (defaults filled). `line` maps a path to a line. */
export function validateConfigObject(
  data: unknown,
  file: string | null,
  line: ((segments: string[]) => number | undefined) | null,
): { config: StagepushConfig } {
  const v = getValidator();
  const copy = JSON.parse(JSON.stringify(data ?? {})) as unknown;
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
    throw new StagepushError('CONFIG_INVALID', `${file ?? 'configuration'}: the top level must be a mapping of keys`, { kind: 'invalid', file: file ?? undefined, field: 'line 1' });
  }
  if (!v(copy)) {
    const seen = new Set<string>();
    const problems: Problem[] = [];
    const summary: string[] = [];
    const errors = v.errors ?? [];
    const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
    // A value of the type one anyOf branch takes (a hook command string with a NUL byte, an argv
    // whose program is empty) is refused by that branch's own errors, which say what is wrong:
    // those are kept, and the anyOf summary ("must be a command string or ...") is not.
    const matchedBranch = (at: string) => errors.some((e) => (e.instancePath === at && e.keyword !== 'type' && e.keyword !== 'anyOf') || e.instancePath.startsWith(`${at}/`));
    const branchMatched = new Set([...anyOfPaths].filter(matchedBranch));
    for (const e of errors) {
      // if/then wrappers repeat the real error; anyOf branches are summed up by the anyOf error.
      if (e.keyword === 'if') continue;
      if (e.keyword === 'anyOf' && branchMatched.has(e.instancePath)) continue;
      if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath) && (e.keyword === 'type' || !branchMatched.has(e.instancePath))) continue;
      const d = describeError(e);
      if (e.keyword === 'anyOf') d.message = 'must be a command string or a list of argv strings';
      const ln = line ? line(d.segments) : undefined;
      const text = `${d.key}${ln !== undefined ? ` (line ${ln})` : ''}: ${d.message}`;
      if (seen.has(text)) continue;
      seen.add(text);
      problems.push({ code: 'CONFIG_INVALID', file: file ?? undefined, entry: ln !== undefined ? `line ${ln}` : undefined, field: d.key, message: d.message });
      summary.push(text);
    }
    throw new StagepushError('CONFIG_INVALID', `${file ?? 'configuration'}: ${problems.length} problem(s): ${summary.join('; ')}`, {
      kind: 'invalid',
      file: file ?? undefined,
      field: problems[0]?.field,
      problems,
    });
  }
  const config = copy as StagepushConfig;
  restorePluginConfigs(config, data as Record<string, unknown>);
  checkCrossReferences(config, file, line);
  return { config };
}

/** Checks a schema cannot express: templates exist, destinations are not split ambiguously, ids unique. */
function checkCrossReferences(config: StagepushConfig, file: string | null, line: ((segments: string[]) => number | undefined) | null): void {
  const problems: Problem[] = [];
  const summary: string[] = [];
  const at = (segments: string[], message: string) => {
    const ln = line ? line(segments) : undefined;
    const key = segments.join('.');
    problems.push({ code: 'CONFIG_INVALID', file: file ?? undefined, entry: ln !== undefined ? `line ${ln}` : undefined, field: key, message });
    summary.push(`${key}${ln !== undefined ? ` (line ${ln})` : ''}: ${message}`);
  };
  const known = new Set(['yum', 'file', 'directory', ...Object.keys(config.templates)]);
  const m = /^template:(.+)$/.exec(config.unknown_destination);
  if (m && !known.has(m[1]!)) at(['unknown_destination'], `unknown template ${JSON.stringify(m[1])} (known: ${[...known].join(', ')})`);
  for (const [id, t] of Object.entries(config.templates)) {
    if (t.template && !known.has(t.template)) at(['templates', id, 'template'], `unknown template ${JSON.stringify(t.template)} (known: ${[...known].join(', ')})`);
    if (t.template === id) at(['templates', id, 'template'], 'a template cannot extend itself');
  }
  // Template cycles, named where they start.
  for (const id of Object.keys(config.templates)) {
    const chain = [id];
    let t = config.templates[id]!.template;
    while (t && config.templates[t] && t !== chain[chain.length - 1]) {
      if (chain.includes(t)) {
        if (t === id) at(['templates', id, 'template'], `template cycle: ${[...chain, t].join(' -> ')}`);
        break;
      }
      chain.push(t);
      t = config.templates[t]!.template;
    }
  }
  // Published paths: a relative_url (by default the repository id) is one repository's, never
  // another's nor inside it (the engine refuses it at publish time; said here with its line).
  const claims: Array<{ url: string; owner: string; segments: string[] }> = [];
  const norm = (u: string) => u.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  const distributorsOf = (r: { template?: string; distributors?: Array<{ id?: string; type_id: string; config?: Record<string, unknown> }> }) => {
    let shape: typeof r | undefined = r;
    const seen = new Set<string>();
    while (shape && !shape.distributors && shape.template && !seen.has(shape.template)) {
      seen.add(shape.template);
      shape = config.templates[shape.template];
    }
    return shape?.distributors;
  };
  for (const [id, r] of Object.entries(config.repositories)) {
    const own = r.distributors !== undefined;
    const dists = distributorsOf(r) ?? [{ type_id: 'default' }];
    const ids = new Set<string>();
    dists.forEach((d, i) => {
      // A distributor id used twice is refused below; its path is not a second problem.
      if (ids.has(d.id ?? d.type_id)) return;
      ids.add(d.id ?? d.type_id);
      const explicit = typeof d.config?.relative_url === 'string' ? (d.config.relative_url as string) : undefined;
      // An export served over neither protocol takes no path under them (its export directory is the plugin's to check).
      const served = (k: string) => d.config?.[k] === true || d.config?.[k] === 'true';
      if (d.type_id === 'export_distributor' && !served('http') && !served('https')) return;
      const url = norm(explicit ?? id);
      if (!url) return;
      const segments = own && explicit !== undefined ? ['repositories', id, 'distributors', String(i), 'config', 'relative_url'] : ['repositories', id];
      const owner = `repository ${id}${(d.id ?? d.type_id) !== 'default' ? ` (distributor ${d.id ?? d.type_id})` : ''}`;
      // Two distributors of one repository clash too (the engine keeps every distributor's path apart).
      for (const c of claims) {
        const clash = c.url === url ? `relative_url "${url}" is already used by ${c.owner}` : c.url.startsWith(url + '/') ? `relative_url "${url}" would contain "${c.url}", the relative_url of ${c.owner}` : url.startsWith(c.url + '/') ? `relative_url "${url}" lies inside "${c.url}", the relative_url of ${c.owner}` : null;
        if (clash) {
          at(segments, clash);
          break;
        }
      }
      claims.push({ url, owner, segments });
    });
  }
  for (const [id, r] of Object.entries(config.repositories)) {
    if (r.template && !known.has(r.template)) at(['repositories', id, 'template'], `unknown template ${JSON.stringify(r.template)} (known: ${[...known].join(', ')})`);
    const dids = new Set<string>();
    (r.distributors ?? []).forEach((d, i) => {
      const did = d.id ?? d.type_id;
      if (dids.has(did)) at(['repositories', id, 'distributors', String(i), 'id'], `distributor id ${JSON.stringify(did)} is used twice in repository ${id}`);
      dids.add(did);
    });
  }
  if (problems.length) {
    throw new StagepushError('CONFIG_INVALID', `${file ?? 'configuration'}: ${summary.join('; ')}`, { kind: 'invalid', file: file ?? undefined, field: problems[0]!.field, problems });
  }
}

/**
 * Plugin configs are passed to the plugins as written: the schema's defaults there document the
 * plugins' own defaults and must not be injected (a default `http: false` would make the export
 * distributor claim a relative_url).
 */
function restorePluginConfigs(config: StagepushConfig, original: Record<string, unknown>): void {
  for (const section of ['repositories', 'templates'] as const) {
    const orig = (original?.[section] ?? {}) as Record<string, { importer?: { config?: unknown }; distributors?: Array<{ config?: unknown }> }>;
    for (const [id, r] of Object.entries(config[section] ?? {})) {
      const o = orig[id];
      if (r.importer) r.importer.config = JSON.parse(JSON.stringify(o?.importer?.config ?? {})) as Record<string, unknown>;
      (r.distributors ?? []).forEach((d, i) => {
        d.config = JSON.parse(JSON.stringify(o?.distributors?.[i]?.config ?? {})) as Record<string, unknown>;
      });
      // The push behaviour a repository or template does not write is inherited from its template
      // (the schema's defaults apply at the end of the chain, in toSpec): a default filled in here
      // would override a template's push_mode: mirror.
      const written = (o ?? {}) as Record<string, unknown>;
      for (const k of ['push_mode', 'duplicate_nevra', 'retain_repo_versions'] as const) if (written[k] === undefined) delete r[k];
    }
  }
}
