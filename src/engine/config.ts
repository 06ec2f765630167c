/**
 * Layered call configuration (override > repository > plugin > default) and the CLI's
 * `k=v|@file.json` config syntax.
 */
import { readFileSync } from 'node:fs';
import { StagepushError } from '../errors.js';
import { NOT_PLAIN, plainJson } from '../json.js';
import { isJsonText, type Json, type PluginCallConfig } from './contract.js';

export class CallConfig implements PluginCallConfig {
  readonly override: Readonly<Record<string, unknown>>;
  readonly repo: Readonly<Record<string, unknown>>;
  readonly plugin: Readonly<Record<string, unknown>>;

  constructor(plugin: Record<string, unknown> = {}, repo: Record<string, unknown> = {}, override: Record<string, unknown> = {}) {
    this.plugin = Object.freeze(structuredClone(plugin));
    this.repo = Object.freeze(structuredClone(repo));
    this.override = Object.freeze(structuredClone(override));
  }

  get<T = unknown>(key: string, def?: T): T | undefined {
    for (const layer of [this.override, this.repo, this.plugin]) {
      if (Object.prototype.hasOwnProperty.call(layer, key) && layer[key] !== undefined) return layer[key] as T;
    }
    return def;
  }

  has(key: string): boolean {
    return [this.override, this.repo, this.plugin].some((l) => Object.prototype.hasOwnProperty.call(l, key) && l[key] !== undefined);
  }

  flatten(): Record<string, unknown> {
    return { ...this.plugin, ...this.repo, ...this.override };
  }
}

/** Throws a clear error when a value is not JSON-serialisable (scratchpads, progress, configs). */
export function assertJson(value: unknown, what: string): Json {
  // The common case, checked without building paths or tracking objects; anything else (or
  // nested deeper than that check goes) is walked again below, which decides and explains.
  if (plainJson(value, false) !== NOT_PLAIN) return value as Json;
  const seen = new Set<unknown>();
  const walk = (v: unknown, p: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw bad(p, `the number ${v} is not JSON`);
      return;
    }
    if (Array.isArray(v)) {
      if (seen.has(v)) throw bad(p, 'a circular reference is not JSON');
      seen.add(v);
      v.forEach((x, i) => walk(x, `${p}[${i}]`));
      seen.delete(v);
      return;
    }
    if (typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw bad(p, `a ${(v as object).constructor?.name ?? 'non-plain'} object is not JSON`);
      if (isJsonText(v)) throw bad(p, 'a JsonText is only accepted as a top-level value of unit metadata');
      if (seen.has(v)) throw bad(p, 'a circular reference is not JSON');
      seen.add(v);
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, p ? `${p}.${k}` : k);
      seen.delete(v);
      return;
    }
    throw bad(p, `a ${typeof v} is not JSON`);
  };
  const bad = (p: string, m: string) =>
    new StagepushError('ENGINE_NOT_JSON', `${what} must be JSON-serialisable: ${p ? `at ${p}: ` : ''}${m}`, { kind: 'failed', field: p || undefined });
  walk(value, '');
  return value as Json;
}

/** Parse a value: JSON when it is valid JSON, else the plain string. */
export function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * Parse CLI config arguments: each is `key=value` (value JSON-parsed when valid JSON, else a
 * string) or `@file.json` (a JSON object merged in). Later arguments win. A `key=value` whose key
 * is in `textKeys` keeps a value JSON reads as a number as the text written: a key id such as
 * 12345678 or 1234E567 is hex, not a number (JSON made the first a number the plugin refused, the
 * second Infinity).
 */
export function parseConfigArgs(args: string[] | undefined, option = '--config', textKeys: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args ?? []) {
    if (a.startsWith('@')) {
      const file = a.slice(1);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new StagepushError('CONFIG_FILE_UNREADABLE', `cannot read ${file} given to ${option}: ${(e as Error).message}`, { kind: 'invalid', file });
      }
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        throw new StagepushError('CONFIG_BAD_JSON', `${file} given to ${option} is not valid JSON: ${(e as Error).message}`, { kind: 'invalid', file });
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new StagepushError('CONFIG_BAD_JSON', `${file} given to ${option} must hold a JSON object`, { kind: 'invalid', file });
      Object.assign(out, obj);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq <= 0) throw new StagepushError('CONFIG_BAD_ARGUMENT', `${option} ${JSON.stringify(a)}: expected key=value or @file.json`, { kind: 'usage' });
    const key = a.slice(0, eq);
    const value = parseValue(a.slice(eq + 1));
    out[key] = typeof value === 'number' && textKeys.includes(key) ? a.slice(eq + 1) : value;
  }
  return out;
}
