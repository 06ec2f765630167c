import type { Command } from 'commander';
import { StagepushError } from '../errors.js';
import type { Unit } from '../engine/index.js';
import { collect, criteriaFromOptions, output, short, withEngine } from './engine-common.js';
import { failOnPublish, taskResultHuman } from './repo.js';
import { table } from './output.js';

function unitRow(u: Unit): string[] {
  return [u.id ?? '-', u.typeId, short(u.unitKey, 70), u.relativePath ?? '-', u.sha256 ? u.sha256.slice(0, 12) : '-'];
}

export function register(program: Command): void {
  const content = program.command('content').description('content units: upload, copy, remove, list');

  content
    .command('upload <files...>')
    .description('upload files through the repository importer (one new version for all of them)')
    .requiredOption('--repo <id>', 'repository')
    .option('--type <type>', 'content type (default: guessed by the importer)')
    .option('--unit-key <k=v|@file.json>', 'unit key fields (repeatable)', collect, [])
    .option('--metadata <k=v|@file.json>', 'unit metadata (repeatable)', collect, [])
    .option('--override <k=v>', 'override importer config for this run (repeatable)', collect, [])
    .option('--json', 'JSON output')
    .action(async (files: string[], o: { repo: string; type?: string; unitKey: string[]; metadata: string[]; override: string[] }, cmd: Command) => {
      const { parseConfigArgs } = await import('../engine/config.js');
      const unitKey = parseConfigArgs(o.unitKey, '--unit-key');
      const metadata = parseConfigArgs(o.metadata, '--metadata');
      const { PLUGIN_KEY_ID_KEYS } = await import('../plugins/defaults.js');
      const override = parseConfigArgs(o.override, '--override', PLUGIN_KEY_ID_KEYS);
      const { resolveCliConfigPaths } = await import('./config-paths.js');
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        resolveCliConfigPaths(override, 'importer', [eng.getRepo(o.repo)?.importer?.typeId]);
        const reqs = files.map((f) => ({ filePath: f, typeId: o.type, unitKey: unitKey as Record<string, never>, metadata: metadata as Record<string, never>, override }));
        const r = reqs.length === 1 ? await eng.upload(o.repo, reqs[0]!) : await eng.uploadMany(o.repo, reqs);
        output(g, r, () => taskResultHuman(r));
        failOnPublish(r.publishes);
      });
    });

  content
    .command('copy')
    .description('copy units from one repository to another through the destination importer (units are shared)')
    .requiredOption('--from <id>', 'source repository')
    .requiredOption('--to <id>', 'destination repository')
    .option('--type <type>', 'content type (repeatable)', collect, [])
    .option('--filter <expr>', 'field=value, field!=value, field~=regex or a JSON object (repeatable)', collect, [])
    .option('--fields <a,b>', 'load only these metadata fields of the source units')
    .option('--override <k=v>', 'override importer config for this run (repeatable)', collect, [])
    .option('--json', 'JSON output')
    .action(async (o: { from: string; to: string; type: string[]; filter: string[]; fields?: string; override: string[] }, cmd: Command) => {
      const { parseConfigArgs } = await import('../engine/config.js');
      const { PLUGIN_KEY_ID_KEYS } = await import('../plugins/defaults.js');
      const override = parseConfigArgs(o.override, '--override', PLUGIN_KEY_ID_KEYS);
      const criteria = criteriaFromOptions(o);
      const { resolveCliConfigPaths } = await import('./config-paths.js');
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        resolveCliConfigPaths(override, 'importer', [eng.getRepo(o.to)?.importer?.typeId]);
        const r = await eng.copy(o.from, o.to, { criteria, override });
        output(g, r, () => taskResultHuman(r));
        failOnPublish(r.publishes);
      });
    });

  content
    .command('remove')
    .description('remove units from a repository (a new version; stored files stay until orphan clean-up)')
    .requiredOption('--repo <id>', 'repository')
    .option('--type <type>', 'content type (repeatable)', collect, [])
    .option('--filter <expr>', 'field=value, field!=value, field~=regex or a JSON object (repeatable)', collect, [])
    .option('--all', 'remove every unit (needed when neither --type nor --filter is given)')
    .option('--json', 'JSON output')
    .action(async (o: { repo: string; type: string[]; filter: string[]; all?: boolean }, cmd: Command) => {
      const criteria = criteriaFromOptions(o);
      if (!criteria && !o.all) throw new StagepushError('CLI_USAGE', 'content remove without --type or --filter removes every unit: add --all to confirm', { kind: 'usage' });
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        const r = await eng.removeUnits(o.repo, criteria);
        output(g, r, () => taskResultHuman(r));
      });
    });

  content
    .command('list')
    .description("list a repository's units")
    .requiredOption('--repo <id>', 'repository')
    .option('--type <type>', 'content type (repeatable)', collect, [])
    .option('--filter <expr>', 'field=value, field!=value, field~=regex or a JSON object (repeatable)', collect, [])
    .option('--fields <a,b>', 'load only these metadata fields')
    .option('--limit <n>', 'at most N units')
    .option('--skip <n>', 'skip N units')
    .option('--json', 'JSON output')
    .action(async (o: { repo: string; type: string[]; filter: string[]; fields?: string; limit?: string; skip?: string }, cmd: Command) => {
      const criteria = criteriaFromOptions(o);
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        const us = eng.listUnits(o.repo, criteria);
        output(g, us, () => (us.length ? table(us.map(unitRow), ['ID', 'TYPE', 'KEY', 'PATH', 'SHA256']) : 'no units'));
      });
    });
}
