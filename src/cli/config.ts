import type { Command } from 'commander';
import path from 'node:path';
import { StagepushError, type Problem } from '../errors.js';
import type { RepoSpec } from '../config/index.js';
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
      const { loadConfig, resolveSettings, declaredRepos, templateRepos, pluginConfigPath, fileLines } = await import('../config/index.js');
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
      // A plugins.conf.d file that cannot be read leaves its plugin unloaded: a push using it is
      // refused, so the check is too (other load errors are the plugins' own, warned about).
      const unknown: Problem[] = registry.errors.filter((e) => e.code === 'PLUGIN_BAD_CONF').map((e) => ({ code: e.code, file: e.file, field: 'config_dir', message: e.message }));
      unknown.push(...checkPluginTypes(loaded.config, loaded.file, installed));
      // Every declared repository's plugin configuration, as its creation will check it, and every
      // template's, as a destination made from it will get it; each problem named by the line and
      // path of the importer or distributor config (and of the key the plugin names).
      if (!unknown.length) {
        const { checkRepoSpecs } = await import('../push/deps.js');
        const line = fileLines(loaded.file);
        const where = (section: 'repositories' | 'templates', spec: RepoSpec, error: StagepushError): Problem => {
          const details = (error.details ?? {}) as { distributor?: string | null; message?: string | null; file?: string; key?: string };
          // A value of the plugin's plugins.conf.d file: that file and key, not the repository.
          if (details.file && details.key) return { code: error.code, file: details.file, entry: spec.id, field: details.key, message: error.message };
          const part = details.distributor === undefined ? -1 : details.distributor === null ? 'importer' : spec.distributors.findIndex((d) => d.id === details.distributor);
          const key = /config key "([^"]+)"/.exec(details.message ?? '')?.[1];
          const segments = (part !== -1 ? pluginConfigPath(loaded.config, section, spec.id, part, key) : null) ?? [section, spec.id];
          const ln = line?.(segments);
          return { code: error.code, file: loaded.file ?? undefined, entry: ln !== undefined ? `line ${ln}` : spec.id, field: segments.join('.'), message: error.message };
        };
        for (const r of await checkRepoSpecs(settings, repos)) unknown.push(where('repositories', repos.find((x) => x.id === r.id)!, r.error));
        // One at a time: templates are not repositories of one push (their relative_urls do not clash).
        for (const t of templateRepos(loaded.config)) for (const r of await checkRepoSpecs(settings, [t])) unknown.push(where('templates', t, r.error));
      }
      if (unknown.length) {
        const where = (p: (typeof unknown)[number]) => `${p.file && p.file !== loaded.file ? `${p.file}: ` : ''}${p.field}${p.entry ? ` (${p.entry})` : ''}: ${p.message}`;
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
