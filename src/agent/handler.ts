/**
 * Handler base classes and the conduit handed to every handler method (Pulp's agent handler
 * API, in TypeScript). A handler class extends the base class of its capability and implements
 * each of its methods; methods may be async. Every method takes the conduit and an options
 * object and returns its report.
 */
import path from 'node:path';
import { StagepushError } from '../errors.js';
import type { BindReport, CleanReport, ContentReport, ProfileReport, RebootReport } from './reports.js';
import type { AgentEngineApi, BindingRecord, ConsumerRecord } from './engine-api.js';

/** The three capabilities. */
export type Capability = 'content' | 'bind' | 'system';

/** Handler configuration: the properties of the type's descriptor section other than `class`. */
export type HandlerConfig = Readonly<Record<string, string>>;

/** Options of one request (`--option k=v`, `--reboot`, ...). */
export type HandlerOptions = Readonly<Record<string, unknown>>;

/** A content unit as requested: its unit key fields (e.g. name, epoch, version, release, arch). */
export type ContentUnitSpec = Readonly<Record<string, string | undefined>>;

/** What a bind handler is given: the binding and the distributor's consumer payload. */
export interface Binding {
  repoId: string;
  distributorId: string;
  /** The distributor type id (what the bind handler was chosen by). */
  typeId: string;
  /** The distributor's consumer payload (createConsumerPayload). */
  details: unknown;
}

/** Progress reporting for long operations (shown by the CLI, latest value kept). */
export interface ProgressReporter {
  report(progress: Record<string, unknown>): void;
  readonly last: Record<string, unknown> | undefined;
}

/** The agent log (syslog by default; see `agent.log`). */
export interface AgentLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * What a handler sees of the agent: the consumer (id and configuration: its root, notes), the
 * engine API, its bindings, a progress reporter, the log, and the cancel signal (aborted on
 * SIGINT/SIGTERM; long operations stop and report failure).
 */
export interface HandlerConduit {
  readonly consumerId: string;
  readonly consumerConfig: Readonly<ConsumerRecord>;
  /** The consumer's filesystem root (absolute; `/` for the host itself). */
  readonly root: string;
  readonly engine: AgentEngineApi;
  readonly progress: ProgressReporter;
  readonly log: AgentLogger;
  readonly signal: AbortSignal;
  /** The consumer's bindings as stored in the engine. */
  bindings(): BindingRecord[];
}

type Awaitable<T> = T | Promise<T>;

/** Checks a setting's value: what is wrong with it, or null when it is good. */
export type SettingCheck = (value: string) => string | null;

/** A path under the consumer root (absolute or not, it is taken from the root): no "..", no NUL. */
const underRoot: SettingCheck = (v) => {
  if (v.trim() === '' || v.includes('\0')) return `expected a path under the consumer root, got "${v}"`;
  // Joined to the root as the handlers join it (a join to "/" itself would stop ".." at "/").
  const root = '/consumer-root';
  const inside = path.posix.relative(root, path.posix.join(root, v));
  return inside === '..' || inside.startsWith('../') ? `"${v}" leads out of the consumer root` : null;
};

/** A setting's path, joined to the root as the handlers join it, is the root itself. */
function rootItself(v: string): boolean {
  const root = '/consumer-root';
  return path.posix.relative(root, path.posix.join(root, v)) === '';
}

/** Checks of the built-in handlers' settings. */
export const settingChecks = {
  /** true|yes|1|on or false|no|0|off (empty: the default). */
  boolean: ((v) => (v.trim() === '' || /^(true|yes|1|on|false|no|0|off)$/i.test(v.trim()) ? null : `expected true|yes|1 or false|no|0, got "${v}"`)) as SettingCheck,
  /** A number of seconds >= 0 (empty is refused: it is not 0, an immediate reboot). */
  seconds: ((v) => (v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) >= 0 ? null : `expected a number of seconds >= 0, got "${v}"`)) as SettingCheck,
  /** A path under the consumer root (absolute or not, it is taken from the root): no "..", no NUL. */
  underRoot,
  /**
   * A file under the consumer root: a path under it (underRoot) that names neither the root itself
   * ("/", ".", "a/..") nor a directory (a trailing "/", a last "." or ".."). The file is written and
   * removed, and the directory beside it holds what goes with it.
   */
  fileUnderRoot: ((v) => {
    const wrong = underRoot(v);
    if (wrong) return wrong;
    if (rootItself(v)) return `expected a file under the consumer root, got "${v}", the consumer root itself`;
    return /(^|\/)\.{0,2}$/.test(v) ? `expected a file under the consumer root, got "${v}", which names a directory` : null;
  }) as SettingCheck,
  /** A directory under the consumer root that is not the root itself (one the handler removes whole). */
  dirBelowRoot: ((v) => {
    const wrong = underRoot(v);
    if (wrong) return wrong;
    return rootItself(v) ? `expected a directory below the consumer root, got "${v}", the consumer root itself` : null;
  }) as SettingCheck,
  /** Any value. */
  any: (() => null) as SettingCheck,
};

/** What every handler class shares: its configuration and type id. */
export abstract class Handler {
  /**
   * The settings the class reads, each with its check; null (the default, third-party handlers)
   * leaves the configuration unchecked. A descriptor section with another key or a value its check
   * refuses is refused when the descriptor loads (see loader.ts), and so is such a request option
   * when the method reads it: a mistake is said with its file, section and key before anything
   * runs, not as an exception halfway through an operation.
   */
  static readonly settings: Readonly<Record<string, SettingCheck>> | null = null;

  readonly config: HandlerConfig;
  /** The type id (content type, distributor type or OS name) this instance serves. */
  readonly typeId: string;

  constructor(config: HandlerConfig = {}, typeId = '') {
    this.config = Object.freeze({ ...config });
    this.typeId = typeId;
  }

  /** A request option (checked as the class's settings say), else the handler configuration, else `def`. */
  protected setting(options: HandlerOptions, key: string, def?: string): string | undefined {
    const v = options[key];
    if (v !== undefined && v !== null) {
      const value = String(v);
      const why = (this.constructor as typeof Handler).settings?.[key]?.(value);
      if (why) throw new StagepushError('AGENT_BAD_OPTION', `option ${key}: ${why}`, { kind: 'usage', field: key });
      return value;
    }
    return this.config[key] ?? def;
  }

  /** A boolean setting (true|yes|1 / false|no|0, any case). */
  protected flag(options: HandlerOptions, key: string, def = false): boolean {
    const v = this.setting(options, key);
    if (v === undefined || v === '') return def;
    return parseBoolean(v, key);
  }
}

export function parseBoolean(value: string, key: string): boolean {
  const s = value.trim().toLowerCase();
  if (s === 'true' || s === 'yes' || s === '1' || s === 'on') return true;
  if (s === 'false' || s === 'no' || s === '0' || s === 'off') return false;
  throw new Error(`${key}: expected true|yes|1 or false|no|0, got "${value}"`);
}

/** The content capability, mapped by content type id. */
export abstract class ContentHandler extends Handler {
  abstract install(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Awaitable<ContentReport>;
  abstract update(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Awaitable<ContentReport>;
  abstract uninstall(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Awaitable<ContentReport>;
  abstract profile(conduit: HandlerConduit, options: HandlerOptions): Awaitable<ProfileReport>;
}

/** The bind capability, mapped by distributor type id. */
export abstract class BindHandler extends Handler {
  abstract bind(conduit: HandlerConduit, binding: Binding, options: HandlerOptions): Awaitable<BindReport>;
  abstract unbind(conduit: HandlerConduit, repoId: string, options: HandlerOptions): Awaitable<BindReport>;
  abstract clean(conduit: HandlerConduit, options: HandlerOptions): Awaitable<CleanReport>;
}

/** The system capability, mapped by OS name (`os.type()`, e.g. Linux). */
export abstract class SystemHandler extends Handler {
  abstract reboot(conduit: HandlerConduit, options: HandlerOptions): Awaitable<RebootReport>;
}

/** Each capability's base class and the methods a handler class must implement. */
export const CAPABILITIES: Record<Capability, { base: abstract new (...args: never[]) => Handler; baseName: string; methods: string[] }> = {
  content: { base: ContentHandler, baseName: 'ContentHandler', methods: ['install', 'update', 'uninstall', 'profile'] },
  bind: { base: BindHandler, baseName: 'BindHandler', methods: ['bind', 'unbind', 'clean'] },
  system: { base: SystemHandler, baseName: 'SystemHandler', methods: ['reboot'] },
};
