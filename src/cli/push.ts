import { Command, Option } from 'commander';
import { resolveGlobals } from './globals.js';
import { createRenderer, printJson, progressModeFor, say, sayingWaits, table } from './output.js';
import { StagepushError, exitStatusFor, formatError } from '../errors.js';
import type { EventSink } from '../events.js';

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

interface PushFlags {
  dryRun?: boolean;
  skip?: string[];
  prePush?: boolean;
  forcePublish?: boolean;
  bumpErrata?: boolean;
  dest?: string[];
  excludeDest?: string[];
  progress?: string;
  logFile?: string;
}

/** Registers the `push` command group. Heavy modules are imported inside the actions only. */
export function register(program: Command): void {
  const push = program
    .command('push')
    .description('push staging areas (staged:DIR[,DIR…][?threads=N&timeout=S] or DIR) into their repositories and publish what changed')
    .argument('[urls...]', 'staging areas')
    .option('--dry-run', 'print the plan (units to add, replace, remove, leave; repositories to publish) and change nothing')
    .option('--skip <phase>', 'skip a phase: publish (import only)', collect)
    .option('--pre-push', 'only store content (checksums, headers, files) so a later push is fast; nothing becomes visible')
    .option('--force-publish', 'republish every repository of the push, changed or not')
    .option('--bump-errata', 'increment the version of a changed advisory that would not move forward')
    .option('--dest <dest>', 'push only these destinations (repeatable, comma-separated)', collect)
    .option('--exclude-dest <dest>', 'leave these destinations out (repeatable, comma-separated)', collect)
    .addOption(new Option('--progress <mode>', 'progress output on stderr').choices(['tty', 'plain', 'ndjson', 'none']))
    .option('--log-file <file>', 'also append the push log to this file')
    .option('--json', 'print the final report as JSON')
    .action(async (urls: string[], flags: PushFlags, cmd: Command) => {
      const raw = cmd.optsWithGlobals();
      const g = resolveGlobals(raw);
      const mode = progressModeFor(g, flags.progress);
      // With --progress ndjson, stderr holds one JSON event per line: the push's error is one
      // more event ({"type": "error", code, message, problems…}), not text among the events
      // that a reader parsing each line as JSON fails on.
      const writeError = (err: unknown): void => {
        const what = err instanceof StagepushError ? err.toJSON() : { code: 'INTERNAL', message: String((err as Error)?.message ?? err) };
        process.stderr.write((mode === 'ndjson' ? JSON.stringify({ ts: new Date().toISOString(), type: 'error', exit_status: exitStatusFor(err), ...what }) : formatError(err)) + '\n');
      };
      let renderer: { sink: EventSink; stop(): void } | undefined;
      try {
        if (!urls.length) throw new StagepushError('PUSH_USAGE', 'give at least one staging area (staged:DIR or DIR)', { kind: 'usage' });
        for (const s of flags.skip ?? []) {
          if (s !== 'publish') throw new StagepushError('PUSH_USAGE', `--skip ${s}: only "publish" can be skipped`, { kind: 'usage', field: '--skip' });
        }
        if (flags.dryRun && flags.prePush) throw new StagepushError('PUSH_USAGE', '--dry-run and --pre-push cannot be combined', { kind: 'usage' });
        // An empty value (a cron line's "$DEST" with DEST unset) is refused: --dest "" pushed every
        // destination, --log-file "" kept no log.
        for (const [flag, values] of [['--dest', flags.dest], ['--exclude-dest', flags.excludeDest]] as const) {
          if (values !== undefined && values.length === 0) throw new StagepushError('PUSH_USAGE', `${flag}: an empty value (no destination named)`, { kind: 'usage', field: flag });
        }
        if (flags.logFile !== undefined && !flags.logFile.trim()) throw new StagepushError('PUSH_USAGE', '--log-file: an empty path', { kind: 'usage', field: '--log-file' });
        const { loadConfig, resolveSettings } = await import('../config/index.js');
        const loaded = loadConfig(g.configFile);
        const settings = resolveSettings(loaded, { dataDir: raw.dataDir as string | undefined, wait: raw.wait as boolean | undefined, waitTimeout: g.waitTimeout });
        renderer = await createRenderer(mode, g.quiet);
        const { handleInterrupts } = await import('./main.js');
        const signal = handleInterrupts();
        // The source's workers and the engine each listen to it.
        const events = await import('node:events');
        events.EventEmitter.setMaxListeners(256, signal);
        const { runPush } = await import('../push/run.js');
        const { renderText } = await import('../push/report.js');
        const report = await runPush({
          urls,
          loaded,
          settings,
          dryRun: flags.dryRun,
          skipPublish: (flags.skip ?? []).includes('publish'),
          prePush: flags.prePush,
          forcePublish: flags.forcePublish,
          bumpErrata: flags.bumpErrata,
          dest: flags.dest,
          excludeDest: flags.excludeDest,
          logFile: flags.logFile,
          events: sayingWaits(renderer.sink, mode, g.quiet),
          verbose: g.verbose > 0 || mode === 'ndjson',
          signal,
        });
        renderer.stop();
        if (g.json) printJson(report);
        else if (report.exit_status !== 0) process.stdout.write(renderText(report) + '\n');
        else say(g, renderText(report));
        // A push that ended failed (a publish or a post_publish hook: exit 6) says why on stderr,
        // as every other failed push does: a cron job keeping stdout out of its mail (-q, --json,
        // > /dev/null) heard nothing of it.
        if (report.exit_status !== 0) {
          const failed = new StagepushError('PUSH_FAILED', `the push failed after its import (${report.problems.length} problem(s)); what it imported is kept: the next push publishes what is not published and runs the failed hooks again`, {
            kind: 'failed',
            problems: report.problems,
          });
          writeError(failed);
        }
        process.exitCode = report.exit_status;
      } catch (err) {
        renderer?.stop();
        const report = (err as { report?: unknown }).report;
        if (g.json && report) printJson(report);
        else if (g.json) printJson({ error: err instanceof StagepushError ? err.toJSON() : { code: 'INTERNAL', message: String((err as Error)?.message ?? err) } });
        writeError(err);
        process.exitCode = exitStatusFor(err);
      }
    });

  push
    .command('list')
    .description('list recorded pushes (<data-dir>/logs/<push id>/), oldest first')
    .option('--json', 'machine-readable JSON output')
    .action(async (_opts: unknown, cmd: Command) => {
      const raw = cmd.optsWithGlobals();
      const g = resolveGlobals(raw);
      const { loadConfig, resolveSettings } = await import('../config/index.js');
      const settings = resolveSettings(loadConfig(g.configFile), { dataDir: raw.dataDir as string | undefined });
      const { listPushes } = await import('../push/audit.js');
      const rows = listPushes(settings.dataDir);
      if (g.json) return printJson(rows);
      if (!rows.length) return say(g, `no push recorded in ${settings.dataDir}/logs`);
      say(
        g,
        table(
          rows.map((r) => [r.id, r.started ?? '-', r.status, String(r.exit_status ?? '-'), String(r.items ?? '-'), String(r.pushed ?? '-'), String(r.repositories_published ?? '-'), r.sources.join(' ')]),
          ['PUSH', 'STARTED', 'STATUS', 'EXIT', 'ITEMS', 'PUSHED', 'PUBLISHED', 'SOURCES'],
        ),
      );
    });

  push
    .command('show')
    .description('show one recorded push: its report, log and the staged.yaml it used')
    .argument('<id>', 'push id (see push list)')
    .option('--json', 'machine-readable JSON output')
    .option('--log', 'print the log only')
    .action(async (id: string, opts: { log?: boolean }, cmd: Command) => {
      const raw = cmd.optsWithGlobals();
      const g = resolveGlobals(raw);
      const { loadConfig, resolveSettings } = await import('../config/index.js');
      const settings = resolveSettings(loadConfig(g.configFile), { dataDir: raw.dataDir as string | undefined });
      const { showPush } = await import('../push/audit.js');
      const { renderText } = await import('../push/report.js');
      const p = showPush(settings.dataDir, id);
      if (g.json) return printJson(p);
      if (opts.log) return void process.stdout.write(p.log);
      say(g, `push ${p.id} (${p.dir})`);
      if (p.report) {
        // How it ended first: a push refused, locked out or interrupted looks otherwise like one that changed nothing.
        const r = p.report;
        say(g, `status: ${r.status}${r.dry_run ? ' (dry run)' : ''}, exit ${r.exit_status}; started ${r.started}${r.finished ? `, finished ${r.finished}` : ''}`);
        say(g, renderText(r));
        for (const pr of r.problems) say(g, `problem [${pr.code}]${pr.file ? ` ${pr.file}` : ''}${pr.entry ? ` (${pr.entry})` : ''}: ${pr.message}`);
      } else if (p.running?.status === 'running') say(g, `status: running (pid ${p.running.pid} on ${p.running.host}), started ${p.running.started}: ${p.running.sources.join(' ')}`);
      else if (p.running && p.running.status !== 'incomplete') say(g, `status: ${p.running.status} (pid ${p.running.pid}), started ${p.running.started}: ${p.running.sources.join(' ')}`);
      else say(g, `(no report: the push did not finish${p.running ? ` — pid ${p.running.pid} on ${p.running.host}, started ${p.running.started}, is gone` : ''})`);
      for (const m of p.metadata) say(g, `staged metadata: ${m}`);
      say(g, `log: ${p.dir}/push.log`);
    });
}
