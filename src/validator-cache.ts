/**
 * Compiled JSON-schema validators cached on disk (ajv standalone code), shared by the config file
 * and the staged-source schemas: compiling a schema with ajv costs 0.1-0.4 s per process, loading
 * the cached code a few milliseconds. The cache file is keyed by a name, the schema, ajv's version
 * and the options, under $STAGEPUSH_CACHE_DIR, else $XDG_CACHE_HOME/stagepush, else
 * ~/.cache/stagepush. A damaged cache file is ignored (compiled again and rewritten); without a
 * writable cache, the schema is compiled each time. ajv itself is loaded only to compile.
 */
import type { ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The cache directory for `env`. */
export function validatorCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.STAGEPUSH_CACHE_DIR?.trim() || path.join(env.XDG_CACHE_HOME?.trim() || path.join(os.homedir(), '.cache'), 'stagepush');
}

/** `<cache dir>/<prefix>-<16 hex of the key>.cjs` */
export function validatorCacheFile(prefix: string, schema: object, options: object, env: NodeJS.ProcessEnv = process.env): string {
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([schema, ajvVersion, options])).digest('hex').slice(0, 16);
  return path.join(validatorCacheDir(env), `${prefix}-${key}.cjs`);
}

/** Load standalone validator code (CommonJS text) with our own require (ajv's runtime helpers resolve from here). */
function loadStandalone(code: string): ValidateFunction {
  const mod: { exports: unknown } = { exports: {} };
  new Function('require', 'module', 'exports', code)(require, mod, mod.exports);
  const v = mod.exports as ValidateFunction | { default?: ValidateFunction };
  const fn = typeof v === 'function' ? v : v.default;
  if (typeof fn !== 'function') throw new Error('not a validator module');
  return fn;
}

type AjvInstance = { compile(schema: unknown): ValidateFunction };
const compilers = new Map<string, AjvInstance>();

/** The validator of `schema` with ajv `options`: from the cache file `prefix-…`, else compiled (and cached). */
export function cachedValidator(prefix: string, schema: object, options: Record<string, unknown>): ValidateFunction {
  let file: string | null = null;
  try {
    file = validatorCacheFile(prefix, schema, options);
    if (existsSync(file)) return loadStandalone(readFileSync(file, 'utf8'));
  } catch {
    // A damaged or unreadable cache: compiled (and rewritten) below.
  }
  const optionsKey = JSON.stringify(options);
  let ajv = compilers.get(optionsKey);
  if (!ajv) {
    const AjvModule = require('ajv') as { default?: unknown };
    const Ajv = (AjvModule.default ?? AjvModule) as new (o: object) => AjvInstance;
    ajv = new Ajv({ ...options, code: { source: true } });
    compilers.set(optionsKey, ajv);
  }
  const fn = ajv.compile(schema);
  if (file) {
    try {
      const standalone = (require('ajv/dist/standalone') as { default: (a: unknown, v: unknown) => string }).default;
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, standalone(ajv, fn));
      renameSync(tmp, file);
    } catch {
      // No cache (read-only home...): the next run compiles again.
    }
  }
  return fn;
}
