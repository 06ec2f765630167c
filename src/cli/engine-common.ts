/**
 * Shared by the engine command groups (repo, content, task, maintenance, plugins): opening the
 * engine from the global options, the environment and the config file, option parsing helpers,
 * output helpers.
 * Heavy modules (the engine, better-sqlite3) are imported lazily.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { StagepushError } from '../errors.js';
import type { Engine, EngineOptions, UnitCriteria } from '../engine/index.js';
import type { EventSink } from '../events.js';
import type { LoadedConfig, Settings } from '../config/index.js';
import { engineOptionsOf } from '../config/engine-options.js';
import { resolveGlobals, type GlobalOptions } from './globals.js';
import { createRenderer, printJson, progressModeFor, say, sayingWaits } from './output.js';

/**
 * The settings of a command: flag > environment > config file (found as `push` finds it) > default.
 * `g.dataDir`, `g.wait` and `g.waitTimeout` are updated from the file. An explicit config path that
 * does not exist only locates plugins.conf.d (the engine commands' convention).
 */
export async function commandSettings(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<{ g: GlobalOptions; settings: Settings; loaded: LoadedConfig }> {
  const g0 = resolveGlobals(raw, env);
  const { loadConfig, resolveSettings } = await import('../config/index.js');
  const loaded = loadConfig(g0.configFile, env, { allowMissing: true });
  const settings = resolveSettings(loaded, { dataDir: raw.dataDir as string | undefined, wait: g0.wait, waitTimeout: g0.waitTimeout }, env);
  return { g: { ...g0, dataDir: settings.dataDir, wait: settings.lock.wait, waitTimeout: settings.lock.timeoutSec }, settings, loaded };
}

/** Engine options from the resolved settings (see commandSettings); `g` carries --no-wait / --wait-timeout. */
export function engineOptionsFromEnv(g: GlobalOptions, settings: Settings): EngineOptions {
  return { ...engineOptionsOf(settings), lock: { wait: g.wait, timeoutSec: g.waitTimeout } };
}

/**
 * Run a command body with an open engine (data dir, publish root, plugins and locks from flags,
 * environment and the config file): progress rendering, plugin load warnings, interrupt handling
 * for long operations, and the engine closed afterwards.
 */
export async function withEngine<T>(
  cmd: Command,
  opts: { interruptible?: boolean; quietPluginErrors?: boolean; existing?: boolean; ifNone?: (g: GlobalOptions) => T; scratchIfNone?: boolean },
  fn: (eng: Engine, g: GlobalOptions, settings: Settings, loaded: LoadedConfig) => Promise<T>,
): Promise<T> {
  const raw = cmd.optsWithGlobals();
  const resolved = await commandSettings(raw);
  const { g, loaded } = resolved;
  let settings = resolved.settings;
  // Commands that read, change or clean up an engine do not make one at a mistyped data dir: a
  // list says there is nothing (`ifNone`), the others (show, every command naming a repository
  // but repo create, fsck, gc, orphans remove) fail, so that a cron fsck pointed at the wrong place
  // fails instead of reporting "clean", and a repo publish there says where it looked rather than
  // making an empty engine and saying the repository does not exist.
  const none = (opts.existing || opts.ifNone) && !existsSync(path.join(settings.dataDir, 'engine.db'));
  if (none && opts.ifNone) return opts.ifNone(g);
  if (none) {
    throw new StagepushError('ENGINE_NOT_FOUND', `no engine in ${settings.dataDir} (no engine.db there)`, {
      kind: 'invalid',
      file: settings.dataDir,
      hint: 'check --data-dir (STAGEPUSH_DATA_DIR, data_dir in the config); a push or repo create makes the engine',
    });
  }
  // A command that only reads what plugins the configuration gives (plugins list) reads it from
  // an engine made in a temporary directory when the data dir has none: it makes nothing there.
  let scratch: string | null = null;
  if (opts.scratchIfNone && !existsSync(path.join(settings.dataDir, 'engine.db'))) {
    scratch = mkdtempSync(path.join(tmpdir(), 'stagepush-scratch-'));
    settings = { ...settings, dataDir: scratch, publishRoot: path.join(scratch, 'published') };
  }
  const mode = progressModeFor(g, (raw as { progress?: string }).progress);
  const renderer = await createRenderer(mode, g.quiet);

  let signal: AbortSignal | undefined;
  if (opts.interruptible) {
    const { handleInterrupts } = await import('./main.js');
    signal = handleInterrupts();
  }
  const { openEngine } = await import('../engine/index.js');
  const sink: EventSink = sayingWaits(renderer.sink, mode, g.quiet);
  const eng = await openEngine({ ...engineOptionsFromEnv(g, settings), events: sink, signal });
  try {
    if (!opts.quietPluginErrors) {
      for (const e of eng.pluginLoadErrors()) renderer.sink({ type: 'warning', code: e.code, message: e.message });
    }
    return await fn(eng, g, settings, loaded);
  } finally {
    renderer.stop();
    eng.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
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

/**
 * An option's value that must name something: an empty one (a script's `--distributor "$D"` with
 * the variable unset) is refused rather than taken as the option left out, which meant "every
 * distributor" or "no importer".
 */
export function namedArg(v: string | undefined, name: string): string | undefined {
  if (v !== undefined && !v.trim()) throw new StagepushError('CLI_BAD_OPTION', `${name}: an empty value (give one, or leave ${name} out)`, { kind: 'usage', field: name });
  return v;
}

export function parseIntArg(v: string, name: string): number {
  // Digits only: Number() reads "" and " " as 0 (a script's --to "$V" with V unset rolled the
  // repository back to the empty version 0; gc --task-retention-days "" pruned every task), and
  // takes 0x10, 1e1 and 1.0 too.
  const n = /^\s*[0-9]+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new StagepushError('CLI_BAD_NUMBER', `${name} must be a non-negative integer, got ${JSON.stringify(v)}`, { kind: 'usage', field: name });
  return n;
}

/**
 * Unit criteria from CLI options: --type T (repeatable), --filter (repeatable: `field=value`
 * (the value as text, or as JSON when it parses: `version=1.0` matches the string "1.0" as well as
 * the number 1, `n=[1,2]` an array), `field!=value` (neither), `field~=regex`, or a JSON object of
 * filters), --fields a,b, --limit, --skip.
 */
export function criteriaFromOptions(o: { type?: string[]; filter?: string[]; fields?: string; limit?: string; skip?: string }): UnitCriteria | undefined {
  const c: UnitCriteria = {};
  if (o.type && o.type.length) {
    // A --type naming no type (a script's --type "$TYPES" with the variable unset) is refused: an
    // empty type list matches nothing, so copy and remove did nothing and said "no change".
    for (const t of o.type) {
      if (!t.split(',').some((x) => x.trim())) throw new StagepushError('CLI_BAD_TYPE', `--type ${JSON.stringify(t)}: names no content type (give one, or leave --type out)`, { kind: 'usage', field: '--type', hint: 'stagepush plugins list --types' });
    }
    c.typeIds = o.type.flatMap((t) => t.split(',')).filter(Boolean);
  }
  if (o.filter && o.filter.length) {
    const filters: Record<string, unknown> = {};
    const val = (s: string): unknown => {
      try {
        return JSON.parse(s);
      } catch {
        return s;
      }
    };
    // Every --filter must hold (AND): conditions on one field are combined, never replaced.
    const conds = new Map<string, { in?: unknown[]; nin: unknown[]; regex?: string }>();
    const fromJson = new Set<string>();
    const condOf = (field: string, f: string) => {
      if (fromJson.has(field)) throw new StagepushError('CLI_BAD_FILTER', `--filter ${JSON.stringify(f)}: field ${field} is also given by a JSON filter (put every condition on it in one)`, { kind: 'usage' });
      let c = conds.get(field);
      if (!c) conds.set(field, (c = { nin: [] }));
      return c;
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
        for (const k of Object.keys(obj)) {
          if (conds.has(k) || fromJson.has(k)) throw new StagepushError('CLI_BAD_FILTER', `--filter ${t}: field ${k} is given by another --filter too (put every condition on it in one JSON filter)`, { kind: 'usage' });
          fromJson.add(k);
        }
        Object.assign(filters, obj);
        continue;
      }
      let m = /^([^=!~]+)~=(.*)$/s.exec(t);
      if (m) {
        const c = condOf(m[1]!, f);
        if (c.regex !== undefined) throw new StagepushError('CLI_BAD_FILTER', `--filter ${JSON.stringify(f)}: a second ~= on ${m[1]} (give one regular expression)`, { kind: 'usage' });
        c.regex = m[2]!;
        continue;
      }
      // A scalar that parses as JSON (1.0, true, null) may be meant as text: both are matched.
      const either = (raw: string): unknown[] => {
        const v = val(raw);
        return v !== raw && (v === null || typeof v !== 'object') ? [raw, v] : [v];
      };
      m = /^([^=!~]+)!=(.*)$/s.exec(t);
      if (m) {
        condOf(m[1]!, f).nin.push(...either(m[2]!));
        continue;
      }
      m = /^([^=!~]+)=(.*)$/s.exec(t);
      if (!m) throw new StagepushError('CLI_BAD_FILTER', `--filter ${JSON.stringify(f)}: expected field=value, field!=value, field~=regex or a JSON object`, { kind: 'usage' });
      const c = condOf(m[1]!, f);
      const vs = either(m[2]!);
      // Two = on one field: a value both allow (as JSON text: 1.0 and "1.0" are told apart).
      c.in = c.in === undefined ? vs : c.in.filter((x) => vs.some((y) => JSON.stringify(y) === JSON.stringify(x)));
    }
    for (const [field, c] of conds) {
      const ops: Record<string, unknown> = {};
      if (c.in !== undefined) ops.$in = c.in;
      if (c.nin.length) ops.$nin = c.nin;
      if (c.regex !== undefined) ops.$regex = c.regex;
      // One plain value stays a plain value (as the filter was written).
      filters[field] = Object.keys(ops).length === 1 && c.in?.length === 1 ? c.in[0] : ops;
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
