/**
 * `stagepush push`: load the staging areas, validate everything, route, plan under the
 * repositories' locks, commit every repository's new version in one transaction, publish each
 * repository once (yum/file/directory distributors first, export last), run hooks, keep the audit
 * trail. Nothing changes unless the whole input is valid.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, lstatSync, statSync, statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { resolvePath } from '../paths.js';
import { StagepushError, EXIT, exitStatusFor, type Problem } from '../errors.js';
import type { EventSink, ProgressEvent } from '../events.js';
import type { LoadedConfig, Settings, RepoSpec } from '../config/index.js';
import { declaredRepos } from '../config/index.js';
import { PathClaims } from '../plugins/common/directory.js';
import { MANIFEST_NAME as ISO_MANIFEST_NAME } from '../plugins/iso/manifest.js';
import { jsonText, type Unit, type Json } from '../engine/contract.js';
import { IMPORTER_KIND, routeItems, type Assignment } from './route.js';
import { holdsStagedFields, keyOf, planRepo, sharedUnitRivals, type DesiredItem, type PlanUnit, type RepoPlan } from './plan.js';
import { desiredItem, existingUnit } from './units.js';
import { DEFAULT_CHANGELOG_LIMIT } from '../formats/repodata/package.js';
import { RPM_TYPES, rpmFilename, signatureLongKeyIds, signatureRefusal } from '../plugins/yum/units.js';
import { exportPathOf, skippedTypes } from '../plugins/export/paths.js';
import { toBool, toList } from '../plugins/common/config.js';
import { erratumDecision, updatedForBump } from './yumunits.js';
import { PushCache, type StatRow } from './cache.js';
import { PushLog, newPushId, pruneLogs } from './audit.js';
import { emptyCounts, summarize, REPORT_VERSION, type PushReport, type RepoReport, type ItemReport, type HookResult } from './report.js';
import type { PushItemLike } from './items.js';
import { PRE_PUSH_PIN_PREFIX, openPushEngine, loadStagingAreas, type ConfigDrift, type PushEngine } from './deps.js';
import { deferDurability, flushDurabilityAsync, onStored, setFileFactsProvider, type FileFactsProvider, type StoredEvent } from '../engine/store.js';

/** Append to the list under a key (in place: no copy per item). */
function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export interface PushOptions {
  urls: string[];
  loaded: LoadedConfig;
  settings: Settings;
  dryRun?: boolean;
  skipPublish?: boolean;
  prePush?: boolean;
  forcePublish?: boolean;
  bumpErrata?: boolean;
  dest?: string[];
  excludeDest?: string[];
  logFile?: string;
  events?: EventSink;
  /** Forward every engine event (each upload, task) to `events`, not only the push's phases. */
  verbose?: boolean;
  signal?: AbortSignal;
}

/** Upload order inside a repository: modules before RPMs, errata after the packages they list. */
const UPLOAD_ORDER = ['modulemd', 'rpm', 'srpm', 'erratum', 'comps', 'yum_repo_metadata_file', 'iso', 'directory', 'cgw', 'ami', 'vhd'];
const byUploadOrder = (x: { assignment: Assignment }, y: { assignment: Assignment }): number => UPLOAD_ORDER.indexOf(x.assignment.typeId) - UPLOAD_ORDER.indexOf(y.assignment.typeId);

export async function runPush(opts: PushOptions): Promise<PushReport> {
  const { settings, loaded } = opts;
  const cfg = loaded.config;
  const dryRun = Boolean(opts.dryRun);
  const pushId = newPushId();
  const log = new PushLog(pushId, dryRun ? null : settings.dataDir, opts.logFile ?? null);
  // The engine reports every upload and task; the console shows the push's phases (the log keeps all).
  const events: EventSink = (e: ProgressEvent) => {
    log.event(e);
    // A plugin's lifecycle hooks (distributorAdded, …: the engine's, as it makes or removes a
    // repository) are not the push's post_publish hooks: shown only when verbose too.
    if (!opts.verbose && (e.type === 'task' || ((e.type === 'phase-start' || e.type === 'phase-end') && (e.phase === 'upload' || e.phase === 'plugin-hook' || (e.phase === 'publish' && e.repo !== undefined))))) return;
    opts.events?.(e);
  };
  const report: PushReport = {
    report_version: REPORT_VERSION,
    push_id: dryRun ? null : pushId,
    dry_run: dryRun,
    mode: dryRun ? 'dry-run' : opts.prePush ? 'pre-push' : opts.skipPublish ? 'skip-publish' : 'push',
    started: new Date().toISOString(),
    finished: null,
    sources: opts.urls,
    config_file: loaded.file,
    data_dir: settings.dataDir,
    publish_root: settings.publishRoot,
    status: 'ok',
    exit_status: 0,
    items: [],
    repositories: [],
    problems: [],
    warnings: [],
    summary: { ...emptyCounts(), items: 0, repositories_published: 0, repositories_failed: 0, bytes_linked: 0, bytes_copied: 0 },
  };
  log.line(`push ${pushId} started: ${opts.urls.join(' ')}${dryRun ? ' (dry run)' : ''}; config ${loaded.file ?? '(embedded default)'}`);
  log.begin(report.started, opts.urls);

  let cache: PushCache;
  try {
    cache = PushCache.open(settings.dataDir, { readOnly: dryRun });
  } catch (e) {
    throw environmentalError(e, settings.dataDir);
  }
  // What the loader learnt about each staged file (sha256 by identity, parsed header): the
  // content store links unchanged files in without hashing them again, the yum importer does not
  // re-read their headers.
  const facts = factsFrom(cache);
  const prevFacts = setFileFactsProvider(facts.provider);
  let engine = null as PushEngine | null; // opened in loadPlanImport, closed below
  // What the push routed where: a push refused by a lock lists each item as not pushed.
  let routed: ReturnType<typeof routeItems> | null = null;
  try {
    // Steps 1–6 run in their own function: what they build for every item (push items, desired
    // units, plans, stat rows, header summaries: tens of MiB for 20,000 packages) is garbage once
    // the report holds the outcome, instead of staying reachable while the repositories publish
    // and every collection of the publish marks it again.
    const staged = await loadPlanImport();
    if ('done' in staged) return staged.done;
    const { repos, engine: eng, shared } = staged;

    async function loadPlanImport(): Promise<{ done: PushReport } | { repos: RepoSpec[]; engine: PushEngine; shared: string[] }> {
      // 1. Load and checksum everything (headers streamed into the staging table).
      const loadedItems = await loadStagingAreas(opts.urls, {
        events,
        signal: opts.signal,
        threads: cfg.push.threads ?? Math.min(4, availableParallelism()),
        timeout: cfg.push.timeout,
        // A staged file that is the content store's own file (hard-linked) is known by its inode
        // when its ctime changed (the links made since): see checksumCache.
        checksumCache: cache.checksumCache({ storedPath: (sha) => path.join(settings.dataDir, 'content', 'sha256', sha.slice(0, 2), sha.slice(2)) }),
        parsedCache: cache.parsedCache(),
        onRpmRecord: (item, json, summary) => {
          if (item.sha256sum) cache.stageRecordJson(item.sha256sum, json, summary);
        },
      });
      // Commit the stat cache and headers now: nothing holds push.sqlite while waiting for locks.
      cache.flush();
      log.keepMetadata(loadedItems.dirs);
      const items = loadedItems.items;
      // A warning is in the report, an event and a log line.
      const warn = (w: Problem): void => {
        report.warnings.push(w);
        events({ type: 'warning', code: w.code, message: w.message });
        log.line(w.message);
      };
      report.warnings.push(...loadedItems.warnings.filter((w) => !/UNSUPPORTED/.test(w.code)));
      const problems: Problem[] = [...loadedItems.problems];
      for (const w of loadedItems.warnings) {
        if (/UNSUPPORTED/.test(w.code)) problems.push({ ...w, code: 'PUSH_UNSUPPORTED_CONTENT', message: `${w.message} (the push refuses unsupported content)` });
      }

      // 2. Route.
      engine = await openPushEngine(settings, { events, signal: opts.signal, readOnly: dryRun, storeFiles: cfg.push.store_files });
      const route = (routed = routeItems(items, cfg, {
        include: [...(cfg.destinations.include ?? []), ...(opts.dest ?? [])],
        exclude: [...cfg.destinations.exclude, ...(opts.excludeDest ?? [])],
        importerTypes: engine.importerTypes(),
        existingImporter: (id) => engine!.importerType(id),
        existingDistributors: (id) => (engine!.hasRepo(id) ? engine!.distributors(id).map((d) => d.typeId) : []),
      }));
      problems.push(...route.problems);
      // An entry the walk ignores (a misspelt type directory, RPMS/x86_64/, a broken link: only
      // warned of) in a destination pushed in mirror mode: what it holds would be taken for
      // absent and removed from the repository. Refused, not warned, there.
      const included = new Set(route.assignments.map((a) => a.dest));
      for (const w of loadedItems.warnings) {
        if (w.code !== 'STAGED_ENTRY_IGNORED' || !w.file) continue;
        const root = loadedItems.dirs.find((d) => w.file!.startsWith(d.endsWith('/') ? d : `${d}/`));
        const dest = root ? w.file.slice(root.length).replace(/^\/+/, '').split('/')[0] : undefined;
        if (!dest || !included.has(dest)) continue;
        for (const r of route.repos) {
          if (r.pushMode !== 'mirror' || !r.destinations.includes(dest) || route.partial.has(r.id)) continue;
          problems.push({ code: 'PUSH_MIRROR_IGNORED_ENTRY', file: w.file, entry: r.id, field: 'push_mode', message: `${w.message}; repository ${r.id} is pushed in mirror mode, which would remove what it holds as absent: fix or remove the entry` });
        }
      }
      // A --dest naming no destination of the staging areas (a typo in a cron line) is said, not
      // silently an empty push.
      if (opts.dest?.length) {
        const present = new Set(items.flatMap((i) => i.dest));
        for (const d of opts.dest) {
          if (present.has(d)) continue;
          const w = { code: 'PUSH_DEST_NOT_FOUND', field: '--dest', entry: d, message: `--dest ${d}: no such destination in the staging area(s) (found: ${[...present].sort().join(', ') || 'none'})` };
          warn(w);
        }
      }

      // An --exclude-dest naming nothing known is as likely a typo as a --dest is.
      if (opts.excludeDest?.length) {
        const known = new Set([...items.flatMap((i) => i.dest), ...declaredRepos(cfg).flatMap((r) => r.destinations)]);
        for (const d of opts.excludeDest) {
          if (known.has(d)) continue;
          const w = { code: 'PUSH_DEST_NOT_FOUND', field: '--exclude-dest', entry: d, message: `--exclude-dest ${d}: no such destination in the staging area(s) or the configuration; nothing was left out by it` };
          warn(w);
        }
      }
      // A mirror fed by a destination the filters leave out keeps what is absent this time.
      for (const r of route.repos) {
        const held = route.partial.get(r.id);
        if (r.pushMode !== 'mirror' || !held) continue;
        const w = { code: 'PUSH_MIRROR_HELD', field: 'push_mode', entry: r.id, message: `repository ${r.id} (push_mode: mirror) is also fed by ${held.join(', ')}, left out of this push: nothing absent from the staging area is removed from it this time` };
        warn(w);
      }

      // 3. Desired units per repository (RPM headers read back from the staging table), listed
      //    with the staging area's other problems.
      const repos = route.repos;
      const byRepo = new Map<string, Assignment[]>();
      for (const a of route.assignments) pushTo(byRepo, a.repoId, a);
      const record = (item: PushItemLike) => (item.sha256sum ? cache.summary(item.sha256sum) : undefined);
      // The importer configuration each repository's imports run with: the plugin's own under the
      // repository's (a declared repository's declaration, which this push applies before it
      // imports). Made when first asked (a dry run on a fresh data dir reads the plugin's in a
      // scratch engine).
      const importerConfigs = new Map<string, Promise<Record<string, unknown>>>();
      const importerConfigOf = (r: RepoSpec): Promise<Record<string, unknown>> => {
        let c = importerConfigs.get(r.id);
        if (!c) {
          const own = r.origin === 'config' || !engine!.hasRepo(r.id) ? r.importer.config : (engine!.importerConfig(r.id) ?? {});
          c = engine!.pluginConfig(engine!.importerType(r.id) ?? r.importer.typeId).then((plugin) => ({ ...plugin, ...own }));
          importerConfigs.set(r.id, c);
        }
        return c;
      };
      // The distributors a repository publishes with: an existing one's own (a template applies
      // at creation only), with those its declaration adds (applied by this push).
      const publishersOf = (r: RepoSpec): Array<{ typeId: string; config?: Record<string, unknown> }> => [...(engine!.hasRepo(r.id) ? engine!.distributors(r.id) : []), ...(!engine!.hasRepo(r.id) || r.origin === 'config' ? r.distributors : [])];
      // The most changelog entries a repository's yum distributors publish per package (a control
      // character in an older entry is not written, so does not refuse the package).
      const changelogLimits = new Map<string, Promise<number>>();
      const changelogLimitOf = (r: RepoSpec): Promise<number> => {
        let c = changelogLimits.get(r.id);
        if (!c) {
          const yum = publishersOf(r).filter((d) => d.typeId === 'yum_distributor');
          c = yum.length
            ? engine!.pluginConfig('yum_distributor').then((plugin) => Math.max(...yum.map((d) => Number(d.config?.changelog_limit ?? plugin.changelog_limit ?? DEFAULT_CHANGELOG_LIMIT))))
            : Promise.resolve(DEFAULT_CHANGELOG_LIMIT);
          changelogLimits.set(r.id, c);
        }
        return c;
      };
      // The items of destinations --dest/--exclude-dest leave out, routed as a push without them
      // would route them (the configuration's own destination filters still apply), that hold
      // staged fields in a shared unit: the areas give one file one set of fields whichever
      // destinations a run pushes (see sharedUnitRivals). Their own problems are not this push's.
      const withLeftOut = async (routed: Map<string, DesiredItem[]>): Promise<Map<string, DesiredItem[]>> => {
        if (!opts.dest?.length && !opts.excludeDest?.length) return routed;
        const whole = routeItems(items, cfg, {
          include: cfg.destinations.include ?? [],
          exclude: cfg.destinations.exclude,
          importerTypes: engine!.importerTypes(),
          existingImporter: (id) => engine!.importerType(id),
          existingDistributors: (id) => (engine!.hasRepo(id) ? engine!.distributors(id).map((d) => d.typeId) : []),
        });
        const pushed = new Set(route.assignments.map((a) => `${a.repoId}\u0000${a.index}`));
        const out = new Map([...routed].map(([id, list]) => [id, [...list]]));
        for (const a of whole.assignments) {
          if (!holdsStagedFields(a.typeId) || pushed.has(`${a.repoId}\u0000${a.index}`)) continue;
          try {
            const d = await desiredItem(a, { repoId: a.repoId, record });
            const list = out.get(a.repoId);
            if (list) list.push(d);
            else out.set(a.repoId, [d]);
          } catch {
            /* refused by the push of its destination */
          }
        }
        return out;
      };
      // Each item is read as its importer will read it (comps, modulemd, advisories, RAW trees,
      // file names): a problem of any of them refuses the push before anything changes, and
      // every item's problem is listed (an item read once for several repositories: once).
      const desired = new Map<string, DesiredItem[]>();
      const itemProblems: Problem[] = [];
      const seenProblem = new Set<string>();
      for (const r of repos) {
        const list: DesiredItem[] = [];
        for (const a of byRepo.get(r.id) ?? []) {
          try {
            list.push(await desiredItem(a, { repoId: r.id, record, importerConfig: a.typeId === 'directory' ? await importerConfigOf(r) : {}, changelogLimit: a.typeId === 'rpm' || a.typeId === 'srpm' ? await changelogLimitOf(r) : DEFAULT_CHANGELOG_LIMIT }));
          } catch (e) {
            const found = e instanceof StagepushError ? (e.problems.length ? e.problems : [e.toProblem()]) : [{ code: 'PUSH_ITEM_UNREADABLE', message: String((e as Error)?.message ?? e) }];
            for (const p of found) {
              const q: Problem = { ...p, file: p.file ?? a.item.src ?? undefined, entry: p.entry ?? a.item.name };
              // The file (and entry) are fields of the problem: not repeated at the start of its message.
              if (q.file && q.message.startsWith(q.file)) q.message = q.message.slice(q.file.length).replace(/^ \([^)]*\)/, '').replace(/^: /, '') || q.message;
              const k = `${q.code}\0${q.file}\0${q.field}\0${q.message}`;
              if (seenProblem.has(k)) continue;
              seenProblem.add(k);
              itemProblems.push(q);
            }
          }
        }
        desired.set(r.id, list);
      }
      problems.push(...itemProblems);
      problems.push(...sharedUnitRivals(await withLeftOut(desired)));
      const warned = new Set<string>();
      for (const list of desired.values()) {
        for (const d of list) {
          for (const w of d.warnings ?? []) {
            if (warned.has(w.message)) continue;
            warned.add(w.message);
            warn({ ...w, file: d.assignment.item.src ?? undefined, entry: d.assignment.item.name });
          }
        }
      }
      const publishers = (r: RepoSpec): Set<string> => new Set(publishersOf(r).map((d) => d.typeId));
      // An export in manifest mode writes manifest.json at the top of its export, beside the RAW trees it realises.
      const exportsManifest = (r: RepoSpec): boolean => publishersOf(r).some((d) => d.typeId === 'export_distributor' && (d.config?.mode ?? 'manifest') === 'manifest');
      problems.push(...pathCollisions(repos, desired, publishers, exportsManifest));

      // 4. Signing gate (policy), over every routed RPM.
      const policy: Problem[] = [];
      const allowed = cfg.allowed_signing_keys.map((k) => k.toUpperCase());
      const seenRpm = new Set<string>();
      for (const a of route.assignments) {
        if (a.item.kind !== 'RpmPushItem' || seenRpm.has(a.item.src ?? a.item.name)) continue;
        seenRpm.add(a.item.src ?? a.item.name);
        const key = a.item.signing_key ? a.item.signing_key.toUpperCase() : null;
        if (!key && !cfg.allow_unsigned) {
          policy.push({ code: 'PUSH_UNSIGNED', file: a.item.src ?? undefined, entry: a.item.name, field: 'signing_key', message: `${a.item.src}: not signed (allow_unsigned is false)` });
        } else if (key && allowed.length && !allowed.includes(key)) {
          policy.push({ code: 'PUSH_KEY_NOT_ALLOWED', file: a.item.src ?? undefined, entry: a.item.name, field: 'signing_key', message: `${a.item.src}: signed with key ${key}, not in allowed_signing_keys (${allowed.join(', ')})` });
        }
      }
      // The yum importer's own gate (require_signature, allowed_keys), as each repository's
      // imports will apply it: refused here, every file listed, rather than at its upload.
      const repoById = new Map(repos.map((r) => [r.id, r]));
      const refused = new Set(policy.map((p) => p.file));
      const seenInRepo = new Set<string>();
      for (const a of route.assignments) {
        const r = repoById.get(a.repoId);
        if (a.item.kind !== 'RpmPushItem' || !r || refused.has(a.item.src ?? undefined) || (engine.importerType(r.id) ?? r.importer.typeId) !== 'yum_importer') continue;
        const at = `${r.id}\u0000${a.item.src ?? a.item.name}`;
        if (seenInRepo.has(at)) continue;
        seenInRepo.add(at);
        const c = await importerConfigOf(r);
        const key = a.item.signing_key ? a.item.signing_key.toUpperCase() : null;
        // A long key id in allowed_keys is compared with the header's signatures (read back only then).
        const longKeyIds = (): string[] | undefined => {
          const staged = a.item.sha256sum ? cache.stagedRecordText(a.item.sha256sum) : undefined;
          return staged ? signatureLongKeyIds(jsonText(staged.json)) : undefined;
        };
        const no = signatureRefusal(key, { requireSignature: toBool(c.require_signature) ?? false, allowedKeys: toList(c.allowed_keys) }, longKeyIds);
        if (no) {
          const message = no.code === 'YUM_UNSIGNED' ? `${a.item.src}: not signed, and repository ${r.id} requires a signature (its importer's require_signature)` : `${a.item.src}: signed with key ${key}, not one of repository ${r.id}'s allowed_keys (${no.allowed.join(', ')})`;
          policy.push({ code: no.code, file: a.item.src ?? undefined, entry: a.item.name, field: no.field, message });
        }
      }
      if (problems.length || policy.length) {
        report.problems.push(...problems, ...policy);
        const kind = problems.length ? 'invalid' : 'policy';
        for (const p of [...problems, ...policy]) {
          report.items.push({ repository: '', unit: p.entry ?? p.file ?? '', action: 'failed', type: '', item: p.entry, src: p.file ?? null, reason: p.field && !p.message.startsWith(p.field) ? `${p.field}: ${p.message}` : p.message });
        }
        throw new StagepushError(
          kind === 'invalid' ? 'PUSH_INVALID_INPUT' : 'PUSH_POLICY',
          kind === 'invalid'
            ? `the staging area has ${problems.length} problem(s)${policy.length ? ` and ${policy.length} policy refusal(s)` : ''}; nothing was pushed`
            : `${policy.length} RPM(s) refused by the signing policy; nothing was pushed`,
          { kind, problems: [...problems, ...policy] },
        );
      }

      // Staged files are stat'ed once for every free-space check (a pre-push's; a push's before
      // creating repositories, then under the locks).
      const srcStats = new Map<string, SrcStat | null>();
      const loadedStat = (src: string): SrcStat | undefined => {
        const st = cache.loadedStat(src);
        // Without its mode (not known to the loader), the file is stat'ed again.
        return st && st.mode !== undefined ? { dev: st.dev, size: st.size, dir: false, everyoneReads: (st.mode & 0o444) === 0o444 } : undefined;
      };

      if (opts.prePush) {
        // Store content only: every file goes into the content store (pinned), nothing visible.
        // Pinned for push.pre_push_retention_hours (or until a push imports it): gc keeps it.
        const files = [...new Set(route.assignments.filter((a) => a.item.src && !['directory', 'erratum', 'comps', 'modulemd'].includes(a.typeId) && !lstatSync(a.item.src).isDirectory()).map((a) => a.item.src!))];
        const fileSet = new Set(files);
        const stores = route.assignments.filter((a) => a.item.src && fileSet.has(a.item.src));
        const expected = stores.map((a) => a.item.sha256sum ?? '');
        // It writes into the store as a push does: refused (exit 4) before writing anything when
        // that would not fit, rather than filling the data dir with files pinned for days.
        checkFreeSpace(settings, stores, engine, cfg.push.free_space_margin_mb, srcStats, loadedStat, cfg.push.store_files === 'copy');
        // Pinned before anything is stored (an orphan clean-up meanwhile leaves it), then again with what was stored.
        await engine.pinForPush(`${PRE_PUSH_PIN_PREFIX}${pushId}`, expected);
        const stored = await engine.preStore(files, { name: `${PRE_PUSH_PIN_PREFIX}${pushId}`, untilMs: Date.now() + cfg.push.pre_push_retention_hours * 3600_000, expected });
        report.summary.bytes_linked = stored.bytesLinked;
        report.summary.bytes_copied = stored.bytesCopied;
        for (const r of repos) report.repositories.push(repoReport(r, false, engine.repoVersion(r.id), 'skipped', 'pre-push: content stored, nothing made visible'));
        for (const [repoId, list] of desired) {
          for (const d of list) {
            const how = d.assignment.item.src ? stored.how.get(d.assignment.item.src) : undefined;
            report.items.push({ repository: repoId, unit: d.label, action: 'unchanged', type: d.assignment.typeId, item: d.assignment.item.name, src: d.assignment.item.src, dest: d.assignment.dest, sha256: d.assignment.item.sha256sum, ...(how ? { stored: how } : {}) });
          }
        }
        return { done: finish(report, log, settings, dryRun) };
      }

      // Declared repositories whose configuration changed: checked now (a refusal changes
      // nothing), applied once the content is committed.
      const drifts = new Map<string, ConfigDrift>();
      const driftProblems: Problem[] = [];
      for (const r of repos) {
        const drift = engine.configDrift(r);
        if (!drift) continue;
        if (drift.conflict) {
          driftProblems.push({ code: 'PUSH_REPO_CONFLICT', file: loaded.file ?? undefined, entry: r.id, field: `repositories.${r.id}`, message: drift.conflict });
          continue;
        }
        try {
          await engine.checkDrift(r, drift, repos.filter((x) => !engine!.hasRepo(x.id)));
        } catch (e) {
          if (!(e instanceof StagepushError) || e.kind !== 'invalid') throw e;
          // A refused value of a plugins.conf.d file is named by that file and key (the engine says which).
          const conf = (e.details as { file?: string; key?: string } | undefined)?.file ? (e.details as { file: string; key: string }) : null;
          driftProblems.push({ code: e.code, file: conf ? conf.file : (loaded.file ?? undefined), entry: r.id, field: conf ? conf.key : `repositories.${r.id}`, message: e.message });
          continue;
        }
        drifts.set(r.id, drift);
      }
      // Repositories this push creates: checked as their creation will check them (a refusal then
      // came after the dry run and the config check said fine).
      const creating = repos.filter((x) => !engine!.hasRepo(x.id));
      for (const r of creating) {
        try {
          await engine.checkNewRepo(r, creating.filter((x) => x !== r));
        } catch (e) {
          if (!(e instanceof StagepushError) || e.kind !== 'invalid') throw e;
          const field = r.origin === 'config' ? `repositories.${r.id}` : r.origin.startsWith('template:') ? `templates.${r.origin.slice('template:'.length)}` : 'unknown_destination';
          const conf = (e.details as { file?: string; key?: string } | undefined)?.file ? (e.details as { file: string; key: string }) : null;
          driftProblems.push({ code: e.code, file: conf ? conf.file : (loaded.file ?? undefined), entry: r.id, field: conf ? conf.key : field, message: e.message });
        }
      }
      if (driftProblems.length) {
        report.problems.push(...driftProblems);
        throw new StagepushError('PUSH_INVALID_CONFIG', `${driftProblems.length} repository configuration(s) cannot be applied; nothing was pushed`, { kind: 'invalid', problems: driftProblems });
      }

      const planAll = (list: (id: string) => Unit[]): RepoPlan[] =>
        repos.map((r) => {
          const existing = list(r.id);
          const ex = existing.map(existingUnit);
          // The stored advisories by id, looked up once each (not a scan of the repository per advisory).
          const storedErrata = new Map<string, Unit>();
          for (const u of existing) if (u.typeId === 'erratum') storedErrata.set(String(u.unitKey.id), u);
          // An advisory the repository does not hold may be stored already, for others (one unit
          // per id, shared): the upload merges into that one, so the same rule decides.
          const elsewhere = new Map<string, { unit: Unit; repos: string[] }>();
          const notHeld = (desired.get(r.id) ?? []).flatMap((d) => (d.assignment.typeId === 'erratum' && !storedErrata.has(String(d.assignment.item.name)) ? d.units.filter((u) => u.typeId === 'erratum') : []));
          if (notHeld.length) engine!.unitHolders(notHeld).forEach((found) => found && elsewhere.set(String(found.unit.unitKey.id), found));
          const ds = (desired.get(r.id) ?? []).map((d) => withErratumDecision(d, storedErrata, elsewhere));
          const held = route.partial.get(r.id);
          const plan = planRepo(r, ds, ex, {
            bumpErrata: Boolean(opts.bumpErrata || cfg.push.bump_errata),
            ...(held ? { mirrorHeld: `destination(s) ${held.join(', ')} left out by --dest/--exclude-dest (or destinations.include/exclude)` } : {}),
          });
          storedPathClashes(r, publishers(r), existing, plan);
          exportPathClashes(r, publishersOf(r).flatMap((d) => (d.typeId === 'export_distributor' ? [d.config ?? {}] : [])), existing, plan);
          return plan;
        });

      if (dryRun) {
        const plans = planAll((id) => (engine!.hasRepo(id) ? engine!.listUnits(id) : []));
        applyPlans(report, repos, plans, engine, true, route.assignments);
        const planProblems = plans.flatMap((p) => p.problems);
        if (planProblems.length) {
          // Refused: the report lists what failed, as the real push's does.
          report.items = report.items.filter((i) => i.action === 'failed');
          throw planError(planProblems, report);
        }
        for (const r of report.repositories) {
          const plan = plans.find((p) => p.repoId === r.id)!;
          const drift = drifts.get(r.id);
          if (drift) r.config_changes = drift.changes;
          // The engine's rule, with the configurations the drift will give (a distributor added or
          // configured otherwise publishes, one changed back to what it published does not).
          const unpublished = engine.needsPublish(r.id, Object.fromEntries((drift?.distributors ?? []).map((d) => [d.id, d.config])));
          // A repository without a distributor (distributors: []) has nothing to publish: the push skips it.
          const publishes = publishersOf(repoById.get(r.id)!).length > 0;
          r.status = opts.skipPublish || !publishes ? 'skipped' : plan.changed || opts.forcePublish || unpublished || !engine.hasRepo(r.id) ? 'published' : 'skipped';
          if (plan.changed) r.version = (r.previous_version ?? 0) + 1;
        }
        // Repositories outside the push holding a shared unit it updates: they would get a new
        // version too, and be published with it.
        for (const [id, why] of sharedHolders(plans, repos, engine)) {
          const previous = engine.repoVersion(id) ?? 0;
          report.repositories.push(sharedReport(id, why, previous, previous + 1, opts.skipPublish || !engine.distributors(id).length ? 'skipped' : 'published', engine, cfg));
        }
        // And those an earlier push changed through a shared unit and did not publish (or whose
        // hooks failed: run again, the repository published again only with --force-publish, as
        // the push forces every repository it publishes). A --skip publish push leaves them owed
        // and does not list them.
        if (!opts.skipPublish) {
          for (const [id, why] of owedPublishes(cache, engine, report)) {
            const current = engine.repoVersion(id);
            report.repositories.push(sharedReport(id, why, current, current, engine.distributors(id).length && (opts.forcePublish || engine.needsPublish(id)) ? 'published' : 'skipped', engine, cfg));
          }
        }
        // As the push says why it published none of them.
        if (opts.skipPublish) for (const r of report.repositories) r.reason = '--skip publish';
        return { done: finish(report, log, settings, dryRun) };
      }

      // 5. Repositories that do not exist yet are created below, after a first free-space check
      //    (repeated under the locks); a push that then fails before its commit deletes them again.
      checkFreeSpace(settings, route.assignments, engine, cfg.push.free_space_margin_mb, srcStats, loadedStat, cfg.push.store_files === 'copy');
      // 6. Plan under the locks, commit every repository's new version in one transaction.
      events({ type: 'phase-start', phase: 'import', total: route.assignments.length });
      let plans: RepoPlan[] = [];
      let done = 0;
      type UploadInfo = { stored: 'linked' | 'copied' | 'existing'; size: number; sha256: string | null };
      const uploadInfo = new Map<string, UploadInfo>();
      // What an earlier attempt's uploads stored (an attempt whose commit was refused,
      // ENGINE_SHARED_NOT_LOCKED): the store keeps what it linked or copied then, so the next
      // attempt finds it there; the item was still stored by this push.
      const storedBefore = new Map<string, UploadInfo>();
      const versionsBefore = new Map<string, number | null>();
      // What the store did with each file during the current item (by source path), and the digests
      // it newly placed: how the item was stored, without asking the filesystem again.
      const ingested = new Map<string, StoredEvent>();
      const placed = new Set<string>();
      const stopListening = onStored((e) => {
        if (e.src !== null && !ingested.has(e.src)) ingested.set(e.src, e);
        if (e.how !== 'existing') placed.add(e.sha256);
      });
      const created = new Set<string>();
      // Repositories outside the push holding a unit it updates in place (an advisory, a module
      // stream: one stored unit, shared by key), and why: the commit gives each a new version, so
      // each is locked with the push's own (found under the locks: the transaction is run again
      // with their locks when planning finds more), reported and published.
      const shared = new Map<string, string[]>();
      // What earlier pushes owed, read as this push first owes the repositories in `shared` (once:
      // an attempt run again finds its own rows), and put back for those it did not change.
      let owedBefore: ReturnType<PushCache['pendingPublishes']> | undefined;
      const unowe = (id: string) => {
        const prior = owedBefore?.get(id);
        if (prior) cache.owePublish(id, prior.version, prior.why, prior.created);
        else cache.publishPaid(id);
      };
      const addShared = (found: Map<string, string[]>): boolean => {
        let grew = false;
        for (const [id, why] of found) {
          const had = shared.get(id);
          if (!had) grew = true;
          shared.set(id, [...new Set([...(had ?? []), ...why])]);
        }
        return grew;
      };
      // Repositories whose importer configuration the import itself set (stored with the commit).
      const configured = new Set<string>();
      // The content this push may store is kept from an orphan clean-up running meanwhile (it
      // would see files not yet referenced by a committed unit).
      const pinName = `push-${pushId}`;
      await engine.pinForPush(pinName, route.assignments.flatMap((a) => (a.item.sha256sum ? [a.item.sha256sum] : [])));
      try {
        for (let attempt = 1; ; ) {
          for (const r of repos) if (await engine.ensureRepo(r)) created.add(r.id);
          try {
            const locked = new Set([...repos.map((r) => r.id), ...shared.keys()]);
            const committed = await engine.transaction([...locked], async (batch) => {
              // Under the locks: the versions this push starts from.
              for (const id of locked) versionsBefore.set(id, engine!.repoVersion(id));
              // Files are linked/copied into the store without a directory fsync each; the touched
              // directories are synced once, before the engine commits the rows that reference them.
              deferDurability();
              try {
                const ok = await importAll(batch, locked);
                // Owed before the commit, not after it: a push killed between its commit and
                // here left the new versions of the repositories sharing its units unpublished,
                // owed nowhere, so no later push of other destinations published them. One the
                // commit does not change is forgotten below (or by the next push: its version is
                // published).
                if (ok) {
                  owedBefore ??= cache.pendingPublishes();
                  for (const [id, why] of shared) oweShared(id, (versionsBefore.get(id) ?? 0) + 1, why);
                }
                return ok;
              } finally {
                await flushDurabilityAsync();
              }
            });
            if (committed) break;
            // Planned under the locks, the push updates units that repositories it does not hold
            // the lock of share: nothing was imported; run again holding theirs too.
            log.line(`this push updates units shared with ${[...shared.keys()].filter((id) => !locked.has(id)).join(', ')}: their locks are taken too`);
          } catch (e) {
            // The commit found a unit it changes held by a repository this push does not lock (it
            // came to hold it meanwhile, or a change the plan does not see, such as a FILES
            // description): nothing was committed; run again holding its lock too.
            const sharedIds = e instanceof StagepushError && e.code === 'ENGINE_SHARED_NOT_LOCKED' ? ((e.details?.repos as string[] | undefined) ?? []) : [];
            if (sharedIds.length && addShared(new Map(sharedIds.map((id) => [id, ['shares a unit updated by this push']])))) {
              log.line(`this push updates units shared with ${sharedIds.join(', ')}: their locks are taken too`);
              continue;
            }
            // A repository another push created, and deleted again when it was refused, while this
            // one waited for the locks: made again, and the transaction (which changed nothing) retried.
            // One sharing a unit that was deleted meanwhile is not locked any more.
            const isGone = e instanceof StagepushError && e.code === 'ENGINE_REPO_NOT_FOUND';
            const gone = isGone ? [...shared.keys()].filter((id) => !engine!.hasRepo(id)) : [];
            for (const id of gone) shared.delete(id);
            const vanished = isGone && repos.some((r) => !engine!.hasRepo(r.id));
            if ((!vanished && !gone.length) || attempt >= 3) throw e;
            attempt++;
            log.line(`a repository of this push was deleted by another push while this one waited for it; ${vanished ? 'made again' : 'no longer locked'} (attempt ${attempt})`);
          }
        }
      } catch (e) {
        // Refused or failed before the commit: the repositories this push created go again (a
        // refused push leaves no empty repository behind), and what it owed is as it was.
        if (owedBefore) for (const id of shared.keys()) unowe(id);
        for (const id of created) {
          try {
            if (await engine.discardCreated(id)) log.line(`repository ${id}, created by this push, deleted again: the push did not commit`);
          } catch (cleanup) {
            log.line(`repository ${id}, created by this push, could not be deleted again: ${(cleanup as Error)?.message ?? cleanup}`);
          }
        }
        throw e;
      } finally {
        engine.unpin(pinName);
        stopListening();
        cache.expectRecords([]);
        facts.prefetch([]); // the prefetched stat rows are not needed after the import
      }
      /** Plan and import under the locks; false (nothing imported) when the plan updates units shared with a repository not in `locked`. */
      async function importAll(batch: import('./deps.js').PushBatch, locked: ReadonlySet<string>): Promise<boolean> {
        {
          // Each attempt imports (and counts) every upload again, from the start.
          for (const [k, v] of uploadInfo) if (v.stored !== 'existing' && !storedBefore.has(k)) storedBefore.set(k, v);
          uploadInfo.clear();
          done = 0;
          plans = planAll((id) => batch.listUnits(id));
          const planProblems = plans.flatMap((p) => p.problems);
          if (planProblems.length) {
            // Refused: the report lists what failed, not what the push would have done.
            applyPlans(report, repos, plans, engine!, false, route.assignments);
            report.items = report.items.filter((i) => i.action === 'failed');
            throw planError(planProblems, report);
          }
          const found = sharedHolders(plans, repos, engine!);
          addShared(found);
          if ([...found.keys()].some((id) => !locked.has(id))) return false;
          const uploads = plans.flatMap((p) => p.uploads.map((u) => u.assignment));
          checkFreeSpace(settings, uploads, engine!, cfg.push.free_space_margin_mb, srcStats, loadedStat, cfg.push.store_files === 'copy');
          cache.forgetLoad(); // the header summaries and the loader's stats have served (desired units, free space)
          // The stat cache rows of every file to import, in one query (not one per item); their
          // header records a chunk at a time, in upload order.
          facts.prefetch(uploads.flatMap((a) => (a.item.src ? [a.item.src] : [])));
          cache.expectRecords(plans.flatMap((p) => [...p.uploads].sort(byUploadOrder).flatMap((u) => (u.assignment.item.sha256sum ? [u.assignment.item.sha256sum] : []))));
          for (const plan of plans) {
            // A changed importer declaration is in force for this push's own imports (a
            // require_signature turned on refuses the unsigned packages of the push that turns it
            // on); it is stored with the commit.
            const importer = drifts.get(plan.repoId)?.importer;
            if (importer && engine!.importerType(plan.repoId) === importer.typeId) {
              await batch.configureImporter(plan.repoId, importer.config);
              configured.add(plan.repoId);
            }
            if (plan.removals.length) await batch.removeUnits(plan.repoId, plan.removals.map((u) => u.id));
            const ordered = [...plan.uploads].sort(byUploadOrder);
            // One engine call per repository; each item is still uploaded (and reported) on its own.
            // Each spec is made as its upload comes (20,000 of them made up front were ~5 MiB
            // held through the whole import).
            const specs = function* () {
              for (const up of ordered) yield uploadSpec(up.assignment, up.bumpVersion, up.bumpUpdated);
            };
            await batch.uploadMany(
              plan.repoId,
              specs(),
              {
                before: () => {
                  opts.signal?.throwIfAborted();
                  ingested.clear();
                  placed.clear();
                },
                after: (i) => {
                  const a = ordered[i]!.assignment;
                  const k = `${plan.repoId}\u0000${a.index}`;
                  const now: UploadInfo = { ...storedHow(engine!, a, ingested, placed), sha256: a.item.sha256sum };
                  const before = storedBefore.get(k);
                  uploadInfo.set(k, now.stored === 'existing' && before && before.sha256 === now.sha256 ? before : now);
                  events({ type: 'phase-progress', phase: 'import', done: ++done, total: route.assignments.length, repo: plan.repoId, label: a.item.name });
                },
              },
            );
          }
        }
        return true;
      }
      events({ type: 'phase-end', phase: 'import', done, total: route.assignments.length });
      for (const [id, drift] of drifts) {
        // An importer configuration the import set was stored with the commit.
        await engine.applyDrift(repos.find((r) => r.id === id)!, configured.has(id) ? { ...drift, importer: undefined } : drift);
        log.line(`repository ${id} reconfigured from the config: ${drift.changes.join('; ')}`);
      }
      // Content a pre-push stored is now referenced by units: its pins are released.
      await engine.releasePins([...new Set(route.assignments.map((a) => a.item.sha256sum).filter((x): x is string => !!x))]);
      applyPlans(report, repos, plans, engine, false, route.assignments);
      const byItem = new Map(route.assignments.map((x) => [`${x.repoId}\u0000${x.item.name}\u0000${x.item.src}`, x]));
      for (const i of report.items) {
        const a = byItem.get(`${i.repository}\u0000${i.item}\u0000${i.src}`);
        const info = a ? uploadInfo.get(`${i.repository}\u0000${a.index}`) : undefined;
        if (info) {
          i.stored = info.stored;
          if (info.stored === 'linked') report.summary.bytes_linked += info.size;
          if (info.stored === 'copied') report.summary.bytes_copied += info.size;
        }
      }
      for (const r of report.repositories) {
        const drift = drifts.get(r.id);
        if (drift) r.config_changes = drift.changes;
        r.created = created.has(r.id);
        r.previous_version = versionsBefore.get(r.id) ?? 0;
        r.version = engine.repoVersion(r.id);
      }
      // The repositories sharing a unit this push updated that got a new version with its commit
      // (one locked on a guess that the commit did not change is not the push's).
      const sharedChanged: string[] = [];
      for (const [id, why] of shared) {
        const before = versionsBefore.get(id) ?? null;
        const after = engine.repoVersion(id);
        if (after === before) {
          // Owed before the commit on a guess the commit did not bear out: as it was.
          if (owedBefore) unowe(id);
          continue;
        }
        sharedChanged.push(id);
        report.repositories.push(sharedReport(id, why, before, after, 'skipped', engine, cfg));
        log.line(`repository ${id}: version ${before ?? 0} -> ${after}, ${why.join('; ')}`);
        oweShared(id, after, why);
      }
      return { repos, engine, shared: sharedChanged };
      /**
       * Owed until published (not by a --skip publish push, nor by one that fails or is stopped
       * before it publishes it): no later push of its own destinations would publish it (its
       * staging area may not be pushed again, or be refused against the new shared unit). What an
       * earlier push owed is kept with it, unless owed by a repository of this id deleted since.
       */
      function oweShared(id: string, version: number | null, why: string[]): void {
        const prior = owedBefore?.get(id);
        const owed = prior && sameRepo(prior, engine!, id) ? prior.why : [];
        cache.owePublish(id, version, [...new Set([...owed, ...why.map((w) => w.replace(/ by this push$/, ` by push ${pushId}`))])], engine!.repoCreated(id));
      }
    }

    // 7. Publish: every repository of the push whose current version is not published (or all
    //    with --force-publish), non-export distributors first, export last.
    if (opts.skipPublish) {
      for (const r of report.repositories) {
        r.status = 'skipped';
        r.reason = '--skip publish';
      }
    } else {
      // Hooks run for each repository published now, and again for one whose hooks failed or
      // never ran on an earlier push (a mirror a cron run could not notify is notified by the
      // next one). They are owed, and claimed, as the publish begins (under the repository's
      // lock, by the push that publishes it, not by one that found it to publish and then had
      // nothing to do): a push killed between its publish and its hooks leaves them owed, not
      // lost, and another push running meanwhile leaves them to it, owed before or not.
      // Repositories an earlier push changed through a shared unit and did not publish: published
      // now, with their hooks, whatever this push's destinations.
      // Each claimed in push.sqlite: a push running meanwhile that finds one claimed leaves it
      // (its publish and hooks are the claimant's), so one publish's hooks run once.
      const owedEarlier = owedPublishes(cache, eng, report, (id) => log.line(`repository ${id}: its owed publish is being made by another push running now: left to it`));
      for (const [id, why] of owedEarlier) {
        const current = eng.repoVersion(id);
        report.repositories.push(sharedReport(id, why, current, current, 'skipped', eng, cfg));
        log.line(`repository ${id} (version ${current ?? 0}) was changed by an earlier push through a shared unit and not published, or its hooks failed: published now`);
      }
      const pending = cache.pendingHooks();
      const hooked = cfg.hooks.post_publish.length > 0;
      const owed = new Set<string>();
      const starting = (id: string, version: number): void => {
        if (!hooked || owed.has(id)) return;
        owed.add(id);
        cache.oweHooks(id, version);
      };
      await publishAll(eng, report, [...repos.map((r) => r.id), ...shared, ...owedEarlier.keys()], Boolean(opts.forcePublish), events, opts.signal, starting);
      // The hooks read the report on stdin: its counts as the final report will give them.
      summarize(report);
      // Owed hooks another live push holds (it published the repository and runs them now) are its own.
      const retry = new Set(
        report.repositories
          .filter((r) => r.status !== 'published' && r.status !== 'failed' && pending.has(r.id))
          .filter((r) => cache.claimHooks(r.id) || (log.line(`hooks of ${r.id}: owed, and being run by another push running now: left to it`), false))
          .map((r) => r.id),
      );
      // Each repository's outcome is recorded as soon as its hooks ran: a push killed during a
      // later repository's hooks left every repository's owed, and the next push ran the hooks
      // that had succeeded again (every mirror notified twice for one version).
      const recorded = new Set<string>();
      const record = (r: RepoReport) => {
        recorded.add(r.id);
        cache.setHooksOutcome(r.id, r.version, r.hooks.every((h) => h.ok));
      };
      await runHooks(cfg.hooks.post_publish, cfg.hooks.timeout, report, events, log, retry, pending, opts.signal, record);
      for (const r of report.repositories) {
        if ((r.status === 'published' || retry.has(r.id)) && !recorded.has(r.id)) record(r);
      }
      // A shared repository's owed publish is paid once its current version is published and its
      // hooks succeeded: no push of its own destinations would run them again.
      const hooksOwed = cache.pendingHooks();
      for (const id of cache.pendingPublishes().keys()) if (report.repositories.some((r) => r.id === id && r.status !== 'failed') && !eng.needsPublish(id) && !hooksOwed.has(id)) cache.publishPaid(id);
      // Still owed (a failed publish or hook): left to the next push.
      cache.releaseClaims();
    }
    return finish(report, log, settings, dryRun);
  } catch (caught) {
    report.finished = new Date().toISOString();
    // Interrupted: the signal's own error (SIGINT 130 / SIGTERM 143) wins over what the interrupted code threw.
    const reason = opts.signal?.aborted && opts.signal.reason instanceof StagepushError ? opts.signal.reason : null;
    const err: unknown = reason ?? environmentalError(caught, settings.dataDir);
    if (err instanceof StagepushError) {
      report.status = err.kind === 'invalid' || err.kind === 'usage' ? 'invalid' : err.kind === 'policy' ? 'policy' : err.kind === 'locked' ? 'locked' : err.kind === 'interrupted' ? 'interrupted' : 'failed';
      if (!report.problems.length) report.problems.push(...(err.problems.length ? err.problems : [err.toProblem()]));
      report.exit_status = exitStatusFor(err);
      // Locked out (--no-wait, --wait-timeout) before anything was planned: every item it would
      // have pushed is listed as not pushed, and why (a cron job's report said "0 items").
      // (Set inside loadPlanImport: the compiler cannot see that assignment from here.)
      const wasRouted = routed as ReturnType<typeof routeItems> | null;
      if (err.kind === 'locked' && !report.items.length && wasRouted) {
        for (const a of wasRouted.assignments) report.items.push({ repository: a.repoId, unit: a.item.name, action: 'failed', type: a.typeId, item: a.item.name, src: a.item.src, dest: a.dest, reason: `not pushed: ${err.message}` });
      }
    } else {
      report.status = 'failed';
      report.problems.push({ code: 'PUSH_FAILED', message: String((err as Error)?.message ?? err) });
      report.exit_status = exitStatusFor(err);
    }
    summarize(report);
    log.line(`push ${pushId} ended: ${report.status} (exit ${report.exit_status}): ${(err as Error)?.message ?? err}`);
    log.writeReport(report);
    // A push that keeps being refused (a cron job on a broken staging area) prunes old logs too.
    if (!dryRun) {
      try {
        pruneLogs(settings.dataDir, settings.logRetentionDays);
      } catch {
        /* the push's own outcome is what is reported */
      }
    }
    if (err !== null && typeof err === 'object') (err as { report?: PushReport }).report = report;
    throw err;
  } finally {
    setFileFactsProvider(prevFacts);
    engine?.close();
    // A push that failed or was stopped leaves what it claimed to the next push.
    try {
      cache.releaseClaims();
    } finally {
      cache.close();
    }
  }
}

function factsFrom(cache: PushCache): { provider: FileFactsProvider; prefetch(paths: string[]): void } {
  // The importer asks, then the store asks again for the same file: the last answer is kept.
  let last: { abs: string; facts: ReturnType<FileFactsProvider> } | null = null;
  // Stat cache rows read in one query for the files the import will ask about (null: no row).
  let rows = new Map<string, StatRow | null>();
  return {
    provider: (abs) => {
      if (last && last.abs === abs) return last.facts;
      // A prefetched row is used once (the store's question right after the importer's is
      // answered by `last`; a later one queries): the rows go as the import goes.
      let row: StatRow | undefined;
      if (rows.has(abs)) {
        row = rows.get(abs) ?? undefined;
        rows.delete(abs);
      } else row = cache.stat(abs);
      const facts = factsOfRow(cache, row);
      last = { abs, facts };
      return facts;
    },
    prefetch(paths) {
      rows = cache.statMany(paths);
      last = null;
    },
  };
}

function factsOfRow(cache: PushCache, row: StatRow | undefined): ReturnType<FileFactsProvider> {
  if (!row?.sha256) return undefined;
  const sha256 = row.sha256;
  return {
    sha256,
    size: row.size,
    dev: row.dev,
    ino: row.ino,
    mtimeMs: row.mtime_ms,
    // The yum importer stores the record as the JSON text it is (see knownRpm).
    get extra() {
      return cache.stagedRecordText(sha256);
    },
  };
}

function finish(report: PushReport, log: PushLog, settings: Settings, dryRun: boolean): PushReport {
  report.finished = new Date().toISOString();
  summarize(report);
  if (report.repositories.some((r) => r.status === 'failed' || r.hooks.some((h) => !h.ok))) {
    report.status = 'failed';
    report.exit_status = EXIT.failed;
    // A failed push says why in its problems, as a refused one does.
    for (const r of report.repositories) {
      if (r.status === 'failed') report.problems.push({ code: 'PUSH_PUBLISH_FAILED', entry: r.id, message: `repository ${r.id}: publish failed${r.reason ? `: ${r.reason}` : ''}` });
      for (const h of r.hooks) {
        if (!h.ok) report.problems.push({ code: 'PUSH_HOOK_FAILED', entry: r.id, message: `repository ${r.id}: post_publish hook ${JSON.stringify(h.command)} failed (${h.reason ?? (h.signal ? `signal ${h.signal}` : `exit ${h.exit_status}`)})` });
      }
    }
  }
  log.line(`push ended: ${report.status} (exit ${report.exit_status}); ${report.summary.pushed} pushed, ${report.summary.replaced} replaced, ${report.summary.removed} removed, ${report.summary.unchanged} unchanged`);
  log.writeReport(report);
  if (!dryRun) {
    try {
      pruneLogs(settings.dataDir, settings.logRetentionDays);
    } catch (e) {
      // The push is done and reported: old logs left for the next push or gc to prune.
      log.line(`old push logs could not be pruned: ${(e as Error)?.message ?? e}`);
    }
  }
  return report;
}

function planError(problems: Problem[], report: PushReport): StagepushError {
  const policy = problems.every((p) => p.code === 'PUSH_DUPLICATE_NEVRA');
  report.problems.push(...problems);
  return new StagepushError(policy ? 'PUSH_POLICY' : 'PUSH_INVALID_INPUT', `${problems.length} item(s) cannot be pushed; nothing was changed`, { kind: policy ? 'policy' : 'invalid', problems });
}

/**
 * The merge rule's decision for an advisory: against the repository's stored one, else against
 * the one stored for other repositories (`elsewhere`: the upload merges into that shared unit; one
 * the merge keeps as it is is still new to this repository).
 */
function withErratumDecision(d: DesiredItem, storedErrata: ReadonlyMap<string, Unit>, elsewhere: ReadonlyMap<string, { unit: Unit; repos: string[] }> = new Map()): DesiredItem {
  if (d.assignment.typeId !== 'erratum') return d;
  const id = String(d.assignment.item.name);
  const held = storedErrata.get(id);
  const other = held ? undefined : elsewhere.get(id);
  const stored = held ?? other?.unit;
  const base = { updated: (d.assignment.item.updated as string | null) ?? null, version: String(d.assignment.item.version ?? '1') };
  if (!stored) return { ...d, erratum: { decision: 'new', ...base } };
  const found = erratumDecision(d.assignment.item, stored);
  const decision = !held && found === 'unchanged' ? 'new' : found;
  return {
    ...d,
    erratum: {
      decision,
      ...base,
      storedUpdated: (stored.metadata.updated as string | null) ?? null,
      storedVersion: stored.metadata.version === undefined ? null : String(stored.metadata.version),
      ...(other ? { storedFor: other.repos } : {}),
      ...(decision === 'dropped' ? { bumpUpdated: updatedForBump(d.assignment.item, stored) } : {}),
    },
  };
}

/**
 * Unit types whose key holds all the plan compares (their content's checksum): a stored unit with
 * the same key is the same unit, never changed in place, so it is not looked up (every uploaded
 * RPM would cost the push a lookup: thousands on a fresh push). A file's or an image's key holds
 * its content too, but its fingerprint holds its staged fields (description, version, region…):
 * a change of those alone changes the shared unit, so those types are looked up.
 */
const CONTENT_KEYED = new Set(['rpm', 'srpm', 'directory']);

/**
 * The repositories outside the push (`repos`) holding a stored unit that the plans upload with
 * other content, and why. Such a unit is shared by key (an advisory by its id, a module stream by
 * its NSVCA, a file by its name and content, with its fields): the import changes the one stored
 * unit, so every repository holding it gets a new version in the same commit, and is published
 * with the push's own to serve it.
 */
function sharedHolders(plans: RepoPlan[], repos: RepoSpec[], engine: PushEngine): Map<string, string[]> {
  const own = new Set(repos.map((r) => r.id));
  const wanted = new Map<string, PlanUnit>();
  for (const p of plans) for (const up of p.uploads) for (const u of up.desired.units) if (!CONTENT_KEYED.has(u.typeId)) wanted.set(keyOf(u), u);
  const out = new Map<string, string[]>();
  if (!wanted.size) return out;
  const units = [...wanted.values()];
  engine.unitHolders(units).forEach((found, i) => {
    const u = units[i]!;
    if (!found || existingUnit(found.unit).fingerprint === u.fingerprint) return;
    const k = u.unitKey;
    const what =
      u.typeId === 'erratum' ? `advisory ${String(k.id)}` : u.typeId === 'modulemd' ? `module stream ${[k.name, k.stream, k.version, k.context, k.arch].map(String).join(':')}` : u.typeId === 'iso' ? `file ${String(k.name)}` : u.label;
    for (const id of found.repos) if (!own.has(id)) pushTo(out, id, `shares ${what} updated by this push`);
  });
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The repositories an earlier push changed through a shared unit and did not publish, or whose
 * hooks failed (remembered in push.sqlite), that still need it and are not in the report already
 * (the push's own, or sharing a unit it updates: published with them), with their
 * shared_updates. One deleted since (made again with its id or not), or published since by other
 * means with no hook owed, is forgotten (a dry run changes nothing). With `claim`, each is
 * claimed for this push (see PushCache.claimPublish); one another push holds is left out, and
 * `claim` told of it.
 */
function owedPublishes(cache: PushCache, engine: PushEngine, report: PushReport, claim?: (claimedElsewhere: string) => void): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const hooksOwed = cache.pendingHooks();
  for (const [id, owed] of cache.pendingPublishes()) {
    // Checked before the report is: a repository made again with the id (by this push, or since)
    // is not the one the publish was owed by, and would be published "sharing" what it never held.
    if (!engine.hasRepo(id) || !sameRepo(owed, engine, id)) {
      cache.publishPaid(id);
      continue;
    }
    if (report.repositories.some((r) => r.id === id)) continue;
    if (!engine.needsPublish(id) && !hooksOwed.has(id)) {
      cache.publishPaid(id);
      continue;
    }
    if (claim && !cache.claimPublish(id)) {
      claim(id);
      continue;
    }
    out.set(id, owed.why);
  }
  return out;
}

/**
 * The repository of this id is the one an owed publish was recorded for: its creation time is the
 * one recorded (a row of an older stagepush, with none, is taken as its repository's).
 */
function sameRepo(owed: { created: string | null }, engine: PushEngine, id: string): boolean {
  return owed.created === null || owed.created === engine.repoCreated(id);
}

/** A repository outside the push's destinations that its commit gives (or would give) a new version: `why` says which shared units. */
function sharedReport(id: string, why: string[], previous: number | null, version: number | null, status: RepoReport['status'], engine: PushEngine, cfg: LoadedConfig['config']): RepoReport {
  const declared = declaredRepos(cfg).find((r) => r.id === id);
  const made = /^stagepush push \((.+)\)$/.exec(engine.repoNotes(id).created_by ?? '')?.[1];
  const importer = engine.importerType(id);
  const kind = declared?.kind ?? (importer ? (IMPORTER_KIND[importer] ?? importer) : 'unknown');
  // Made by a push (its notes say how), declared in the config, or made otherwise (repo create).
  const origin = declared ? 'config' : (made ?? 'engine');
  return { ...repoReport({ id, kind, origin, destinations: declared?.destinations ?? [] }, false, previous, status), version, shared_updates: why };
}

function repoReport(r: { id: string; kind: string; origin: string; destinations: string[] }, created: boolean, version: number | null, status: RepoReport['status'], reason?: string): RepoReport {
  return {
    id: r.id,
    type: r.kind,
    origin: r.origin,
    created,
    destinations: r.destinations,
    status,
    ...(reason ? { reason } : {}),
    previous_version: version,
    version,
    counts: emptyCounts(),
    distributors: [],
    published_paths: [],
    urls: [],
    hooks: [],
  };
}

function applyPlans(report: PushReport, repos: RepoSpec[], plans: RepoPlan[], engine: PushEngine, dryRun: boolean, assignments: Assignment[]): void {
  for (const r of repos) {
    const exists = engine.hasRepo(r.id);
    // A repository the push creates starts at version 0 (in the dry run as in the push).
    report.repositories.push(repoReport(r, dryRun ? !exists : false, exists ? engine.repoVersion(r.id) : 0, 'skipped'));
  }
  // Every item of a staged file says its sha256 (unchanged ones too).
  const shaOf = new Map<string, string>();
  for (const a of assignments) if (a.item.sha256sum) shaOf.set(`${a.repoId}\u0000${a.item.name}\u0000${a.item.src}`, a.item.sha256sum);
  for (const p of plans) {
    for (const e of p.entries) {
      // Object.assign, not a spread: properties added to a spread copy (sha256, stored) gave
      // nearly every report item a hidden class of its own.
      const item: ItemReport = Object.assign({}, e);
      const sha = e.item !== undefined ? shaOf.get(`${e.repository}\u0000${e.item}\u0000${e.src}`) : undefined;
      if (sha) item.sha256 = sha;
      report.items.push(item);
    }
  }
}

function uploadSpec(a: Assignment, bumpVersion?: string, bumpUpdated?: string): { filePath: string | null; typeId: string; unitKey?: Record<string, Json>; metadata?: Record<string, Json> } {
  const item: PushItemLike = { ...a.item, src: a.item.src ? resolvePath(a.item.src) : null };
  // The item as plain JSON, for the types whose metadata is the item itself (not for each RPM).
  const plain = () => JSON.parse(JSON.stringify(item)) as Record<string, Json>;
  switch (a.typeId) {
    case 'erratum': {
      const md: Record<string, Json> = { ...plain(), id: item.name };
      delete md.kind;
      if (bumpVersion) md.version = bumpVersion;
      if (bumpUpdated) md.updated = bumpUpdated;
      return { filePath: null, typeId: 'erratum', unitKey: { id: item.name }, metadata: md };
    }
    case 'iso':
      return {
        filePath: item.src,
        typeId: 'iso',
        unitKey: { name: item.name, checksum: item.sha256sum ?? '' },
        metadata: { name: item.name, description: (item.description as Json) ?? null, version: (item.version as Json) ?? null, display_order: (item.display_order as Json) ?? null, sha256: item.sha256sum ?? null },
      };
    case 'yum_repo_metadata_file':
      return { filePath: item.src, typeId: 'yum_repo_metadata_file', unitKey: { data_type: 'productid' }, metadata: { data_type: 'productid', products: (item.products as Json) ?? [] } };
    case 'directory':
      return { filePath: item.src, typeId: 'directory', unitKey: { name: item.name }, metadata: { name: item.name } };
    case 'cgw':
    case 'ami':
    case 'vhd': {
      const md: Record<string, Json> = { ...plain() };
      delete md.kind;
      return { filePath: item.src && existsSync(item.src) ? item.src : null, typeId: a.typeId, unitKey: { name: item.name, checksum: item.sha256sum ?? '' }, metadata: md };
    }
    case 'comps':
      // The yum importer reads a comps.xml given as any of the comps types.
      return { filePath: item.src, typeId: 'package_group' };
    default:
      return { filePath: item.src, typeId: a.typeId };
  }
}

/**
 * How an uploaded item's file reached the content store: already there, hard-linked (same inode)
 * or copied; and its size. The store's own answer when the item's file went through its ingest
 * with the digest it was loaded with; else (files an importer reads without storing them:
 * comps, modules, errata; directory trees) asked of the filesystem: `placed` holds the digests
 * the store newly placed during the item (whatever else it held was there before the item).
 */
function storedHow(engine: PushEngine, a: Assignment, ingested: Map<string, StoredEvent>, placed: Set<string>): { stored: 'linked' | 'copied' | 'existing'; size: number } {
  const src = a.item.src;
  if (a.typeId === 'directory') {
    // A RAW tree: what the store did with its files (every file stored during this item is one of
    // them); linked when any was, else copied when any was; the bytes of those newly stored.
    let size = 0;
    let linked = false;
    let copied = false;
    for (const e of ingested.values()) {
      if (e.how === 'existing') continue;
      size += e.size;
      if (e.how === 'linked') linked = true;
      else copied = true;
    }
    return { stored: linked ? 'linked' : copied ? 'copied' : 'existing', size };
  }
  const e = src && a.item.sha256sum ? ingested.get(resolvePath(src)) : undefined;
  if (e && e.sha256 === a.item.sha256sum) return { stored: e.how, size: e.size };
  const before = a.item.sha256sum && !placed.has(a.item.sha256sum) ? engine.storedPath(a.item.sha256sum) : null;
  let st: import('node:fs').Stats | null = null;
  try {
    st = src ? statSync(src) : null;
  } catch {
    st = null;
  }
  const size = st && st.isFile() ? st.size : 0;
  if (before || !st || !st.isFile()) return { stored: 'existing', size };
  const after = a.item.sha256sum ? engine.storedPath(a.item.sha256sum) : null;
  if (!after) return { stored: 'copied', size };
  try {
    const x = statSync(after);
    return { stored: x.ino === st.ino && x.dev === st.dev ? 'linked' : 'copied', size };
  } catch {
    return { stored: 'copied', size };
  }
}

/** What the free-space check needs of a staged file. */
interface SrcStat {
  dev: number;
  size: number;
  dir: boolean;
  /** Readable by everyone: the store links such a file; any other it copies (see ContentStore.ingestFile). */
  everyoneReads: boolean;
}

const srcStatOf = (s: import('node:fs').Stats): SrcStat => ({ dev: s.dev, size: s.size, dir: s.isDirectory(), everyoneReads: (s.mode & 0o444) === 0o444 });

/**
 * Refuse (policy) when the data dir cannot hold what the push will copy into the store.
 * `srcStats`: staged files already stat'ed (filled in; null: could not be stat'ed); `loaded`: what
 * the loader's stat of a file gave (a file it saw is not stat'ed again).
 */
function checkFreeSpace(settings: Settings, uploads: Assignment[], engine: PushEngine, marginMb: number, srcStats: Map<string, SrcStat | null>, loaded: (src: string) => SrcStat | undefined, copies: boolean): void {
  let needed = 0;
  // push.store_files: copy: nothing is linked, every new file takes room.
  const storeDev = copies
    ? -1
    : (() => {
        try {
          return statSync(engine.contentRoot()).dev;
        } catch {
          return statSync(settings.dataDir).dev;
        }
      })();
  const seen = new Set<string>();
  for (const a of uploads) {
    const src = a.item.src;
    const sha = a.item.sha256sum;
    if (!src || !sha || seen.has(sha)) continue;
    let st = srcStats.get(src);
    if (st === undefined) st = loaded(src);
    if (st === undefined) {
      try {
        st = srcStatOf(statSync(src));
      } catch {
        st = null;
      }
      srcStats.set(src, st);
    }
    // A directory, or a file the store links (same filesystem, readable by everyone), needs no
    // room whether or not its content is stored already: no need to ask.
    if (st && (st.dir || (st.dev === storeDev && st.everyoneReads))) {
      seen.add(sha);
      continue;
    }
    if (engine.storedPath(sha)) continue;
    seen.add(sha);
    // A file gone since it was loaded fails here, as it did.
    st ??= srcStatOf(statSync(src));
    if (!st.dir && (st.dev !== storeDev || !st.everyoneReads)) needed += st.size;
  }
  const fs = statfsSync(settings.dataDir);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (needed + marginMb * 1024 * 1024 > free) {
    throw new StagepushError('PUSH_NO_SPACE', `${settings.dataDir} has ${free} bytes free; the push needs ${needed} bytes plus a margin of ${marginMb} MiB`, {
      kind: 'policy',
      file: settings.dataDir,
      field: 'push.free_space_margin_mb',
    });
  }
}

/** `starting`: told of each repository as a publish of it begins, with the version it publishes (see PushEngine.publish). */
async function publishAll(engine: PushEngine, report: PushReport, repoIds: string[], force: boolean, events: EventSink, signal?: AbortSignal, starting?: (repoId: string, version: number) => void): Promise<void> {
  const byId = new Map(report.repositories.map((r) => [r.id, r]));
  const dists = (exportPass: boolean) =>
    repoIds.flatMap((id) => engine.distributors(id).filter((d) => (d.typeId === 'export_distributor') === exportPass).map((d) => ({ repo: id, d })));
  const all = [...dists(false), ...dists(true)];
  events({ type: 'phase-start', phase: 'publish', total: all.length });
  let n = 0;
  const settle = (rr: RepoReport): void => {
    const st = rr.distributors.map((d) => d.status);
    rr.status = st.includes('failed') ? 'failed' : st.includes('published') ? 'published' : 'skipped';
    if (rr.status === 'failed') rr.reason = rr.distributors.filter((d) => d.error).map((d) => `${d.id}: ${d.error}`).join('; ');
    rr.published_paths = [...new Set(rr.distributors.flatMap((d) => d.published_paths))];
    rr.urls = [...new Set(rr.distributors.flatMap((d) => d.urls))];
    if (!rr.published_paths.length) rr.published_paths = engine.publishedPaths(rr.id);
  };
  try {
    for (const { repo, d } of all) {
      signal?.throwIfAborted();
      const rr = byId.get(repo)!;
      const outcome = await engine.publish(repo, d.id, force, starting && ((version) => starting(repo, version)));
      // The version published is the repository's current one: newer than the one this push
      // committed when another push committed since (its publish then finds it published). The
      // report and the hooks' VERSION name the version the published tree serves.
      if (outcome.status === 'published') rr.version = outcome.version;
      rr.distributors.push({ id: d.id, type_id: d.typeId, status: outcome.status, published_paths: outcome.publishedPaths, urls: outcome.urls, ...(outcome.report !== undefined && outcome.report !== null ? { report: outcome.report } : {}), ...(outcome.error ? { error: `${outcome.error.code}: ${outcome.error.message}` } : {}) });
      events({ type: 'phase-progress', phase: 'publish', done: ++n, total: all.length, repo, label: `${d.id}: ${outcome.status}` });
    }
  } finally {
    // Also when the push stops midway (interrupted, a lock it could not get): what it published
    // is said published (the report and push list are what cron's operator reads).
    for (const rr of report.repositories) if (rr.distributors.length || n === all.length) settle(rr);
  }
  events({ type: 'phase-end', phase: 'publish', done: n, total: all.length, ok: !report.repositories.some((r) => r.status === 'failed') });
}

/**
 * Paths a repository's staged items would publish over each other: a RAW tree holding the yum
 * repodata/ or Packages/, or the file repository's PULP_MANIFEST, a RAW path that is also a FILES
 * name, two RAW trees with one path. The distributor would refuse them at publish time, after
 * the content was committed; said now, with the other problems, before anything changes.
 */
function pathCollisions(repos: RepoSpec[], desired: Map<string, DesiredItem[]>, publishers: (r: RepoSpec) => Set<string>, exportsManifest: (r: RepoSpec) => boolean): Problem[] {
  const out: Problem[] = [];
  for (const r of repos) {
    const types = publishers(r);
    if (types.has('export_distributor')) {
      // What the export lays out in its directory: every RAW tree, each CGW / image file at
      // <type>/<file name>, and in manifest mode manifest.json.
      const exported = new PathClaims();
      if (exportsManifest(r)) exported.reserve('manifest.json', 'the export manifest (export_distributor, mode manifest)');
      // One CGW or image staged twice for the repository (two staging directories of one URL, the
      // same area given twice) is one unit with one path when it is the same; else the plan says
      // PUSH_STAGED_TWICE, as for a FILES name.
      const exportedUnits = new Set<string>();
      for (const d of desired.get(r.id) ?? []) {
        const a = d.assignment;
        try {
          if (!d.tree && ['cgw', 'ami', 'vhd'].includes(a.typeId) && a.item.src) {
            const key = `${a.typeId}/${path.basename(a.item.src)}\u0000${a.item.name}`;
            if (exportedUnits.has(key)) continue;
            exportedUnits.add(key);
          }
          if (d.tree) {
            for (const e of d.tree) {
              if (e.type === 'dir') exported.claimDir(e.path, `RAW tree ${a.item.name}`);
              else exported.claimFile(e.path, `RAW tree ${a.item.name}`);
            }
          } else if (['cgw', 'ami', 'vhd'].includes(a.typeId) && a.item.src) {
            exported.claimFile(`${a.typeId}/${path.basename(a.item.src)}`, `${a.typeId} ${a.item.name}`);
          }
        } catch (e) {
          if (!(e instanceof StagepushError)) throw e;
          out.push({ code: e.code, file: a.item.src ?? undefined, entry: a.item.name, field: 'path', message: `repository ${r.id} (its export): ${e.message}` });
        }
      }
    }
    if (!types.has('yum_distributor') && !types.has('iso_distributor') && !types.has('directory_distributor')) continue;
    const claims = new PathClaims();
    if (types.has('yum_distributor')) {
      claims.reserve('repodata', 'the yum repodata/ directory');
      claims.reserve('Packages', 'the yum Packages/ directory');
    }
    if (types.has('iso_distributor')) claims.reserve(ISO_MANIFEST_NAME, 'the manifest');
    const list = desired.get(r.id) ?? [];
    const claim = (d: DesiredItem, f: () => void) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof StagepushError)) throw e;
        out.push({ code: e.code, file: d.assignment.item.src ?? undefined, entry: d.assignment.item.name, field: 'path', message: `repository ${r.id}: ${e.message}` });
      }
    };
    // (One FILES name staged twice is the plan's to say: PUSH_STAGED_TWICE.)
    const isoNames = new Set<string>();
    if (types.has('iso_distributor')) {
      for (const d of list) {
        if (d.assignment.typeId !== 'iso' || isoNames.has(d.assignment.item.name)) continue;
        isoNames.add(d.assignment.item.name);
        claim(d, () => claims.claimFile(d.assignment.item.name, `FILES ${d.assignment.item.name}`));
      }
    }
    for (const d of list) {
      if (!d.tree) continue;
      const owner = `RAW tree ${d.assignment.item.name}`;
      claim(d, () => {
        for (const e of d.tree!) {
          if (e.type === 'dir') claims.claimDir(e.path, owner);
          else claims.claimFile(e.path, owner);
        }
      });
    }
  }
  return out;
}

/**
 * The paths a repository's published tree will hold after the plan: what it keeps (stored files
 * of a file repository, stored RAW trees) and what is uploaded. A staged FILES name or RAW path
 * clashing with a kept one ("sub" and "sub/dir/a.txt", one path in two trees of two
 * destinations) refuses the push (its entry fails), before anything changes: committed, it would
 * fail every later publish of the repository. Clashes among staged items are pathCollisions'.
 */
function storedPathClashes(r: RepoSpec, types: Set<string>, existing: Unit[], plan: RepoPlan): void {
  const iso = types.has('iso_distributor');
  if (!iso && !types.has('yum_distributor') && !types.has('directory_distributor')) return;
  if (!existing.some((u) => u.typeId === 'directory' || (iso && u.typeId === 'iso'))) return;
  const removed = new Set(plan.removals.map((u) => u.id));
  const uploaded = new Set(plan.uploads.flatMap((u) => u.desired.units.filter((x) => x.typeId === 'iso' || x.typeId === 'directory').map((x) => `${x.typeId}:${String(x.unitKey.name)}`)));
  const claims = new PathClaims();
  const stored = new Set<string>();
  for (const u of existing) {
    const name = String(u.unitKey.name);
    if (removed.has(String(u.id)) || uploaded.has(`${u.typeId}:${name}`)) continue;
    const owner = u.typeId === 'iso' ? `stored file ${name}` : `stored RAW tree ${name}`;
    try {
      if (u.typeId === 'iso' && iso) claims.claimFile(name, owner);
      else if (u.typeId === 'directory') claims.claimUnit(u, owner);
      else continue;
      stored.add(owner);
    } catch {
      /* stored clashes are not this push's to judge */
    }
  }
  if (!stored.size) return;
  for (const up of plan.uploads) {
    const a = up.assignment;
    const tree = a.typeId === 'directory' ? up.desired.tree : undefined;
    if (!(a.typeId === 'iso' && iso) && !tree) continue;
    try {
      if (tree) {
        const owner = `RAW tree ${a.item.name}`;
        for (const e of tree) {
          if (e.type === 'dir') claims.claimDir(e.path, owner);
          else claims.claimFile(e.path, owner);
        }
      } else claims.claimFile(a.item.name, `FILES ${a.item.name}`);
    } catch (e) {
      if (!(e instanceof StagepushError)) throw e;
      const owners = (e.details as { owners?: string[] } | undefined)?.owners ?? [];
      if (!owners.some((o) => stored.has(o))) continue;
      const reason = `repository ${r.id}: ${e.message}`;
      plan.problems.push({ code: e.code, file: a.item.src ?? undefined, entry: a.item.name, field: tree ? 'path' : 'filename', message: reason });
      const entry = plan.entries.find((x) => x.item === a.item.name && x.src === a.item.src);
      if (entry) Object.assign(entry, { action: 'failed', reason });
      plan.changed = false;
    }
  }
}

/**
 * The paths an export distributor of the repository will lay out after the plan, checked as the
 * distributor checks them at publish: every unit it keeps and every upload, each file at its
 * export path (a package at its file name, a FILES file at its name, a CGW / image file at
 * <type>/<file name>, the productid at its data type), every RAW tree's paths, and manifest.json in
 * manifest mode; the types its `skip` names are left out. pathCollisions sees the staged RAW trees
 * and CGW / image files only: a RAW path that is a staged or stored package's file name, or a
 * stored CGW file's path, was committed, and the export then failed that publish and every later
 * one (PUBLISH_PATH_COLLISION after the import, exit 6). Such an upload's entry fails now, before
 * anything changes. Two builds of one package file name are no clash (the export renames one).
 */
function exportPathClashes(r: RepoSpec, exports: Array<Record<string, unknown>>, existing: Unit[], plan: RepoPlan): void {
  if (!exports.length) return;
  const removed = new Set(plan.removals.map((u) => u.id));
  const replaced = new Set(plan.uploads.flatMap((u) => u.desired.units.map((x) => x.replaceKey)));
  const kept = existing.filter((u) => !removed.has(String(u.id)) && !replaced.has(existingUnit(u).replaceKey));
  // Trees last: a clash between a tree and a file is the tree's entry to fail (the file is the
  // package, FILES or CGW item the repository holds by its name).
  const uploads = [...plan.uploads].sort((a, b) => Number(a.assignment.typeId === 'directory') - Number(b.assignment.typeId === 'directory'));
  const failed = new Set<string>();
  for (const config of exports) {
    const skip = new Set(skippedTypes(config.skip));
    const claims = new PathClaims();
    if ((config.mode ?? 'manifest') === 'manifest') claims.reserve('manifest.json', 'the export manifest (export_distributor, mode manifest)');
    const packages = new Set<string>();
    // Claims a package's file name once: another build of it is exported under another name.
    const claimFile = (p: string, typeId: string, owner: string): void => {
      if (RPM_TYPES.includes(typeId as (typeof RPM_TYPES)[number])) {
        if (packages.has(p)) return;
        packages.add(p);
      }
      claims.claimFile(p, owner);
    };
    for (const u of kept) {
      if (skip.has(u.typeId)) continue;
      try {
        if (u.typeId === 'directory') claims.claimUnit(u, `stored RAW tree ${String(u.unitKey.name)}`);
        else {
          const p = exportPathOf(u);
          if (p) claimFile(p, u.typeId, `stored ${u.typeId} unit ${p}`);
        }
      } catch {
        /* stored clashes are not this push's to judge */
      }
    }
    for (const up of uploads) {
      const a = up.assignment;
      if (skip.has(a.typeId) || failed.has(`${a.item.src}\0${a.item.name}`)) continue;
      try {
        if (a.typeId === 'directory' && up.desired.tree) {
          const owner = `RAW tree ${a.item.name}`;
          for (const e of up.desired.tree) {
            if (e.type === 'dir') claims.claimDir(e.path, owner);
            else claims.claimFile(e.path, owner);
          }
          continue;
        }
        for (const u of up.desired.units) {
          const k = u.unitKey;
          const p =
            u.typeId === 'rpm' || u.typeId === 'srpm'
              ? rpmFilename({ name: String(k.name), version: String(k.version), release: String(k.release), arch: String(k.arch) })
              : u.typeId === 'iso'
                ? String(k.name)
                : ['cgw', 'ami', 'vhd'].includes(u.typeId) && a.item.src
                  ? `${u.typeId}/${path.basename(a.item.src)}`
                  : u.typeId === 'yum_repo_metadata_file'
                    ? String(k.data_type)
                    : null;
          if (p) claimFile(p, u.typeId, `${u.label} (${p})`);
        }
      } catch (e) {
        if (!(e instanceof StagepushError)) throw e;
        failed.add(`${a.item.src}\0${a.item.name}`);
        const reason = `repository ${r.id} (its export): ${e.message}`;
        plan.problems.push({ code: e.code, file: a.item.src ?? undefined, entry: a.item.name, field: 'path', message: reason });
        const entry = plan.entries.find((x) => x.item === a.item.name && x.src === a.item.src);
        if (entry) Object.assign(entry, { action: 'failed', reason });
        plan.changed = false;
      }
    }
  }
}

/** post_publish hooks: per published repository, REPO_ID / PUBLISHED_PATH / VERSION, report on stdin. */
/** `retry`: repositories not published now whose hooks failed on an earlier push (run again). */
/** `signal`: an interrupted push stops its hooks (a running one gets SIGTERM) and stays owing them. */
/** `ran`: told of each repository once all its hooks ran, before the next repository's begin. */
/** Exported for its tests: a hook the configuration would refuse reaches it only from them. */
export async function runHooks(
  hooks: Array<string | string[]>,
  timeoutSec: number,
  report: PushReport,
  events: EventSink,
  log: PushLog,
  retry: Set<string>,
  pending: Map<string, number | null>,
  signal?: AbortSignal,
  ran?: (r: RepoReport) => void,
): Promise<void> {
  if (!hooks.length) return;
  for (const r of report.repositories) {
    if (r.status !== 'published' && !retry.has(r.id)) continue;
    if (retry.has(r.id)) log.line(`hooks of ${r.id} (version ${pending.get(r.id) ?? '?'}) failed or did not run on an earlier push: run again`);
    for (const h of hooks) {
      signal?.throwIfAborted();
      const argv = Array.isArray(h) ? h : ['/bin/sh', '-c', h];
      const command = Array.isArray(h) ? h.join(' ') : h;
      events({ type: 'phase-start', phase: 'hook', repo: r.id, label: command });
      const res = await new Promise<HookResult>((resolve) => {
        let child: ChildProcessWithoutNullStreams;
        try {
          child = spawn(argv[0]!, argv.slice(1), {
            env: { ...process.env, REPO_ID: r.id, PUBLISHED_PATH: r.published_paths[0] ?? '', PUBLISHED_PATHS: r.published_paths.join(':'), VERSION: String(r.version ?? ''), PUSH_ID: report.push_id ?? '' },
            stdio: ['pipe', 'pipe', 'pipe'],
            // A process group of its own: a timeout or an interrupted push stops the whole hook
            // (sh and what it started, while the hook runs).
            detached: true,
          });
        } catch (e) {
          // spawn throws, rather than emitting 'error', for a command it cannot even try (an
          // empty program, a NUL byte): thrown here it rejected the promise and crashed the push
          // after its publish, with the hook still owed, so every later push crashed too. The
          // configuration refuses such hooks; whatever else spawn throws for is the hook's failure.
          resolve({ command, exit_status: null, ok: false, reason: `could not start: ${(e as Error)?.message ?? String(e)}`, output: '' });
          return;
        }
        let timedOut = false;
        const stopAll = () => {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGTERM');
          } catch {
            child.kill('SIGTERM');
          }
        };
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
        child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
        const timer = setTimeout(() => {
          timedOut = true;
          stopAll();
        }, timeoutSec * 1000);
        signal?.addEventListener('abort', stopAll, { once: true });
        let settled = false;
        const settle = (result: HookResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', stopAll);
          // What the hook started in the background and left running (a notifier that forks) is
          // its own: not waited for (it may hold the pipes), not killed.
          child.stdout.destroy();
          child.stderr.destroy();
          child.unref();
          resolve(result);
        };
        const ended = (code: number | null, sig: NodeJS.Signals | null) => {
          const reason = code === 0 ? undefined : timedOut ? `timed out after ${timeoutSec} s` : sig ? `killed by ${sig}` : `exit ${code}`;
          settle({ command, exit_status: code, signal: sig, ok: code === 0, ...(reason ? { reason } : {}), output: out });
        };
        child.on('error', (e: NodeJS.ErrnoException) => {
          const reason = e.code === 'ENOENT' ? `not found (${argv[0]})` : e.code === 'EACCES' ? `not executable (${argv[0]})` : `could not start: ${e.message}`;
          settle({ command, exit_status: null, ok: false, reason, output: e.message });
        });
        // The hook is done when it exits; its output is read until its pipes close, or a moment
        // more when something it left running holds them.
        child.on('exit', (code, sig) => setTimeout(() => ended(code, sig), 200).unref());
        child.on('close', (code, sig) => ended(code, sig));
        child.stdin.on('error', () => {});
        child.stdin.end(JSON.stringify({ ...report, repository: r }) + '\n');
      });
      r.hooks.push(res);
      log.line(`hook ${command} for ${r.id}: ${res.ok ? 'ok' : `failed (${res.reason ?? `exit ${res.exit_status ?? res.signal}`})`}${res.output ? `: ${res.output.trim()}` : ''}`);
      events({ type: 'phase-end', phase: 'hook', repo: r.id, label: command, ok: res.ok });
      signal?.throwIfAborted();
    }
    ran?.(r);
  }
}


/**
 * A full disk or a read-only data directory met while writing (the push cache, a stored file):
 * said as such, naming the data directory, not as an internal error (exit 1, a stack trace).
 */
function environmentalError(e: unknown, dataDir: string): unknown {
  if (e instanceof StagepushError || e === null || typeof e !== 'object') return e;
  const code = String((e as { code?: unknown }).code ?? '');
  const message = (e as Error).message;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new StagepushError('PUSH_NO_SPACE', `no space left while writing in the data directory ${dataDir}: ${message}`, { kind: 'policy', file: dataDir, hint: 'free space there (stagepush gc removes what no repository needs any more)', cause: e });
  }
  if (code === 'EROFS' || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) {
    return new StagepushError('ENGINE_DATA_DIR', `cannot write in the data directory ${dataDir}: ${message} (${code})`, { kind: 'failed', file: dataDir, cause: e });
  }
  return e;
}
