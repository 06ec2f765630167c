import type { Command } from 'commander';
import { EXIT, StagepushError } from '../errors.js';
import type { Engine, PublishOutcome, RepoInfo, TaskResult } from '../engine/index.js';
import type { Json } from '../engine/contract.js';
import { collect, namedArg, output, parseIntArg, short, withEngine } from './engine-common.js';
import { table } from './output.js';

/** The type of a repository's distributor (undefined when there is none: the engine says so). */
function distributorType(eng: Pick<Engine, 'getRepo' | 'listDistributors'>, repoId: string, did: string): string | undefined {
  return eng.getRepo(repoId) ? eng.listDistributors(repoId).find((d) => d.id === did)?.typeId : undefined;
}

function listDistributorTypes(eng: Pick<Engine, 'getRepo' | 'listDistributors'>, repoId: string): string[] {
  return eng.getRepo(repoId) ? eng.listDistributors(repoId).map((d) => d.typeId) : [];
}

/** resolveCliConfigPaths (config-paths.ts), imported when used: a relative path value becomes absolute against the working directory. */
async function resolvePaths(config: Record<string, unknown>, kind: 'importer' | 'distributor', typeIds: Iterable<string | undefined>): Promise<Record<string, unknown>> {
  const { resolveCliConfigPaths } = await import('./config-paths.js');
  return resolveCliConfigPaths(config, kind, typeIds);
}

async function parseCfg(args: string[] | undefined, option: string): Promise<Record<string, unknown>> {
  const { parseConfigArgs } = await import('../engine/config.js');
  const { PLUGIN_KEY_ID_KEYS } = await import('../plugins/defaults.js');
  return parseConfigArgs(args, option, PLUGIN_KEY_ID_KEYS);
}

/** `update`: an empty value removes the note (said in the error only where it does). */
function notesFrom(args: string[] | undefined, update = false): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of args ?? []) {
    const i = a.indexOf('=');
    if (i <= 0) throw new StagepushError('CLI_BAD_NOTE', `--note ${JSON.stringify(a)}: expected key=value${update ? ' (an empty value removes the note)' : ''}`, { kind: 'usage', field: '--note' });
    const v = a.slice(i + 1);
    // A new repository has no note to remove: an empty value (a script's "$NOTE" unset) was dropped without a word.
    if (v === '' && !update) throw new StagepushError('CLI_BAD_NOTE', `--note ${JSON.stringify(a)}: an empty value (a new repository has no note to remove)`, { kind: 'usage', field: '--note' });
    out[a.slice(0, i)] = v === '' ? null : v;
  }
  return out;
}

export function repoHuman(r: RepoInfo): string {
  const lines = [
    `id:           ${r.id}`,
    `display name: ${r.displayName}`,
    `description:  ${r.description}`,
    `version:      ${r.version}${r.retainRepoVersions ? ` (retain ${r.retainRepoVersions})` : ''}`,
    `units:        ${r.unitCount}${Object.keys(r.unitCounts).length ? ` (${Object.entries(r.unitCounts).map(([t, n]) => `${t}: ${n}`).join(', ')})` : ''}`,
    `importer:     ${r.importer ? `${r.importer.typeId} ${JSON.stringify(r.importer.config)}` : '-'}`,
  ];
  if (Object.keys(r.notes).length) lines.push(`notes:        ${Object.entries(r.notes).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (r.distributors.length) {
    lines.push('distributors:');
    lines.push(
      table(
        r.distributors.map((d) => ['  ' + d.id, d.typeId, d.autoPublish ? 'yes' : 'no', d.lastPublish ? `v${d.lastPublish.version} ${d.lastPublish.publishedAt}` : '-', short(d.config, 50)]),
        ['  ID', 'TYPE', 'AUTO', 'LAST PUBLISH', 'CONFIG'],
      ),
    );
  }
  return lines.join('\n');
}

export function taskResultHuman(r: TaskResult): string {
  const parts = [`task ${r.taskId}: ${r.kind} ${r.repoId}: ${r.newVersion ? `new version ${r.version}` : `no change (version ${r.version})`}`];
  parts.push(`  added ${r.added}, replaced ${r.replaced}, unchanged ${r.unchanged}, removed ${r.removed}`);
  // What the plugin refused (a sync's packages refused by the signature policy) is said, not only in --json.
  const report = r.report && typeof r.report === 'object' && !Array.isArray(r.report) ? (r.report as Record<string, Json>) : {};
  const details = r.details && typeof r.details === 'object' && !Array.isArray(r.details) ? (r.details as Record<string, Json>) : {};
  if (typeof report.packages_refused === 'number' && report.packages_refused > 0) {
    parts.push(`  refused ${report.packages_refused} package(s) (the signature policy, require_signature / allowed_keys, or a header no repository can publish):`);
    const list = Array.isArray(details.refused) ? (details.refused as Array<{ location?: string; reason?: string }>) : [];
    for (const x of list.slice(0, 20)) parts.push(`    ${x.location ?? '?'}: ${x.reason ?? ''}`);
    if (list.length > 20) parts.push(`    … and ${list.length - 20} more (--json lists them all)`);
  }
  for (const p of r.publishes) parts.push(publishLine(p));
  return parts.join('\n');
}

export function publishLine(p: PublishOutcome): string {
  return `  publish ${p.distributorId}: ${p.status} (version ${p.version})${p.urls.length ? ` ${p.urls.join(' ')}` : p.publishedPaths.length ? ` ${p.publishedPaths.join(' ')}` : ''}${p.error ? ` [${p.error.code}] ${p.error.message}` : ''}`;
}

/** Exit 6 when any publish failed (the output still lists every outcome). */
export function failOnPublish(outcomes: PublishOutcome[]): void {
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = EXIT.failed;
}

export function register(program: Command): void {
  const repo = program.command('repo').description('repositories: create, configure importers and distributors, sync, publish, versions');

  repo
    .command('create <id>')
    .description('create a repository (optionally with its importer)')
    .option('--display-name <name>', 'display name')
    .option('--description <text>', 'description')
    .option('--note <key=value>', 'a note (repeatable)', collect, [])
    .option('--importer <type>', 'importer plugin id')
    .option('--importer-config <k=v|@file.json>', 'importer config (repeatable; values JSON-parsed when valid JSON)', collect, [])
    .option('--retain-repo-versions <n>', 'keep at most N repository versions (0 = all)')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { displayName?: string; description?: string; note: string[]; importer?: string; importerConfig: string[]; retainRepoVersions?: string }, cmd: Command) => {
      namedArg(o.importer, '--importer');
      const importerConfig = await resolvePaths(await parseCfg(o.importerConfig, '--importer-config'), 'importer', [o.importer]);
      if (!o.importer && o.importerConfig.length) throw new StagepushError('CLI_USAGE', '--importer-config needs --importer TYPE', { kind: 'usage' });
      await withEngine(cmd, {}, async (eng, g) => {
        const notes = notesFrom(o.note);
        const r = await eng.createRepo({
          id,
          displayName: o.displayName,
          description: o.description,
          notes: Object.fromEntries(Object.entries(notes).filter(([, v]) => v !== null)) as Record<string, string>,
          importer: o.importer ? { typeId: o.importer, config: importerConfig } : undefined,
          retainRepoVersions: o.retainRepoVersions !== undefined ? parseIntArg(o.retainRepoVersions, '--retain-repo-versions') : undefined,
        });
        output(g, r, () => `created repository ${r.id}`);
      });
    });

  repo
    .command('list')
    .description('list repositories')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      await withEngine(cmd, { ifNone: (g) => output(g, [], () => 'no repositories (no engine in the data dir yet)') }, async (eng, g) => {
        const rs = eng.listRepos();
        output(g, rs, () => (rs.length ? table(rs.map((r) => [r.id, String(r.version), String(r.unitCount), r.importer?.typeId ?? '-', r.distributors.map((d) => d.id).join(',') || '-', r.displayName]), ['ID', 'VERSION', 'UNITS', 'IMPORTER', 'DISTRIBUTORS', 'NAME']) : 'no repositories'));
      });
    });

  repo
    .command('show <id>')
    .description('show a repository')
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g, settings) => {
        const r = eng.getRepo(id);
        if (!r) throw new StagepushError('ENGINE_REPO_NOT_FOUND', `repository ${JSON.stringify(id)} does not exist`, { kind: 'invalid' });
        // yum distributors: published paths, URLs and a ready .repo snippet.
        const { yumShowExtras } = await import('../plugins/yum/show.js');
        const yum = yumShowExtras(r, { publishRoot: eng.publishRoot, baseUrls: settings.baseUrls });
        const shown = yum.some(Boolean) ? { ...r, distributors: r.distributors.map((d, i) => (yum[i] ? { ...d, published: yum[i] } : d)) } : r;
        // Other distributors: where their last publish went (paths, and URLs when base URLs are set).
        const others = r.distributors.flatMap((d, i) => (!yum[i] && d.lastPublish ? [`\n${d.id}: published at ${d.lastPublish.publishedPaths.join(', ') || '-'}${d.lastPublish.urls.length ? `\n  ${d.lastPublish.urls.join('\n  ')}` : ''}`] : []));
        // Where a yum distributor publishes, by its configuration; where its last successful
        // publish went when that is elsewhere (relative_url changed, and the publish there not
        // made yet or failed: the tree is still served from the old place), or that it has none.
        const yumWhere = (i: number, paths: string[]): string => {
          const last = r.distributors[i]!.lastPublish;
          const here = paths.join(', ') || '-';
          if (!last) return `publishes at ${here} (not published yet)`;
          const there = last.publishedPaths.join(', ');
          return there && there !== here ? `publishes at ${here}; version ${last.version} is published at ${there} (its last successful publish)` : `published at ${here}`;
        };
        output(g, shown, () => [repoHuman(r), ...yum.flatMap((v, i) => (v ? [`\n${r.distributors[i]!.id}: ${yumWhere(i, v.published_paths)}${v.urls.length ? `\n  ${v.urls.join('\n  ')}` : ''}\n.repo:\n${v.repo_snippet}`] : [])), ...others].join('\n'));
      });
    });

  repo
    .command('update <id>')
    .description('update a repository (display name, description, notes, version retention)')
    .option('--display-name <name>', 'display name')
    .option('--description <text>', 'description')
    .option('--note <key=value>', 'set a note; key= removes it (repeatable)', collect, [])
    .option('--retain-repo-versions <n>', 'keep at most N repository versions (0 = all)')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { displayName?: string; description?: string; note: string[]; retainRepoVersions?: string }, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        const r = await eng.updateRepo(id, {
          displayName: o.displayName,
          description: o.description,
          notes: o.note.length ? notesFrom(o.note, true) : undefined,
          retainRepoVersions: o.retainRepoVersions !== undefined ? parseIntArg(o.retainRepoVersions, '--retain-repo-versions') : undefined,
        });
        output(g, r, () => `updated repository ${r.id}`);
      });
    });

  repo
    .command('delete <id>')
    .description('delete a repository (its units stay until orphan clean-up)')
    .option('--force', "delete even when a plugin's removal hook fails (reported as a warning)")
    .option('--json', 'JSON output')
    .action(async (id: string, o: { force?: boolean }, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        await eng.deleteRepo(id, { force: Boolean(o.force) });
        output(g, { deleted: id }, () => `deleted repository ${id}`);
      });
    });

  const imp = repo.command('importer').description("a repository's importer");
  imp
    .command('set <id> <type>')
    .description('set (or replace) the importer of a repository; the config is validated by the plugin')
    .option('--importer-config <k=v|@file.json>', 'importer config (repeatable)', collect, [])
    .option('--force', "replace it even when the old importer's plugin is not loaded or its removal hook fails (reported as a warning)")
    .option('--json', 'JSON output')
    .action(async (id: string, type: string, o: { importerConfig: string[]; force?: boolean }, cmd: Command) => {
      const config = await resolvePaths(await parseCfg(o.importerConfig, '--importer-config'), 'importer', [type]);
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        await eng.setImporter(id, type, config, { force: Boolean(o.force) });
        const r = eng.getRepo(id)!;
        output(g, r.importer, () => `importer of ${id}: ${type}`);
      });
    });
  imp
    .command('update <id>')
    .description("update the importer's config (merged; key=null removes a key); validated by the plugin")
    .option('--importer-config <k=v|@file.json>', 'importer config (repeatable)', collect, [])
    .option('--json', 'JSON output')
    .action(async (id: string, o: { importerConfig: string[] }, cmd: Command) => {
      const config = await parseCfg(o.importerConfig, '--importer-config');
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        await resolvePaths(config, 'importer', [eng.getRepo(id)?.importer?.typeId]);
        await eng.updateImporterConfig(id, config);
        const r = eng.getRepo(id)!;
        output(g, r.importer, () => `importer config of ${id}: ${JSON.stringify(r.importer?.config)}`);
      });
    });

  const dist = repo.command('distributor').description("a repository's distributors");
  dist
    .command('add <id> <type>')
    .description('add a distributor; the config is validated by the plugin')
    .option('--id <did>', 'distributor id (default: the type id)')
    .option('--distributor-config <k=v|@file.json>', 'distributor config (repeatable)', collect, [])
    .option('--auto-publish', 'publish after each sync, upload or copy')
    .option('--json', 'JSON output')
    .action(async (id: string, type: string, o: { id?: string; distributorConfig: string[]; autoPublish?: boolean }, cmd: Command) => {
      const config = await resolvePaths(await parseCfg(o.distributorConfig, '--distributor-config'), 'distributor', [type]);
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        const d = await eng.addDistributor(id, { id: o.id, typeId: type, config, autoPublish: !!o.autoPublish });
        output(g, d, () => `added distributor ${d.id} (${d.typeId}) to ${id}`);
      });
    });
  dist
    .command('update <id> <did>')
    .description("update a distributor's config (merged; key=null removes a key) or auto-publish")
    .option('--distributor-config <k=v|@file.json>', 'distributor config (repeatable)', collect, [])
    .option('--auto-publish', 'publish after each sync, upload or copy')
    .option('--no-auto-publish', 'do not publish automatically')
    .option('--json', 'JSON output')
    .action(async (id: string, did: string, o: { distributorConfig: string[]; autoPublish?: boolean }, cmd: Command) => {
      const config = o.distributorConfig.length ? await parseCfg(o.distributorConfig, '--distributor-config') : undefined;
      const explicitAuto = cmd.getOptionValueSource('autoPublish') === 'cli';
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        if (config) await resolvePaths(config, 'distributor', [distributorType(eng, id, did)]);
        const d = await eng.updateDistributor(id, did, { config, autoPublish: explicitAuto ? !!o.autoPublish : undefined });
        output(g, d, () => `updated distributor ${d.id} of ${id}`);
      });
    });
  dist
    .command('remove <id> <did>')
    .description('remove a distributor')
    .option('--force', "remove it even when the plugin's removal hook fails (reported as a warning)")
    .option('--json', 'JSON output')
    .action(async (id: string, did: string, o: { force?: boolean }, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        await eng.removeDistributor(id, did, { force: Boolean(o.force) });
        output(g, { removed: did, repo: id }, () => `removed distributor ${did} from ${id}`);
      });
    });
  dist
    .command('list <id>')
    .description("list a repository's distributors")
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        const ds = eng.listDistributors(id);
        output(g, ds, () => (ds.length ? table(ds.map((d) => [d.id, d.typeId, d.autoPublish ? 'yes' : 'no', d.lastPublish ? `v${d.lastPublish.version}` : '-', short(d.config, 70)]), ['ID', 'TYPE', 'AUTO', 'PUBLISHED', 'CONFIG']) : `repository ${id} has no distributors`));
      });
    });

  repo
    .command('sync <id>')
    .description("run the importer's sync (a new repository version when the content changes)")
    .option('--override <k=v>', 'override config for this run only (repeatable)', collect, [])
    .option('--json', 'JSON output')
    .action(async (id: string, o: { override: string[] }, cmd: Command) => {
      const override = await parseCfg(o.override, '--override');
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        await resolvePaths(override, 'importer', [eng.getRepo(id)?.importer?.typeId]);
        const r = await eng.sync(id, { override });
        output(g, r, () => taskResultHuman(r));
        failOnPublish(r.publishes);
      });
    });

  repo
    .command('publish <id>')
    .description('publish with one distributor, or every distributor in the order added')
    .option('--distributor <did>', 'only this distributor')
    .option('--override <k=v>', 'override config for this run only (repeatable)', collect, [])
    .option('--force', 'publish even when this version and config were already published')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { distributor?: string; override: string[]; force?: boolean }, cmd: Command) => {
      namedArg(o.distributor, '--distributor');
      const override = await parseCfg(o.override, '--override');
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        // One override for every distributor published: a key that is a path for any of them.
        await resolvePaths(override, 'distributor', o.distributor ? [distributorType(eng, id, o.distributor)] : listDistributorTypes(eng, id));
        const outs = await eng.publish(id, { distributorId: o.distributor, override, force: !!o.force });
        output(g, outs, () => (outs.length ? outs.map(publishLine).join('\n') : `repository ${id} has no distributors`));
        failOnPublish(outs);
      });
    });

  repo
    .command('versions <id>')
    .description("list a repository's versions")
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withEngine(cmd, { existing: true }, async (eng, g) => {
        const vs = eng.versions(id);
        output(g, vs, () =>
          table(
            vs.map((v) => [`${v.current ? '*' : ' '}${v.number}`, v.created, v.kind + (v.basedOn !== null ? ` of ${v.basedOn}` : ''), `+${v.added} -${v.removed}`, String(v.unitCount), v.publishedBy.join(',') || '-', v.taskId ?? '-']),
            [' N', 'CREATED', 'KIND', 'CHANGE', 'UNITS', 'PUBLISHED BY', 'TASK'],
          ),
        );
      });
    });

  repo
    .command('rollback <id>')
    .description('make a new version with the units of version N (nothing is lost; a unit changed in place since keeps its current content, and is listed)')
    .requiredOption('--to <n>', 'version to restore')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { to: string }, cmd: Command) => {
      const to = parseIntArg(o.to, '--to');
      await withEngine(cmd, { interruptible: true, existing: true }, async (eng, g) => {
        const r = await eng.rollback(id, to);
        const changed = ((r.report as Record<string, Json> | undefined)?.changedInPlaceSince as Array<{ typeId: string; unitKey: Record<string, Json> }> | undefined) ?? [];
        output(g, r, () =>
          [
            `repository ${id}: version ${r.version} has the units of version ${to} (+${r.added} -${r.removed})`,
            ...(changed.length
              ? [
                  `  ${changed.length} unit(s) were changed in place since version ${to} (one unit per key, shared by the repositories holding it) and keep their current content:`,
                  ...changed.slice(0, 20).map((u) => `    ${u.typeId} ${Object.values(u.unitKey).map(String).join(':')}`),
                  ...(changed.length > 20 ? ['    … (--json lists up to 100)'] : []),
                ]
              : []),
          ].join('\n'),
        );
      });
    });
}
