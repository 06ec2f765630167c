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
 * The keys libmodulemd (2.14, as dnf reads modules.yaml) accepts in a modulemd v2 stream's
 * `data`: it refuses a document with any other key, at any depth, and dnf then drops the whole
 * stream. `'*'` as a key: any key (its value as given); as a value: anything (xmd). `[spec]`: a
 * list of such values. Scalars and lists of scalars are 'v'.
 */
type KeySpec = 'v' | '*' | KeySpec[] | { [key: string]: KeySpec };
const RPM_COMPONENT: KeySpec = { name: 'v', rationale: 'v', repository: 'v', cache: 'v', ref: 'v', buildroot: 'v', 'srpm-buildroot': 'v', buildorder: 'v', arches: 'v', multilib: 'v', buildafter: 'v', buildonly: 'v' };
const MODULE_COMPONENT: KeySpec = { rationale: 'v', repository: 'v', ref: 'v', buildorder: 'v', buildafter: 'v', buildonly: 'v' };
const RPMS_ONLY: KeySpec = { rpms: 'v' };
const STREAM_V2: { [key: string]: KeySpec } = {
  name: 'v', stream: 'v', version: 'v', context: 'v', static_context: 'v', arch: 'v', summary: 'v', description: 'v',
  servicelevels: { '*': { eol: 'v' } },
  license: { module: 'v', content: 'v' },
  xmd: '*',
  dependencies: [{ buildrequires: { '*': 'v' }, requires: { '*': 'v' } }],
  references: { community: 'v', documentation: 'v', tracker: 'v' },
  profiles: { '*': { description: 'v', rpms: 'v', default: 'v' } },
  api: RPMS_ONLY, filter: RPMS_ONLY, demodularized: RPMS_ONLY,
  buildopts: { rpms: { macros: 'v', whitelist: 'v' }, arches: 'v' },
  components: { rpms: { '*': RPM_COMPONENT }, modules: { '*': MODULE_COMPONENT } },
  artifacts: { rpms: 'v', 'rpm-map': '*' },
};

/** The first key of `v` (at `at`) that `spec` does not allow, as a dotted path; null when none. */
function unknownKey(v: YamlValue | undefined, spec: KeySpec, at: string): string | null {
  if (spec === '*' || spec === 'v' || v === undefined || v === null) return null;
  if (Array.isArray(spec)) {
    if (!Array.isArray(v)) return null;
    for (let i = 0; i < v.length; i++) {
      const bad = unknownKey(v[i], spec[0]!, `${at}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (!isMap(v)) return null;
  for (const [k, x] of Object.entries(v)) {
    const sub = spec[k] ?? spec['*'];
    if (sub === undefined) return `${at}.${k}`;
    const bad = unknownKey(x, sub, `${at}.${k}`);
    if (bad) return bad;
  }
  return null;
}

/** Parse a modulemd YAML stream into its documents. */
export function parseModulemd(text: string | Buffer, file = 'modules.yaml'): ModulemdDocument[] {
  const { parseAllDocuments, visit, LineCounter } = yaml();
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text.toString(), { schema: 'failsafe', uniqueKeys: true, lineCounter });
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
  const unknown = unknownKey(d, STREAM_V2, 'data');
  if (unknown) fail(file, idx, unknown, 'is not a modulemd v2 key (libmodulemd refuses the document)');
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
