/**
 * export_distributor: the delivery of content whose services are not wired yet (CGW definitions,
 * cloud images) and a portable copy of any repository. Two modes:
 *
 * - `tree`: realised copies (no symlinks) of the repository's files in `export_dir`:
 *   each unit's file at its relative path (iso: its name; generic: `<type>/<file>`; rpm, srpm:
 *   its file name, `<sha256 prefix>-<file>` for another build of one NEVRA), directory units laid out at the root with their internal symlinks
 *   realised as copies (symlinks leaving the tree, or looping, are skipped and reported);
 * - `manifest` (default): the same files plus `manifest.json`, every unit with its type, unit key,
 *   metadata and exported file path.
 *
 * `tar: true` writes one POSIX tar `<export_dir>/<repo id>.tar` instead of the tree. The export is
 * built next to `export_dir` and swapped into place; `export_dir` (default
 * `<publish root>/exports/<repo id>`) must be empty or a previous export of this distributor.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Distributor, DistributorFactory, Json, PluginCallConfig, PluginMetadata, PublishConduit, PublishReport, RelatedRepositories, Repository, Unit, ValidationResult } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { checkBool, checkEnum, checkKnownKeys, checkPublishKeys, firstProblem, getBool, relativeUrlOf, result } from '../common/config.js';
import { exposeDirectory, normalizeRelativeUrl, protocolsOf, relativeUrlConflict } from '../common/publish.js';
import { DIRECTORY_TYPE, PathClaims, manifestOf, resolveTreeLink, type DirectoryEntry } from '../common/directory.js';
import { DIR_MODE, copyFile0644, fixTreeModes, isWithin, mkdirp } from '../common/fsutil.js';
import { RPM_TYPES, rebuiltPackageFilename, str } from '../yum/units.js';
import { LOCATION_FILE, linkedDirOf, readExportLocation, type ExportLocation } from './location.js';
import { exportPathOf, skippedTypes } from './paths.js';
import { TarWriter } from './tar.js';

export { exportPathOf };

/** Every built-in content type (an export takes whatever the repository holds). */
export const EXPORT_TYPES = ['rpm', 'srpm', 'erratum', 'package_group', 'package_category', 'package_environment', 'package_langpacks', 'modulemd', 'modulemd_defaults', 'yum_repo_metadata_file', 'directory', 'iso', 'cgw', 'ami', 'vhd'];
const METADATA: PluginMetadata = { id: 'export_distributor', displayName: 'Export distributor (tree, manifest, tar)', types: EXPORT_TYPES };
export const EXPORT_KEYS = ['mode', 'export_dir', 'tar', 'skip', 'relative_url', 'http', 'https'] as const;
const MANIFEST_FILE = 'manifest.json';

/** One item of the export plan: a directory, or a file copied from `src`. */
interface PlanItem {
  path: string;
  type: 'dir' | 'file';
  src?: string;
  /** Files: 0755 when the staged file was executable, else 0644 (as published trees give them). */
  mode?: number;
}

function exportDirOf(repo: Repository, config: PluginCallConfig, publishRoot: string): string {
  const d = config.get<string>('export_dir');
  return d ? path.resolve(d) : path.join(publishRoot, 'export', ...relativeUrlOf(repo, config).split('/'));
}

/** One directory is the other or lies inside it. */
function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/** The engine's data directory, from a repository's working directory (`<data>/working/<repo>/<kind>/<id>`). */
function dataDirOf(repo: Repository): string | null {
  const parts = path.resolve(repo.workingDir).split(path.sep);
  const i = parts.lastIndexOf('working');
  return i > 0 ? parts.slice(0, i).join(path.sep) || path.sep : null;
}

function skipOf(config: PluginCallConfig): string[] {
  return skippedTypes(config.get<unknown>('skip'));
}


/**
 * The export paths of a repository's units, in the order the engine lists them (type, then unit
 * key: the order the yum distributor publishes packages in). Two builds of one NEVRA share a file
 * name: the first keeps it, the others are exported as `<sha256 prefix>-<file>`, the name the yum
 * distributor publishes them under. Any other path taken twice is left to the claims to refuse.
 */
class ExportPaths {
  private readonly packages = new Set<string>();
  /** Units not at their default path (few): the manifest gives the same path as the tree. */
  private readonly renamed = new Map<string, string>();

  assign(u: Unit): string | null {
    const p = exportPathOf(u);
    if (p === null || !(RPM_TYPES as readonly string[]).includes(u.typeId)) return p;
    let out = p;
    if (this.packages.has(p)) {
      const dir = path.posix.dirname(p);
      const name = rebuiltPackageFilename(path.posix.basename(p), str(u.unitKey.checksum) || str(u.sha256));
      out = dir === '.' ? name : `${dir}/${name}`;
      if (u.id !== undefined) this.renamed.set(u.id, out);
    }
    this.packages.add(out);
    return out;
  }

  /** The path `assign` gave a unit (the manifest's second pass over the units). */
  of(u: Unit): string | null {
    return (u.id !== undefined ? this.renamed.get(u.id) : undefined) ?? exportPathOf(u);
  }
}

/**
 * Skipped symlinks listed in the report's summary, at most: the summary is what the engine records
 * and shows (repo publish, task show, the push report), details (every one) is not kept.
 */
export const SKIPPED_LISTED = 100;

/** Links to directories followed one inside the copy of another, at most (export tree and tar). */
const MAX_NESTED_LINKS = 8;

/** `a` is `b` or one of its ancestors (paths in a tree; '' is its root). */
const ancestorOrSelf = (a: string, b: string): boolean => a === '' || a === b || b.startsWith(a + '/');

/**
 * Realise a directory unit's entries as plan items: files copied from blobs, symlinks inside the
 * tree replaced by what they point to (files, or whole directories), those leaving it skipped.
 * A link to a directory that holds it, or that is being copied already on the current path
 * (`a/x -> ../a`; `a/x -> ../b` with `b/y -> ../a`), is a loop: skipped ('dangling or looping'). Its
 * copy would hold the link again, and three such links made a copy nine levels deep of 29,524
 * files before the depth cap stopped it. A manifest's paths go through no symlink, so a
 * directory's path there is the directory itself (what its device and inode are on disk).
 * Links followed inside the copy of a linked directory are counted: past MAX_NESTED_LINKS the
 * link is skipped and listed (a bound on what links that are no loop can multiply); how deep the
 * linked directory's own tree is does not matter.
 */
export function realiseDirectoryUnit(unit: Pick<Unit, 'unitKey' | 'metadata'>, blobPath: (sha: string) => string): { items: PlanItem[]; skipped: Array<{ path: string; target: string; reason: string }> } {
  const entries = manifestOf(unit);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const items: PlanItem[] = [];
  const skipped: Array<{ path: string; target: string; reason: string }> = [];

  const links = new Map(entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target!]));
  const files = new Set(entries.filter((e) => e.type === 'file').map((e) => e.path));
  // What a link leads to, resolved as the kernel resolves it through the tree's own links (one
  // resolver for the tree: common/directory.ts). Normalised as text, `images -> latest/images`
  // with `latest -> 9.4` named no entry (latest/images is not a manifest path) and `current -> 9.4/`
  // none either ("9.4/"): both were skipped as dangling or looping.
  const resolve = (e: DirectoryEntry): DirectoryEntry | 'outside' | null => {
    if (e.escapes) return 'outside';
    const r = resolveTreeLink(e.path, e.target!, links, files);
    if (r.kind === 'outside') return 'outside';
    // A loop, a path through a file, a path the tree does not hold, or the root itself (a copy of
    // the tree inside itself).
    return r.kind === 'inside' ? (byPath.get(r.path) ?? null) : null;
  };
  // `copying`: the directories (their paths in the tree) whose copies the current path is inside;
  // `links`: how many links to directories the current path went through.
  const emit = (src: DirectoryEntry, dest: string, links: number, copying: readonly string[]): void => {
    if (src.type === 'file') items.push({ path: dest, type: 'file', src: blobPath(src.sha256!), mode: src.mode & 0o111 ? 0o755 : 0o644 });
    else if (src.type === 'dir') {
      items.push({ path: dest, type: 'dir' });
      if (dest !== src.path) {
        // A symlink to a directory: copy what lies under the target.
        const prefix = src.path + '/';
        for (const e of entries) {
          if (!e.path.startsWith(prefix) || e.path.slice(prefix.length).includes('/')) continue;
          const child = dest + '/' + e.path.slice(prefix.length);
          if (e.type === 'symlink') link(e, child, links, copying);
          else emit(e, child, links, copying);
        }
      }
    }
  };
  const link = (e: DirectoryEntry, dest: string, links: number, copying: readonly string[]): void => {
    const r = resolve(e);
    const within = [path.posix.dirname(e.path).replace(/^\.$/, ''), ...copying];
    if (r === null || r === 'outside' || (r.type === 'dir' && within.some((d) => ancestorOrSelf(r.path, d)))) {
      skipped.push({ path: dest, target: e.target!, reason: r === 'outside' ? 'points outside the tree' : 'dangling or looping' });
      return;
    }
    if (r.type === 'dir' && links >= MAX_NESTED_LINKS) {
      skipped.push({ path: dest, target: e.target!, reason: `more than ${MAX_NESTED_LINKS} links to directories nested` });
      return;
    }
    emit(r, dest, r.type === 'dir' ? links + 1 : links, r.type === 'dir' ? within.concat(r.path) : copying);
  };
  for (const e of entries) {
    if (e.type === 'symlink') link(e, e.path, 0, []);
    else emit(e, e.path, 0, []);
  }
  return { items, skipped };
}

export class ExportDistributor implements Distributor {
  private readonly abort = new AbortController();

  metadata(): PluginMetadata {
    return METADATA;
  }

  validateConfig(repo: Repository, config: PluginCallConfig, related: RelatedRepositories): ValidationResult {
    return result(
      firstProblem([
        () => checkKnownKeys(config, EXPORT_KEYS),
        () => checkEnum(config, 'mode', ['tree', 'manifest']),
        () => (config.has('relative_url') || config.has('http') || config.has('https') ? checkPublishKeys(repo, config, related, { http: false, https: false }) : null),
        () => checkBool(config, 'tar'),
        () => {
          // Without export_dir, the export goes to <publish root>/export/<relative_url>, served
          // or not: another export's there (or one inside the other) is refused.
          if (config.has('export_dir')) return null;
          const others: Record<string, string> = {};
          for (const r of related.repos) {
            if (r.id === repo.id || typeof r.config.export_dir === 'string') continue;
            const o = r.config.relative_url;
            others[r.id] = normalizeRelativeUrl(typeof o === 'string' && o.trim() ? o : r.id);
          }
          const clash = relativeUrlConflict(normalizeRelativeUrl(relativeUrlOf(repo, config)), others);
          return clash ? `config key "relative_url": the export directory export/${normalizeRelativeUrl(relativeUrlOf(repo, config))}: ${clash}` : null;
        },
        () => {
          if (!config.has('export_dir')) return null;
          const d = config.get('export_dir');
          if (typeof d !== 'string' || !path.isAbsolute(d)) return `config key "export_dir" must be an absolute directory path, got ${JSON.stringify(d)}`;
          if (path.resolve(d) === '/') return 'config key "export_dir" must not be /';
          // The export replaces its whole directory: never one holding (or inside) the engine's data.
          const dataDir = dataDirOf(repo);
          if (dataDir && overlaps(path.resolve(d), dataDir) && !isWithin(path.join(dataDir, 'published', 'export'), path.resolve(d))) return `config key "export_dir": ${d} overlaps the data directory ${dataDir} (each export replaces its whole directory)`;
          for (const r of related.repos) {
            if (r.id !== repo.id && typeof r.config.export_dir === 'string' && overlaps(path.resolve(r.config.export_dir), path.resolve(d))) return `config key "export_dir": ${d} overlaps ${r.config.export_dir}, the export directory of ${r.id}`;
          }
          return null;
        },
        () => {
          if (!config.has('skip')) return null;
          const s = config.get<unknown>('skip');
          if (!(typeof s === 'string' || (Array.isArray(s) && s.every((x) => typeof x === 'string')))) return 'config key "skip" must be a list of type ids (or a comma-separated string)';
          const unknown = skipOf(config).filter((t) => !EXPORT_TYPES.includes(t));
          return unknown.length ? `config key "skip": unknown type ${unknown.join(', ')}` : null;
        },
      ]),
    );
  }

  async publishRepo(repo: Repository, conduit: PublishConduit, config: PluginCallConfig): Promise<PublishReport> {
    const signal = AbortSignal.any([conduit.signal, this.abort.signal]);
    const mode = config.get<string>('mode') ?? 'manifest';
    const tar = getBool(config, 'tar', false);
    const skip = new Set(skipOf(config));
    const exportDir = exportDirOf(repo, config, conduit.publishRoot);
    const check = () => {
      if (signal.aborted) throw signal.reason;
    };

    // 1. Plan (and check collisions) before writing anything.
    const claims = new PathClaims();
    if (mode === 'manifest') claims.reserve(MANIFEST_FILE, 'the export manifest');
    const plan: PlanItem[] = [];
    const paths = new ExportPaths();
    const skipped: Array<{ path: string; target: string; reason: string }> = [];
    let units = 0;
    for (const u of conduit.iterUnits()) {
      check();
      if (skip.has(u.typeId)) continue;
      units++;
      if (u.typeId === DIRECTORY_TYPE) {
        const owner = `directory unit "${String(u.unitKey.name)}"`;
        const r = realiseDirectoryUnit(u, (s) => conduit.blobPath(s));
        for (const it of r.items) {
          if (it.type === 'dir') claims.claimDir(it.path, owner);
          else claims.claimFile(it.path, owner);
        }
        plan.push(...r.items);
        skipped.push(...r.skipped);
      } else {
        const p = paths.assign(u);
        if (p) {
          claims.claimFile(p, `${u.typeId} unit ${JSON.stringify(u.unitKey)}`);
          plan.push({ path: p, type: 'file', src: u.storagePath! });
        }
      }
    }
    // Parent directories of every file, then a stable order (parents first).
    const dirs = new Set(plan.filter((i) => i.type === 'dir').map((i) => i.path));
    for (const it of plan) {
      const segs = it.path.split('/');
      for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
    }
    const files = plan.filter((i) => i.type === 'file').sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    const dirList = [...dirs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

    // 2. Build next to the export directory (same filesystem), then swap it into place.
    await mkdirp(path.dirname(exportDir));
    await this.checkExportDir(repo, exportDir, conduit.publishRoot);
    // Leftovers of an interrupted publish of this export (one task per repository at a time:
    // none is running): the build directory, or the previous export moved aside. They were
    // kept for ever, each up to a whole copy of the repository (a partial tar).
    const leftover = new RegExp(`^\\.${escapeRegExp(path.basename(exportDir))}\\.(tmp|old)-[0-9a-f]{8}$`);
    for (const name of await fsp.readdir(path.dirname(exportDir))) if (leftover.test(name)) await fsp.rm(path.join(path.dirname(exportDir), name), { recursive: true, force: true });
    const tmp = path.join(path.dirname(exportDir), `.${path.basename(exportDir)}.tmp-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(tmp);
    await fsp.chmod(tmp, DIR_MODE);
    let bytes = 0;
    try {
      let manifestPath: string | null = null;
      if (mode === 'manifest') {
        manifestPath = path.join(tmp, tar ? `.${MANIFEST_FILE}` : MANIFEST_FILE);
        await this.writeManifest(repo, conduit, skip, paths, manifestPath, check);
      }
      if (tar) {
        const tarFile = path.join(tmp, `${repo.id}.tar`);
        const w = await TarWriter.create(tarFile);
        try {
          for (const d of dirList) await w.addDirectory(d);
          if (manifestPath) {
            await w.addFile(MANIFEST_FILE, manifestPath, 0o644, signal);
            await fsp.rm(manifestPath);
          }
          let n = 0;
          for (const f of files) {
            check();
            await w.addFile(f.path, f.src!, f.mode ?? 0o644, signal);
            bytes += (await fsp.stat(f.src!)).size;
            if (++n % 100 === 0) conduit.setProgress({ step: 'tar', done: n, total: files.length });
          }
          await w.finish();
        } catch (e) {
          await w.abort();
          throw e;
        }
      } else {
        for (const d of dirList) await mkdirp(path.join(tmp, d));
        let n = 0;
        for (const f of files) {
          check();
          await copyFile0644(f.src!, path.join(tmp, f.path));
          if (f.mode === 0o755) await fsp.chmod(path.join(tmp, f.path), 0o755);
          bytes += (await fsp.stat(f.src!)).size;
          if (++n % 100 === 0) conduit.setProgress({ step: 'copy', done: n, total: files.length });
        }
      }
      check();
      await fixTreeModes(tmp); // manifest.json and the tar too: 0644 / 0755 whatever the umask
      // Swap: the previous export (ours) moves aside, the new one takes its place.
      const old = path.join(path.dirname(exportDir), `.${path.basename(exportDir)}.old-${randomBytes(4).toString('hex')}`);
      const hadOld = await fsp.lstat(exportDir).then(() => true, () => false);
      if (hadOld) await fsp.rename(exportDir, old);
      await fsp.rename(tmp, exportDir);
      await mkdirp(repo.workingDir);
      // Recorded at once (the next publish may replace it, whatever happens below); the links
      // still lead to the previous directory until they are switched below.
      const prev = await this.readLocation(repo);
      const linked = prev?.relativeUrl ? { linkedDir: linkedDirOf(prev) } : {};
      await fsp.writeFile(path.join(repo.workingDir, LOCATION_FILE), JSON.stringify({ ...(prev ?? {}), exportDir, ...linked }) + '\n');
      if (hadOld) await fsp.rm(old, { recursive: true, force: true });
    } catch (e) {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    const out = tar ? path.join(exportDir, `${repo.id}.tar`) : exportDir;
    // Optionally served: <root>/{http,https}/<relative_url> -> the export directory.
    const relativeUrl = relativeUrlOf(repo, config);
    const protocols = protocolsOf(config, { http: false, https: false });
    const previous = await this.readLocation(repo);
    const links = await exposeDirectory({
      publishRoot: conduit.publishRoot,
      relativeUrl,
      protocols,
      target: exportDir,
      otherRelativeUrls: protocols.http || protocols.https ? conduit.otherRelativeUrls() : {},
      previous: previous?.relativeUrl ? { relativeUrl: previous.relativeUrl, target: linkedDirOf(previous) } : null,
    });
    await fsp.writeFile(path.join(repo.workingDir, LOCATION_FILE), JSON.stringify({ exportDir, relativeUrl, publishRoot: conduit.publishRoot }) + '\n');
    // The skipped links themselves, not only their number: the first SKIPPED_LISTED, and how many more.
    const listed = skipped.length ? { skipped: skipped.slice(0, SKIPPED_LISTED), ...(skipped.length > SKIPPED_LISTED ? { skipped_not_listed: skipped.length - SKIPPED_LISTED } : {}) } : {};
    const summary = { mode, tar, units, files: files.length, bytes, export_path: out, skipped_symlinks: skipped.length, ...listed };
    conduit.setProgress({ step: 'done', ...summary });
    const base = conduit.baseUrls;
    const urls = (['http', 'https'] as const).filter((p) => protocols[p] && base[p]).map((p) => `${base[p]!.replace(/\/+$/, '')}/${relativeUrl}/`);
    return { success: true, summary, details: { skipped } as unknown as Json, publishedPaths: [out, ...links], urls };
  }

  private readLocation(repo: Repository): Promise<ExportLocation | null> {
    return readExportLocation(repo.workingDir);
  }

  /** export_dir must be absent, empty, or this distributor's previous export. */
  private async checkExportDir(repo: Repository, exportDir: string, publishRoot: string): Promise<void> {
    // An export_dir holding (or inside) the publish root or the data directory would replace them.
    const exportsRoot = path.join(path.resolve(publishRoot), 'export');
    for (const [what, dir] of [['the publish root', path.resolve(publishRoot)], ['the data directory', dataDirOf(repo)]] as const) {
      if (!dir || !overlaps(exportDir, dir) || isWithin(exportsRoot, exportDir)) continue;
      throw new StagepushError('FILE_EXPORT_DIR_TAKEN', `export_dir ${exportDir} overlaps ${what} ${dir}: the export would replace it`, { file: exportDir, field: 'export_dir', kind: 'invalid' });
    }
    let st;
    try {
      st = await fsp.lstat(exportDir);
    } catch {
      return;
    }
    if (!st.isDirectory()) throw new StagepushError('FILE_EXPORT_DIR_TAKEN', `export_dir ${exportDir} exists and is not a directory`, { file: exportDir, field: 'export_dir', kind: 'failed' });
    if ((await fsp.readdir(exportDir)).length === 0) return;
    const recorded = (await this.readLocation(repo))?.exportDir ?? null;
    if (recorded !== exportDir) throw new StagepushError('FILE_EXPORT_DIR_TAKEN', `export_dir ${exportDir} is not empty and is not a previous export of this distributor: refusing to replace it`, { file: exportDir, field: 'export_dir', kind: 'failed' });
  }

  private async writeManifest(repo: Repository, conduit: PublishConduit, skip: Set<string>, paths: ExportPaths, file: string, check: () => void): Promise<void> {
    const out = createWriteStream(file, { mode: 0o644 });
    const write = (s: string) => new Promise<void>((resolve, reject) => (out.write(s, (e) => (e ? reject(e) : resolve()))));
    try {
      await write(`{\n  "repo": ${JSON.stringify({ id: repo.id, display_name: repo.displayName, description: repo.description, notes: repo.notes, version: conduit.repoVersion })},\n  "exported_at": ${JSON.stringify(new Date().toISOString())},\n  "units": [`);
      let first = true;
      for (const u of conduit.iterUnits()) {
        check();
        if (skip.has(u.typeId)) continue;
        const entry: Record<string, unknown> = { type: u.typeId, unit_key: u.unitKey, metadata: u.metadata, file: paths.of(u), sha256: u.sha256 ?? null, size: u.size ?? null };
        if (u.typeId === DIRECTORY_TYPE) entry.file = null;
        await write(`${first ? '\n' : ',\n'}    ${JSON.stringify(entry)}`);
        first = false;
      }
      await write(`${first ? '' : '\n  '}]\n}\n`);
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
  }

  cancelPublishRepo(): void {
    this.abort.abort(new StagepushError('PUBLISH_CANCELED', 'export canceled', { kind: 'interrupted' }));
  }

  async distributorRemoved(repo: Repository): Promise<void> {
    try {
      const loc = await this.readLocation(repo);
      const { exportDir, relativeUrl, publishRoot } = loc ?? { exportDir: '' };
      if (loc && relativeUrl && publishRoot) await exposeDirectory({ publishRoot, relativeUrl, protocols: { http: false, https: false }, target: linkedDirOf(loc) });
      if (exportDir && path.isAbsolute(exportDir) && path.resolve(exportDir) !== '/' && !isWithin(exportDir, repo.workingDir)) await fsp.rm(exportDir, { recursive: true, force: true });
      await fsp.rm(path.join(repo.workingDir, LOCATION_FILE), { force: true });
    } catch {
      /* nothing exported */
    }
  }

  createConsumerPayload(repo: Repository, config: PluginCallConfig): Json {
    return { repo_id: repo.id, mode: config.get<string>('mode') ?? 'manifest', tar: getBool(config, 'tar', false), relative_path: relativeUrlOf(repo, config) };
  }
}

export const exportDistributorFactory: DistributorFactory = {
  kind: 'distributor',
  metadata: METADATA,
  create: () => new ExportDistributor(),
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
