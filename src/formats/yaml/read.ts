/**
 * Reading YAML and JSON as pushsource's Python reads them (PyYAML's safe_load, json.loads): strict
 * UTF-8, YAML 1.1 scalars whatever a %YAML directive says, merge keys, PyYAML's refusals (duplicate
 * anchors, nesting beyond its limits), integers beyond 2^53 kept as digits or refused. The staged
 * source reads every metadata file through it, and the yum importer an uploaded advisory.
 */
import type { Scalar } from 'yaml';
import { fastYaml } from './fast.js';
import { aliasProblems } from './aliases.js';

/**
 * The `yaml` package's YAML 1.1 tags, resolving plain scalars exactly as PyYAML's safe_load does
 * (its implicit resolvers): `08`, `1e5`, `+.5`, `0:0` and `2020-1-1` are strings there, an
 * impossible date (2020-13-45) and `=` are errors. The fast reader bails out to this parser on
 * all of these, so both read a file the same way.
 */
type YamlTag = { tag?: string; format?: string; test?: RegExp; identify?: (v: unknown) => boolean; resolve?: (s: string, onError: (m: string) => void, o: unknown) => unknown };
const PY_TESTS: Record<string, RegExp> = {
  'int:': /^[-+]?(?:0|[1-9][0-9_]*)$/,
  'int:TIME': /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/,
  'float:EXP': /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*[eE][-+][0-9]+|\.[0-9][0-9_]*[eE][-+][0-9]+)$/,
  'float:': /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/,
  'timestamp:': /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
};
function pyyamlTags(tags: unknown[]): unknown[] {
  const out = tags.map((t) => {
    const tag = t as YamlTag;
    if (!tag.test || !tag.tag) return t;
    if (tag.tag === 'tag:yaml.org,2002:bool') {
      const isTrue = tag.identify?.(true) === true;
      return { ...tag, test: isTrue ? /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/ : /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/ };
    }
    // The plain float tag and the inf/nan one both have no format: told apart by what they match.
    const kind = `${tag.tag.slice('tag:yaml.org,2002:'.length)}:${tag.format ?? ''}`;
    const py = kind === 'float:' && tag.test.test('.inf') ? undefined : PY_TESTS[kind];
    if (!py) return t;
    if (tag.tag !== 'tag:yaml.org,2002:timestamp') return { ...tag, test: py };
    const resolve = tag.resolve!;
    return {
      ...tag,
      test: py,
      // PyYAML builds a datetime: a month, day, hour, minute or second out of range is an error,
      // not rolled over.
      resolve: (s: string, onError: (m: string) => void, o: unknown) => {
        const [y, mo, d] = s.split(/[-Tt \t]/).map(Number) as [number, number, number];
        if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) onError(`${s}: not a valid date (month or day out of range)`);
        const t = /[Tt \t]+([0-9]{1,2}):([0-9]{2}):([0-9]{2})/.exec(s);
        if (t && (Number(t[1]) > 23 || Number(t[2]) > 59 || Number(t[3]) > 59)) onError(`${s}: not a valid time (hour must be in 0..23, minute and second in 0..59)`);
        const value = resolve(s, onError, o);
        // The day as written (PyYAML keeps a datetime's own offset; a Date is an instant in UTC,
        // which moves "2024-05-01 23:30:00 -05:00" to May 2): read by the model's datestr.
        if (value instanceof Date) Object.defineProperty(value, 'yamlDate', { value: `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}` });
        return value;
      },
    };
  });
  // `=` is the YAML 1.1 value key: PyYAML's safe_load has no constructor for it.
  out.push({ tag: 'tag:yaml.org,2002:value', default: true, test: /^=$/, resolve: (s: string, onError: (m: string) => void) => (onError(`could not determine a constructor for the tag 'tag:yaml.org,2002:value' (${s})`), s) });
  return out;
}

/** Parse YAML (PyYAML safe_load semantics: YAML 1.1, duplicate keys allowed) or JSON. */
/** Offset of the first byte that does not start or continue a valid UTF-8 sequence (-1: none). */
function firstBadUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0 || i + n >= buf.length) return i;
    for (let k = 1; k <= n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    // Overlong, surrogate and out-of-range forms.
    if (n === 2) {
      const cp = ((b & 0x0f) << 12) | ((buf[i + 1]! & 0x3f) << 6);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    }
    if (n === 3) {
      const cp = ((b & 0x07) << 18) | ((buf[i + 1]! & 0x3f) << 12);
      if (cp < 0x10000 || cp > 0x10ffff) return i;
    }
    i += n + 1;
  }
  return -1;
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return `line ${line}, column ${offset - start + 1}`;
}

/**
 * A staged text file's bytes as text, decoded as pushsource's Python reads them: UTF-8 (a
 * leading BOM kept, as open(..., "rt") keeps it), refused when a byte cannot be decoded (Python
 * fails on it; Node would silently put U+FFFD in its place).
 */
export function decodeStagedText(buf: Buffer): { text: string; error?: undefined } | { text?: undefined; error: string } {
  let text: string;
  try {
    // The byte order mark is kept: YAML skips it (parseData), JSON refuses it, as Python's do.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    const at = firstBadUtf8(buf);
    const where = at >= 0 ? ` (byte 0x${buf[at]!.toString(16).padStart(2, '0')} at ${lineCol(buf.subarray(0, at).toString('latin1'), at)})` : '';
    return { error: `not valid UTF-8${where}: save it as UTF-8` };
  }
  return { text };
}

/** The characters PyYAML's reader refuses anywhere in a stream (even inside quotes or comments). */
// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const YAML_NON_PRINTABLE = /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * JSON.parse's message made readable in a one-line problem: V8 names a character offset ("at
 * position 188"), which in a pretty-printed pub-mapfile.json or advisory points nowhere one can
 * see, so it becomes the line and column; and it quotes the text around a bad token with its line
 * breaks (a YAML document in a .json file), which are written escaped.
 */
function jsonErrorText(message: string, text: string): string {
  const pos = / at position (\d+)/.exec(message);
  const out = pos ? message.replace(pos[0], ` at ${lineCol(text, Number(pos[1]))}`).replace(/ \(line \d+ column \d+\)$/, '') : message;
  return out.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/**
 * `exactIntegers`: an integer beyond 2^53 is read as its digits (see integersOf), for an
 * advisory, whose integers pushsource turns into strings; elsewhere it is refused, naming where
 * it is (as digits it would pass a field that must be a string; as a number it would be rounded).
 */
export async function parseData(text: string, asJson: boolean, opts: { exactIntegers?: boolean } = {}): Promise<{ value?: unknown; error?: string }> {
  if (text.charCodeAt(0) === 0xfeff) {
    if (asJson) return { error: 'invalid JSON: the file starts with a UTF-8 byte order mark (pushsource reads it with json.loads, which refuses it): save it without one' };
    text = text.slice(1); // PyYAML skips it
  }
  if (!asJson) {
    const bad = YAML_NON_PRINTABLE.exec(text);
    if (bad) {
      const cp = bad[0].codePointAt(0)!;
      return { error: `invalid YAML: unacceptable character #x${cp.toString(16).padStart(4, '0')} at ${lineCol(text, bad.index)}: special characters are not allowed (PyYAML, which pushsource reads with, refuses it)` };
    }
  }
  if (asJson) {
    try {
      const deep = jsonTooDeepAt(text, MAX_JSON_DEPTH);
      if (deep >= 0) return { error: `invalid JSON: ${tooDeep(MAX_JSON_DEPTH, '')} (${lineCol(text, deep)})` };
      return { value: parseJsonExact(text, opts.exactIntegers ? 'digits' : 'refuse') };
    } catch (e) {
      return { error: `invalid JSON: ${jsonErrorText((e as Error).message, text)}` };
    }
  }
  // NEL is a line break to PyYAML (YAML 1.1), read as LF: left as a character, a quoted
  // description kept a NEL that PyYAML folds away. Inside a quoted scalar the LF is followed by
  // its line's indentation: PyYAML does not ask a quoted scalar's next line to be indented, the
  // YAML 1.2 parser does, and folding drops it. (LS and PS, which PyYAML keeps in the value where
  // they stand, are left as they are.)
  if (text.includes('\x85')) text = text.replace(/^([ \t]*)(.*)$/gm, (line, indent: string, rest: string) => (rest.includes('\x85') ? indent + nelAsLineBreak(rest, indent) : line));
  const fast = fastYaml(text);
  if (fast !== undefined) return { value: fast }; // (it reads no integer beyond 2^53: it leaves them to the full parser)
  return parseYamlFull(text, opts);
}

/** A line's NELs as line breaks; in a quoted scalar (an odd count of quotes before it), the next line indented as this one. */
function nelAsLineBreak(rest: string, indent: string): string {
  let out = '';
  let from = 0;
  for (let i = rest.indexOf('\x85'); i >= 0; i = rest.indexOf('\x85', i + 1)) {
    const before = rest.slice(0, i);
    const quoted = (before.replace(/\\./g, '').split('"').length - 1) % 2 === 1 || (before.split("'").length - 1) % 2 === 1;
    out += rest.slice(from, i) + (quoted ? `\n${indent}` : '\n');
    from = i + 1;
  }
  return out + rest.slice(from);
}

/**
 * The deepest nesting of collections a staged file may have. pushsource's readers stop far
 * sooner (Python's recursion limit: PyYAML's composer cannot read more than about 490 nested
 * collections, json.loads about 990), so a deeper file is refused as a parse error naming it;
 * below these, every reader here that recurses once per level (the YAML composer, the fast
 * reader, the schema validator, the integer walker, the model) stays far from Node's stack limit,
 * which a file 5,000 levels deep overflowed (exit 1, "Maximum call stack size exceeded").
 */
export const MAX_YAML_DEPTH = 500;
export const MAX_JSON_DEPTH = 1000;

function tooDeep(max: number, at: string): string {
  if (at.length > 60) at = `${at.slice(0, 60)}…`;
  return `${at ? `${at} is` : 'the document is'} nested more than ${max} levels deep (pushsource's ${max === MAX_JSON_DEPTH ? 'json.loads' : 'PyYAML'} cannot read it either)`;
}

/**
 * The offset of the bracket that opens a JSON text's collection `max + 1` levels deep, or -1. On
 * the text (strings skipped), not the parsed value: the scan takes about a quarter of
 * JSON.parse's time, a walk of the parsed value took more than JSON.parse.
 */
function jsonTooDeepAt(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: to its closing quote, past escapes.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/**
 * Where a value contains itself (YAML's `&a [*a]`) or nests more than `maxDepth` collections
 * (aliases can nest a shallow text deeply): the message, or null. Shared (non-recursive) aliases
 * are fine. Iterative, so that no depth overflows the stack.
 */
function shapeError(root: unknown, maxDepth: number): string | null {
  const open = new Set<object>();
  const stack: Array<{ v: object; at: string; keys: string[]; i: number }> = [];
  const path = (at: string, k: string, arr: boolean) => (arr ? `${at}[${k}]` : at ? `${at}.${k}` : k);
  const enter = (v: unknown, at: string): string | null => {
    if (v === null || typeof v !== 'object' || v instanceof Date || Buffer.isBuffer(v)) return null;
    if (open.has(v)) return `${at || 'the document'} contains itself (an alias to an anchor around it): staged metadata cannot be recursive`;
    if (stack.length >= maxDepth) return tooDeep(maxDepth, at);
    open.add(v);
    stack.push({ v, at, keys: Object.keys(v), i: 0 });
    return null;
  };
  let err = enter(root, '');
  while (err === null && stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.i === top.keys.length) {
      open.delete(top.v);
      stack.pop();
      continue;
    }
    const k = top.keys[top.i++]!;
    err = enter((top.v as Record<string, unknown>)[k], path(top.at, k, Array.isArray(top.v)));
  }
  return err;
}

/**
 * What PyYAML refuses in the directives of the (single) document: a second %YAML directive, a
 * version other than 1.x ("found incompatible YAML document"), or a %TAG handle declared twice
 * ("duplicate tag handle"; this parser took the last one). Any 1.x is read as 1.1 (PyYAML knows
 * no other); this parser would only warn.
 */
function yamlDirectiveError(YAML: typeof import('yaml'), text: string): string | undefined {
  let seen = false;
  const handles = new Set<string>();
  for (const token of new YAML.Parser().parse(text)) {
    if (token.type === 'document') break;
    if (token.type !== 'directive') continue;
    const handle = /^%TAG[ \t]+(\S+)/.exec(token.source)?.[1];
    if (handle !== undefined) {
      if (handles.has(handle)) return `duplicate tag handle ${handle} at ${lineCol(text, token.offset)}`;
      handles.add(handle);
    }
    if (!/^%YAML[ \t]/.test(token.source)) continue;
    if (seen) return `found duplicate YAML directive at ${lineCol(text, token.offset)}`;
    seen = true;
    const major = /^%YAML[ \t]+([0-9]+)\./.exec(token.source)?.[1];
    if (major !== undefined && Number(major) !== 1) return `found incompatible YAML document at ${lineCol(text, token.offset)} (${token.source.trim()}: version 1.* is required)`;
  }
  return undefined;
}

/** The full YAML parser with PyYAML's rules (what the fast reader falls back to). */
export async function parseYamlFull(text: string, opts: { exactIntegers?: boolean } = {}): Promise<{ value?: unknown; error?: string }> {
  const YAML = await import('yaml');
  try {
    const directive = /^%/m.test(text) ? yamlDirectiveError(YAML, text) : undefined;
    if (directive !== undefined) return { error: `invalid YAML: ${directive}` };
    // The YAML 1.1 schema whatever a %YAML directive says: PyYAML reads every document with its
    // 1.1 resolvers (yes/no/on/off booleans, 0x1F, 1_000, 1:30, timestamps), and a `%YAML 1.2`
    // would otherwise switch this parser to its core schema, whose bool tag (with the test of
    // pyyamlTags) read `yes` as false and left `no` a string.
    const docs = YAML.parseAllDocuments(text, { version: '1.1', schema: 'yaml-1.1', resolveKnownTags: false, uniqueKeys: false, merge: true, prettyErrors: true, customTags: pyyamlTags as never, intAsBigInt: true });
    const list = Array.isArray(docs) ? docs : [docs];
    if (list.length > 1) return { error: 'invalid YAML: expected a single document in the stream, found several' };
    const doc = list[0];
    if (!doc) return { value: null };
    // The composer recurses per level and says a stack overflow as RESOURCE_EXHAUSTION: the
    // file is nested far deeper than MAX_YAML_DEPTH.
    if (doc.errors.some((e) => e.code === 'RESOURCE_EXHAUSTION')) return { error: `invalid YAML: ${tooDeep(MAX_YAML_DEPTH, '')}` };
    if (doc.errors.length) return { error: `invalid YAML: ${doc.errors[0]!.message}` };
    // A block scalar whose last line of text ends the file, without a line break: PyYAML's
    // scanner adds no line break there (`|`, `>`, their `+` and indentation indicators give "x",
    // not "x\n"); this parser ends the content with one. Whether that last line is text is told
    // by the block's indentation, not by its characters: whatever follows the indentation is text
    // (a tab, or one space more: PyYAML reads "  x\n  \t" as "x\n\t"), and a line of no more
    // than the indentation adds nothing (both read it alike). So the scalar is read again without
    // the last line: when it reads the same, the line added nothing.
    const lastBreak = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    if (lastBreak < text.length - 1) {
      const ending: Scalar[] = [];
      YAML.visit(doc, {
        Scalar(_key, node) {
          if ((node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') && node.range?.[1] === text.length && typeof node.value === 'string' && node.value.endsWith('\n')) ending.push(node);
        },
      });
      if (ending.length) {
        const before = new Map<number, unknown>();
        const without = YAML.parseDocument(text.slice(0, lastBreak + 1), { version: '1.1', schema: 'yaml-1.1', resolveKnownTags: false, uniqueKeys: false, merge: true, customTags: pyyamlTags as never, intAsBigInt: true });
        YAML.visit(without, {
          Scalar(_key, node) {
            if (node.range) before.set(node.range[0], node.value);
          },
        });
        for (const node of ending) if (without.errors.length || before.get(node.range![0]) !== node.value) node.value = (node.value as string).slice(0, -1);
      }
    }
    // The bound is the size the aliases expand to, not their uses (1,000 uses of one anchor, a
    // staging area's files sharing their attributes, were refused); a loop is said below, with its path.
    const alias = aliasProblems(doc, { merge: true, allowLoops: true, uniqueAnchors: true })[0];
    if (alias) return { error: `invalid YAML: ${alias.message} at ${lineCol(text, alias.offset)}` };
    const value = doc.toJS({ maxAliasCount: -1 }) as unknown;
    const shape = shapeError(value, MAX_YAML_DEPTH);
    if (shape !== null) return { error: `invalid YAML: ${shape}` };
    return { value: integersOf(value, opts.exactIntegers ? 'digits' : 'refuse') };
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) return { error: `invalid YAML: ${tooDeep(MAX_YAML_DEPTH, '')}` };
    return { error: `invalid YAML: ${(e as Error).message}` };
  }
}

/**
 * The full parser's integers (it reads every one as a BigInt) as numbers, as JSON.parse gives
 * them. One beyond 2^53, which a number would silently round (12345678901234567891 became
 * "12345678901234567000"), is as `unsafe` says: `digits`, a string of its decimal digits (an
 * advisory: pushsource's int2str fields keep every digit, and a field that must be an integer
 * refuses it, naming it); `refuse`, an error naming where it is.
 */
function integersOf(v: unknown, unsafe: 'digits' | 'refuse', seen = new Set<object>(), at = ''): unknown {
  if (typeof v === 'bigint') {
    if (Number.isSafeInteger(Number(v))) return Number(v);
    if (unsafe === 'digits') return v.toString();
    throw new Error(`the integer ${v} at ${at || 'the top'} is beyond 2^53 and cannot be read exactly`);
  }
  if (v === null || typeof v !== 'object' || v instanceof Date || seen.has(v)) return v;
  seen.add(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = integersOf(v[i], unsafe, seen, `${at}[${i}]`);
  } else {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = integersOf(o[k], unsafe, seen, at ? `${at}.${k}` : k);
  }
  return v;
}

/**
 * JSON.parse, but an integer JavaScript cannot hold exactly becomes its digits as a string (see
 * integersOf), or is refused (`refuse`: where a number would be silently rounded).
 */
export function parseJsonExact(text: string, unsafeIntegers: 'digits' | 'refuse' = 'digits'): unknown {
  // Integer literals outside strings with 16 digits or more (the only ones that may be unsafe).
  const big = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{16,})(?![.eE\d])/g;
  let unsafe = false;
  for (let m = big.exec(text); m; m = big.exec(text)) {
    if (m[1] !== undefined && !Number.isSafeInteger(Number(m[1]))) {
      unsafe = true;
      break;
    }
  }
  if (!unsafe) return JSON.parse(text) as unknown;
  if (unsafeIntegers === 'refuse') {
    const value = JSON.parse(text) as unknown;
    big.lastIndex = 0;
    for (let m = big.exec(text); m; m = big.exec(text)) {
      if (m[1] !== undefined && !Number.isSafeInteger(Number(m[1]))) throw new Error(`the integer ${m[1]} (${lineCol(text, m.index)}) is beyond 2^53 and cannot be read exactly`);
    }
    return value;
  }
  big.lastIndex = 0;
  return JSON.parse(text.replace(big, (all, digits: string | undefined) => (digits !== undefined && !Number.isSafeInteger(Number(digits)) ? `"${digits}"` : all))) as unknown;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}
