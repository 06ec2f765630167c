/**
 * The aliases of a parsed YAML document, checked before it is turned into values (toJS). The yaml
 * package throws a bare ReferenceError from toJS for an alias naming no anchor before it, and for
 * more alias uses than its `maxAliasCount` (uses times nesting, 100 by default): a configuration
 * sharing one importer among 101 repositories was taken for an attack. Here each problem is found
 * with its offset in the text (so the caller can name the line), and the guard against an alias
 * bomb ("billion laughs") is what it protects: the number of values the aliases expand to, which
 * a walk of the result (a copy, a validation) meets. The caller then runs toJS with
 * `maxAliasCount: -1`.
 */
import { createRequire } from 'node:module';
import type { Alias, Document, Node as YamlNode } from 'yaml';

const require = createRequire(import.meta.url);

/** Values a document may expand to through its aliases: far beyond any real configuration or staging area. */
export const MAX_EXPANDED_VALUES = 1_000_000;

export interface AliasProblem {
  /** Offset in the text of the alias (or of the document when none is to blame). */
  offset: number;
  message: string;
}

/**
 * Unresolved aliases, aliases inside their own anchor (a value containing itself), merge keys
 * (`<<`, with `merge`) whose value is not a mapping or a list of mappings (toJS throws for them),
 * and an expansion beyond `maxValues`. Empty when toJS can run without a limit. With `allowLoops`,
 * a value containing itself is left to the caller (toJS makes a circular value of it).
 * With `uniqueAnchors`, what PyYAML's composer and constructor refuse besides: an anchor set twice
 * in the document (an alias then stood for the last one, where PyYAML says "found duplicate
 * anchor"), and, with `merge`, a plain `<<` anywhere but as a mapping's key (PyYAML has no
 * constructor for a merge key as a value: `k: <<`, `[<<]`).
 */
export function aliasProblems(doc: Document, opts: { merge?: boolean; maxValues?: number; allowLoops?: boolean; uniqueAnchors?: boolean } = {}): AliasProblem[] {
  const { isAlias, isCollection, isMap, isSeq, isPair, isScalar, isNode } = require('yaml') as typeof import('yaml');
  const maxValues = opts.maxValues ?? MAX_EXPANDED_VALUES;
  const problems: AliasProblem[] = [];
  const offset = (n: unknown) => (n as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
  // An alias stands for the last node with its anchor before it, in document order (the order the
  // yaml package resolves in): anchors are recorded as the walk meets them.
  const anchors = new Map<string, YamlNode>();
  const target = new Map<Alias, YamlNode>();
  const resolved = (n: unknown): unknown => (isAlias(n) ? target.get(n) : n);
  // With merge keys on, the parser reads a plain `<<` key as a symbol.
  const isMergeKey = (k: unknown) => isScalar(k) && (!k.type || k.type === 'PLAIN') && (k.value === '<<' || (typeof k.value === 'symbol' && k.value.description === '<<'));
  // The keys of mappings: a plain `<<` there is a merge key; anywhere else it is a value.
  const mergeKeys = new Set<unknown>();
  const walk = (n: unknown): void => {
    if (isAlias(n)) {
      const t = anchors.get(n.source);
      if (t) target.set(n, t);
      else problems.push({ offset: offset(n), message: `alias *${n.source} names no anchor (&${n.source} must be set before the alias)` });
      return;
    }
    if (!isNode(n)) return;
    if (n.anchor) {
      if (opts.uniqueAnchors && anchors.has(n.anchor)) problems.push({ offset: offset(n), message: `found duplicate anchor &${n.anchor} (it is set earlier in the document: an anchor names one value)` });
      anchors.set(n.anchor, n);
    }
    if (opts.uniqueAnchors && opts.merge && isMergeKey(n) && !mergeKeys.has(n)) problems.push({ offset: offset(n), message: 'a merge key (<<) is only a mapping\'s key: it is no value' });
    if (!isCollection(n)) return;
    for (const it of n.items) {
      if (!isPair(it)) {
        walk(it);
        continue;
      }
      if (isMap(n)) mergeKeys.add(it.key);
      walk(it.key);
      walk(it.value);
      if (opts.merge && isMap(n) && isMergeKey(it.key)) {
        const v = resolved(it.value);
        const sources = isSeq(v) ? v.items.map(resolved) : [v];
        // An unresolved alias is already a problem of its own.
        if (v !== undefined && sources.some((s) => s !== undefined && !isMap(s))) problems.push({ offset: offset(it.key), message: 'a merge key (<<) takes a mapping, an alias of one, or a list of them' });
      }
    }
  };
  walk(doc.contents);
  if (problems.length) return problems;

  // The values each node expands to, once per node; an alias met while its anchor is still being
  // counted is inside it.
  const size = new Map<YamlNode, number>();
  const open = new Set<YamlNode>();
  let loop: Alias | null = null;
  const count = (n: unknown): number => {
    if (loop) return 0;
    if (isAlias(n)) {
      const t = target.get(n)!;
      if (open.has(t)) {
        if (opts.allowLoops) return 1;
        loop = n;
        return 0;
      }
      return count(t);
    }
    if (!isCollection(n)) return 1;
    const known = size.get(n);
    if (known !== undefined) return known;
    open.add(n);
    let s = 1;
    for (const it of n.items) {
      s += isPair(it) ? count(it.key) + count(it.value) : count(it);
      // Counted far enough: the number would only grow (exponentially, for a bomb).
      if (s > maxValues) break;
    }
    open.delete(n);
    size.set(n, s);
    return s;
  };
  const total = count(doc.contents);
  if (loop) {
    const a = loop as Alias;
    problems.push({ offset: offset(a), message: `alias *${a.source} is inside its own anchor &${a.source}: a value cannot contain itself` });
  } else if (total > maxValues) {
    problems.push({ offset: offset(doc.contents), message: `the aliases expand the document to more than ${maxValues} values (an alias bomb?)` });
  }
  return problems;
}
