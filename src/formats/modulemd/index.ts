/**
 * modulemd YAML streams (modules.yaml): parse into documents keeping each document's full data,
 * and write a modules.yaml stream (`---` … `...` per document) that libmodulemd/dnf read.
 *
 * Scalars are read as their exact text (YAML failsafe schema): a stream "1.10" stays "1.10", a
 * 64-bit module version stays exact as a decimal string. Plain empty/`~`/`null` values become null.
 * Typed views (ModuleStream, ModuleDefaults) are derived for modulemd v2 and modulemd-defaults v1.
 */
import { createRequire } from 'node:module';
import { StagepushError } from '../../errors.js';
import { aliasProblems } from '../yaml/aliases.js';
import { decodeStagedText } from '../yaml/read.js';

/** The yaml package (~0.1 s to load) is loaded when a modulemd stream is first parsed or written. */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
}

export type YamlValue = string | null | YamlValue[] | { [k: string]: YamlValue } | number | boolean;

export interface ModulemdDocument {
  /** `modulemd`, `modulemd-defaults`, `modulemd-obsoletes`, `modulemd-translations`, … */
  document: string;
  version: number;
  /** The document's full `data` mapping. */
  data: Record<string, YamlValue>;
}

export interface ModuleDependency {
  buildrequires: Record<string, string[]>;
  requires: Record<string, string[]>;
}

export interface ModuleProfile {
  description: string | null;
  rpms: string[];
}

/** Typed view of a modulemd v2 stream document. */
export interface ModuleStream {
  name: string;
  stream: string;
  /** Decimal string (may exceed 2^53). */
  version: string;
  context: string;
  arch: string;
  summary: string;
  description: string;
  license: { module: string[]; content: string[] };
  artifacts: { rpms: string[] };
  profiles: Record<string, ModuleProfile>;
  dependencies: ModuleDependency[];
  /** `name:stream:version:context:arch` */
  nsvca: string;
}

/** Typed view of a modulemd-defaults v1 document. */
export interface ModuleDefaults {
  module: string;
  stream: string | null;
  profiles: Record<string, string[]>;
  /** `data.modified` when present (decimal string). */
  modified: string | null;
}

function fail(file: string, idx: number, field: string, msg: string): never {
  throw new StagepushError('MODULEMD_INVALID', `${file}: document ${idx + 1}: ${field} ${msg}`, { file, entry: `document ${idx + 1}`, field });
}

function isMap(v: unknown): v is Record<string, YamlValue> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
function str(v: YamlValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}
function strList(v: YamlValue | undefined): string[] {
  return Array.isArray(v) ? v.map((x) => str(x) ?? '').filter((x) => x !== '') : [];
}

/**
 * What libmodulemd (2.14, as dnf reads modules.yaml) accepts in a modulemd v2 stream's `data` and
 * a modulemd-defaults v1 document's `data`: it refuses a document with any other key, at any
 * depth, or with a value of another shape, and dnf then drops the whole stream (or the module's
 * defaults) with "Module yaml error" on every run. A mapping spec: the keys it takes, `'*'` any
 * key; a value given as empty (null) is refused, but where MAY_BE_EMPTY_LAST says. `[spec]`: a list of
 * such values. Leaves: `scalar` (not a list or mapping), `set` (a scalar or a list of scalars),
 * `list` (a list of scalars only), `bool` (`true` or `false` as written), `int` and `uint`
 * (64-bit signed and unsigned), `date` (YYYY-MM-DD as sscanf reads it), `nevras` (a set of
 * N-E:V-R.A), `xmd` (anything but a list), `any`.
 */
type Leaf = 'scalar' | 'set' | 'list' | 'bool' | 'int' | 'uint' | 'date' | 'nevras' | 'xmd' | 'any';
type KeySpec = Leaf | KeySpec[] | { [key: string]: KeySpec };
const RPM_COMPONENT: KeySpec = {
  name: 'scalar', rationale: 'scalar', repository: 'scalar', cache: 'scalar', ref: 'scalar', buildroot: 'bool', 'srpm-buildroot': 'bool',
  buildorder: 'int', arches: 'set', multilib: 'set', buildafter: 'list', buildonly: 'bool',
};
// A module component has no buildafter (libmodulemd: "Unexpected key in module component body").
const MODULE_COMPONENT: KeySpec = { rationale: 'scalar', repository: 'scalar', ref: 'scalar', buildorder: 'int', buildonly: 'bool' };
const RPMS_ONLY: KeySpec = { rpms: 'set' };
const STREAM_V2: { [key: string]: KeySpec } = {
  name: 'scalar', stream: 'scalar', version: 'uint', context: 'scalar', static_context: 'bool', arch: 'scalar', summary: 'scalar', description: 'scalar',
  servicelevels: { '*': { eol: 'date' } },
  license: { module: 'set', content: 'set' },
  xmd: 'xmd',
  dependencies: [{ buildrequires: { '*': 'set' }, requires: { '*': 'set' } }],
  references: { community: 'scalar', documentation: 'scalar', tracker: 'scalar' },
  profiles: { '*': { description: 'scalar', rpms: 'set', default: 'bool' } },
  api: RPMS_ONLY, filter: RPMS_ONLY, demodularized: RPMS_ONLY,
  buildopts: { rpms: { macros: 'scalar', whitelist: 'set' }, arches: 'set' },
  components: { rpms: { '*': RPM_COMPONENT }, modules: { '*': MODULE_COMPONENT } },
  artifacts: { rpms: 'nevras', 'rpm-map': { '*': { '*': { name: 'scalar', epoch: 'uint', version: 'scalar', release: 'scalar', arch: 'scalar', nevra: 'scalar' } } } },
};
const DEFAULTS_V1: { [key: string]: KeySpec } = {
  module: 'scalar', modified: 'uint', stream: 'scalar',
  profiles: { '*': 'set' },
  intents: { '*': { stream: 'scalar', profiles: { '*': 'set' } } },
};
/**
 * Mappings libmodulemd takes written with no value (`api:`), but only as the last key of `data`:
 * before another key it fails the document ("Unexpected scalar outside of map").
 */
const MAY_BE_EMPTY_LAST = new Set(['data.api', 'data.filter', 'data.demodularized']);
const LIBMODULEMD_REFUSES = '(libmodulemd refuses the document)';

/**
 * An artifact as libmodulemd's modulemd_validate_nevra reads it, from the end: the arch after
 * the last dot, the release after the last dash before it, the version after a colon before that
 * with no dash between, and an epoch starting with a digit after the dash before the colon.
 */
function validArtifactNevra(s: string): boolean {
  const dot = s.lastIndexOf('.');
  const rel = dot > 0 ? s.lastIndexOf('-', dot - 1) : -1;
  if (rel <= 0) return false;
  let colon = rel - 1;
  while (colon >= 0 && s[colon] !== ':' && s[colon] !== '-') colon--;
  if (colon <= 0 || s[colon] !== ':') return false;
  const dash = s.lastIndexOf('-', colon - 1);
  return dash >= 0 && /^[0-9]/.test(s.slice(dash + 1, colon));
}

const isScalar = (v: YamlValue): boolean => v === null || typeof v !== 'object';
const kindOf = (v: YamlValue): string => (Array.isArray(v) ? 'a list' : isMap(v) ? 'a mapping' : v === null ? 'empty' : `"${String(v)}"`);

/** Whether the text is an integer libmodulemd's g_ascii_string_to_(un)signed takes, within 64 bits. */
function inRange(text: string, signed: boolean): boolean {
  const m = (signed ? /^\s*([+-]?)(\d+)$/ : /^\s*(\+?)(\d+)$/).exec(text);
  if (!m) return false;
  const n = BigInt(m[2]!) * (m[1] === '-' ? -1n : 1n);
  return signed ? n >= -(2n ** 63n) && n < 2n ** 63n : n < 2n ** 64n;
}

/** What libmodulemd refuses in `v` (at `at`) by `spec`: the dotted path and why; null when nothing. */
function shapeProblem(v: YamlValue | undefined, spec: KeySpec, at: string, kind: string, last = false): { field: string; why: string } | null {
  if (v === undefined || spec === 'any') return null;
  const bad = (why: string) => ({ field: at, why: `${why} ${LIBMODULEMD_REFUSES}` });
  if (Array.isArray(spec)) {
    if (!Array.isArray(v)) return bad(`must be a list, not ${kindOf(v)}`);
    for (let i = 0; i < v.length; i++) {
      const p = shapeProblem(v[i], spec[0]!, `${at}[${i}]`, kind);
      if (p) return p;
    }
    return null;
  }
  if (typeof spec === 'object') {
    if (v === null && last && MAY_BE_EMPTY_LAST.has(at)) return null;
    if (!isMap(v)) return bad(`must be a mapping, not ${kindOf(v)}`);
    const entries = Object.entries(v);
    for (let i = 0; i < entries.length; i++) {
      const [k, x] = entries[i]!;
      const sub = spec[k] ?? spec['*'];
      if (sub === undefined) return { field: `${at}.${k}`, why: `is not a ${kind} key ${LIBMODULEMD_REFUSES}` };
      const p = shapeProblem(x, sub, `${at}.${k}`, kind, i === entries.length - 1);
      if (p) return p;
    }
    return null;
  }
  const text = v === null ? null : typeof v === 'object' ? null : String(v);
  switch (spec) {
    case 'scalar':
      return isScalar(v) ? null : bad(`must be a single value, not ${kindOf(v)}`);
    case 'set':
    case 'list':
      if (spec === 'set' && isScalar(v)) return null;
      if (!Array.isArray(v)) return bad(`must be a list${spec === 'set' ? ' or a single value' : ''}, not ${kindOf(v)}`);
      for (let i = 0; i < v.length; i++) if (!isScalar(v[i]!)) return { field: `${at}[${i}]`, why: `must be a single value, not ${kindOf(v[i]!)} ${LIBMODULEMD_REFUSES}` };
      return null;
    case 'bool':
      return text === 'true' || text === 'false' ? null : bad(`must be true or false (lower case), not ${kindOf(v)}`);
    case 'int':
    case 'uint':
      return text !== null && inRange(text, spec === 'int') ? null : bad(`must be ${spec === 'int' ? 'a' : 'an unsigned'} 64-bit integer, not ${kindOf(v)}`);
    case 'date':
      return text !== null && /^\s*[+-]?\d+-\s*[+-]?\d+-\s*[+-]?\d+/.test(text) ? null : bad(`must be a date YYYY-MM-DD, not ${kindOf(v)}`);
    case 'xmd':
      return Array.isArray(v) ? bad('must be a mapping, not a list') : null;
    case 'nevras': {
      if (v === null || !Array.isArray(v)) return bad(`must be a list of name-epoch:version-release.arch, not ${kindOf(v)}`);
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (!isScalar(x) || !validArtifactNevra(x === null ? '' : String(x))) return { field: `${at}[${i}]`, why: `is ${kindOf(x)}, not name-epoch:version-release.arch ${LIBMODULEMD_REFUSES}` };
      }
      return null;
    }
  }
}

/**
 * What libmodulemd's validation of a stream refuses besides the shapes (dnf drops the stream the
 * same way): a static context of other characters than letters, digits and _, a dependency
 * mixing streams and excluded (`-`) streams of one module, buildorder and buildafter both used in
 * one stream (a buildorder of 0 and an empty buildafter are not used), a buildafter naming no rpm
 * component, an rpm-map entry missing a part of its NEVRA or whose nevra is not its parts. Run
 * after shapeProblem, so values have their shapes.
 */
function streamRuleProblem(d: Record<string, YamlValue>): { field: string; why: string } | null {
  const bad = (field: string, why: string) => ({ field, why: `${why} ${LIBMODULEMD_REFUSES}` });
  if (d['static_context'] === 'true' && !/^[A-Za-z0-9_]+$/.test(str(d['context']) ?? '')) {
    return bad('data.context', `"${str(d['context']) ?? ''}" holds other characters than letters, digits and _, with static_context: true`);
  }
  const deps = Array.isArray(d['dependencies']) ? d['dependencies'] : [];
  for (let i = 0; i < deps.length; i++) {
    const dep = deps[i]!;
    if (!isMap(dep)) continue;
    for (const kind of ['buildrequires', 'requires']) {
      const mods = dep[kind];
      if (!isMap(mods)) continue;
      for (const [mod, streams] of Object.entries(mods)) {
        const list = (Array.isArray(streams) ? streams : [streams]).map((s) => str(s) ?? '');
        const excluded = list.filter((s) => s.startsWith('-')).length;
        if (excluded && excluded < list.length) return bad(`data.dependencies[${i}].${kind}.${mod}`, `mixes streams and excluded (-) streams: ${list.join(', ')}`);
      }
    }
  }
  const components = isMap(d['components']) ? d['components'] : {};
  const rpms = isMap(components['rpms']) ? components['rpms'] : {};
  let order: string | null = null;
  let after: string | null = null;
  for (const kind of ['rpms', 'modules']) {
    const list = components[kind];
    if (!isMap(list)) continue;
    for (const [name, c] of Object.entries(list)) {
      if (!isMap(c)) continue;
      const bo = str(c['buildorder']);
      if (bo !== null && BigInt(bo.trim()) !== 0n) order ??= `data.components.${kind}.${name}.buildorder`;
      const ba = Array.isArray(c['buildafter']) ? c['buildafter'].map((x) => str(x) ?? '') : [];
      if (ba.length) after ??= `data.components.${kind}.${name}.buildafter`;
      const unknown = ba.find((x) => !Object.prototype.hasOwnProperty.call(rpms, x));
      if (unknown !== undefined) return bad(`data.components.${kind}.${name}.buildafter`, `names "${unknown}", which is not an rpm component of the stream`);
    }
  }
  if (order && after) return bad(after, `cannot be used in a stream that uses buildorder (${order})`);
  // An rpm-map entry has every part of its NEVRA, and its nevra is them put together.
  const artifacts = isMap(d['artifacts']) ? d['artifacts'] : {};
  const rpmMap = isMap(artifacts['rpm-map']) ? artifacts['rpm-map'] : {};
  for (const [digest, entries] of Object.entries(rpmMap)) {
    if (!isMap(entries)) continue;
    for (const [checksum, e] of Object.entries(entries)) {
      if (!isMap(e)) continue;
      const at = `data.artifacts.rpm-map.${digest}.${checksum}`;
      for (const k of ['name', 'epoch', 'version', 'release', 'arch', 'nevra']) if (e[k] === undefined || e[k] === null) return bad(`${at}.${k}`, 'is missing');
      const exploded = `${str(e['name'])}-${str(e['epoch'])}:${str(e['version'])}-${str(e['release'])}.${str(e['arch'])}`;
      if (str(e['nevra']) !== exploded) return bad(`${at}.nevra`, `"${str(e['nevra'])}" differs from its parts (${exploded})`);
    }
  }
  return null;
}

/** Parse a modulemd YAML stream into its documents. */
export function parseModulemd(text: string | Buffer, file = 'modules.yaml'): ModulemdDocument[] {
  const { parseAllDocuments, visit, LineCounter } = yaml();
  const lineCounter = new LineCounter();
  // UTF-8 as libyaml reads it (libmodulemd: "Parser error" on another byte, and dnf reads no
  // module of the file); Buffer.toString put U+FFFD in its place, and the push published it.
  let source: string;
  if (typeof text === 'string') source = text;
  else {
    const d = decodeStagedText(text);
    if (d.error !== undefined) throw new StagepushError('MODULEMD_INVALID', `${file}: ${d.error}`, { file, field: 'encoding' });
    source = d.text;
  }
  const docs = parseAllDocuments(source, { schema: 'failsafe', uniqueKeys: true, lineCounter });
  const out: ModulemdDocument[] = [];
  (Array.isArray(docs) ? docs : [docs]).forEach((d, idx) => {
    if (d.errors.length) fail(file, idx, 'YAML', `is not valid: ${d.errors[0]!.message}`);
    // An alias naming no anchor (or too many uses of one) threw a bare ReferenceError from toJS.
    const alias = aliasProblems(d)[0];
    if (alias) fail(file, idx, 'YAML', `is not valid: line ${lineCounter.linePos(alias.offset).line}: ${alias.message}`);
    if (d.contents === null) return; // empty document (e.g. a trailing ---)
    visit(d, {
      Scalar(_k, node) {
        if (node.type === 'PLAIN' && typeof node.value === 'string' && (node.value === '' || node.value === '~' || /^null$/i.test(node.value))) node.value = null;
      },
    });
    const js = d.toJS({ maxAliasCount: -1 }) as unknown;
    if (!isMap(js)) fail(file, idx, 'document', 'is not a mapping');
    const m = js as Record<string, YamlValue>;
    const kind = str(m['document']);
    if (!kind) fail(file, idx, 'document', 'is missing');
    const ver = str(m['version']);
    if (!ver || !/^\d+$/.test(ver)) fail(file, idx, 'version', `is not an integer: ${JSON.stringify(m['version'])}`);
    if (!isMap(m['data'])) fail(file, idx, 'data', 'is missing or not a mapping');
    const doc: ModulemdDocument = { document: kind!, version: Number(ver), data: m['data'] as Record<string, YamlValue> };
    if (doc.document === 'modulemd') moduleStream(doc, file, idx);
    else if (doc.document === 'modulemd-defaults') moduleDefaults(doc, file, idx);
    out.push(doc);
  });
  return out;
}

/** Typed view of a `modulemd` v2 document (throws MODULEMD_INVALID when a required field is missing). */
export function moduleStream(doc: ModulemdDocument, file = 'modules.yaml', idx = 0): ModuleStream {
  if (doc.document !== 'modulemd') fail(file, idx, 'document', `is ${doc.document}, not modulemd`);
  if (doc.version !== 2) fail(file, idx, 'version', `${doc.version} is not supported (modulemd v2 only)`);
  const d = doc.data;
  const need = (k: string): string => {
    const raw = d[k];
    if (raw !== undefined && raw !== null && typeof raw === 'object') fail(file, idx, `data.${k}`, `must be a scalar, not ${Array.isArray(raw) ? 'a list' : 'a mapping'}`);
    const v = str(raw);
    if (v === null || v === '') fail(file, idx, `data.${k}`, 'is missing');
    return v!;
  };
  const name = need('name');
  const stream = need('stream');
  const version = need('version');
  if (!/^\d+$/.test(version)) fail(file, idx, 'data.version', `is not an unsigned integer: ${version}`);
  const context = need('context');
  const arch = need('arch');
  // What libmodulemd requires and refuses (dnf drops a stream it cannot read, with a warning on every run).
  for (const k of ['summary', 'description']) if (d[k] === undefined || d[k] === null) fail(file, idx, `data.${k}`, 'is missing (libmodulemd refuses the document)');
  const lic = isMap(d['license']) ? d['license'] : {};
  if (!str(lic['module']) && !strList(lic['module']).length) fail(file, idx, 'data.license.module', 'is missing or empty (libmodulemd refuses the document: a module stream names its license)');
  const shape = shapeProblem(d, STREAM_V2, 'data', 'modulemd v2') ?? streamRuleProblem(d);
  if (shape) fail(file, idx, shape.field, shape.why);
  const profiles: Record<string, ModuleProfile> = {};
  if (isMap(d['profiles'])) {
    for (const [k, v] of Object.entries(d['profiles'])) profiles[k] = { description: isMap(v) ? str(v['description']) : null, rpms: isMap(v) ? strList(v['rpms']) : [] };
  }
  const deps: ModuleDependency[] = [];
  for (const dep of Array.isArray(d['dependencies']) ? d['dependencies'] : []) {
    const conv = (v: YamlValue | undefined) => {
      const r: Record<string, string[]> = {};
      if (isMap(v)) for (const [k, s] of Object.entries(v)) r[k] = Array.isArray(s) ? strList(s) : [];
      return r;
    };
    deps.push({ buildrequires: conv(isMap(dep) ? dep['buildrequires'] : undefined), requires: conv(isMap(dep) ? dep['requires'] : undefined) });
  }
  return {
    name,
    stream,
    version,
    context,
    arch,
    summary: str(d['summary']) ?? '',
    description: str(d['description']) ?? '',
    license: { module: strList(lic['module']), content: strList(lic['content']) },
    artifacts: { rpms: isMap(d['artifacts']) ? strList(d['artifacts']['rpms']) : [] },
    profiles,
    dependencies: deps,
    nsvca: `${name}:${stream}:${version}:${context}:${arch}`,
  };
}

/** Typed view of a `modulemd-defaults` v1 document. */
export function moduleDefaults(doc: ModulemdDocument, file = 'modules.yaml', idx = 0): ModuleDefaults {
  if (doc.document !== 'modulemd-defaults') fail(file, idx, 'document', `is ${doc.document}, not modulemd-defaults`);
  if (doc.version !== 1) fail(file, idx, 'version', `${doc.version} is not supported (modulemd-defaults v1 only)`);
  const d = doc.data;
  const module = str(d['module']);
  if (!module) fail(file, idx, 'data.module', 'is missing');
  const shape = shapeProblem(d, DEFAULTS_V1, 'data', 'modulemd-defaults v1');
  if (shape) fail(file, idx, shape.field, shape.why);
  const profiles: Record<string, string[]> = {};
  if (isMap(d['profiles'])) for (const [k, v] of Object.entries(d['profiles'])) profiles[k] = strList(v);
  return { module: module!, stream: str(d['stream']), profiles, modified: str(d['modified']) };
}

/** One document as YAML text (`---` … `...`). Strings that look like numbers/bools are quoted (libmodulemd reads them by field). */
export function dumpModulemdDocument(doc: ModulemdDocument): string {
  const y = new (yaml().Document)({ document: doc.document, version: doc.version, data: doc.data });
  const body = y.toString({ lineWidth: 0, nullStr: '' });
  return `---\n${body}...\n`;
}

/** A modules.yaml stream of documents. */
export function writeModulemd(docs: Iterable<ModulemdDocument>): string {
  let s = '';
  for (const d of docs) s += dumpModulemdDocument(d);
  return s;
}
