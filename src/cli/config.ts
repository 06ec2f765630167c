import type { Command } from 'commander';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import { resolveGlobals } from './globals.js';
import { printJson, say, table } from './output.js';

/** Registers the `config` command group. Heavy modules are imported inside the actions only. */
export function register(program: Command): void {
  const config = program.command('config').description('configuration file: validate it, print its schema');

  config
    .command('check')
    .description('validate the configuration file (--config, $STAGEPUSH_CONFIG, $XDG_CONFIG_HOME/stagepush/config.yaml, /etc/stagepush/config.yaml) without pushing')
    .argument('[file]', 'file to check (default: the one a push would use)')
    .option('--json', 'machine-readable JSON output')
    .action(async (file: string | undefined, _opts: unknown, cmd: Command) => {
      const raw = cmd.optsWithGlobals();
      const g = resolveGlobals(raw);
      const { loadConfig, resolveSettings, declaredRepos } = await import('../config/index.js');
      const loaded = loadConfig(file ?? g.configFile);
      const settings = resolveSettings(loaded, { dataDir: raw.dataDir as string | undefined, wait: raw.wait as boolean | undefined, waitTimeout: g.waitTimeout });
      const repos = declaredRepos(loaded.config);
      // The importer and distributor types named must be installed (built in, or plugins from
      // the directory and packages the engine loads).
      const { PluginRegistry } = await import('../engine/registry.js');
      const { checkPluginTypes } = await import('../config/load.js');
      const registry = await PluginRegistry.load({ configDir: settings.configDir, pluginsDir: settings.pluginsDir ?? path.join(settings.dataDir, 'plugins'), pluginPackages: settings.pluginPackages, pluginNodeModules: settings.pluginNodeModules });
      const installed = { importer: new Set<string>(), distributor: new Set<string>() };
      for (const p of registry.plugins.values()) installed[p.kind].add(p.id);
      const unknown = checkPluginTypes(loaded.config, loaded.file, installed);
      // Every declared repository's plugin configuration, as its creation will check it.
      if (!unknown.length) {
        const { checkRepoSpecs } = await import('../push/deps.js');
        for (const r of await checkRepoSpecs(settings, repos)) unknown.push({ code: r.error.code, file: loaded.file ?? undefined, entry: r.id, field: `repositories.${r.id}`, message: r.error.message });
      }
      if (unknown.length) {
        const where = (p: (typeof unknown)[number]) => `${p.field}${p.entry ? ` (${p.entry})` : ''}: ${p.message}`;
        throw new StagepushError('CONFIG_INVALID', `${loaded.file ?? 'configuration'}: ${unknown.length} problem(s): ${unknown.map(where).join('; ')}`, { kind: 'invalid', file: loaded.file ?? undefined, field: unknown[0]!.field, problems: unknown });
      }
      if (g.json) {
        printJson({
          valid: true,
          file: loaded.file,
          searched: loaded.searched,
          settings,
          unknown_destination: loaded.config.unknown_destination,
          repositories: repos,
          config: loaded.config,
        });
        return;
      }
      say(g, `${loaded.file ?? '(no file: embedded default)'}: valid`);
      say(g, `data dir: ${settings.dataDir}\npublish root: ${settings.publishRoot}\nunknown destinations: ${loaded.config.unknown_destination}`);
      if (repos.length) {
        say(
          g,
          table(
            repos.map((r) => [r.id, r.kind, r.destinations.join(','), r.pushMode, r.distributors.map((d) => d.id).join(',')]),
            ['REPOSITORY', 'TYPE', 'DESTINATIONS', 'MODE', 'DISTRIBUTORS'],
          ),
        );
      }
    });

  config
    .command('schema')
    .description('print the JSON schema of the configuration file, with every key and default')
    .option('--json', 'machine-readable JSON output (the schema is JSON either way)')
    .action(async () => {
      const { CONFIG_SCHEMA } = await import('../config/schema.js');
      printJson(CONFIG_SCHEMA);
    });
}
