/**
 * The directory walk of one staging directory (pushsource's _push_items_for_topdir), collecting
 * every problem instead of stopping at the first. Items needing file content (RPM headers,
 * checksums) are returned with jobs for the worker pool.
 */
import { promises as fsp, readdirSync, statSync, type Dirent, type Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { Problem } from '../../errors.js';
import { renderNameBytes } from '../../paths.js';
import {
  cgwPushItem,
  compsXmlPushItem,
  directoryPushItem,
  filePushItem,
  moduleMdPushItem,
  productIdPushItem,
  rpmPushItem,
} from '../../items/model.js';
import type { PushItem } from '../../items/types.js';
import { parseProductCertificate, ProductIdError } from '../../formats/productid/index.js';
import { ioReason, itemErrorProblems, notYetNamed, problem, pyJoin } from './common.js';
import { loadMetadata, METADATA_FILES, type StagingMetadata } from './metadata.js';
import { UNSUPPORTED_ENTRY_RE } from './schemas.js';
import { loadErratumFile, type ParsedCache } from './errata.js';
import { amiFromAttributes, loadCloudDir } from './cloud.js';

/** The leaf directory types of a destination, in pushsource's order (RAW + registered handlers). */
export const TYPE_DIRS = ['RAW', 'AWS_IMAGES', 'CLOUD_IMAGES', 'ISOS', 'FILES', 'ERRATA', 'COMPS', 'MODULEMD', 'PRODUCTID', 'RPMS', 'SRPMS', 'DOCKER', 'CHANNEL_DUMPS', 'CGW'] as const;
export type TypeDir = (typeof TYPE_DIRS)[number];

export interface FileStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /**
   * The inode's change time: tar, cp -p and touch restore a file's mtime, nothing sets its ctime,
   * so a file replaced under a reused inode number with its size and mtime kept differs here.
   */
  ctimeMs: number;
  /**
   * The file's mode: the content store copies a file not readable by everyone rather than link
   * it, so the push's free-space check counts it.
   */
  mode: number;
}

/** An item found by the walk, with what the pool must still do for it. */
export interface WalkedItem {
  item: PushItem;
  /** Read the RPM header (RpmPushItem). */
  rpm: boolean;
  /** Stat of src when known (regular files). */
  stat?: FileStat;
  /** Where problems about this item point (the metadata entry for FILES/AWS_IMAGES). */
  entry?: string;
  metadataFile?: string | null;
  /**
   * A sha256sum the metadata gives for a file whose item does not carry it (an RPM, an image
   * listed in staged.yaml): verified against the content all the same.
   */
  expectedSha256?: string;
}

export interface WalkResult {
  items: WalkedItem[];
  problems: Problem[];
  warnings: Problem[];
  metadataFile: string | null;
}

/**
 * stat(2) of a path, null when it cannot be stat'ed (absent, broken symlink, no permission).
 * Synchronous: the walk stats every staged file one after the other, and an awaited stat costs a
 * thread-pool round trip (~50 µs) where the call itself takes a few (5,000 RPMs: ~250 ms of the
 * walk spent waiting). A stat never opens the file, so a FIFO cannot block it.
 */
async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return statSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

function describeType(st: Stats): string {
  return st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a regular file';
}

function toFileStat(st: Stats): FileStat {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, mode: st.mode };
}

/** A directory entry whose name is not valid UTF-8: shown with \xNN escapes, with its kind. */
interface BadName {
  shown: string;
  /** The entry's path as bytes (what the file system takes). */
  raw: Buffer;
  isDir: boolean;
}

/**
 * Sorted directory entries, or a problem. Names that are not valid UTF-8 (Node would hand them
 * over with U+FFFD in place of their bytes: a path that does not exist) are left out and
 * returned in `badNames`; the caller reports those pushsource would have read (an entry it skips,
 * such as a loose file at the top or a subdirectory of RPMS, is skipped here too).
 */
async function listDir(dir: string): Promise<{ entries?: Dirent[]; badNames?: BadName[]; error?: unknown }> {
  try {
    let entries = await fsp.readdir(dir, { withFileTypes: true });
    const badNames: BadName[] = [];
    if (entries.some((e) => e.name.includes('\uFFFD'))) {
      const lost = new Set<string>();
      for (const d of await fsp.readdir(dir, { encoding: 'buffer', withFileTypes: true })) {
        const name = d.name as unknown as Buffer;
        if (isUtf8(name)) continue;
        const raw = Buffer.concat([Buffer.from(dir + '/'), name]);
        let isDir = d.isDirectory();
        if (d.isSymbolicLink()) isDir = (await fsp.stat(raw).catch(() => null))?.isDirectory() ?? false;
        badNames.push({ shown: renderNameBytes(name), raw, isDir });
        lost.add(name.toString('utf8'));
      }
      entries = entries.filter((e) => !lost.has(e.name));
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { entries, badNames: badNames.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0)) };
  } catch (error) {
    return { error };
  }
}

/**
 * An entry of a destination directory that is no type directory (pushsource skips it silently):
 * said, as a misspelt type directory (RPM, rpms, ERRATUM) would otherwise leave its content out of
 * a push that exits 0, and a mirror push would remove that content from the repository.
 */
function notTypeDir(path: string, name: string): Problem {
  const upper = name.toUpperCase();
  const guess = TYPE_DIRS.find((t) => t === upper || t === upper + 'S' || t === upper.replace(/UM$/, 'A'));
  return problem('STAGED_ENTRY_IGNORED', `${path} is ignored: not a type directory${guess ? ` (did you mean ${guess}?)` : ''}; type directories are ${TYPE_DIRS.join(', ')}`, { file: path });
}

function badNameProblem(dir: string, name: string): Problem {
  return problem('STAGED_BAD_FILE_NAME', 'the name is not valid UTF-8 (bytes shown as \\xNN); rename it: nothing under it can be named in metadata, reports or repodata', { file: pyJoin(dir, name) });
}

interface Ctx {
  /** Relative paths of the files the walk found (to tell metadata entries that name nothing). */
  seen: Set<string>;
  topdir: string;
  md: StagingMetadata;
  res: WalkResult;
  wantStat: boolean;
  parsedCache?: ParsedCache;
}

/**
 * The regular files of a type dir (is_file(): follows symlinks; broken symlinks and
 * subdirectories are skipped silently). Other file types (FIFO, socket, device) are problems:
 * reading them could block.
 */
async function regularFiles(ctx: Ctx, typeDir: string, report: boolean, notItem?: { test(name: string): boolean; said(path: string): void }): Promise<Array<{ name: string; path: string; stat?: FileStat }>> {
  const out: Array<{ name: string; path: string; stat?: FileStat }> = [];
  const { entries, badNames, error } = await listDir(typeDir);
  if (!entries) {
    ctx.res.problems.push(problem('STAGED_DIR_UNREADABLE', `cannot list: ${ioReason(error)}`, { file: typeDir }));
    return out;
  }
  // A file would be an item: refused. A subdirectory is skipped, as any is.
  for (const b of report ? (badNames ?? []) : []) {
    if (b.isDir) continue;
    if (notItem?.test(b.shown)) notItem.said(pyJoin(typeDir, b.shown));
    else ctx.res.problems.push(badNameProblem(typeDir, b.shown));
  }
  for (const d of entries) {
    const path = pyJoin(typeDir, d.name);
    let st: Stats | null = null;
    if (d.isSymbolicLink() || ctx.wantStat || !(d.isFile() || d.isDirectory())) {
      st = await statOrNull(path);
      if (!st) {
        if (report && d.isSymbolicLink()) ctx.res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${path} is ignored: a broken symbolic link`, { file: path }));
        continue;
      }
    }
    const isFile = st ? st.isFile() : d.isFile();
    const isDir = st ? st.isDirectory() : d.isDirectory();
    if (isDir) {
      // pushsource reads a type directory's own entries only: RPMS/x86_64/*.rpm is not pushed.
      if (report) ctx.res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${path} is ignored: a subdirectory of ${typeDir}, which is not read recursively`, { file: path }));
      continue;
    }
    if (!isFile) {
      if (report) ctx.res.problems.push(problem('STAGED_NOT_REGULAR_FILE', `${path} is ${describeType(st!)}, not a regular file`, { file: path }));
      continue;
    }
    out.push({ name: d.name, path, ...(st ? { stat: toFileStat(st) } : {}) });
  }
  return out;
}

function push(ctx: Ctx, w: WalkedItem): void {
  ctx.res.items.push(w);
}

/**
 * A walked item: `extra` plus the item (and whatever else `more` holds). Object.assign rather than
 * `{ ...extra, item }`: V8 gives nearly every object made by a spread followed by more properties
 * a hidden class of its own (thousands per staging area).
 */
function walked(extra: Omit<WalkedItem, 'item'>, more: Partial<WalkedItem> & { item: PushItem }): WalkedItem {
  return Object.assign({}, extra, more);
}

function build(ctx: Ctx, file: string, make: () => PushItem, extra: Omit<WalkedItem, 'item'> = { rpm: false }, loc?: { file?: string; entry?: string }, fieldMap?: (f: string) => string): void {
  try {
    push(ctx, walked(extra, { item: make() }));
  } catch (e) {
    ctx.res.problems.push(...itemErrorProblems(e, loc ?? { file }, fieldMap));
  }
}

async function walkType(ctx: Ctx, dest: string, destPath: string, type: TypeDir): Promise<void> {
  const { topdir, md, res } = ctx;
  const typeDir = pyJoin(destPath, type);
  let st: Stats | null;
  try {
    st = statSync(typeDir, { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    // Absent, or a broken symlink: nothing (as pushsource). Anything else (the destination not
    // readable by this user) would drop its content silently: a mirror push would remove it.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP') res.problems.push(problem('STAGED_DIR_UNREADABLE', `cannot read: ${ioReason(e)}`, { file: typeDir }));
    return;
  }
  if (!st) return; // absent (or a broken symlink): nothing
  if (type === 'RAW') {
    // pushsource only checks existence: a RAW that is a file still gives a DirectoryPushItem.
    build(ctx, typeDir, () => directoryPushItem({ name: dest, src: typeDir, dest: [dest], origin: null }));
    return;
  }
  if (!st.isDirectory()) {
    res.problems.push(problem('STAGED_NOT_A_DIRECTORY', `${typeDir} is not a directory (a ${type} type directory must be one)`, { file: typeDir }));
    return;
  }
  const base = { state: 'PENDING', dest: [dest], origin: topdir };
  if (type === 'CLOUD_IMAGES') {
    const { entries, badNames, error } = await listDir(typeDir);
    // A subdirectory holding a resources.yaml would be images: refused. Anything else is skipped.
    for (const b of badNames ?? []) if (b.isDir && (await fsp.stat(Buffer.concat([b.raw, Buffer.from('/resources.yaml')])).catch(() => null))) res.problems.push(badNameProblem(typeDir, b.shown));
    if (!entries) {
      res.problems.push(problem('STAGED_DIR_UNREADABLE', `cannot list: ${ioReason(error)}`, { file: typeDir }));
      return;
    }
    for (const d of entries) {
      const sub = pyJoin(typeDir, d.name);
      const sst = d.isDirectory() ? null : await statOrNull(sub);
      if (!d.isDirectory() && !sst?.isDirectory()) {
        res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${sub} is ignored: ${typeDir} holds one directory per image build, each with a resources.yaml`, { file: sub }));
        continue;
      }
      const resStat = await statOrNull(pyJoin(sub, 'resources.yaml'));
      if (!resStat) {
        res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${sub} is ignored: it has no resources.yaml`, { file: sub }));
        continue;
      }
      if (!resStat.isFile()) {
        res.problems.push(problem('STAGED_NOT_REGULAR_FILE', `${pyJoin(sub, 'resources.yaml')} is ${describeType(resStat)}, not a regular file`, { file: pyJoin(sub, 'resources.yaml') }));
        continue;
      }
      const cl = await loadCloudDir(sub, dest);
      res.problems.push(...cl.problems);
      res.warnings.push(...cl.warnings);
      for (const item of cl.items) push(ctx, { item, rpm: false, metadataFile: pyJoin(sub, 'resources.yaml'), entry: item.name });
    }
    return;
  }
  const producesItems = type !== 'DOCKER' && type !== 'CHANNEL_DUMPS';
  // RPMS/SRPMS: a file not named *.rpm is warned about and skipped, whatever its name's bytes.
  const rpmDir = type === 'RPMS' || type === 'SRPMS';
  const nonRpm = (path: string) => res.warnings.push(problem('STAGED_NON_RPM', `Unexpected non-RPM ${path} (ignored)`, { file: path }));
  const files = await regularFiles(ctx, typeDir, producesItems, rpmDir ? { test: (n) => !n.endsWith('.rpm'), said: nonRpm } : undefined);
  for (const f of files) {
    const extra: Omit<WalkedItem, 'item'> = { rpm: false, ...(f.stat ? { stat: f.stat } : {}) };
    // A staged.yaml entry naming this file with a sha256sum is verified whatever the type.
    ctx.seen.add(`${dest}/${type}/${f.name}`);
    const listed = type === 'FILES' || type === 'ISOS' ? undefined : md.entries.get(`${dest}/${type}/${f.name}`);
    if (listed && listed.sha256sum && !listed.refused) Object.assign(extra, { expectedSha256: listed.sha256sum.toLowerCase(), entry: listed.relative_path, metadataFile: md.file });
    switch (type) {
      case 'DOCKER':
      case 'CHANNEL_DUMPS':
        res.warnings.push(problem('STAGED_UNSUPPORTED_CONTENT', `Unsupported content found: ${f.path}`, { file: f.path }));
        break;
      case 'RPMS':
      case 'SRPMS':
        if (!f.name.endsWith('.rpm')) {
          nonRpm(f.path);
          break;
        }
        build(ctx, f.path, () => rpmPushItem({ name: f.name, src: f.path, ...base }), { ...extra, rpm: true });
        break;
      case 'COMPS':
        build(ctx, f.path, () => compsXmlPushItem({ name: f.name, src: f.path, ...base }), extra);
        break;
      case 'MODULEMD':
        build(ctx, f.path, () => moduleMdPushItem({ name: f.name, src: f.path, ...base }), extra);
        break;
      case 'CGW':
        build(ctx, f.path, () => cgwPushItem({ name: f.name, src: f.path, ...base }), extra);
        break;
      case 'PRODUCTID': {
        let content: Buffer;
        try {
          content = await fsp.readFile(f.path);
        } catch (e) {
          res.problems.push(problem('STAGED_FILE_UNREADABLE', `cannot read: ${ioReason(e)}`, { file: f.path }));
          break;
        }
        try {
          const products = parseProductCertificate(content, f.path);
          build(ctx, f.path, () => productIdPushItem({ name: f.name, src: f.path, ...base, products }), extra);
        } catch (e) {
          if (e instanceof ProductIdError) res.problems.push(problem(e.code, e.message, { file: f.path }));
          else throw e;
        }
        break;
      }
      case 'ERRATA': {
        const r = await loadErratumFile(f.path, { dest: [dest], origin: topdir, cache: ctx.parsedCache });
        res.problems.push(...r.problems);
        if (r.warnings) res.warnings.push(...r.warnings);
        if (r.item) push(ctx, walked(extra, { item: r.item }));
        break;
      }
      case 'FILES':
      case 'ISOS':
      case 'AWS_IMAGES': {
        const rel = `${dest}/${type}/${f.name}`;
        const entry = md.entries.get(rel);
        if (!entry) {
          if (!md.mentioned.has(rel)) {
            res.problems.push(
              problem('STAGED_METADATA_MISSING', `No metadata available for ${rel}${md.basename ? ` in ${md.basename}` : ' (no staged.yaml, staged.yml, staged.json or pub-mapfile.json in the staging directory)'}`, {
                file: f.path,
                entry: rel,
              }),
            );
          }
          break;
        }
        const loc = { file: md.file ?? f.path, entry: rel };
        // A refused entry (its problems are listed with the metadata's): its item is still built,
        // never pushed, so that the problems only the item model sees are listed too.
        const refused = entry.refused;
        if (type === 'AWS_IMAGES') {
          const r = amiFromAttributes(entry.attributes, { name: f.name, src: f.path, origin: topdir, dest: [dest] }, loc);
          res.problems.push(...(refused ? notYetNamed(refused, r.problems) : r.problems));
          res.warnings.push(...r.warnings);
          if (r.item && !refused) push(ctx, walked(extra, { item: r.item, entry: rel, metadataFile: md.file }));
        } else {
          const desc = entry.attributes.description;
          const make = () =>
            filePushItem({
              name: entry.filename ?? f.name,
              src: f.path,
              ...base,
              sha256sum: entry.sha256sum,
              description: desc === undefined ? null : desc,
              version: entry.version,
              display_order: entry.order,
            });
          const fieldMap = (fld: string) => (fld === 'display_order' ? 'order' : fld === 'name' ? 'filename' : fld === 'description' ? 'attributes.description' : fld);
          if (refused) {
            try {
              make();
            } catch (e) {
              res.problems.push(...notYetNamed(refused, itemErrorProblems(e, loc, fieldMap)));
            }
          } else build(ctx, f.path, make, { ...extra, entry: rel, metadataFile: md.file }, loc, fieldMap);
        }
        break;
      }
    }
  }
}

/** Walk one staging directory. `topdir` is used verbatim in src/origin. */
export async function walkTopdir(topdir: string, opts: { wantStat: boolean; parsedCache?: ParsedCache }): Promise<WalkResult> {
  const res: WalkResult = { items: [], problems: [], warnings: [], metadataFile: null };
  const st = await statOrNull(topdir);
  if (!st) {
    let reason = 'no such file or directory';
    try {
      await fsp.stat(topdir);
    } catch (e) {
      reason = ioReason(e);
    }
    res.problems.push(problem('STAGED_DIR_NOT_FOUND', `staging directory ${topdir}: ${reason}`, { file: topdir }));
    return res;
  }
  if (!st.isDirectory()) {
    res.problems.push(problem('STAGED_NOT_A_DIRECTORY', `staging directory ${topdir} is not a directory`, { file: topdir }));
    return res;
  }
  const md = await loadMetadata(topdir);
  res.metadataFile = md.file;
  res.problems.push(...md.problems);
  // pushsource reads the first metadata file and ignores the others silently: one left over from an
  // earlier staging (an old pub-mapfile.json beside a new staged.yaml) would give files stale entries.
  for (const name of md.file ? METADATA_FILES.slice(METADATA_FILES.indexOf(md.basename as (typeof METADATA_FILES)[number]) + 1) : []) {
    const other = pyJoin(topdir, name);
    if (await statOrNull(other)) res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${other} is ignored: ${md.basename} is read (the first of ${METADATA_FILES.join(', ')})`, { file: other }));
  }
  const { entries, badNames, error } = await listDir(topdir);
  if (!entries) {
    res.problems.push(problem('STAGED_DIR_UNREADABLE', `cannot list: ${ioReason(error)}`, { file: topdir }));
    return res;
  }
  // A destination directory with such a name is refused; a loose file at the top is skipped, as any is.
  for (const b of badNames ?? []) if (b.isDir) res.problems.push(badNameProblem(topdir, b.shown));
  const dests: string[] = [];
  for (const d of entries) {
    if (d.name === 'logs') continue;
    if (d.isDirectory()) dests.push(d.name);
    else if (d.isSymbolicLink() && (await statOrNull(pyJoin(topdir, d.name)))?.isDirectory()) dests.push(d.name);
  }
  if (!dests.length) {
    res.warnings.push(problem('STAGED_NO_DESTINATIONS', `${topdir} has no destination directories`, { file: topdir }));
    if (!md.file) res.problems.push(problem('STAGED_NOT_STAGING_DIR', `${topdir} does not appear to be a staging directory (no destination directories and no staged.yaml)`, { file: topdir }));
    return res;
  }
  const ctx: Ctx = { seen: new Set(), topdir, md, res, wantStat: opts.wantStat, parsedCache: opts.parsedCache };
  for (const dest of dests) {
    const destPath = pyJoin(topdir, dest);
    // A destination this user cannot list: said once (its type directories cannot even be looked for).
    let names: string[];
    try {
      names = readdirSync(destPath);
    } catch (e) {
      res.problems.push(problem('STAGED_DIR_UNREADABLE', `cannot list: ${ioReason(e)}`, { file: destPath }));
      continue;
    }
    for (const name of names.sort()) if (!(TYPE_DIRS as readonly string[]).includes(name)) res.warnings.push(notTypeDir(pyJoin(destPath, name), name));
    for (const type of TYPE_DIRS) await walkType(ctx, dest, destPath, type);
  }
  // Entries of the metadata file that name no file (pushsource ignores them silently): said, as
  // a misspelt relative_path leaves a staged file without metadata, or metadata for nothing.
  for (const rel of md.mentioned) {
    if (ctx.seen.has(rel) || UNSUPPORTED_ENTRY_RE.test(rel)) continue;
    if (await statOrNull(pyJoin(topdir, rel))) continue;
    res.warnings.push(problem('STAGED_METADATA_NO_FILE', `${md.basename} lists ${rel}, which does not exist (the entry is ignored)`, { file: md.file ?? topdir, entry: rel, field: 'relative_path' }));
  }
  return res;
}
