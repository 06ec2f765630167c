/**
 * Routing: which repository each staged item goes to (pure; no I/O). Destinations map to the
 * repositories that declare them; unknown destinations get a repository from a template (or are
 * an error, per `unknown_destination`). Every problem is collected, never only the first.
 */
import type { Problem } from '../errors.js';
import { autoRepo, declaredRepos, type RepoKind, type RepoSpec, type StagepushConfig } from '../config/index.js';
import type { PushItemLike } from './items.js';

/** Append to the list under a key (in place: no copy per item). */
function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** What kind of repository an item needs. */
export type ItemFamily = 'yum' | 'file' | 'raw' | 'export' | 'unsupported';

export function itemFamily(item: PushItemLike): ItemFamily {
  switch (item.kind) {
    case 'RpmPushItem':
    case 'ErratumPushItem':
    case 'CompsXmlPushItem':
    case 'ModuleMdPushItem':
    case 'ProductIdPushItem':
      return 'yum';
    case 'FilePushItem':
      return 'file';
    case 'DirectoryPushItem':
      return 'raw';
    case 'CGWPushItem':
    case 'AmiPushItem':
    case 'VHDPushItem':
      return 'export';
    default:
      return 'unsupported';
  }
}

/** The content type id an item is uploaded as. */
export function itemTypeId(item: PushItemLike): string {
  switch (item.kind) {
    case 'RpmPushItem':
      return /\.src\.rpm$/.test(item.name) || /\.src\.rpm$/.test(item.src ?? '') ? 'srpm' : 'rpm';
    case 'ErratumPushItem':
      return 'erratum';
    case 'CompsXmlPushItem':
      return 'comps';
    case 'ModuleMdPushItem':
      return 'modulemd';
    case 'ProductIdPushItem':
      return 'yum_repo_metadata_file';
    case 'FilePushItem':
      return 'iso';
    case 'DirectoryPushItem':
      return 'directory';
    case 'CGWPushItem':
      return 'cgw';
    case 'AmiPushItem':
      return 'ami';
    case 'VHDPushItem':
      return 'vhd';
    default:
      return 'unknown';
  }
}

/** The unit types a content type id stands for when checking what an importer supports. */
export function storedTypes(typeId: string): string[] {
  if (typeId === 'comps') return ['package_group'];
  return [typeId];
}

/** Which item families a repository kind holds. */
/** The kind of repository each built-in importer makes. */
export const IMPORTER_KIND: Record<string, RepoKind> = { yum_importer: 'yum', iso_importer: 'file', generic_importer: 'directory' };

const KIND_HOLDS: Record<RepoKind, ItemFamily[]> = {
  yum: ['yum', 'raw', 'export'],
  file: ['file', 'raw', 'export'],
  directory: ['raw', 'export'],
};

export interface Assignment {
  /** Index into the items array. */
  index: number;
  item: PushItemLike;
  repoId: string;
  dest: string;
  typeId: string;
}

export interface RouteResult {
  repos: RepoSpec[];
  assignments: Assignment[];
  problems: Problem[];
  /** Items left out by --dest / --exclude-dest (by index). */
  filtered: number[];
  /**
   * Repositories in the push that are also fed by a destination the filters leave out (repository
   * id → those destinations): the staging area is not their whole content this time, so a mirror
   * must not remove what the left-out destinations hold.
   */
  partial: Map<string, string[]>;
}

export interface RouteOptions {
  /** Only these destinations (config destinations.include plus --dest). */
  include?: string[];
  /** Never these (config destinations.exclude plus --exclude-dest). */
  exclude?: string[];
  /** importer type id → content types it supports (from the engine's plugins); unknown importers are not checked. */
  importerTypes?: Record<string, string[]>;
  /**
   * The importer type of a repository that exists already (null: none such). A destination's
   * repository made from a template at its first push keeps its type: a later push of other
   * items goes where that repository can hold them, not where a new one would be made.
   */
  existingImporter?: (repoId: string) => string | null;
  /** The distributor types of a repository that exists already ([]: none such). */
  existingDistributors?: (repoId: string) => string[];
}

function sorted<T>(a: T[], key: (x: T) => string): T[] {
  return [...a].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
}

export function routeItems(items: PushItemLike[], config: StagepushConfig, opts: RouteOptions = {}): RouteResult {
  const problems: Problem[] = [];
  const declared = declaredRepos(config);
  const byDest = new Map<string, RepoSpec[]>();
  for (const r of declared) for (const d of r.destinations) pushTo(byDest, d, r);

  const include = opts.include && opts.include.length ? new Set(opts.include) : null;
  const exclude = new Set(opts.exclude ?? []);
  const filtered: number[] = [];

  // Items per destination (an item may have several destinations).
  const perDest = new Map<string, Array<{ index: number; item: PushItemLike }>>();
  items.forEach((item, index) => {
    const dests = item.dest.length ? item.dest : [];
    let kept = false;
    for (const d of dests) {
      if ((include && !include.has(d)) || exclude.has(d)) continue;
      kept = true;
      pushTo(perDest, d, { index, item });
    }
    if (!kept) filtered.push(index);
    if (!dests.length) problems.push({ code: 'PUSH_NO_DESTINATION', file: item.src ?? undefined, entry: item.name, message: `item ${item.name} has no destination` });
  });

  const repos = new Map<string, RepoSpec>();
  const assignments: Assignment[] = [];
  const companionOf = new Map<string, string>();
  for (const dest of sorted([...perDest.keys()], (x) => x)) {
    const entries = perDest.get(dest)!;
    const families = new Set(entries.map((e) => itemFamily(e.item)));
    for (const e of entries) {
      if (itemFamily(e.item) === 'unsupported') {
        problems.push({ code: 'PUSH_UNSUPPORTED_CONTENT', file: e.item.src ?? undefined, entry: e.item.name, message: `unsupported content (${e.item.kind}) in destination ${dest}` });
      }
    }
    let targets = byDest.get(dest);
    // A destination declared for several repositories (one yum, one file, say) gives each item to
    // those of them that can hold it; only an item none of them holds is refused. A destination
    // of one repository refuses what that repository cannot hold, as before.
    const several = targets !== undefined && targets.length > 1;
    const refusedBy = new Map<number, string[]>();
    const heldBy = new Set<number>();
    if (!targets) {
      if (config.unknown_destination === 'error') {
        const known = sorted([...byDest.keys()], (x) => x);
        problems.push({
          code: 'PUSH_UNKNOWN_DESTINATION',
          file: entries[0]?.item.src ?? undefined,
          entry: dest,
          field: 'unknown_destination',
          message: `destination ${dest} has no repository (unknown_destination: error); known destinations: ${known.length ? known.join(', ') : '(none)'}`,
        });
        continue;
      }
      if (families.has('yum') && families.has('file')) {
        const y = entries.find((e) => itemFamily(e.item) === 'yum')!.item;
        const f = entries.find((e) => itemFamily(e.item) === 'file')!.item;
        problems.push({
          code: 'PUSH_MIXED_DESTINATION',
          file: f.src ?? undefined,
          entry: dest,
          message: `destination ${dest} holds both yum content (${y.kind} ${y.name}) and file content (${f.kind} ${f.name}); declare its repositories in the configuration`,
        });
        continue;
      }
      let kind: RepoKind = families.has('yum') ? 'yum' : families.has('file') ? 'file' : 'directory';
      const actual = opts.existingImporter?.(dest) ?? null;
      if (actual && IMPORTER_KIND[actual]) kind = IMPORTER_KIND[actual];
      const main = autoRepo(config, dest, kind, families.has('export'));
      if (actual) main.importer = { ...main.importer, typeId: actual };
      // A RAW-less directory repository (CGW / cloud images only) is published by the export
      // distributor alone: the directory distributor publishes RAW-only repositories.
      if (kind === 'directory' && !families.has('raw')) main.distributors = main.distributors.filter((d) => d.typeId !== 'directory_distributor');
      targets = [main];
      // CGW and cloud images staged next to content whose importer cannot hold them go to a
      // companion repository "<dest>-export" (generic importer, export distributor), so nothing
      // staged is dropped. Next to a RAW tree too (staged now, or published by the existing
      // repository): the directory distributor publishes RAW-only repositories.
      const mainTypes = opts.importerTypes?.[main.importer.typeId];
      const rawBeside = kind === 'directory' && (families.has('raw') || (opts.existingDistributors?.(dest) ?? []).includes('directory_distributor'));
      if (families.has('export') && ((mainTypes && !['cgw', 'ami', 'vhd'].every((t) => mainTypes.includes(t))) || rawBeside)) {
        const companion = autoRepo(config, dest, 'directory', true, { companion: true });
        companion.id = `${dest}-export`;
        companion.distributors = companion.distributors.filter((d) => d.typeId === 'export_distributor');
        main.distributors = main.distributors.filter((d) => d.typeId !== 'export_distributor');
        companionOf.set(main.id, companion.id);
        targets.push(companion);
      }
    }
    for (const repo of targets) {
      if (!repos.has(repo.id)) repos.set(repo.id, repo);
      const holds = KIND_HOLDS[repo.kind];
      const supported = opts.importerTypes?.[repo.importer.typeId];
      const isCompanion = [...companionOf.values()].includes(repo.id);
      // The directory distributor publishes RAW-only repositories (FILE_NOT_RAW_ONLY): a CGW or
      // cloud image committed to a repository it publishes failed that publish and every later
      // one. Its importer holds them; the repository does not (a declared `type: directory`).
      const rawOnly = [...repo.distributors.map((d) => d.typeId), ...(opts.existingDistributors?.(repo.id) ?? [])].includes('directory_distributor');
      for (const e of entries) {
        const fam = itemFamily(e.item);
        if (fam === 'unsupported') continue;
        if (companionOf.has(repo.id) && fam === 'export') continue;
        if (isCompanion && fam !== 'export') continue;
        const typeId = itemTypeId(e.item);
        const okKind = holds.includes(fam) && !(fam === 'export' && rawOnly);
        const okImporter = !supported || storedTypes(typeId).every((t) => supported.includes(t));
        if (!okKind || !okImporter) {
          const what = okImporter && fam === 'export' && rawOnly ? `${repo.kind} repository published by directory_distributor, which publishes RAW trees only` : `${repo.kind} repository, importer ${repo.importer.typeId}${supported ? ` holds ${supported.join(', ')}` : ''}`;
          if (several) {
            pushTo(refusedBy, e.index, `${repo.id} (${what})`);
            continue;
          }
          problems.push({
            code: 'PUSH_TYPE_NOT_HELD',
            file: e.item.src ?? undefined,
            entry: e.item.name,
            message: `item ${e.item.name} (${typeId}) cannot go to repository ${repo.id} (${what})`,
          });
          continue;
        }
        heldBy.add(e.index);
        assignments.push({ index: e.index, item: e.item, repoId: repo.id, dest, typeId });
      }
    }
    for (const e of entries) {
      if (!several || heldBy.has(e.index) || !refusedBy.has(e.index)) continue;
      // Said once per item (an item listing the destination twice is one entry here).
      heldBy.add(e.index);
      problems.push({
        code: 'PUSH_TYPE_NOT_HELD',
        file: e.item.src ?? undefined,
        entry: e.item.name,
        message: `item ${e.item.name} (${itemTypeId(e.item)}) cannot go to any repository of destination ${dest}: ${refusedBy.get(e.index)!.join('; ')}`,
      });
    }
  }
  const left = (d: string) => Boolean((include && !include.has(d)) || exclude.has(d));
  const partial = new Map<string, string[]>();
  for (const r of repos.values()) {
    const out = r.destinations.filter(left);
    if (out.length) partial.set(r.id, out);
  }
  return { repos: sorted([...repos.values()], (r) => r.id), assignments, problems, filtered, partial };
}
