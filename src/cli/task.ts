import type { Command } from 'commander';
import { StagepushError } from '../errors.js';
import type { TaskInfo, TaskState } from '../engine/index.js';
import { TASK_KINDS } from '../engine/types.js';
import { collect, output, parseIntArg, short, withEngine } from './engine-common.js';
import { table } from './output.js';

const STATES = ['waiting', 'running', 'finished', 'error', 'canceled'];

function taskHuman(t: TaskInfo): string {
  const lines = [
    `id:        ${t.id}`,
    `kind:      ${t.kind}`,
    `repo:      ${t.repoId ?? '-'}`,
    `state:     ${t.state}${t.cancelRequested && (t.state === 'running' || t.state === 'waiting') ? ' (cancel requested)' : ''}`,
    `created:   ${t.created}`,
    `started:   ${t.started ?? '-'}`,
    `finished:  ${t.finished ?? '-'}`,
    `owner:     ${t.pid !== null ? `pid ${t.pid} on ${t.host}` : '-'}`,
    `progress:  ${t.progress === null ? '-' : JSON.stringify(t.progress)}`,
  ];
  if (t.result !== null) lines.push(`result:    ${short(t.result, 400)}`);
  if (t.error) lines.push(`error:     [${t.error.code}] ${t.error.message}`, ...(t.error.trace ? ['trace:', ...t.error.trace.split('\n').map((l) => '  ' + l)] : []));
  return lines.join('\n');
}

export function register(program: Command): void {
  const task = program.command('task').description('recorded tasks: list, show, cancel');

  task
    .command('list')
    .description('list tasks, newest first')
    .option('--state <state>', `only tasks in this state (repeatable: ${STATES.join(', ')})`, collect, [])
    .option('--repo <id>', "only tasks of this repository (a push's transaction over it and others too)")
    .option('--kind <kind>', `only tasks of this kind (${TASK_KINDS.join(', ')})`)
    .option('--limit <n>', 'at most N tasks', '50')
    .option('--json', 'JSON output')
    .action(async (o: { state: string[]; repo?: string; kind?: string; limit: string }, cmd: Command) => {
      for (const s of o.state) if (!STATES.includes(s)) throw new StagepushError('CLI_USAGE', `--state ${s}: one of ${STATES.join(', ')}`, { kind: 'usage' });
      // A misspelt kind listed nothing ("no tasks"), which a monitoring job reads as all is well.
      if (o.kind !== undefined && !(TASK_KINDS as readonly string[]).includes(o.kind)) throw new StagepushError('CLI_USAGE', `--kind ${o.kind}: one of ${TASK_KINDS.join(', ')}`, { kind: 'usage', field: '--kind' });
      await withEngine(cmd, { ifNone: (g) => output(g, [], () => 'no tasks (no engine in the data dir yet)'), quietPluginErrors: true }, async (eng, g) => {
        const ts = eng.tasks.list({ state: o.state.length ? (o.state as TaskState[]) : undefined, repoId: o.repo, kind: o.kind, limit: parseIntArg(o.limit, '--limit') });
        output(g, ts, () => (ts.length ? table(ts.map((t) => [t.id, t.kind, t.repoId ?? '-', t.state, t.created, t.progress === null ? '-' : short(t.progress, 40)]), ['ID', 'KIND', 'REPO', 'STATE', 'CREATED', 'PROGRESS']) : 'no tasks'));
      });
    });

  task
    .command('show')
    .argument('<id>', 'task id (see stagepush task list)')
    .description('show a task: state, latest progress, result, error with trace')
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true, quietPluginErrors: true }, async (eng, g) => {
        const t = eng.tasks.show(id);
        if (!t) throw new StagepushError('ENGINE_TASK_NOT_FOUND', `no task ${JSON.stringify(id)}`, { kind: 'invalid', hint: 'stagepush task list' });
        output(g, t, () => taskHuman(t));
      });
    });

  task
    .command('cancel')
    .argument('<id>', 'task id (see stagepush task list)')
    .description('ask the process running a task to cancel it (its changes are discarded)')
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true, quietPluginErrors: true }, async (eng, g) => {
        eng.tasks.cancel(id);
        const t = eng.tasks.show(id)!;
        output(g, t, () => (t.state === 'canceled' ? `task ${id} canceled` : `cancel requested for task ${id} (${t.state}); the running process stops it`));
      });
    });
}
