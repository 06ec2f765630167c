/**
 * Shared by the engine command groups (repo, content, task, maintenance, plugins): opening the
 * engine from the global options and environment, option parsing helpers, output helpers.
 * Heavy modules (the engine, better-sqlite3) are imported lazily.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { StagepushError } from '../errors.js';
import type { Engine, EngineOptions, UnitCriteria } from '../engine/index.js';
import type { EventSink } from '../events.js';
import { defaultConfigCandidates, resolveGlobals, type GlobalOptions } from './globals.js';
import { createRenderer, printJson, progressModeFor, say } from './output.js';

/**
 * Directory holding plugins.conf.d: the directory of --config, else $XDG_CONFIG_HOME/stagepush,
 * else /etc/stagepush for root, else ~/.config/stagepush.
 */
export function engineConfigDir(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (g.configFile) return path.dirname(path.resolve(g.configFile));
  if (env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim()) return path.join(env.XDG_CONFIG_HOME, 'stagepush');
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/etc/stagepush';
  return path.join(os.homedir(), '.config', 'stagepush');
}

function listEnv(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(/[,:\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Engine options from the global options and the environment (STAGEPUSH_PLUGINS_DIR, ...). */
export function engineOptionsFromEnv(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): EngineOptions {
  const baseUrls: { http?: string; https?: string } = {};
  if (env.STAGEPUSH_BASE_URL_HTTP) baseUrls.http = env.STAGEPUSH_BASE_URL_HTTP;
  if (env.STAGEPUSH_BASE_URL_HTTPS) baseUrls.https = env.STAGEPUSH_BASE_URL_HTTPS;
  return {
    dataDir: g.dataDir,
    configDir: engineConfigDir(g, env),
    pluginsDir: env.STAGEPUSH_PLUGINS_DIR && env.STAGEPUSH_PLUGINS_DIR.trim() ? path.resolve(env.STAGEPUSH_PLUGINS_DIR) : undefined,
    pluginPackages: listEnv(env.STAGEPUSH_PLUGIN_PACKAGES),
    pluginNodeModules: env.STAGEPUSH_PLUGIN_NODE_MODULES && env.STAGEPUSH_PLUGIN_NODE_MODULES.trim() ? path.resolve(env.STAGEPUSH_PLUGIN_NODE_MODULES) : undefined,
    publishRoot: env.STAGEPUSH_PUBLISH_ROOT && env.STAGEPUSH_PUBLISH_ROOT.trim() ? path.resolve(env.STAGEPUSH_PUBLISH_ROOT) : undefined,
    baseUrls,
    lock: { wait: g.wait, timeoutSec: g.waitTimeout },
  };
}

/** The configuration file a command reads: --config / $STAGEPUSH_CONFIG, else the first default that exists; null when none exists. */
function configFileOf(g: GlobalOptions, env: NodeJS.ProcessEnv): string | null {
  const candidates = g.configFile ? [path.resolve(g.configFile)] : defaultConfigCandidates(env);
  return candidates.find((f) => existsSync(f) && statSync(f).isFile()) ?? null;
}

/**
 * The engine options of a command: engineOptionsFromEnv plus what the configuration file says
 * about publishing (`publish.root`, `publish.base_url_http`, `publish.base_url_https`), so that
 * `repo publish` / `repo show` give the same paths and URLs as `push`. The environment wins over
 * the file; no file, no change. Only the `publish` section is read here (`config validate` checks
 * the whole file): schema validation would cost every command a second.
 */
export async function engineOptions(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<EngineOptions> {
  const o = engineOptionsFromEnv(g, env);
  const file = configFileOf(g, env);
  if (!file) return o;
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StagepushError('CONFIG_YAML', `${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`, { kind: 'invalid', file, cause: e });
  }
  const pub = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).publish : undefined;
  if (pub === undefined || pub === null) return o;
  if (typeof pub !== 'object' || Array.isArray(pub)) throw new StagepushError('CONFIG_INVALID', `${file}: "publish" must be a mapping`, { kind: 'invalid', file, field: 'publish' });
  const get = (key: string, scheme?: string): string | undefined => {
    const v = (pub as Record<string, unknown>)[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !v.trim() || (scheme && !v.startsWith(scheme))) {
      throw new StagepushError('CONFIG_INVALID', `${file}: "publish.${key}" must be ${scheme ? `a URL starting with ${scheme}` : 'a non-empty path'}, got ${JSON.stringify(v)}`, { kind: 'invalid', file, field: `publish.${key}` });
    }
    return v;
  };
  const root = get('root');
  const http = o.baseUrls?.http ?? get('base_url_http', 'http://');
  const https = o.baseUrls?.https ?? get('base_url_https', 'https://');
  return {
    ...o,
    publishRoot: o.publishRoot ?? (root === undefined ? undefined : path.resolve(path.dirname(file), root)),
    baseUrls: { ...(http ? { http } : {}), ...(https ? { https } : {}) },
  };
}

/**
 * Run a command body with an open engine: progress rendering, plugin load warnings, interrupt
 * handling for long operations, and the engine closed afterwards.
 */
export async function withEngine<T>(cmd: Command, opts: { interruptible?: boolean; quietPluginErrors?: boolean }, fn: (eng: Engine, g: GlobalOptions) => Promise<T>): Promise<T> {
  const g = resolveGlobals(cmd.optsWithGlobals());
  const renderer = await createRenderer(progressModeFor(g, (cmd.optsWithGlobals() as { progress?: string }).progress), g.quiet);

  let signal: AbortSignal | undefined;
  if (opts.interruptible) {
    const { handleInterrupts } = await import('./main.js');
    signal = handleInterrupts();
  }
  const { openEngine } = await import('../engine/index.js');
  // Waiting for a lock is always said on stderr (unless -q), even with --json.
  const mode = progressModeFor(g, (cmd.optsWithGlobals() as { progress?: string }).progress);
  const sink: EventSink = (ev) => {
    if (ev.type === 'waiting' && mode === 'none' && !g.quiet) process.stderr.write(`waiting for ${ev.resource}${ev.owner ? ` (held by ${ev.owner})` : ''}${ev.label ? `: ${ev.label}` : ''}\n`);
    renderer.sink(ev);
  };
  const eng = await openEngine({ ...(await engineOptions(g)), events: sink, signal });
  try {
    if (!opts.quietPluginErrors) {
      for (const e of eng.pluginLoadErrors()) renderer.sink({ type: 'warning', code: e.code, message: e.message });
    }
    return await fn(eng, g);
  } finally {
    renderer.stop();
    eng.close();
  }
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function globalsOf(cmd: Command): GlobalOptions {
  return resolveGlobals(cmd.optsWithGlobals());
}

/** Print JSON with --json, else the human text (unless -q). */
export function output(g: GlobalOptions, value: unknown, human: () => string): void {
  if (g.json) printJson(value);
  else {
    const text = human();
    if (text) say(g, text);
  }
}

export function parseIntArg(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new StagepushError('CLI_BAD_NUMBER', `${name} must be a non-negative integer, got ${JSON.stringify(v)}`, { kind: 'usage' });
  return n;
}

/**
 * Unit criteria from CLI options: --type T (repeatable), --filter (repeatable: `field=value`
 * (value JSON-parsed when valid JSON), `field!=value`, `field~=regex`, or a JSON object of
 * filters), --fields a,b, --limit, --skip.
 */
export function criteriaFromOptions(o: { type?: string[]; filter?: string[]; fields?: string; limit?: string; skip?: string }): UnitCriteria | undefined {
  const c: UnitCriteria = {};
  if (o.type && o.type.length) c.typeIds = o.type.flatMap((t) => t.split(',')).filter(Boolean);
  if (o.filter && o.filter.length) {
    const filters: Record<string, unknown> = {};
    const val = (s: string): unknown => {
      try {
        return JSON.parse(s);
      } catch {
        return s;
      }
    };
    for (const f of o.filter) {
      const t = f.trim();
      if (t.startsWith('{')) {
        let obj: unknown;
        try {
          obj = JSON.parse(t);
        } catch (e) {
          throw new StagepushError('CLI_BAD_FILTER', `--filter ${t}: not valid JSON: ${(e as Error).message}`, { kind: 'usage' });
        }
        if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new StagepushError('CLI_BAD_FILTER', `--filter ${t}: must be a JSON object of field filters`, { kind: 'usage' });
        Object.assign(filters, obj);
        continue;
      }
      let m = /^([^=!~]+)~=(.*)$/s.exec(t);
      if (m) {
        filters[m[1]!] = { ...(filters[m[1]!] as object | undefined), $regex: m[2]! };
        continue;
      }
      m = /^([^=!~]+)!=(.*)$/s.exec(t);
      if (m) {
        filters[m[1]!] = { ...(filters[m[1]!] as object | undefined), $ne: val(m[2]!) };
        continue;
      }
      m = /^([^=!~]+)=(.*)$/s.exec(t);
      if (!m) throw new StagepushError('CLI_BAD_FILTER', `--filter ${JSON.stringify(f)}: expected field=value, field!=value, field~=regex or a JSON object`, { kind: 'usage' });
      filters[m[1]!] = val(m[2]!);
    }
    c.filters = filters;
  }
  if (o.fields !== undefined) c.fields = o.fields.split(',').map((s) => s.trim()).filter(Boolean);
  if (o.limit !== undefined) c.limit = parseIntArg(o.limit, '--limit');
  if (o.skip !== undefined) c.skip = parseIntArg(o.skip, '--skip');
  return Object.keys(c).length ? c : undefined;
}

export function short(v: unknown, max = 60): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
