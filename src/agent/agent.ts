/**
 * The dispatcher: finds the handler for a request (content by content type id, bind by
 * distributor type id, system by OS name), calls it, and always returns a report. An exception
 * escaping a handler method is logged and becomes that method's report with succeeded = false
 * and details {message, trace}, as does an error the method lets escape while it runs (a rejection
 * never awaited, a throwing timer: see call); a request with no handler for its type is a failed
 * report that says so.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import type { AgentLogger, Binding, Capability, ContentUnitSpec, HandlerConduit, HandlerOptions } from './handler.js';
import { AggregateReport, BindReport, CleanReport, ContentReport, HandlerReport, ProfileReport, RebootReport } from './reports.js';
import type { HandlerRegistry, LoadedHandler } from './loader.js';
import { describe } from './describe.js';
import { StagepushError } from '../errors.js';

type ReportClass<R extends HandlerReport> = new () => R;

export type ContentOperation = 'install' | 'update' | 'uninstall';

/** A handler call, as the async context of its method holds it. */
interface CallState {
  /** `<class> <method> (<capability> <type>, consumer <id>)`, as the log names the call. */
  label: string;
  log: AgentLogger;
  escaped: Array<{ event: string; error: Error }>;
  /** The call has returned its report: what escapes in its context now is a late error. */
  ended: boolean;
}

/**
 * An error a handler let escape after its call ended, or one no call's context can be found for
 * while no call, or several, were running (with one running it is that call's).
 */
export interface LateError {
  event: string;
  error: Error;
  /** The call it arose in (as the log names it), undefined when that is not known. */
  call?: string;
  /** With no call known: how many calls were running when it arose, when more than one (it is not late then). */
  running?: number;
}

/**
 * The errors handler methods let escape (unhandledRejection, uncaughtException), routed to the
 * call that caused them. Each method runs inside an AsyncLocalStorage context holding its call;
 * Node reports an uncaught exception in the context of the callback that threw, and an unhandled
 * rejection in the context the promise was made in, so the one process-level listener knows the
 * call from the context active when it is told. Listeners per call could not: with several calls
 * running in one process (ConsumerService used concurrently) every call's listener saw every
 * call's error, and one handler's error failed them all.
 *
 * The listener is installed while anything holds it: each running call, and a holder for late
 * errors (the CLI, until the process exits). An error arising in no call's context while exactly
 * one call runs is that call's (a callback set up outside it: an abort listener on its signal, a
 * resource a module made when it loaded). An error whose call is known but has ended, or whose
 * call cannot be known (none running, or several), fails no call: it is logged (in the call's log,
 * else in the log of every call running and every holder) and handed to the holders' `onLate`.
 */
class EscapedErrors {
  private readonly calls = new AsyncLocalStorage<CallState>();
  private readonly running = new Set<CallState>();
  private readonly holders = new Set<{ log: AgentLogger; onLate?: (e: LateError) => void }>();
  private readonly onRejection = (reason: unknown) => this.route('unhandled promise rejection', reason);
  private readonly onException = (error: unknown) => this.route('uncaught exception', error);
  private installed = false;

  run<T>(state: CallState, fn: () => T): T {
    return this.calls.run(state, fn);
  }

  /** Hold the listener for a running call; the returned function lets it go. */
  hold(state: CallState): () => void {
    this.running.add(state);
    this.update();
    return () => {
      this.running.delete(state);
      this.update();
    };
  }

  /** Hold the listener for late errors; the returned function lets it go. */
  holdForLate(log: AgentLogger, onLate: (e: LateError) => void): () => void {
    const holder = { log, onLate };
    this.holders.add(holder);
    this.update();
    return () => {
      this.holders.delete(holder);
      this.update();
    };
  }

  /** Listened to now (tests). */
  get listening(): boolean {
    return this.installed;
  }

  private update(): void {
    const want = this.running.size > 0 || this.holders.size > 0;
    if (want === this.installed) return;
    this.installed = want;
    if (want) {
      process.on('unhandledRejection', this.onRejection);
      process.on('uncaughtException', this.onException);
    } else {
      process.off('unhandledRejection', this.onRejection);
      process.off('uncaughtException', this.onException);
    }
  }

  private route(event: string, reason: unknown): void {
    const error = reason instanceof Error ? reason : new Error(describe(reason));
    const trace = error.stack ?? `${error.name}: ${error.message}`;
    const call = this.calls.getStore();
    if (call && !call.ended) {
      call.escaped.push({ event, error });
      call.log.error(`${call.label}: ${event}: ${error.message}\n${trace}`);
      return;
    }
    const running = [...this.running].filter((c) => !c.ended);
    if (!call && running.length === 1) {
      // No context to go by (a callback set up outside the call: an abort listener on its signal
      // run by whoever aborted it, something a module made when it loaded), but only one call
      // is running: the error is its, as it was before calls had contexts, and fails its report.
      const only = running[0]!;
      only.escaped.push({ event, error });
      only.log.error(`${only.label}: ${event} (in no call's context; the only call running): ${error.message}\n${trace}`);
      return;
    }
    if (call) {
      call.log.error(`${call.label}: ${event} after the call had ended (its report was already given): ${error.message}\n${trace}`);
    } else if (running.length > 1) {
      // Not late, and not known to be any one call's: failing them all would fail calls it is not
      // theirs (what 4c23edb fixed), so none is.
      const logs = new Set(running.map((c) => c.log).concat([...this.holders].map((h) => h.log)));
      for (const log of logs) log.error(`${event} while ${running.length} handler calls were running, in none of their contexts (no call is failed for it): ${error.message}\n${trace}`);
    } else {
      const logs = new Set([...this.holders].map((h) => h.log));
      for (const log of logs) log.error(`${event} that no handler call can be named for (no call is failed for it): ${error.message}\n${trace}`);
    }
    const late: LateError = { event, error, ...(call ? { call: call.label } : {}), ...(!call && running.length > 1 ? { running: running.length } : {}) };
    for (const h of this.holders) h.onLate?.(late);
  }
}

/** The process's one router of escaped handler errors. */
export const escapedErrors = new EscapedErrors();

export class Agent {
  readonly osType: string;

  constructor(
    readonly registry: HandlerRegistry,
    readonly log: AgentLogger,
    opts: { osType?: string } = {},
  ) {
    this.osType = opts.osType ?? os.type();
  }

  private noHandler<R extends HandlerReport>(Report: ReportClass<R>, capability: Capability, typeId: string): R {
    const what = capability === 'system' ? `no system handler for OS "${typeId}"` : `no ${capability} handler for type "${typeId}"`;
    const loaded = this.registry.list(capability).map((h) => h.typeId);
    this.log.warn(what);
    return new Report().setFailed({ code: 'AGENT_NO_HANDLER', message: what, capability, typeId, handled: loaded });
  }

  /**
   * Call a handler method and return its report. What the method lets escape without throwing it
   * (a promise it rejected and never awaited, an exception thrown in a timer or event callback it
   * set up) would end the process with a raw stack trace and no report: the method runs inside an
   * async context holding this call (see EscapedErrors), and the process-level listener routes such
   * an error to the call in whose context it arose, which logs it and fails its report with the
   * first one's {message, trace} (the method's own details kept). Other calls running at the same
   * time are not touched. The call takes escaped errors until one more turn of the event loop after
   * the method returned: a promise rejected in the method's last step is reported unhandled only
   * once the microtasks after it have run. One arising later in the call's context (a timer the
   * method left behind) is a late error: logged, handed to whoever holds the listener for late
   * errors (the CLI), and no report is changed.
   */
  private async call<R extends HandlerReport>(h: LoadedHandler, method: string, Report: ReportClass<R>, conduit: HandlerConduit, args: unknown[]): Promise<R> {
    const label = `${h.className} ${method} (${h.capability} ${h.typeId}, consumer ${conduit.consumerId})`;
    if (conduit.signal.aborted) return new Report().setFailed({ message: 'canceled before it started' });
    const state: CallState = { label, log: this.log, escaped: [], ended: false };
    // A method whose promise never settles (often: the callback that would settle it threw) leaves
    // nothing to run once the event loop is empty, and the process would end there with no report
    // and exit 0. Node says so first ('beforeExit'): the call then ends with a failed report.
    let onIdle!: () => void;
    const idle = new Promise<{ report: R; returned: boolean }>((resolve) => {
      onIdle = () => {
        const message = `${h.className}.${method} never finished: its promise was never settled, and nothing was left for it to wait for`;
        this.log.error(`${label}: ${message}`);
        resolve({ report: new Report().setFailed({ message }), returned: false });
      };
    });
    const release = escapedErrors.hold(state);
    process.on('beforeExit', onIdle);
    let outcome: { report: R; returned: boolean };
    try {
      outcome = await Promise.race([escapedErrors.run(state, () => this.invoke(h, method, Report, conduit, args, label)), idle]);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      state.ended = true;
      release();
      process.off('beforeExit', onIdle);
    }
    const { report } = outcome;
    const escaped = state.escaped;
    if (escaped.length) {
      const first = escaped[0]!.error;
      const list = escaped.map((x) => ({ event: x.event, message: x.error.message }));
      // A report the method failed itself (or an exception it threw) keeps its message.
      if (report.succeeded) report.setFailed({ message: first.message, trace: first.stack ?? `${first.name}: ${first.message}`, escaped: list });
      else report.setFailed({ escaped: list });
    }
    if (outcome.returned || escaped.length) this.log.info(`${label}: ${report.succeeded ? 'succeeded' : 'failed'} (${report.numChanges} changes)`);
    return report;
  }

  /** The method's report (`returned`), or a failed report for what it threw or a wrong return (logged). */
  private async invoke<R extends HandlerReport>(h: LoadedHandler, method: string, Report: ReportClass<R>, conduit: HandlerConduit, args: unknown[], label: string): Promise<{ report: R; returned: boolean }> {
    this.log.info(`${label}: started`);
    try {
      const fn = (h.instance as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      const result = await fn.call(h.instance, conduit, ...args);
      // The report of the method's kind (a BindReport from install is not a ContentReport: it has
      // no reboot), well formed, and JSON: it is printed and stored (profiles).
      let wrong: string | null = null;
      if (!(result instanceof Report)) {
        wrong = `returned ${result === null ? 'null' : result instanceof HandlerReport ? `a ${result.constructor.name}` : typeof result} instead of a ${Report.name}`;
      } else if (typeof result.succeeded !== 'boolean' || !Number.isInteger(result.numChanges) || result.numChanges < 0) {
        wrong = `returned a ${Report.name} with succeeded ${JSON.stringify(result.succeeded)} and numChanges ${JSON.stringify(result.numChanges)} (a boolean and a count)`;
      } else if (result instanceof ContentReport && (!result.reboot || typeof result.reboot !== 'object' || typeof result.reboot.required !== 'boolean')) {
        wrong = `returned a ContentReport whose reboot is ${describe(result.reboot)} (an object with required, permitted and scheduled)`;
      } else {
        try {
          JSON.stringify(result.toJSON());
        } catch (e) {
          wrong = `returned a ${Report.name} whose details are not JSON (${(e as Error).message})`;
        }
      }
      if (wrong) {
        const message = `${h.className}.${method} ${wrong}`;
        this.log.error(`${label}: ${message}`);
        return { report: new Report().setFailed({ message }), returned: false };
      }
      return { report: result as R, returned: true };
    } catch (err) {
      // A coded error (a request option with a bad value, a unit refused) says what is wrong and
      // where: its report has the code and the message, no stack trace.
      if (err instanceof StagepushError) {
        this.log.error(`${label}: [${err.code}] ${err.message}`);
        return { report: new Report().setFailed({ code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) }), returned: false };
      }
      // Whatever else was thrown (an object without a string form too) becomes a failed report.
      const e = err instanceof Error ? err : new Error(describe(err));
      const trace = e.stack ?? `${e.name}: ${e.message}`;
      this.log.error(`${label}: exception: ${e.message}\n${trace}`);
      return { report: new Report().setFailed({ message: e.message, trace }), returned: false };
    }
  }

  /** install / update / uninstall, then the reboot it asks for when permitted. */
  async content(op: ContentOperation, conduit: HandlerConduit, typeId: string, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    const h = this.registry.find('content', typeId);
    if (!h) return this.noHandler(ContentReport, 'content', typeId);
    const report = await this.call(h, op, ContentReport, conduit, [units, options]);
    if (!(report instanceof ContentReport)) return report;
    // `reboot` requested with the change: reboot when something changed.
    if (truthy(options.reboot) && report.succeeded && report.numChanges > 0) {
      report.reboot = { ...report.reboot, required: true, permitted: true };
    }
    if (report.succeeded && report.reboot.required && report.reboot.permitted && !report.reboot.scheduled) {
      const r = await this.reboot(conduit, options);
      // What the content handler said of the reboot (which packages need it) stays beside the
      // system handler's report (report, succeeded, numChanges, details), which is not rewritten.
      report.reboot = { ...report.reboot, scheduled: r.succeeded, details: { ...report.reboot.details, ...r.toJSON() } };
    }
    return report;
  }

  profile(conduit: HandlerConduit, typeId: string, options: HandlerOptions): Promise<ProfileReport> {
    const h = this.registry.find('content', typeId);
    if (!h) return Promise.resolve(this.noHandler(ProfileReport, 'content', typeId));
    return this.call(h, 'profile', ProfileReport, conduit, [options]);
  }

  bind(conduit: HandlerConduit, binding: Binding, options: HandlerOptions): Promise<BindReport> {
    const h = this.registry.find('bind', binding.typeId);
    if (!h) return Promise.resolve(this.noHandler(BindReport, 'bind', binding.typeId));
    return this.call(h, 'bind', BindReport, conduit, [binding, options]);
  }

  unbind(conduit: HandlerConduit, typeId: string, repoId: string, options: HandlerOptions): Promise<BindReport> {
    const h = this.registry.find('bind', typeId);
    if (!h) return Promise.resolve(this.noHandler(BindReport, 'bind', typeId));
    return this.call(h, 'unbind', BindReport, conduit, [repoId, options]);
  }

  /** clean on every bind handler (details keyed by distributor type id). */
  async clean(conduit: HandlerConduit, options: HandlerOptions): Promise<AggregateReport> {
    const all = new AggregateReport();
    for (const h of this.registry.list('bind')) all.add(h.typeId, await this.call(h, 'clean', CleanReport, conduit, [options]));
    return all;
  }

  /**
   * Reboot through the system handler of this host's OS. A system handler reboots the machine
   * stagepush runs on, so only a consumer that is this host (its root is /, or a symlink to it)
   * is rebooted; a consumer whose root is a directory tree stands for another host, and its
   * reboot is a failed report saying why (no handler is called).
   */
  reboot(conduit: HandlerConduit, options: HandlerOptions): Promise<RebootReport> {
    if (!isThisHost(conduit.root)) {
      const message = `consumer ${conduit.consumerId} has the root ${conduit.root}, a directory tree standing for another host, not this host: it is not rebooted (only a consumer whose root is / is rebooted, through the system handler)`;
      this.log.warn(`reboot not scheduled: ${message}`);
      return Promise.resolve(new RebootReport().setFailed({ code: 'AGENT_REBOOT_NOT_THIS_HOST', scheduled: false, root: conduit.root, message }));
    }
    const h = this.registry.find('system', this.osType);
    if (!h) return Promise.resolve(this.noHandler(RebootReport, 'system', this.osType));
    return this.call(h, 'reboot', RebootReport, conduit, [options]);
  }
}

/** The consumer root is this host's / (itself or through a symlink); a missing root is not. */
function isThisHost(root: string): boolean {
  try {
    return realpathSync(root) === '/';
  } catch {
    return false;
  }
}

function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return ['true', 'yes', '1', 'on'].includes(v.trim().toLowerCase());
  return false;
}

