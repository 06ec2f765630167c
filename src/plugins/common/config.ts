/**
 * Config validation helpers shared by the built-in distributors and importers. Each returns a
 * message naming the key, or null when the value is fine; `firstProblem` runs a list of checks.
 */
import type { PluginCallConfig, RelatedRepositories, Repository, ValidationResult } from '../../engine/contract.js';
import { checkRelativeUrl, normalizeRelativeUrl, relativeUrlConflict } from './publish.js';

/** Keys every publishing distributor built on common/publish.ts accepts. */
export const COMMON_PUBLISH_KEYS = ['relative_url', 'http', 'https', 'keep_previous'] as const;

export type Check = () => string | null;

export function ok(): ValidationResult {
  return { valid: true };
}

export function result(problem: string | null): ValidationResult {
  return problem === null ? { valid: true } : { valid: false, message: problem };
}

/** The first problem of the checks, or null. */
export function firstProblem(checks: Check[]): string | null {
  for (const c of checks) {
    const p = c();
    if (p !== null) return p;
  }
  return null;
}

/** Unknown keys (in any layer of the call config) named, with the accepted ones. */
export function checkKnownKeys(config: PluginCallConfig, allowed: readonly string[]): string | null {
  const set = new Set(allowed);
  const unknown = Object.keys(config.flatten()).filter((k) => !set.has(k)).sort();
  if (!unknown.length) return null;
  return `unknown config key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (accepted: ${[...allowed].sort().join(', ')})`;
}

/** Booleans may be given as true/false or the strings "true"/"false" (from `k=v` on the command line). */
export function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  return undefined;
}

/** Lists may be given as arrays or as one comma-separated string (from `k=v` on the command line). */
export function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

export function checkBool(config: PluginCallConfig, key: string): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  return toBool(v) === undefined ? `config key "${key}" must be true or false, got ${JSON.stringify(v)}` : null;
}

export function getBool(config: PluginCallConfig, key: string, def: boolean): boolean {
  return config.has(key) ? (toBool(config.get(key)) ?? def) : def;
}

export function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

export function checkInt(config: PluginCallConfig, key: string, min: number, max = Number.MAX_SAFE_INTEGER): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  const n = toInt(v);
  if (n === undefined || n < min || n > max) return `config key "${key}" must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}, got ${JSON.stringify(v)}`;
  return null;
}

export function getInt(config: PluginCallConfig, key: string, def: number): number {
  return config.has(key) ? (toInt(config.get(key)) ?? def) : def;
}

export function checkEnum(config: PluginCallConfig, key: string, values: readonly string[]): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  return typeof v === 'string' && values.includes(v) ? null : `config key "${key}" must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`;
}

export function checkString(config: PluginCallConfig, key: string, opts: { nonEmpty?: boolean } = {}): string | null {
  if (!config.has(key)) return null;
  const v = config.get(key);
  if (typeof v !== 'string') return `config key "${key}" must be a string, got ${JSON.stringify(v)}`;
  if (opts.nonEmpty && !v.trim()) return `config key "${key}" must not be empty`;
  return null;
}

/** The relative_url of a distributor: config, else the repository id; normalized (no surrounding slashes). */
export function relativeUrlOf(repo: Pick<Repository, 'id'>, config: PluginCallConfig): string {
  const v = config.get<unknown>('relative_url');
  return normalizeRelativeUrl(typeof v === 'string' && v.trim() ? v : repo.id);
}

/**
 * The checks of the keys common to every publishing distributor: relative_url (syntax, and
 * uniqueness among every other distributor's, as the engine gives them in `related.relativeUrls`,
 * else among the related repositories of the same distributor type), http/https booleans (both
 * default true), keep_previous.
 */
export function checkPublishKeys(repo: Repository, config: PluginCallConfig, related: RelatedRepositories, defaults: { http: boolean; https: boolean } = { http: true, https: false }): string | null {
  return firstProblem([
    () => {
      if (config.has('relative_url') && typeof config.get('relative_url') !== 'string') return `config key "relative_url" must be a string, got ${JSON.stringify(config.get('relative_url'))}`;
      return null;
    },
    () => {
      const url = relativeUrlOf(repo, config);
      const bad = checkRelativeUrl(url);
      if (bad) return `config key "relative_url": ${bad}`;
      // Not served over http nor https: it takes no path under the publish root.
      if (!getBool(config, 'http', defaults.http) && !getBool(config, 'https', defaults.https)) return null;
      // Every other distributor when the engine says (any type, this repository's too), else
      // the repositories of the same distributor type.
      const others: Record<string, string> = {};
      if (related.relativeUrls) for (const [owner, o] of Object.entries(related.relativeUrls)) others[owner] = normalizeRelativeUrl(o);
      else {
        for (const r of related.repos) {
          if (r.id === repo.id) continue;
          const o = r.config.relative_url;
          others[r.id] = normalizeRelativeUrl(typeof o === 'string' && o.trim() ? o : r.id);
        }
      }
      const clash = relativeUrlConflict(url, others);
      return clash ? `config key "relative_url": ${clash}` : null;
    },
    () => checkBool(config, 'http'),
    () => checkBool(config, 'https'),
    () => checkInt(config, 'keep_previous', 0, 100),
  ]);
}
