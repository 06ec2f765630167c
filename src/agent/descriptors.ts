/**
 * Handler descriptors: INI files declaring which handler classes provide which capability for
 * which types (Pulp's agent descriptors):
 *
 *   [main]          enabled = true|yes|1 loads the descriptor (false|no|0 leaves it out)
 *   [types]         content = <content type ids, comma separated>
 *                   bind    = <distributor type ids, comma separated>
 *                   system  = <OS name as os.type() reports it, e.g. Linux>
 *   [<type id>]     class = <module>:<Export>, plus any properties: the handler's configuration
 *                   (one such section for each type listed in [types], and no other section)
 *
 * The `ini` package reads the values; it accepts almost anything, so every line is checked here
 * first: a malformed line, a key outside a section, a duplicate section or key is an error naming
 * the file and line.
 */
import ini from 'ini';
import type { Problem } from '../errors.js';
import type { Capability } from './handler.js';

export interface DescriptorType {
  capability: Capability;
  typeId: string;
  /** `<module>:<Export>` as written. */
  className: string;
  module: string;
  exportName: string;
  /** The section's other properties. */
  config: Record<string, string>;
  /** Line of the section header. */
  line: number;
}

export interface Descriptor {
  file: string;
  enabled: boolean;
  types: DescriptorType[];
}

export interface DescriptorContext {
  /** Content type ids the engine declares. */
  contentTypes: ReadonlySet<string>;
  /** Distributor type ids of installed distributors. */
  distributorTypes: ReadonlySet<string>;
}

const SECTION_RE = /^\[([^\]]*)\]\s*$/;
/**
 * Section names and [types] values: every id the engine accepts for a content or distributor type
 * (letters, digits, _ . -, as in acme.tar_distributor), and the OS names os.type() gives.
 */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const TYPES_KEYS = new Set(['content', 'bind', 'system']);

interface Layout {
  /** Section name → line of its header. */
  sections: Map<string, number>;
  /** "section\0key" → line. */
  keys: Map<string, number>;
}

/** Check every line; returns the layout and one problem per bad line. */
export function checkIniSyntax(text: string, file: string): { layout: Layout; problems: Problem[] } {
  const problems: Problem[] = [];
  const sections = new Map<string, number>();
  const keys = new Map<string, number>();
  let current: string | null = null;
  const bad = (n: number, message: string, entry?: string) =>
    problems.push({ code: 'AGENT_DESCRIPTOR_SYNTAX', message: `line ${n}: ${message}`, file, ...(entry ? { entry } : {}) });
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const s = raw.trim();
    if (s === '' || s.startsWith(';') || s.startsWith('#')) return;
    if (s.startsWith('[')) {
      const m = SECTION_RE.exec(s);
      if (!m) return bad(n, `malformed section header "${s}" (expected [name])`);
      const name = m[1]!.trim();
      if (!NAME_RE.test(name) || name === '__proto__') return bad(n, `invalid section name "${name}" (letters, digits, _ . + - only)`);
      if (sections.has(name)) return bad(n, `duplicate section [${name}] (first on line ${sections.get(name)})`, name);
      sections.set(name, n);
      current = name;
      return;
    }
    const eq = s.indexOf('=');
    if (eq < 0) return bad(n, `expected "key = value", a [section] or a comment, got "${s}"`);
    const key = s.slice(0, eq).trim();
    if (!KEY_RE.test(key) || key === '__proto__') return bad(n, `invalid key "${key}"`);
    if (current === null) return bad(n, `key "${key}" outside any section`);
    const id = `${current}\0${key}`;
    if (keys.has(id)) return bad(n, `duplicate key "${key}" in [${current}] (first on line ${keys.get(id)})`, current);
    keys.set(id, n);
  });
  return { layout: { sections, keys }, problems };
}

/**
 * Parse the values (after checkIniSyntax found no problem): section → key → string value. `ini`
 * reads a "." in a section name as nesting ([acme.tar] would be section "acme" holding "tar"), and
 * takes an indented header for a key: every header is given to it unindented, its dots escaped.
 */
function readValues(text: string): Record<string, Record<string, string>> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const headers = lines.map((raw) => {
    const m = SECTION_RE.exec(raw.trim());
    return m ? `[${m[1]!.trim().replace(/\./g, '\\.')}]` : raw;
  });
  const parsed = ini.decode(headers.join('\n')) as Record<string, unknown>;
  const out: Record<string, Record<string, string>> = {};
  for (const [name, body] of Object.entries(parsed)) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) continue;
    const sec: Record<string, string> = {};
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) sec[k] = v === null ? 'null' : String(v);
    out[name] = sec;
  }
  return out;
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

/**
 * Read and validate a descriptor. A descriptor with any problem is refused as a whole (the
 * problems name the file and the section / key); the caller loads the others.
 */
export function parseDescriptor(file: string, text: string, ctx: DescriptorContext): { descriptor: Descriptor | null; problems: Problem[] } {
  const { layout, problems } = checkIniSyntax(text, file);
  if (problems.length) return { descriptor: null, problems };
  const values = readValues(text);
  const p = (code: string, message: string, entry?: string, field?: string): Problem => ({
    code,
    message,
    file,
    ...(entry !== undefined ? { entry } : {}),
    ...(field !== undefined ? { field } : {}),
  });
  const main = values.main;
  if (!layout.sections.has('main') || !main) return { descriptor: null, problems: [p('AGENT_DESCRIPTOR_NO_MAIN', 'missing section [main]', 'main')] };
  if (main.enabled === undefined) return { descriptor: null, problems: [p('AGENT_DESCRIPTOR_NO_ENABLED', '[main] has no "enabled" (true|yes|1 loads the handler)', 'main', 'enabled')] };
  const en = main.enabled.trim().toLowerCase();
  let enabled: boolean;
  if (['true', 'yes', '1'].includes(en)) enabled = true;
  else if (['false', 'no', '0'].includes(en)) enabled = false;
  else return { descriptor: null, problems: [p('AGENT_DESCRIPTOR_BAD_VALUE', `[main] enabled: expected true|yes|1 or false|no|0, got "${main.enabled}"`, 'main', 'enabled')] };
  // [main] holds only "enabled" (a misspelt key would be ignored silently).
  const mainProblems = Object.keys(main)
    .filter((k) => k !== 'enabled')
    .map((k) => p('AGENT_DESCRIPTOR_UNKNOWN_KEY', `[main] has unknown key "${k}" (only "enabled")`, 'main', k));
  if (mainProblems.length) return { descriptor: null, problems: mainProblems };
  if (!enabled) return { descriptor: { file, enabled: false, types: [] }, problems: [] };

  const types = values.types;
  if (!layout.sections.has('types') || !types) return { descriptor: null, problems: [p('AGENT_DESCRIPTOR_NO_TYPES', 'missing section [types]', 'types')] };
  for (const key of Object.keys(types)) {
    if (!TYPES_KEYS.has(key)) problems.push(p('AGENT_DESCRIPTOR_UNKNOWN_KEY', `[types] has unknown key "${key}" (content, bind, system)`, 'types', key));
  }
  const listed: Array<{ capability: Capability; typeId: string }> = [];
  const addList = (capability: Capability, known: ReadonlySet<string> | null, what: string) => {
    const raw = types[capability];
    if (raw === undefined) return;
    const ids = capability === 'system' ? [raw.trim()] : splitList(raw);
    if (capability === 'system' && raw.includes(',')) {
      problems.push(p('AGENT_DESCRIPTOR_BAD_VALUE', `[types] system: one OS name expected (as os.type() reports it, e.g. Linux), got "${raw}"`, 'types', 'system'));
      return;
    }
    // OS names as os.type() gives them: "linux" would never match "Linux".
    const OS_NAMES = ['Linux', 'Darwin', 'Windows_NT', 'FreeBSD', 'OpenBSD', 'NetBSD', 'SunOS', 'AIX'];
    const osCase = capability === 'system' ? OS_NAMES.find((n) => n.toLowerCase() === ids[0]!.toLowerCase() && n !== ids[0]) : undefined;
    if (osCase) {
      problems.push(p('AGENT_DESCRIPTOR_BAD_VALUE', `[types] system: "${ids[0]}" never matches: OS names are as os.type() reports them ("${osCase}")`, 'types', 'system'));
      return;
    }
    const seen = new Set<string>();
    for (const id of ids) {
      if (id === '' || !NAME_RE.test(id)) {
        problems.push(p('AGENT_DESCRIPTOR_BAD_VALUE', `[types] ${capability}: invalid type id "${id}" in "${raw}"`, 'types', capability));
        continue;
      }
      if (seen.has(id)) {
        problems.push(p('AGENT_DESCRIPTOR_BAD_VALUE', `[types] ${capability}: "${id}" is listed twice`, 'types', capability));
        continue;
      }
      seen.add(id);
      if (known && !known.has(id)) {
        const list = [...known].sort().join(', ') || 'none';
        problems.push(p('AGENT_DESCRIPTOR_UNKNOWN_TYPE', `[types] ${capability}: "${id}" is not ${what} (known: ${list})`, 'types', capability));
        continue;
      }
      listed.push({ capability, typeId: id });
    }
  };
  addList('content', ctx.contentTypes, 'a content type the engine declares');
  addList('bind', ctx.distributorTypes, 'an installed distributor type');
  addList('system', null, '');
  if (!problems.length && !listed.length) problems.push(p('AGENT_DESCRIPTOR_NO_TYPES', '[types] lists no content, bind or system type', 'types'));
  // A descriptor has [main], [types] and a section for each type [types] lists, nothing else (the
  // handler descriptor format): any other section would never be read, its class never loaded,
  // and a type left out of [types] by mistake would go unnoticed.
  const named = new Set(Object.values(types).flatMap(splitList));
  for (const name of layout.sections.keys()) {
    if (name === 'main' || name === 'types' || named.has(name)) continue;
    const why = values[name]?.class !== undefined ? `its class ${values[name]!.class} would never load` : 'nothing would read it';
    problems.push(p('AGENT_DESCRIPTOR_UNLISTED_SECTION', `[${name}] is not listed in [types] (content, bind or system): ${why}`, name));
  }

  const out: DescriptorType[] = [];
  for (const { capability, typeId } of listed) {
    const sec = values[typeId];
    if (!layout.sections.has(typeId) || !sec) {
      problems.push(p('AGENT_DESCRIPTOR_NO_SECTION', `type "${typeId}" is listed in [types] ${capability} but has no section [${typeId}]`, typeId));
      continue;
    }
    const cls = sec.class;
    if (cls === undefined || cls.trim() === '') {
      problems.push(p('AGENT_DESCRIPTOR_NO_CLASS', `[${typeId}] has no "class" (<module>:<Export>)`, typeId, 'class'));
      continue;
    }
    const c = cls.trim();
    const colon = c.lastIndexOf(':');
    const mod = colon > 0 ? c.slice(0, colon).trim() : '';
    const exp = colon > 0 ? c.slice(colon + 1).trim() : '';
    if (!mod || !/^[A-Za-z_$][\w$]*$/.test(exp)) {
      problems.push(p('AGENT_DESCRIPTOR_BAD_CLASS', `[${typeId}] class: expected <module>:<Export>, got "${c}"`, typeId, 'class'));
      continue;
    }
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(sec)) if (k !== 'class') config[k] = v;
    out.push({ capability, typeId, className: c, module: mod, exportName: exp, config, line: layout.sections.get(typeId)! });
  }
  if (problems.length) return { descriptor: null, problems };
  return { descriptor: { file, enabled: true, types: out }, problems: [] };
}
