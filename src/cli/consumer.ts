import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { StagepushError, exitStatusFor } from '../errors.js';
import { addAgentOptions, openAgentContext, printReport, type AgentContext } from './agent.js';
import { printJson, say, table } from './output.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** `existing` (default): the engine must be there already; only register makes one. */
async function withContext(cmd: Command, fn: (ctx: AgentContext) => Promise<void>, existing = true): Promise<void> {
  const ctx = await openAgentContext(cmd, { existing });
  try {
    await fn(ctx);
    // Interrupted (SIGINT/SIGTERM): the handler stopped and its report was printed; exit with
    // the signal's status.
    const { interruptedBy, interruptError } = await import('./main.js');
    if (interruptedBy()) process.exitCode = exitStatusFor(interruptError());
  } finally {
    ctx.close();
  }
}

interface ContentOpts {
  type: string;
  option: string[];
  reboot?: boolean;
}

async function contentAction(op: 'install' | 'update' | 'uninstall', name: string, units: string[], o: ContentOpts, cmd: Command): Promise<void> {
  const { parseUnit, parseOptions } = await import('../agent/index.js');
  const specs = units.map((u) => parseUnit(o.type, u));
  const options: Record<string, unknown> = parseOptions(o.option);
  if (o.reboot) options.reboot = true;
  await withContext(cmd, async ({ g, service }) => {
    const report = await service.content(op, name, o.type, specs, options);
    await printReport(g, `${op} ${o.type} on ${name}`, report, { consumer: name, operation: op, typeId: o.type, units: specs });
  });
}

/** Registers the `consumer` command group. Heavy modules are imported inside the actions only. */
export function register(program: Command): void {
  const consumer = program
    .command('consumer')
    .description('consumers of our repositories: register, bind to a repository, install/update/uninstall content through agent handlers');

  addAgentOptions(
    consumer
      .command('register')
      .description('register a consumer whose filesystem root is DIR (default /, which needs --yes)')
      .argument('<name>', 'consumer name')
      .option('--root <dir>', 'the consumer filesystem root', '/')
      .option('--yes', 'allow the root / (this host itself)')
      .option('--note <key=value>', 'a note (repeatable)', collect, []),
  ).action(async (name: string, o: { root: string; yes?: boolean; note: string[] }, cmd: Command) => {
    const root = path.resolve(o.root);
    // The host itself, named / or through a symlink to it.
    let real = root;
    try {
      real = realpathSync(root);
    } catch {
      /* a missing root is the registration's to refuse */
    }
    if (real === '/' && !o.yes) {
      throw new StagepushError('AGENT_ROOT_NEEDS_YES', `consumer ${name}: the root ${root === '/' ? '/' : `${root} (which is /)`} is this host itself: confirm with --yes (or give --root DIR)`, { kind: 'usage', field: '--root' });
    }
    const notes: Record<string, string> = {};
    for (const n of o.note) {
      const eq = n.indexOf('=');
      if (eq <= 0) throw new StagepushError('CLI_BAD_NOTE', `--note ${JSON.stringify(n)}: expected key=value`, { kind: 'usage', field: '--note' });
      notes[n.slice(0, eq).trim()] = n.slice(eq + 1);
    }
    await withContext(cmd, async ({ g, service }) => {
      const c = service.register(name, root, notes);
      if (g.json) printJson(c);
      else say(g, `registered consumer ${c.id} (root ${c.root})`);
    }, false);
  });

  addAgentOptions(consumer.command('list').description('list the consumers')).action(async (_o: unknown, cmd: Command) => {
    // As repo list: a mistyped data dir is not given an engine; there is nothing to list there.
    const { commandSettings } = await import('./engine-common.js');
    const { g: g0, settings } = await commandSettings(cmd.optsWithGlobals());
    if (!existsSync(path.join(settings.dataDir, 'engine.db'))) {
      if (g0.json) printJson([]);
      else say(g0, 'no consumers (no engine in the data dir yet)');
      return;
    }
    await withContext(cmd, async ({ g, service }) => {
      const list = service.list().map((c) => ({ ...c, bindings: service.engine.consumers.bindings(c.id).map((b) => b.repoId) }));
      if (g.json) printJson(list);
      else if (!list.length) say(g, 'no consumers');
      else say(g, table(list.map((c) => [c.id, c.root, c.bindings.join(',') || '-']), ['NAME', 'ROOT', 'BOUND TO']));
    });
  });

  addAgentOptions(consumer.command('show').description('a consumer: root, notes, bindings and last profiles').argument('<name>', 'consumer name')).action(
    async (name: string, _o: unknown, cmd: Command) => {
      await withContext(cmd, async ({ g, service }) => {
        const c = service.show(name);
        if (g.json) printJson(c);
        else {
          const { stringify } = await import('yaml');
          say(g, stringify(c, { lineWidth: 0 }).trimEnd());
        }
      });
    },
  );

  addAgentOptions(consumer.command('unregister').description('call clean on every bind handler, then forget the consumer').argument('<name>', 'consumer name')).action(
    async (name: string, _o: unknown, cmd: Command) => {
      await withContext(cmd, async ({ g, service }) => {
        await printReport(g, `unregister ${name}`, await service.unregister(name), { consumer: name, operation: 'unregister' });
      });
    },
  );

  addAgentOptions(
    consumer
      .command('bind')
      .description("bind a consumer to a repository's distributor (default: its only distributor with a bind handler)")
      .argument('<name>', 'consumer name')
      .argument('<repo>', 'repository id')
      .option('--distributor <did>', 'the distributor id')
      .option('--option <key=value>', 'handler option (repeatable)', collect, []),
  ).action(async (name: string, repo: string, o: { distributor?: string; option: string[] }, cmd: Command) => {
    const { parseOptions } = await import('../agent/index.js');
    const options = parseOptions(o.option);
    await withContext(cmd, async ({ g, service }) => {
      await printReport(g, `bind ${name} to ${repo}`, await service.bind(name, repo, o.distributor, options), { consumer: name, operation: 'bind', repoId: repo });
    });
  });

  addAgentOptions(consumer.command('unbind').description('remove a binding').argument('<name>', 'consumer name').argument('<repo>', 'repository id')).action(
    async (name: string, repo: string, _o: unknown, cmd: Command) => {
      await withContext(cmd, async ({ g, service }) => {
        await printReport(g, `unbind ${name} from ${repo}`, await service.unbind(name, repo), { consumer: name, operation: 'unbind', repoId: repo });
      });
    },
  );

  addAgentOptions(
    consumer.command('clean').description("call clean on every bind handler (removes every binding's configuration) and forget the bindings").argument('<name>', 'consumer name'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    await withContext(cmd, async ({ g, service }) => {
      await printReport(g, `clean ${name}`, await service.clean(name), { consumer: name, operation: 'clean' });
    });
  });

  for (const op of ['install', 'update', 'uninstall'] as const) {
    const c = consumer
      .command(op)
      .description(
        op === 'update'
          ? 'update content units (every installed one of the type when no UNIT is given) with the content handler of --type'
          : `${op} content units with the content handler of --type`,
      )
      .argument('<name>', 'consumer name')
      .argument(op === 'update' ? '[units...]' : '<units...>', 'units: for rpm name[-[epoch:]version-release[.arch]], else the unit name')
      .requiredOption('--type <type>', 'content type id (rpm, iso, ...)')
      .option('--option <key=value>', 'handler option (repeatable), e.g. import_key=1', collect, [])
      .option('--reboot', 'reboot (through the system handler) when the operation changed something');
    addAgentOptions(c).action(async (name: string, units: string[] | undefined, o: ContentOpts, cmd: Command) => contentAction(op, name, units ?? [], o, cmd));
  }

  addAgentOptions(
    consumer
      .command('profile')
      .description("the consumer's installed content of a type (kept in the engine)")
      .argument('<name>', 'consumer name')
      .requiredOption('--type <type>', 'content type id')
      .option('--option <key=value>', 'handler option (repeatable)', collect, []),
  ).action(async (name: string, o: { type: string; option: string[] }, cmd: Command) => {
    const { parseOptions } = await import('../agent/index.js');
    const options = parseOptions(o.option);
    await withContext(cmd, async ({ g, service }) => {
      await printReport(g, `profile ${o.type} of ${name}`, await service.profile(name, o.type, options), { consumer: name, operation: 'profile', typeId: o.type });
    });
  });

  addAgentOptions(
    consumer
      .command('reboot')
      .description("schedule a reboot through the system handler of this OS (options: reboot_delay, reboot_command)")
      .argument('<name>', 'consumer name')
      .option('--option <key=value>', 'handler option (repeatable)', collect, []),
  ).action(async (name: string, o: { option: string[] }, cmd: Command) => {
    const { parseOptions } = await import('../agent/index.js');
    const options = parseOptions(o.option);
    await withContext(cmd, async ({ g, service }) => {
      await printReport(g, `reboot ${name}`, await service.reboot(name, options), { consumer: name, operation: 'reboot' });
    });
  });
}
