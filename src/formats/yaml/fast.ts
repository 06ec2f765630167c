/**
 * A fast reader for the plain block-style YAML that tools write for staged.yaml (mappings,
 * sequences, plain / quoted one-line scalars). Scalars resolve as PyYAML's safe_load does (YAML
 * 1.1: yes/no/on/off booleans, ~ nulls). Anything outside that subset (flow collections, anchors,
 * tags, block scalars, multi-line scalars, octal/hex/sexagesimal numbers, timestamps, merge keys …)
 * returns `undefined`, and the caller uses the full YAML parser instead. About 10× faster than the
 * full parser on large metadata files.
 */

class Unsupported extends Error {}
const bail = (): never => {
  throw new Unsupported();
};

interface Line {
  indent: number;
  /** Content after the indentation (comment-only and blank lines are dropped). */
  text: string;
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUES = new Set(['yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSES = new Set(['no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const KEY_RE = /^([A-Za-z_][A-Za-z0-9_.\-/]*):(?:[ ]+(.*))?$/;

/** A plain scalar, as PyYAML resolves it; unsupported forms bail out. */
function plain(raw: string): unknown {
  // strip a trailing comment (" #")
  const hash = raw.indexOf(' #');
  let s = hash >= 0 ? raw.slice(0, hash) : raw;
  s = s.replace(/[ \t]+$/, '');
  if (NULLS.has(s)) return null;
  if (TRUES.has(s)) return true;
  if (FALSES.has(s)) return false;
  const c = s[0]!;
  if ('[]{}#&*!|>\'"%@`,?:'.includes(c)) bail();
  if (c === '-' && (s.length === 1 || s[1] === ' ')) bail();
  if (s.includes(': ') || s.endsWith(':') || s.includes('\t')) bail();
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) bail();
    return n;
  }
  if (/^[-+]?[0-9]+\.[0-9]*([eE][-+][0-9]+)?$/.test(s)) return Number(s);
  // Other YAML 1.1 numbers, timestamps, the value key, and anything number-like: full parser.
  if (/^[-+]?[0-9.]/.test(s) && /^[-+.0-9_:xXoObBeEaAfFiInN]+$/.test(s)) bail();
  if (/^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/.test(s)) bail();
  if (/^\d{4}-\d\d?-\d\d?/.test(s) || s === '=' || s === '<<') bail();
  return s;
}

function singleQuoted(raw: string): unknown {
  // 'text' with '' escapes, closed on this line, optionally followed by a comment
  let out = '';
  let i = 1;
  for (;;) {
    const j = raw.indexOf("'", i);
    if (j < 0) bail();
    out += raw.slice(i, j);
    if (raw[j + 1] === "'") {
      out += "'";
      i = j + 2;
      continue;
    }
    const rest = raw.slice(j + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) bail();
    return out;
  }
}

const ESC: Record<string, string> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0', ' ': ' ' };

function doubleQuoted(raw: string): unknown {
  let out = '';
  let i = 1;
  while (i < raw.length) {
    const ch = raw[i]!;
    if (ch === '"') {
      const rest = raw.slice(i + 1).trim();
      if (rest !== '' && !rest.startsWith('#')) bail();
      return out;
    }
    if (ch === '\\') {
      const e = raw[i + 1];
      if (e === undefined) bail();
      if (e === 'u' || e === 'x') {
        const len = e === 'u' ? 4 : 2;
        const hex = raw.slice(i + 2, i + 2 + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) bail();
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2 + len;
        continue;
      }
      const m = ESC[e!];
      if (m === undefined) bail();
      out += m;
      i += 2;
      continue;
    }
    out += ch;
    i++;
  }
  return bail();
}

/** Characters that end the fast reading of a flow collection (outside quotes). */
const FLOW_SPECIAL = '[]{}#&*!|>%@`';

/**
 * A flow collection on one line, not nested: `[]`, `[a, "b", 3]`, `{}`, `{k: v, k2: 'w'}` (what
 * tools write for short lists and for an erratum's package entries), optionally followed by a
 * comment. Items are split on commas outside quotes; each is a scalar as above. Nesting, a key
 * without a value, an empty item, a comment or a `: ` inside an item, or anything after the
 * closing bracket: the full parser.
 */
function flow(raw: string): unknown {
  const close = raw[0] === '[' ? ']' : '}';
  const items: string[] = [];
  // Items are cut out of `raw` by position (start..i), not built a character at a time.
  let start = 1;
  let quote: string | null = null;
  let end = -1;
  for (let i = 1; i < raw.length; i++) {
    const ch = raw[i]!;
    if (quote) {
      if (quote === '"' && ch === '\\') {
        if (i + 1 >= raw.length) bail();
        i++;
      } else if (ch === quote) {
        if (quote === "'" && raw[i + 1] === "'") i++;
        else quote = null;
      }
      continue;
    }
    if (ch === "'" || ch === '"') {
      const cur = raw.slice(start, i);
      if (cur.trim() !== '' && !/:\s+$/.test(cur)) bail(); // a quote inside a plain scalar
      quote = ch;
    } else if (ch === ',') {
      items.push(raw.slice(start, i));
      start = i + 1;
    } else if (ch === close) {
      end = i;
      break;
    } else if (FLOW_SPECIAL.includes(ch)) {
      // '#' right after a non-blank character is part of the scalar; anything else special: the full parser.
      if (ch !== '#' || i === start || /\s/.test(raw[i - 1]!)) bail();
    }
  }
  if (end < 0 || quote) bail();
  const cur = raw.slice(start, end);
  const rest = raw.slice(end + 1).trim();
  if (rest !== '' && !rest.startsWith('#')) bail();
  if (items.length || cur.trim() !== '') items.push(cur);
  const parts = items.map((x) => x.trim());
  if (parts.some((x) => x === '')) bail();
  // A ':' inside a plain scalar of a flow collection reads differently across YAML parsers.
  const flowScalar = (x: string): unknown => (x[0] !== '"' && x[0] !== "'" && x.includes(':') ? bail() : scalar(x));
  if (close === ']') return parts.map(flowScalar);
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    const m = KEY_RE.exec(part);
    if (!m || m[2] === undefined || m[2] === '') bail();
    const key = m![1]!;
    if (key === '__proto__' || NULLS.has(key) || TRUES.has(key) || FALSES.has(key)) bail();
    out[key] = flowScalar(m![2]!);
  }
  return out;
}

function scalar(raw: string): unknown {
  if (raw.startsWith("'")) return singleQuoted(raw);
  if (raw.startsWith('"')) return doubleQuoted(raw);
  if (raw.startsWith('[') || raw.startsWith('{')) return flow(raw);
  return plain(raw);
}

/** Deeper block collections are left to the full parser, which refuses them (see MAX_YAML_DEPTH): this one recurses per level. */
const MAX_DEPTH = 100;

class Parser {
  i = 0;
  depth = 0;
  constructor(readonly lines: Line[]) {}

  /** The block starting at line i, whose lines are indented exactly `indent`. */
  block(indent: number): unknown {
    const l = this.lines[this.i]!;
    if (l.text === '-' || l.text.startsWith('- ')) return this.seq(indent);
    if (KEY_RE.test(l.text)) return this.map(indent, l.text);
    return bail();
  }

  /** `read` one collection nested in the current one: past MAX_DEPTH, the full parser. */
  nest<T>(read: () => T): T {
    if (++this.depth > MAX_DEPTH) bail();
    try {
      return read();
    } finally {
      this.depth--;
    }
  }

  /** Value after `key:` with nothing on the line: a nested block, a same-indent sequence, or null. */
  nested(indent: number): unknown {
    const next = this.lines[this.i];
    if (!next) return null;
    if (next.indent > indent) return this.block(next.indent);
    if (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) return this.seq(indent);
    return null;
  }

  /** A mapping at `indent`; `first` is the text of its first line (may come after "- "). */
  map(indent: number, first: string): Record<string, unknown> {
    return this.nest(() => this.mapBody(indent, first));
  }

  seq(indent: number): unknown[] {
    return this.nest(() => this.seqBody(indent));
  }

  private mapBody(indent: number, first: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let text: string | undefined = first;
    for (;;) {
      const m = KEY_RE.exec(text);
      if (!m) bail();
      const key = m![1]!;
      if (key === '__proto__' || NULLS.has(key) || TRUES.has(key) || FALSES.has(key)) bail();
      const rawValue = m![2];
      this.i++;
      if (rawValue === undefined || rawValue === '' || rawValue.startsWith('#')) out[key] = this.nested(indent);
      else {
        out[key] = scalar(rawValue);
        const next = this.lines[this.i];
        if (next && next.indent > indent) bail(); // a multi-line scalar or a bad nesting
      }
      const next = this.lines[this.i];
      if (!next || next.indent < indent) return out;
      if (next.indent > indent) bail();
      if (next.text === '-' || next.text.startsWith('- ')) {
        // a sequence at this indent ends the mapping only when the mapping is its parent's value
        return out;
      }
      text = next.text;
    }
  }

  private seqBody(indent: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const l = this.lines[this.i];
      if (!l || l.indent !== indent || !(l.text === '-' || l.text.startsWith('- '))) return out;
      const rest = l.text === '-' ? '' : l.text.slice(2).replace(/^ +/, '');
      const col = indent + (l.text.length - rest.length);
      if (rest === '' || rest.startsWith('#')) {
        this.i++;
        const next = this.lines[this.i];
        out.push(next && next.indent > indent ? this.block(next.indent) : null);
      } else if (rest === '-' || rest.startsWith('- ')) {
        bail();
      } else if (KEY_RE.test(rest)) {
        out.push(this.map(col, rest));
      } else {
        this.i++;
        out.push(scalar(rest));
        const next = this.lines[this.i];
        if (next && next.indent > indent) bail();
      }
    }
  }
}

/** Parse `text` if it is in the supported subset (a block mapping at the top); else undefined. */
export function fastYaml(text: string): unknown {
  if (text.includes('\t') || text.charCodeAt(0) === 0xfeff) return undefined;
  const lines: Line[] = [];
  let seenContent = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const text = line.replace(/^ +/, '');
    if (text === '' || text.startsWith('#')) continue;
    const indent = line.length - text.length;
    if (indent === 0 && (text === '---' || text.startsWith('--- '))) {
      if (seenContent || text !== '---') return undefined;
      seenContent = true;
      continue;
    }
    if (text.startsWith('...') || text.startsWith('%')) return undefined;
    seenContent = true;
    lines.push({ indent, text });
  }
  if (!lines.length || lines[0]!.indent !== 0) return undefined;
  try {
    const p = new Parser(lines);
    if (!KEY_RE.test(lines[0]!.text)) return undefined;
    const value = p.map(0, lines[0]!.text);
    if (p.i !== lines.length) return undefined;
    return value;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}
