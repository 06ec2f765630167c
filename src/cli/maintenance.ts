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

export function register(program: Command): void {
  const orphans = program.command('orphans').description('units in no repository version (and not pinned)');
  orphans
    .command('list')
    .description('list orphan units')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      await withEngine(cmd, { quietPluginErrors: true }, async (eng, g) => {
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
      await withEngine(cmd, { quietPluginErrors: true }, async (eng, g) => {
        const r = await eng.removeOrphans({ dryRun: !!o.dryRun });
        output(g, r, () => `${r.dryRun ? 'would remove' : 'removed'} ${r.units} orphan unit(s) and ${r.files} file(s), ${bytes(r.bytes)}`);
      });
    });

  program
    .command('gc')
    .description('prune versions beyond retention, old task rows, orphans and stray temp files (safe under the locks; for cron)')
    .option('--dry-run', 'only report what would be removed')
    .option('--task-retention-days <n>', 'keep finished task rows this many days', '30')
    .option('--json', 'JSON output')
    .action(async (o: { dryRun?: boolean; taskRetentionDays: string }, cmd: Command) => {
      await withEngine(cmd, { interruptible: true, quietPluginErrors: true }, async (eng, g) => {
        const r = await eng.gc({ dryRun: !!o.dryRun, taskRetentionDays: parseIntArg(o.taskRetentionDays, '--task-retention-days') });
        output(g, r, () =>
          [
            `${r.dryRun ? 'gc (dry run): would remove' : 'gc: removed'}`,
            `  versions beyond retention: ${r.versionsPruned}`,
            `  task rows: ${r.tasksPruned}`,
            `  orphan units: ${r.orphans.units}, files: ${r.orphans.files} (${bytes(r.orphans.bytes)})`,
            `  stray temp files: ${r.tempFilesRemoved}`,
            `  working dirs of deleted repositories: ${r.workingDirsRemoved}`,
          ].join('\n'),
        );
      });
    });

  program
    .command('fsck')
    .description('check the engine: database integrity, stored files and their sha256, stray temp files, published trees (exit 0 only when clean)')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      await withEngine(cmd, { quietPluginErrors: true }, async (eng, g) => {
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
        if (!r.ok) process.exitCode = EXIT.failed;
      });
    });
}
