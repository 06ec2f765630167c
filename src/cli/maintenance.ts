import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { output, parseIntArg, short, withEngine } from './engine-common.js';
import { table } from './output.js';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Push logs and stat cache rows older than `days` (0 = keep all): removed, or counted when dry. */
async function prunePushRecords(dataDir: string, days: number, dryRun: boolean): Promise<{ logs: string[]; statCache: number }> {
  if (!days) return { logs: [], statCache: 0 };
  const { existsSync } = await import('node:fs');
  const path = await import('node:path');
  const { pruneLogs } = await import('../push/audit.js');
  const logs = pruneLogs(dataDir, days, Date.now(), { dryRun });
  let statCache = 0;
  if (existsSync(path.join(dataDir, 'push.sqlite'))) {
    const { PushCache } = await import('../push/cache.js');
    const cache = PushCache.open(dataDir, { readOnly: dryRun });
    try {
      statCache = cache.prune(days, { dryRun });
    } finally {
      cache.close();
    }
  }
  return { logs, statCache };
}

export function register(program: Command): void {
  const orphans = program.command('orphans').description('units in no repository version (and not pinned)');
  orphans
    .command('list')
    .description('list orphan units')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      await withEngine(cmd, { ifNone: (g) => output(g, [], () => 'no orphans (no engine in the data dir yet)'), quietPluginErrors: true }, async (eng, g) => {
        const os = eng.orphans.list();
        output(g, os, () => (os.length ? table(os.map((u) => [u.id, u.typeId, short(u.unitKey, 70), u.sha256 ? u.sha256.slice(0, 12) : '-']), ['ID', 'TYPE', 'KEY', 'SHA256']) : 'no orphans'));
      });
    });
  orphans
    .command('remove')
    .description('delete orphan units and the stored files no unit references any more')
    .option('--dry-run', 'only report what would be deleted')
    .option('--json', 'JSON output')
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      await withEngine(cmd, { existing: true, quietPluginErrors: true }, async (eng, g) => {
        const r = await eng.removeOrphans({ dryRun: !!o.dryRun });
        output(g, r, () => `${r.dryRun ? 'would remove' : 'removed'} ${r.units} orphan unit(s) and ${r.files} file(s), ${bytes(r.bytes)}`);
      });
    });

  program
    .command('gc')
    .description('prune versions beyond retention, old task rows, orphans, stray temp files, push logs and stat cache rows older than log_retention_days (safe under the locks; for cron)')
    .option('--dry-run', 'only report what would be removed')
    .option('--task-retention-days <n>', 'keep finished task rows this many days', '30')
    .option('--log-retention-days <n>', 'keep push logs (and stat cache rows of files not seen) this many days; 0 = keep all (default: log_retention_days of the config file, 30)')
    .option('--json', 'JSON output')
    .action(async (o: { dryRun?: boolean; taskRetentionDays: string; logRetentionDays?: string }, cmd: Command) => {
      // Options are checked before anything is removed.
      const taskRetentionDays = parseIntArg(o.taskRetentionDays, '--task-retention-days');
      const logRetentionDays = o.logRetentionDays !== undefined ? parseIntArg(o.logRetentionDays, '--log-retention-days') : undefined;
      await withEngine(cmd, { existing: true, interruptible: true, quietPluginErrors: true }, async (eng, g, settings) => {
        const dryRun = !!o.dryRun;
        const r = await eng.gc({ dryRun, taskRetentionDays });
        const days = logRetentionDays ?? settings.logRetentionDays;
        const push = await prunePushRecords(settings.dataDir, days, dryRun);
        output(g, { ...r, logRetentionDays: days, pushLogsPruned: push.logs, statCachePruned: push.statCache }, () =>
          [
            `${r.dryRun ? 'gc (dry run): would remove' : 'gc: removed'}`,
            `  versions beyond retention: ${r.versionsPruned}`,
            `  task rows: ${r.tasksPruned}`,
            `  publish records: ${r.publishesPruned}`,
            `  orphan units: ${r.orphans.units}, files: ${r.orphans.files} (${bytes(r.orphans.bytes)})`,
            `  stray temp files: ${r.tempFilesRemoved}`,
            `  working dirs of deleted repositories: ${r.workingDirsRemoved}`,
            `  push logs older than ${days} day(s): ${push.logs.length}`,
            `  stat cache rows, cached headers and advisories not seen for ${days} day(s): ${push.statCache}`,
          ].join('\n'),
        );
      });
    });

  program
    .command('fsck')
    .description('check the engine: database integrity, stored files and their sha256, stray temp files, published trees (exit 0 only when clean)')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true, quietPluginErrors: true }, async (eng, g) => {
        const r = await eng.fsck();
        output(g, r, () =>
          [
            `database: ${r.integrity}`,
            `units: ${r.unitsChecked}, files: ${r.filesChecked}, published trees: ${r.publishesChecked}`,
            ...r.problems.map((p) => `problem [${p.code}] ${p.file ? p.file + ': ' : ''}${p.message}`),
            ...r.notices.map((p) => `notice [${p.code}] ${p.file ? p.file + ': ' : ''}${p.message}`),
            r.ok ? 'fsck: clean' : `fsck: ${r.problems.length} problem(s)`,
          ].join('\n'),
        );
        if (!r.ok) {
          process.exitCode = EXIT.failed;
          // -q is silent on success only: the problems go to stderr (a cron job's mail).
          if (g.quiet) for (const p of r.problems) process.stderr.write(`problem [${p.code}] ${p.file ? p.file + ': ' : ''}${p.message}\n`);
        }
      });
    });
}
