/**
 * RAW directory trees as `directory` units, shared by the yum, iso, directory, generic and export plugins.
 *
 * A tree is stored as: every regular file a content-addressed blob (`conduit.storeBlob`), and one
 * metadata-only unit of type `directory` whose unit key is {name, digest}: digest is the sha256 of
 * the canonical manifest (see `manifestDigest`), so the same tree under the same name is the same
 * unit. Metadata: {manifest: DirectoryEntry[], file_count, total_size}. Symlinks are kept as
 * symlinks with their target (one leaving the tree is recorded with `escapes: true`; `serve` never
 * follows it: the publishing distributors record these links beside the published tree, see
 * `escapingSymlinks`, and serve/escapes.ts).
 *
 * The inverse, `layoutDirectoryUnit`, lays a unit out into a publish directory: symlinks to the
 * stored blobs by default, hard links or copies by config. `PathClaims` checks collisions between
 * trees and the paths a distributor reserves (e.g. yum's `repodata/`, `Packages/`) before anything
 * is written, naming both sides.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import type { ImporterConduit, Json, Unit, UploadRequest } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { renderNameBytes } from '../../paths.js';
import { DIR_MODE, FILE_MODE, copyFile0644, linkOrCopy, linkOrSymlink, mkdirp } from './fsutil.js';

export const DIRECTORY_TYPE = 'directory';

export interface DirectoryEntry {
  /** POSIX path relative to the tree root ("images/pxeboot/vmlinuz"). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits as found (published: files 0755 when executable, else 0644; directories 0755). */
  mode: number;
  /** Files: size and sha256 (the blob). */
  size?: number;
  sha256?: string;
  /** Symlinks: the target, verbatim. */
  target?: string;
  /** Symlinks whose target leaves the tree (absolute, or ".." past the root). */
  escapes?: boolean;
}

/** `auto` (a yum repository's `package_link` default): a hard link, or a symlink where refused. */
export type LinkMode = 'auto' | 'symlink' | 'hardlink' | 'copy';
/** `file_link` values (file and directory repositories). */
export const LINK_MODES: readonly LinkMode[] = ['symlink', 'hardlink', 'copy'];

/** The most symlinks followed resolving one link (the kernel's own limit, MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Where a tree's symlink leads: a path in the tree ('' its root), out of it, round a loop, or
 * nowhere (through a file, as `boot.img/..`: ENOTDIR, when the caller says which paths are files).
 */
export type TreeLinkTarget = { kind: 'inside'; path: string } | { kind: 'outside' } | { kind: 'loop' } | { kind: 'through-file' };

/**
 * Resolve a symlink at `entryPath` with `target` as the kernel resolves it, component by
 * component, following the tree's own symlinks (`links`: each symlink's path in the tree → its
 * target), the last component too: judged as text, `x -> s/up/s/up/../../etc/passwd` stayed
 * inside, while `s/up -> ..` takes each `s/up` back to the root and the `..` then leave it; and
 * `images -> latest/images` with `latest -> 9.4` is `9.4/images`. Empty components (a trailing
 * slash, `9.4/`) and "." are nothing. An absolute target leaves the tree; a chain of more than
 * MAX_SYMLINK_HOPS links is a loop. A path reached that is not in the tree is returned as it is
 * (the caller knows whether it exists); with `files` (the tree's regular files), a path that goes
 * on through one of them is `through-file`.
 */
export function resolveTreeLink(entryPath: string, target: string, links: ReadonlyMap<string, string> = new Map(), files?: ReadonlySet<string>): TreeLinkTarget {
  // `cur`: the directory reached so far ('' the root); `rest`: the components still to walk.
  const slash = entryPath.lastIndexOf('/');
  let cur = slash < 0 ? '' : entryPath.slice(0, slash);
  const rest = target.split('/').reverse();
  if (target.startsWith('/')) return { kind: 'outside' };
  let hops = 0;
  while (rest.length) {
    const c = rest.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (cur === '') return { kind: 'outside' };
      const i = cur.lastIndexOf('/');
      cur = i < 0 ? '' : cur.slice(0, i);
      continue;
    }
    const next = cur ? `${cur}/${c}` : c;
    const link = links.get(next);
    if (link === undefined) {
      // A file with more to walk after it (`boot.img/..`, `boot.img/`): the kernel stops there.
      if (files?.has(next) && rest.length) return { kind: 'through-file' };
      cur = next;
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return { kind: 'loop' };
    if (link.startsWith('/')) return { kind: 'outside' };
    // The link's target, relative to the directory holding it (cur), is walked before the rest.
    rest.push(...link.split('/').reverse());
  }
  return { kind: 'inside', path: cur };
}

/**
 * Does a symlink at `entryPath` with `target` lead outside the tree (see resolveTreeLink)? A loop
 * counts as leaving it: where it would lead is not known, so it is not taken to stay inside.
 */
export function symlinkEscapes(entryPath: string, target: string, links: ReadonlyMap<string, string> = new Map()): boolean {
  return resolveTreeLink(entryPath, target, links).kind !== 'inside';
}

/**
 * The symlinks of RAW trees laid out together at the root of one published tree that lead outside
 * it: recorded beside the tree at publish time (see common/publish.ts), and never followed by
 * `serve`. Judged over the links of every tree laid out there (one tree's link may go through
 * another's: `x -> s/up/state.json` with `s/up -> ..` from another tree), and what the manifest
 * recorded at ingest is kept too: a link judged escaping either way is listed. Paths relative to
 * the published tree's root, sorted.
 */
export function escapingSymlinks(units: Iterable<Pick<Unit, 'unitKey' | 'metadata'>>): string[] {
  const links = new Map<string, string>();
  const flagged = new Set<string>();
  for (const u of units) {
    for (const e of manifestOf(u)) {
      if (e.type !== 'symlink') continue;
      links.set(e.path, e.target!);
      if (e.escapes) flagged.add(e.path);
    }
  }
  for (const [p, t] of links) if (symlinkEscapes(p, t, links)) flagged.add(p);
  return [...flagged].sort();
}

function byPath(a: { path: string }, b: { path: string }): number {
  const x = Buffer.from(a.path);
  const y = Buffer.from(b.path);
  return Buffer.compare(x, y);
}

/**
 * The canonical manifest digest: sha256 of the JSON array of the entries sorted by path (bytes),
 * each as [path, type, mode, size|null, sha256|null, target|null].
 */
export function manifestDigest(entries: DirectoryEntry[]): string {
  const rows = [...entries].sort(byPath).map((e) => [e.path, e.type, e.mode, e.size ?? null, e.sha256 ?? null, e.target ?? null]);
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex');
}

export interface ScannedFile {
  path: string;
  abs: string;
}

/**
 * Walk a directory (not following symlinks). Returns the entries (files without sha256/size yet)
 * and the files to store. Sockets, FIFOs and devices are refused (FILE_DIRECTORY_UNSUPPORTED_ENTRY).
 */
export async function scanDirectory(root: string, signal?: AbortSignal): Promise<{ entries: DirectoryEntry[]; files: ScannedFile[] }> {
  const abs = path.resolve(root);
  let st;
  try {
    st = await fsp.stat(abs);
  } catch (e) {
    throw new StagepushError('FILE_DIRECTORY_NOT_FOUND', `${abs}: cannot read the directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: abs, cause: e });
  }
  if (!st.isDirectory()) throw new StagepushError('FILE_NOT_A_DIRECTORY', `${abs}: not a directory`, { file: abs });
  const entries: DirectoryEntry[] = [];
  const files: ScannedFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    if (signal?.aborted) throw signal.reason;
    const raw = await fsp.readdir(dir, { encoding: 'buffer' });
    // A name that is not UTF-8 cannot be recorded, published or named in a manifest.
    for (const b of raw) {
      if (isUtf8(b)) continue;
      const shown = renderNameBytes(b);
      throw new StagepushError('FILE_DIRECTORY_BAD_NAME', `${path.join(dir, shown)}: the file name is not valid UTF-8 (bytes shown as \\xNN); rename it`, { file: path.join(dir, shown) });
    }
    const names = raw.map((b) => b.toString('utf8')).sort();
    for (const name of names) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (name.includes('\\') || /[\0\n\r]/.test(name)) throw new StagepushError('FILE_DIRECTORY_BAD_NAME', `${p}: file names with backslashes or control characters are not supported`, { file: p });
      const s = await fsp.lstat(p);
      const mode = s.mode & 0o7777;
      if (s.isSymbolicLink()) {
        const target = await fsp.readlink(p);
        entries.push({ path: r, type: 'symlink', mode: 0o777, target });
      } else if (s.isDirectory()) {
        entries.push({ path: r, type: 'dir', mode });
        await walk(p, r);
      } else if (s.isFile()) {
        entries.push({ path: r, type: 'file', mode });
        files.push({ path: r, abs: p });
      } else {
        throw new StagepushError('FILE_DIRECTORY_UNSUPPORTED_ENTRY', `${p}: only files, directories and symlinks can be stored in a directory unit`, { file: p });
      }
    }
  };
  await walk(abs, '');
  // Whether a link leaves the tree depends on the tree's other links: judged once all are known.
  const links = new Map<string, string>();
  for (const e of entries) if (e.type === 'symlink') links.set(e.path, e.target!);
  for (const e of entries) if (e.type === 'symlink' && symlinkEscapes(e.path, e.target!, links)) e.escapes = true;
  return { entries, files };
}

export interface IngestOptions {
  /** Refuse symlinks leaving the tree (default: keep them, recorded with escapes: true). */
  refuseEscapingSymlinks?: boolean;
  signal?: AbortSignal;
  /** Extra metadata merged into the unit's metadata. */
  metadata?: Record<string, Json>;
}

/**
 * Store a directory as a `directory` unit: every file a blob, the manifest as metadata. Returns the
 * saved unit (shared when the same tree under the same name is already stored).
 */
export async function ingestDirectory(
  conduit: Pick<ImporterConduit, 'storeBlob' | 'initUnit' | 'saveUnit'>,
  dir: string,
  name: string,
  opts: IngestOptions = {},
): Promise<Unit> {
  if (!name || name.includes('/') || name === '.' || name === '..') throw new StagepushError('FILE_DIRECTORY_BAD_NAME', `directory unit name "${name}" must be a non-empty name without "/"`, { field: 'name', file: dir });
  const { entries, files } = await scanDirectory(dir, opts.signal);
  if (opts.refuseEscapingSymlinks) {
    const bad = entries.find((e) => e.escapes);
    if (bad) throw new StagepushError('FILE_DIRECTORY_ESCAPING_SYMLINK', `${path.join(dir, bad.path)}: symlink to "${bad.target}" leaves the tree`, { file: path.join(dir, bad.path) });
  }
  const byRel = new Map(entries.map((e) => [e.path, e]));
  const blobs = new Set<string>();
  let total = 0;
  for (const f of files) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const stored = conduit.storeBlob(f.abs);
    const e = byRel.get(f.path)!;
    e.sha256 = stored.sha256;
    e.size = stored.size;
    total += stored.size;
    blobs.add(stored.sha256);
  }
  const digest = manifestDigest(entries);
  const manifest = [...entries].sort(byPath).map((e) => ({ ...e }) as unknown as Json);
  const unit = conduit.initUnit(DIRECTORY_TYPE, { name, digest }, { ...(opts.metadata ?? {}), manifest, file_count: files.length, total_size: total }, null);
  unit.blobs = [...blobs].sort();
  return conduit.saveUnit(unit);
}

/**
 * Store an uploaded directory (a RAW tree) as a `directory` unit of the repository: name the unit
 * key's, else the directory's base name; the upload's metadata (but a `manifest`) is kept.
 */
export async function storeDirectoryUpload(conduit: Pick<ImporterConduit, 'storeBlob' | 'initUnit' | 'saveUnit' | 'signal'>, upload: Pick<UploadRequest, 'filePath' | 'unitKey' | 'metadata'>): Promise<Unit> {
  const dir = upload.filePath!;
  const given = upload.unitKey.name;
  const name = typeof given === 'string' && given ? given : given === undefined || given === null || given === '' ? path.basename(path.resolve(dir)) : String(given);
  const extra: Record<string, Json> = {};
  for (const [k, v] of Object.entries(upload.metadata)) if (k !== 'manifest') extra[k] = v;
  return ingestDirectory(conduit, dir, name, { signal: conduit.signal, metadata: extra });
}

/** A checked entry path: relative, POSIX, no ".", ".." or empty segments. */
export function checkEntryPath(p: unknown): string | null {
  if (typeof p !== 'string' || !p) return null;
  if (p.startsWith('/') || p.includes('\0') || p.includes('\\')) return null;
  for (const s of p.split('/')) if (!s || s === '.' || s === '..') return null;
  return p;
}

/** The manifest of a directory unit, checked (a tampered manifest must never write outside the tree). */
export function manifestOf(unit: Pick<Unit, 'unitKey' | 'metadata'>): DirectoryEntry[] {
  const raw = unit.metadata.manifest;
  const name = String(unit.unitKey.name ?? '?');
  if (!Array.isArray(raw)) throw new StagepushError('FILE_DIRECTORY_BAD_MANIFEST', `directory unit "${name}": metadata.manifest is not a list`, { entry: name, field: 'manifest' });
  const out: DirectoryEntry[] = [];
  for (const r of raw) {
    const e = r as unknown as DirectoryEntry;
    const ok =
      e &&
      checkEntryPath(e.path) !== null &&
      ((e.type === 'file' && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)) || e.type === 'dir' || (e.type === 'symlink' && typeof e.target === 'string' && e.target.length > 0));
    if (!ok) throw new StagepushError('FILE_DIRECTORY_BAD_MANIFEST', `directory unit "${name}": bad manifest entry ${JSON.stringify(r).slice(0, 200)}`, { entry: name, field: 'manifest' });
    out.push(e);
  }
  return out;
}

interface Claim {
  kind: 'file' | 'dir' | 'tree';
  owner: string;
}

/**
 * Paths claimed in one published tree. `reserve(path, owner)` claims a whole subtree (yum's
 * "repodata"), `claimFile` / `claimDir` single paths; a collision throws
 * PUBLISH_PATH_COLLISION naming both owners. Directories may be shared by several trees.
 */
export class PathClaims {
  private readonly claims = new Map<string, Claim>();

  private conflict(p: string, owner: string, other: Claim): never {
    throw new StagepushError('PUBLISH_PATH_COLLISION', `path "${p}" of ${owner} collides with ${other.owner}${other.kind === 'tree' ? ` (reserved "${p.split('/')[0]}/")` : ''}`, {
      kind: 'invalid',
      entry: p,
      details: { path: p, owners: [owner, other.owner] },
    });
  }

  // Every claim's ancestors are claimed (markAncestors runs after each), and only as directories
  // (a file or tree claim at one is refused). So the walks up from a path stop at the first claimed
  // ancestor: what is above it was checked and marked when it was. (Walking every ancestor of
  // every path made a RAW tree 1,000 levels deep take 15 s.)
  private checkAncestors(p: string, owner: string): void {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const c = this.claims.get(p.slice(0, i));
      if (!c) continue;
      if (c.kind !== 'dir') this.conflict(p, owner, c);
      return;
    }
  }

  private markAncestors(p: string, owner: string): void {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const a = p.slice(0, i);
      if (this.claims.has(a)) return;
      this.claims.set(a, { kind: 'dir', owner });
    }
  }

  private norm(p: string): string {
    const n = p.replace(/^\/+/, '').replace(/\/+$/, '');
    if (checkEntryPath(n) === null) throw new StagepushError('PUBLISH_BAD_PATH', `"${p}" is not a relative path inside the published tree`, { entry: p });
    return n;
  }

  /** Claim a whole subtree: nothing else may be at or under it. */
  reserve(raw: string, owner: string): void {
    const p = this.norm(raw);
    this.checkAncestors(p, owner);
    const c = this.claims.get(p);
    if (c) this.conflict(p, owner, c);
    this.claims.set(p, { kind: 'tree', owner });
    this.markAncestors(p, owner);
  }

  claimFile(raw: string, owner: string): void {
    const p = this.norm(raw);
    this.checkAncestors(p, owner);
    const c = this.claims.get(p);
    if (c) this.conflict(p, owner, c);
    this.claims.set(p, { kind: 'file', owner });
    this.markAncestors(p, owner);
  }

  claimDir(raw: string, owner: string): void {
    const p = this.norm(raw);
    this.checkAncestors(p, owner);
    const c = this.claims.get(p);
    if (c && c.kind !== 'dir') this.conflict(p, owner, c);
    if (!c) this.claims.set(p, { kind: 'dir', owner });
    this.markAncestors(p, owner);
  }

  /** Claim every entry of a directory unit (owner: `directory unit "<name>"`). */
  claimUnit(unit: Pick<Unit, 'unitKey' | 'metadata'>, owner = `directory unit "${String(unit.unitKey.name)}"`): void {
    for (const e of manifestOf(unit)) {
      if (e.type === 'dir') this.claimDir(e.path, owner);
      else this.claimFile(e.path, owner);
    }
  }
}

export interface LayoutOptions {
  /** How files appear: symlinks to the stored blobs (default), hard links (else symlinks: `auto`; else copies: `hardlink`), or copies. */
  mode?: LinkMode;
  signal?: AbortSignal;
}

/**
 * Lay a directory unit out under `destDir` (which exists). Directories 0755; files per `mode`,
 * 0755 when they were executable when staged, else 0644; RAW symlinks recreated with their
 * recorded target. Call PathClaims first to
 * check collisions; an existing file at a path is an error (EEXIST).
 */
export async function layoutDirectoryUnit(unit: Pick<Unit, 'unitKey' | 'metadata'>, destDir: string, blobPath: (sha256: string) => string, opts: LayoutOptions = {}): Promise<{ files: number; dirs: number; symlinks: number }> {
  const mode = opts.mode ?? 'symlink';
  const entries = manifestOf(unit).sort(byPath);
  const made = new Set<string>();
  const counts = { files: 0, dirs: 0, symlinks: 0 };
  const ensureDir = async (rel: string): Promise<void> => {
    if (!rel || rel === '.' || made.has(rel)) return;
    await mkdirp(path.join(destDir, rel));
    made.add(rel);
  };
  for (const e of entries) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const dest = path.join(destDir, ...e.path.split('/'));
    await ensureDir(path.posix.dirname(e.path));
    if (e.type === 'dir') {
      try {
        await fsp.mkdir(dest);
        await fsp.chmod(dest, DIR_MODE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fsp.lstat(dest)).isDirectory()) throw err;
      }
      made.add(e.path);
      counts.dirs++;
    } else if (e.type === 'symlink') {
      await fsp.symlink(e.target!, dest);
      counts.symlinks++;
    } else {
      const src = blobPath(e.sha256!);
      // Published 0755 when the staged file was executable, else 0644. A stored file is shared by
      // every file of its content (its mode is the first one's): a link whose mode would differ
      // from the recorded one is a copy with the recorded mode instead.
      const want = e.mode & 0o111 ? 0o755 : FILE_MODE;
      const blobMode = (await fsp.stat(src)).mode;
      const stored = (blobMode & 0o444) !== 0o444 ? -1 : blobMode & 0o111 ? 0o755 : FILE_MODE;
      if (stored !== want || mode === 'copy') {
        await copyFile0644(src, dest);
        if (want !== FILE_MODE) await fsp.chmod(dest, want);
      } else if (mode === 'symlink') await fsp.symlink(src, dest);
      else if (mode === 'auto') await linkOrSymlink(src, dest);
      // A copy where the link was refused (another filesystem) is made 0644: given the recorded mode.
      else if ((await linkOrCopy(src, dest)) === 'copy' && want !== FILE_MODE) await fsp.chmod(dest, want);
      counts.files++;
    }
  }
  return counts;
}

export { FILE_MODE, DIR_MODE };
