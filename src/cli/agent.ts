import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { GlobalOptions } from './globals.js';
import { printJson, say, table } from './output.js';
import { EXIT, StagepushError, formatError } from '../errors.js';
import type { EventSink } from '../events.js';

/** Options every agent/consumer command takes (besides the global ones). */
export function addAgentOptions(cmd: Command): Command {
  return cmd
    .option('--agent-conf-dir <dir>', 'handler descriptor directory (env STAGEPUSH_AGENT_CONF_DIR; default /etc/stagepush/agent/conf.d)')
    .option('--agent-handlers-dir <dir>', 'handler modules directory (env STAGEPUSH_AGENT_HANDLERS_DIR; default /usr/lib/stagepush/agent/handlers)')
    .option('--agent-log <target>', 'handler log: syslog, stderr or file:PATH (env STAGEPUSH_AGENT_LOG; default syslog)')
    .option('--json', 'print the result as JSON');
}

export interface AgentContext {
  g: GlobalOptions;
  engine: import('../engine/index.js').Engine;
  api: import('../agent/engine-api.js').AgentEngineApi;
  agent: import('../agent/agent.js').Agent;
  registry: import('../agent/loader.js').HandlerRegistry;
  service: import('../agent/consumers.js').ConsumerService;
  close(): void;
}

/**
 * Open the engine (data dir and plugins from flags, environment and the config file) and load
 * the handlers. Descriptor problems are shown as warnings (every one names its file).
 */
/** `existing`: the engine must be there already (a consumer command other than register: a mistyped data dir gets no new engine). */
export async function openAgentContext(cmd: Command, opts: { showProblems?: boolean; existing?: boolean } = {}): Promise<AgentContext> {
  const raw = cmd.optsWithGlobals() as Record<string, unknown>;
  // The engine opens exactly as for the repo/content commands (same data dir, plugins, config dir);
  // the agent's own settings may come from the config file's `agent:` section.
  const { commandSettings, engineOptionsFromEnv } = await import('./engine-common.js');
  const { g, settings, loaded } = await commandSettings(raw);
  const { resolveAgentSettings, DEFAULT_CONF_DIR, DEFAULT_HANDLERS_DIR } = await import('../agent/index.js');
  const base = loaded.file ? path.dirname(loaded.file) : process.cwd();
  const ac = loaded.config.agent;
  const fromFile = (v: string | undefined, def: string) => (v && v !== def ? path.resolve(base, v) : undefined);
  const agentSettings = resolveAgentSettings(raw, process.env, {
    conf_d: fromFile(ac?.conf_d, DEFAULT_CONF_DIR),
    handlers_dir: fromFile(ac?.handlers_dir, DEFAULT_HANDLERS_DIR),
    // file:PATH relative to the config file, as every path in it.
    log: ac?.log && ac.log !== 'syslog' ? (ac.log.startsWith('file:') && ac.log.length > 5 ? `file:${path.resolve(base, ac.log.slice(5))}` : ac.log) : undefined,
  });
  const { handleInterrupts } = await import('./main.js');
  const signal = handleInterrupts();
  const { createRenderer, progressModeFor } = await import('./output.js');
  const renderer = await createRenderer(progressModeFor(g), g.quiet);
  const sink: EventSink = renderer.sink;
  if (opts.existing && !existsSync(path.join(settings.dataDir, 'engine.db'))) {
    throw new StagepushError('ENGINE_NOT_FOUND', `no engine in ${settings.dataDir} (no engine.db there)`, {
      kind: 'invalid',
      file: settings.dataDir,
      hint: 'check --data-dir (STAGEPUSH_DATA_DIR, data_dir in the config); consumer register or a push makes the engine',
    });
  }
  const { openEngine } = await import('../engine/index.js');
  let engine: import('../engine/index.js').Engine;
  try {
    engine = await openEngine({ ...engineOptionsFromEnv(g, settings), events: sink, signal });
  } catch (e) {
    renderer.stop();
    throw e;
  }
  try {
    const { fromEngine } = await import('../agent/engine-adapter.js');
    const { openAgent, ConsumerService } = await import('../agent/index.js');
    const api = fromEngine(engine);
    const { agent, registry } = await openAgent(agentSettings, { contentTypes: new Set(api.contentTypeIds()), distributorTypes: new Set(api.distributorTypeIds()) }, { debug: g.verbose > 0 });
    if (opts.showProblems !== false && !g.quiet) {
      for (const p of registry.problems) sink({ type: 'warning', code: p.code, file: p.file, message: `handler descriptor refused: ${p.message}` });
    }
    holdLateErrors(agent.log, (await import('../agent/agent.js')).escapedErrors);
    const service = new ConsumerService(api, agent, sink, signal);
    return {
      g,
      engine,
      api,
      agent,
      registry,
      service,
      close() {
        renderer.stop();
        engine.close();
      },
    };
  } catch (e) {
    renderer.stop();
    engine.close();
    throw e;
  }
}

let lateHeld = false;

/**
 * An error a handler lets escape after its method returned (a timer it set fires later and throws,
 * a promise it left rejects later) arises when no call can take it, often after the command printed
 * its report: Node would end the process with exit 1 and a raw stack trace, nothing in the agent
 * log. So the listener stays installed from the opening of the agent until the process exits
 * (never let go: such an error may come after the engine is closed). The agent logs it, naming the
 * handler, method and consumer (its trace too); here it is an error line, and the exit status 6.
 */
function holdLateErrors(log: import('../agent/handler.js').AgentLogger, router: typeof import('../agent/agent.js').escapedErrors): void {
  if (lateHeld) return;
  lateHeld = true;
  router.holdForLate(log, (late) => {
    // Several calls running and none named: the error is not late, it cannot be given to one of them.
    const err = late.running
      ? new StagepushError('AGENT_HANDLER_ESCAPED_ERROR', `${late.event} while ${late.running} handler calls were running, in none of their contexts: ${late.error.message} (its trace is in the agent log)`, {
          kind: 'failed',
          hint: 'a handler let an error escape from a callback set up outside its call (an event listener, something made when its module loaded), so no call could be failed for it: fix the handler',
        })
      : new StagepushError('AGENT_HANDLER_LATE_ERROR', `${late.call ? `${late.call}: ${late.event} after the call had ended` : `${late.event} that no handler call can be named for`}: ${late.error.message} (its trace is in the agent log)`, {
          kind: 'failed',
          hint: 'the handler left a timer or a promise behind that failed after its report was given: fix the handler',
        });
    process.stderr.write(formatError(err) + '\n');
    process.exitCode = EXIT.failed;
  });
}

/** Print a handler report (JSON with --json) and set a non-zero exit status when it failed. */
export async function printReport(g: GlobalOptions, title: string, report: import('../agent/reports.js').HandlerReport, extra: Record<string, unknown> = {}): Promise<void> {
  const json = { ...extra, ...report.toJSON() };
  if (g.json) printJson(json);
  else {
    const { stringify } = await import('yaml');
    const head = `${title}: ${report.succeeded ? 'succeeded' : 'FAILED'} (${report.numChanges} change${report.numChanges === 1 ? '' : 's'})`;
    const body: Record<string, unknown> = { details: report.details };
    if ('reboot' in json && (json.reboot as { required?: boolean }).required) body.reboot = json.reboot;
    const text = `${head}\n${stringify(body, { lineWidth: 0 }).replace(/^/gm, '  ').trimEnd()}`;
    if (report.succeeded) say(g, text);
    else process.stdout.write(text + '\n');
  }
  if (!report.succeeded) process.exitCode = EXIT.failed;
}

/** Registers the `agent` command group. Heavy modules are imported inside the actions only. */
export function register(program: Command): void {
  const agent = program.command('agent').description('the consumer agent: handler descriptors and handlers');
  addAgentOptions(
    agent
      .command('handlers')
      .description('list the loaded handlers (capability, type id, class, source file), the descriptors and every descriptor problem; exit 3 when a descriptor was refused'),
  ).action(async (_o: unknown, cmd: Command) => {
    const ctx = await openAgentContext(cmd, { showProblems: false });
    try {
      const { registry, g } = ctx;
      const handlers = registry.handlers.map((h) => ({ capability: h.capability, typeId: h.typeId, class: h.className, source: h.source, descriptor: h.descriptor, config: h.config }));
      if (g.json) printJson({ handlers, descriptors: registry.descriptors, problems: registry.problems, osType: ctx.agent.osType });
      else {
        say(g, handlers.length ? table(handlers.map((h) => [h.capability, h.typeId, h.class, h.source]), ['CAPABILITY', 'TYPE', 'CLASS', 'SOURCE']) : 'no handlers loaded');
        say(g, '\n' + table(registry.descriptors.map((d) => [d.state, d.file + (d.replacedBy ? ` (replaced by ${d.replacedBy})` : '')]), ['DESCRIPTOR', 'FILE']));
        for (const p of registry.problems) {
          process.stderr.write(`error [${p.code}]: ${p.file ? `${p.file}: ` : ''}${p.message}\n`);
        }
      }
      if (registry.problems.length) process.exitCode = EXIT.invalid;
    } finally {
      ctx.close();
    }
  });
}
