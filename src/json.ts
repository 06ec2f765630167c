/**
 * The one walk over "plain JSON" values, shared by the engine's checks and copies of unit keys,
 * metadata and configs, and by the config loader's result cache: null, strings, booleans, finite
 * numbers, arrays without holes and plain objects (prototype Object or null), nested at most 256
 * deep. Anything else is NOT_PLAIN: callers then take the slow, explaining path (assertJson) or
 * structuredClone, or do without. A JsonText (the plugin contract's) is not plain JSON here: it
 * has no string keys and would pass for `{}`; unit metadata accepts it at the top level only, and
 * checks those values itself.
 */
import { JSON_TEXT } from './engine/contract.js';

export const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

const MAX_DEPTH = 256;

/**
 * With `copy`, a copy of `v` (an object or array met twice is NOT_PLAIN: a copy would not share
 * it as the original does); without, `v` itself once checked (shared references are fine).
 */
export function plainJson(v: unknown, copy: boolean): unknown {
  return walk(v, copy ? new Set() : null, 0);
}

function walk(v: unknown, seen: Set<object> | null, depth: number): unknown {
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : NOT_PLAIN;
    case 'object': {
      if (depth > MAX_DEPTH) return NOT_PLAIN;
      if (seen) {
        if (seen.has(v)) return NOT_PLAIN;
        seen.add(v);
      }
      if (Array.isArray(v)) {
        const n = v.length;
        const out = seen ? new Array<unknown>(n) : null;
        for (let i = 0; i < n; i++) {
          // A hole (sparse array) reads as undefined: not plain.
          const x = walk(v[i], seen, depth + 1);
          if (x === NOT_PLAIN) return NOT_PLAIN;
          if (out) out[i] = x;
        }
        return out ?? v;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if ((proto !== Object.prototype && proto !== null) || JSON_TEXT in v) return NOT_PLAIN;
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> | null = seen ? {} : null;
      for (const k of Object.keys(o)) {
        const x = walk(o[k], seen, depth + 1);
        if (x === NOT_PLAIN) return NOT_PLAIN;
        if (out) out[k] = x;
      }
      return out ?? v;
    }
    default:
      return NOT_PLAIN;
  }
}
