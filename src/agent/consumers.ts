/**
 * Consumer operations: what `stagepush consumer …` does. Consumers, their bindings and last
 * profiles live in the engine's database (engine.consumers); the work on the consumer is done by
 * handlers through the Agent dispatcher, which always answers with a report.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import type { EventSink } from '../events.js';
import type { Agent, ContentOperation } from './agent.js';
import type { AgentEngineApi, BindingRecord, ConsumerRecord } from './engine-api.js';
import type { ContentUnitSpec, HandlerConduit, HandlerOptions, ProgressReporter } from './handler.js';
import { AggregateReport, CleanReport, type BindReport, type ContentReport, type HandlerReport, type ProfileReport, type RebootReport } from './reports.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface ConsumerDetails extends ConsumerRecord {
  bindings: BindingRecord[];
}

export class ConsumerService {
  constructor(
    readonly engine: AgentEngineApi,
    readonly agent: Agent,
    private readonly sink: EventSink = () => {},
    private readonly signal: AbortSignal = new AbortController().signal,
  ) {}

  private consumer(name: string): ConsumerRecord {
    const c = this.engine.consumers.get(name);
    if (!c) throw new StagepushError('AGENT_NO_CONSUMER', `no consumer "${name}" (see consumer list)`, { kind: 'invalid', entry: name });
    return c;
  }

  /** The conduit handed to handlers for this consumer. */
  conduit(c: ConsumerRecord): HandlerConduit {
    let last: Record<string, unknown> | undefined;
    const sink = this.sink;
    const progress: ProgressReporter = {
      report(p) {
        last = p;
        sink({ type: 'progress', progress: { consumer: c.id, ...p } });
      },
      get last() {
        return last;
      },
    };
    const engine = this.engine;
    return {
      consumerId: c.id,
      consumerConfig: Object.freeze({ ...c, notes: { ...c.notes } }),
      root: c.root,
      engine,
      progress,
      log: this.agent.log,
      signal: this.signal,
      bindings: () => engine.consumers.bindings(c.id),
    };
  }

  /**
   * Run `fn` holding the consumer's lock: bind, unbind, clean and unregister read, change and
   * rewrite the consumer's files (one repo file for every yum binding) and its bindings; run at
   * once by several processes, each would write back what it read and lose the others' changes.
   */
  private async locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.engine.consumers.lock(name);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  register(name: string, root: string, notes: Record<string, string> = {}): ConsumerRecord {
    if (!NAME_RE.test(name)) {
      throw new StagepushError('AGENT_BAD_CONSUMER_NAME', `consumer name "${name}": letters, digits, "_", "." and "-" (starting with a letter or digit, at most 128)`, { kind: 'usage', entry: name });
    }
    const abs = path.resolve(root);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new StagepushError('AGENT_ROOT_MISSING', `consumer root ${abs} is not a directory`, { kind: 'invalid', file: abs, field: '--root' });
    }
    if (this.engine.consumers.get(name)) throw new StagepushError('AGENT_CONSUMER_EXISTS', `consumer "${name}" is already registered`, { kind: 'invalid', entry: name });
    // One consumer per root: bind files and the rpm database there are the consumer's (cleaning
    // one consumer would remove another's repository files).
    const real = realpathSync(abs);
    const sharing = this.engine.consumers.list().find((c) => (existsSync(c.root) ? realpathSync(c.root) : c.root) === real);
    if (sharing) {
      throw new StagepushError('AGENT_ROOT_TAKEN', `consumer root ${abs} is already the root of consumer "${sharing.id}"`, { kind: 'invalid', file: abs, field: '--root', hint: `one consumer per root (stagepush consumer unregister ${sharing.id} first)` });
    }
    return this.engine.consumers.register(name, { root: abs, notes });
  }

  list(): ConsumerRecord[] {
    return this.engine.consumers.list();
  }

  show(name: string): ConsumerDetails & { profiles: Record<string, unknown> } {
    const c = this.consumer(name);
    const profiles: Record<string, unknown> = {};
    for (const h of this.agent.registry.list('content')) {
      const p = this.engine.consumers.getProfile(name, h.typeId);
      if (p) profiles[h.typeId] = p;
    }
    return { ...c, bindings: this.engine.consumers.bindings(name), profiles };
  }

  /**
   * clean on every bind handler, then the consumer is removed (with its bindings and profiles).
   * When a clean failed the consumer stays, with the bindings whose files are still there (as
   * `clean` leaves them): forgetting it would leave those files behind and free the root.
   */
  unregister(name: string): Promise<AggregateReport> {
    return this.locked(name, async () => {
      const report = await this.cleanLocked(name, {});
      if (!report.succeeded) {
        report.details.unregistered = null;
        report.details.kept = `consumer "${name}" is kept: a binding could not be cleaned (a bind handler failed or is not loaded; fix that, run consumer clean, then unregister again)`;
        return report;
      }
      this.engine.consumers.unregister(name);
      report.details.unregistered = name;
      return report;
    });
  }

  /** Pick the distributor to bind: the one given, else the repository's only one with a bind handler. */
  chooseDistributor(repoId: string, distributorId?: string): { id: string; typeId: string } {
    if (!this.engine.repoExists(repoId)) throw new StagepushError('AGENT_NO_REPO', `no repository "${repoId}"`, { kind: 'invalid', entry: repoId });
    const dists = this.engine.listDistributors(repoId);
    const describe = (ds: Array<{ id: string; typeId: string }>) => ds.map((d) => `${d.id} (${d.typeId})`).join(', ') || 'none';
    if (distributorId !== undefined) {
      const d = dists.find((x) => x.id === distributorId);
      if (!d) throw new StagepushError('AGENT_NO_DISTRIBUTOR', `repository "${repoId}" has no distributor "${distributorId}" (it has: ${describe(dists)})`, { kind: 'invalid', entry: repoId, field: '--distributor' });
      return d;
    }
    const bindable = dists.filter((d) => this.agent.registry.find('bind', d.typeId));
    if (bindable.length === 1) return bindable[0]!;
    const handled = this.agent.registry.list('bind').map((h) => h.typeId).join(', ') || 'none';
    if (!bindable.length) {
      throw new StagepushError('AGENT_NO_BINDABLE_DISTRIBUTOR', `repository "${repoId}" has no distributor with a bind handler (distributors: ${describe(dists)}; bind handlers for: ${handled})`, {
        kind: 'invalid',
        entry: repoId,
      });
    }
    throw new StagepushError('AGENT_BIND_AMBIGUOUS', `repository "${repoId}" has several distributors with a bind handler: ${describe(bindable)}`, {
      kind: 'usage',
      entry: repoId,
      hint: 'choose one with --distributor DID',
    });
  }

  bind(name: string, repoId: string, distributorId?: string, options: HandlerOptions = {}): Promise<BindReport> {
    return this.locked(name, () => this.bindLocked(name, repoId, distributorId, options));
  }

  private async bindLocked(name: string, repoId: string, distributorId: string | undefined, options: HandlerOptions): Promise<BindReport> {
    const c = this.consumer(name);
    const dist = this.chooseDistributor(repoId, distributorId);
    // One binding per repository: bound through another distributor, the first binding's files
    // would be left behind (unbind runs one handler).
    const prev = this.engine.consumers.bindings(name).find((b) => b.repoId === repoId);
    if (prev && prev.distributorId !== dist.id) {
      throw new StagepushError('AGENT_ALREADY_BOUND', `consumer "${name}" is bound to "${repoId}" through distributor ${prev.distributorId} (${prev.typeId})`, {
        kind: 'invalid',
        entry: repoId,
        hint: `stagepush consumer unbind ${name} ${repoId} first`,
      });
    }
    const payload = await this.engine.createConsumerPayload(repoId, dist.id, {});
    const report = await this.agent.bind(this.conduit(c), { repoId, distributorId: dist.id, typeId: dist.typeId, details: payload }, options);
    if (report.succeeded) this.engine.consumers.setBinding(name, repoId, dist.id, dist.typeId, payload);
    return report;
  }

  unbind(name: string, repoId: string, options: HandlerOptions = {}): Promise<BindReport> {
    return this.locked(name, async () => {
      const c = this.consumer(name);
      const b = this.engine.consumers.bindings(name).find((x) => x.repoId === repoId);
      if (!b) throw new StagepushError('AGENT_NOT_BOUND', `consumer "${name}" is not bound to "${repoId}"`, { kind: 'invalid', entry: repoId });
      const report = await this.agent.unbind(this.conduit(c), b.typeId, repoId, options);
      if (report.succeeded) this.engine.consumers.removeBinding(name, repoId);
      return report;
    });
  }

  /**
   * clean on every bind handler; a binding is forgotten when the handler of its type cleaned (so
   * the bindings stay in step with the files each handler removed). A binding whose type has no
   * bind handler loaded (its descriptor disabled, or refused: a conf.d override with a mistake
   * takes the built-in one's place) cannot be cleaned: its files stay, so the clean fails for that
   * type (AGENT_NO_HANDLER) and the binding is kept, as unbind keeps it.
   */
  clean(name: string, options: HandlerOptions = {}): Promise<AggregateReport> {
    return this.locked(name, () => this.cleanLocked(name, options));
  }

  private async cleanLocked(name: string, options: HandlerOptions): Promise<AggregateReport> {
    const c = this.consumer(name);
    const report = await this.agent.clean(this.conduit(c), options);
    const bindings = this.engine.consumers.bindings(name);
    const unhandled = new Map<string, string[]>();
    for (const b of bindings) if (!report.parts[b.typeId]) unhandled.set(b.typeId, [...(unhandled.get(b.typeId) ?? []), b.repoId]);
    for (const [typeId, repos] of unhandled) {
      const message = `no bind handler for type "${typeId}" is loaded: the configuration of the binding${repos.length > 1 ? 's' : ''} to ${repos.join(', ')} cannot be removed and ${repos.length > 1 ? 'they are' : 'it is'} kept (load the handler, see agent handlers, then clean again)`;
      this.agent.log.warn(`clean ${name}: ${message}`);
      report.add(typeId, new CleanReport().setFailed({ code: 'AGENT_NO_HANDLER', message, typeId, bindings: repos }));
    }
    for (const b of bindings) {
      if (report.parts[b.typeId]?.succeeded) this.engine.consumers.removeBinding(name, b.repoId);
    }
    return report;
  }

  /** Under the consumer's lock too: a clean or an unbind meanwhile would take its repositories away mid-install. */
  async content(op: ContentOperation, name: string, typeId: string, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    const c = this.consumer(name);
    return this.locked(name, async () => {
      const conduit = this.conduit(c);
      const report = await this.agent.content(op, conduit, typeId, units, options);
      // Keep the stored profile current after a change.
      if (report.numChanges > 0 && this.agent.registry.find('content', typeId)) await this.storeProfile(conduit, typeId, options);
      return report;
    });
  }

  private async storeProfile(conduit: HandlerConduit, typeId: string, options: HandlerOptions): Promise<ProfileReport> {
    const report = await this.agent.profile(conduit, typeId, options);
    if (report.succeeded) this.engine.consumers.setProfile(conduit.consumerId, typeId, report.details);
    return report;
  }

  async profile(name: string, typeId: string, options: HandlerOptions = {}): Promise<ProfileReport> {
    const c = this.consumer(name);
    return this.locked(name, () => this.storeProfile(this.conduit(c), typeId, options));
  }

  reboot(name: string, options: HandlerOptions = {}): Promise<RebootReport> {
    const c = this.consumer(name);
    return this.agent.reboot(this.conduit(c), options);
  }
}

export type AnyReport = HandlerReport;
