import type { Command } from 'commander';
import { EXIT, formatError } from '../errors.js';
import { output, withEngine } from './engine-common.js';
import { table } from './output.js';

export function register(program: Command): void {
  const plugins = program.command('plugins').description('installed importers, distributors and content types');
  plugins
    .command('list')
    .description('list plugins (id, name, types, source) and content types; plugins that failed to load are reported (exit 3)')
    .option('--types', 'also list the content types')
    .option('--json', 'JSON output')
    .action(async (o: { types?: boolean }, cmd: Command) => {
      await withEngine(cmd, { quietPluginErrors: true, scratchIfNone: true }, async (eng, g) => {
        const ps = eng.listPlugins();
        const errors = eng.pluginLoadErrors();
        const types = eng.listTypes();
        output(g, { plugins: ps, types, errors: errors.map((e) => e.toJSON()) }, () => {
          const parts = [ps.length ? table(ps.map((p) => [p.id, p.kind, p.displayName, p.types.join(','), p.source]), ['ID', 'KIND', 'NAME', 'TYPES', 'SOURCE']) : 'no plugins installed'];
          if (o.types) parts.push('', table(types.map((t) => [t.id, t.displayName ?? '', t.unitKey.join(',')]), ['TYPE', 'NAME', 'UNIT KEY']));
          return parts.join('\n');
        });
        if (errors.length) {
          for (const e of errors) process.stderr.write(formatError(e) + '\n');
          process.exitCode = EXIT.invalid;
        }
      });
    });
}
