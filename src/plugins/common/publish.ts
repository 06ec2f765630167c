/**
 * Atomic publishing of a tree, shared by every built-in distributor (yum, iso, directory).
 *
 * Layout under the publish root (`conduit.publishRoot`):
 *
 *   <root>/.versions/<repoId>/<key>/<n>/        one complete tree per publish (n = 1, 2, …)
 *   <root>/.versions/<repoId>/<key>/state.json  {relativeUrl, protocols, current}
 *   <root>/.versions/<repoId>/<key>/<n>.escapes.json  {version, escapes}: the RAW symlinks of tree n
 *                                                 leading outside it (never followed by serve)
 *   <root>/http/<relative_url>  -> ../…/.versions/<repoId>/<key>/<n>   (relative symlink)
 *   <root>/https/<relative_url> -> the same tree
 *
 * `<key>` identifies the distributor on the repository (see `distributorKey`). A publish builds
 * the new tree in the plugin's working directory, sets published modes (files 0644, directories
 * 0755, whatever the umask), moves it into a new numbered directory, then switches each enabled
 * protocol's link with one rename(2) of a new symlink over the old one: a client sees the old
 * tree or the new one, never a mix. Older numbered directories are deleted only after the switch
 * (the newest `keepPrevious` older ones are kept). A protocol turned off, or a relative_url that
 * changed, has its old link removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { PluginCallConfig, PublishConduit, Repository } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import { PUBLISH_DEFAULTS } from '../defaults.js';
import { DIR_MODE, fixTreeModes, isWithin, linkOrCopy, mkdirp, moveTree, openDirChain } from './fsutil.js';

export interface Protocols {
  http: boolean;
  https: boolean;
}
export const PROTOCOLS = ['http', 'https'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Strip surrounding slashes and surrounding blanks: "/foo/bar/" → "foo/bar". */
export function normalizeRelativeUrl(url: string): string {
  return url.trim().replace(/^\/+/, '').replace(/\/+$/, '');
}

const SEGMENT = /^[A-Za-z0-9._~+@=,:-]+$/;

/**
 * Syntax of a (normalized) relative_url: non-empty, relative, segments of [A-Za-z0-9._~+@=,:-]
 * without ".", ".." or empty segments, not starting with ".versions". A message, or null when fine.
 */
export function checkRelativeUrl(url: string): string | null {
  if (!url) return 'must not be empty';
  if (url.includes('\0')) return 'must not contain NUL bytes';
  if (url.includes('\\')) return `"${url}" must use "/" as separator, not "\\"`;
  const segs = url.split('/');
  for (const s of segs) {
    if (s === '') return `"${url}" has an empty path segment`;
    if (s === '.' || s === '..') return `"${url}" must not contain "${s}" segments`;
    if (!SEGMENT.test(s)) return `"${url}": segment "${s}" may only contain letters, digits and . _ ~ + @ = , : -`;
  }
  if (segs[0]!.startsWith('.')) return `"${url}" must not start with a dot`;
  if (url.length > 1024) return `"${url.slice(0, 40)}…" is longer than 1024 characters`;
  return null;
}

/**
 * A conflict of `url` with one of `others` ("repoId/distributorId" → relative_url): the same URL,
 * or one nested inside the other (a published tree cannot hold another). Message naming the other.
 */
export function relativeUrlConflict(url: string, others: Record<string, string>): string | null {
  const u = normalizeRelativeUrl(url);
  for (const [owner, otherRaw] of Object.entries(others).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const o = normalizeRelativeUrl(otherRaw);
    if (o === u) return `"${u}" is already used by ${owner}`;
    if (o.startsWith(u + '/')) return `"${u}" would contain "${o}", the relative_url of ${owner}`;
    if (u.startsWith(o + '/')) return `"${u}" lies inside "${o}", the relative_url of ${owner}`;
  }
  return null;
}

/**
 * A stable directory name for the distributor of a repository: derived from its working directory
 * (one per plugin per repository): "<basename>-<8 hex of sha256(workingDir)>".
 */
export function distributorKey(repo: Pick<Repository, 'workingDir'>): string {
  const base = path.basename(repo.workingDir).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'distributor';
  const h = createHash('sha256').update(path.resolve(repo.workingDir)).digest('hex').slice(0, 8);
  return `${base}-${h}`;
}

/** `<root>/.versions/<repoId>/<key>` */
export function versionsBase(publishRoot: string, repoId: string, key: string): string {
  return path.join(publishRoot, '.versions', encodeURIComponent(repoId), key);
}

/** `<root>/<protocol>/<relative_url>` for each enabled protocol. */
export function publishedPaths(publishRoot: string, relativeUrl: string, protocols: Protocols): string[] {
  return PROTOCOLS.filter((p) => protocols[p]).map((p) => path.join(publishRoot, p, ...normalizeRelativeUrl(relativeUrl).split('/')));
}

/** `<base_url>/<relative_url>/` for each enabled protocol with a configured base URL. */
export function publishedUrls(baseUrls: { http?: string; https?: string }, relativeUrl: string, protocols: Protocols): string[] {
  const out: string[] = [];
  for (const p of PROTOCOLS) {
    const b = baseUrls[p];
    if (protocols[p] && b) out.push(`${b.replace(/\/+$/, '')}/${normalizeRelativeUrl(relativeUrl)}/`);
  }
  return out;
}

interface PublishState {
  relativeUrl: string;
  protocols: Protocols;
  current: number;
}

export interface AtomicPublishOptions {
  /** Root of the published trees (conduit.publishRoot). */
  publishRoot: string;
  /** The repository (id, and this plugin's workingDir where the tree is built). */
  repo: Pick<Repository, 'id' | 'workingDir'>;
  /** Normalized, checked relative URL. */
  relativeUrl: string;
  protocols: Protocols;
  /** Other distributors' relative URLs ("repoId/distributorId" → url): a conflict refuses the publish. */
  otherRelativeUrls?: Record<string, string>;
  baseUrls?: { http?: string; https?: string };
  /** Older version directories kept after the switch (default 1). */
  keepPrevious?: number;
  /**
   * Fill the new tree (an empty directory in the working directory). It may return the paths (in
   * the tree) of the RAW symlinks it laid out that lead outside the tree (`escapingSymlinks`):
   * recorded in `<n>.escapes.json` beside the tree, outside what is served, before the tree is
   * switched to; serve never follows them.
   */
  build(dir: string): Promise<void | { escapingLinks?: string[] }>;
  /**
   * Relative paths of files to keep from the currently published tree (e.g. repodata an older
   * repomd.xml names): each is hard-linked into the new tree unless the new tree already has that
   * path. Paths missing from the old tree are skipped (reported in `notCarried`).
   */
  carryOver?(previousDir: string): string[] | Promise<string[]>;
  signal?: AbortSignal;
  /** Overrides distributorKey(repo). */
  key?: string;
}

export interface AtomicPublishResult {
  relativeUrl: string;
  /** Number of the new version directory. */
  version: number;
  versionDir: string;
  /** The tree that was published before (null on the first publish). */
  previousDir: string | null;
  publishedPaths: string[];
  urls: string[];
  carried: string[];
  notCarried: string[];
  removedVersions: string[];
  removedLinks: string[];
}

function publishError(code: string, message: string, opts: { field?: string; file?: string; cause?: unknown; kind?: 'invalid' | 'failed' } = {}): StagepushError {
  return new StagepushError(code, message, { kind: opts.kind ?? 'failed', field: opts.field, file: opts.file, cause: opts.cause });
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new StagepushError('PUBLISH_CANCELED', 'publish canceled', { kind: 'interrupted' });
  }
}

async function readState(base: string): Promise<PublishState | null> {
  try {
    const s = JSON.parse(await fsp.readFile(path.join(base, 'state.json'), 'utf8')) as PublishState;
    if (typeof s.relativeUrl === 'string' && typeof s.current === 'number') return s;
  } catch {
    /* no state yet */
  }
  return null;
}

async function writeState(base: string, state: PublishState): Promise<void> {
  const tmp = path.join(base, `.state.json.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  await fsp.rename(tmp, path.join(base, 'state.json'));
}

/** The record of a version directory's escaping RAW symlinks: `<base>/<n>.escapes.json`. */
export function escapesRecordOf(versionDir: string): string {
  return `${versionDir}.escapes.json`;
}

/**
 * The escaping RAW symlinks recorded for a published version directory (`<base>/<n>`): paths in
 * the tree; null when there is no record (a tree published before records were written).
 */
export async function readEscapesRecord(versionDir: string): Promise<Set<string> | null> {
  let v: unknown;
  try {
    v = JSON.parse(await fsp.readFile(escapesRecordOf(versionDir), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A record that cannot be read is not taken for "none": every link of the tree stays suspect.
    return new Set(['']);
  }
  const list = (v as { escapes?: unknown } | null)?.escapes;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) return new Set(['']);
  return new Set(list as string[]);
}

async function writeEscapesRecord(versionDir: string, version: number, escapes: readonly string[]): Promise<void> {
  const file = escapesRecordOf(versionDir);
  const tmp = path.join(path.dirname(file), `.escapes.json.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.writeFile(tmp, JSON.stringify({ version, escapes: [...escapes].sort() }) + '\n', { mode: 0o644 });
  await fsp.rename(tmp, file);
}

async function versionNumbers(base: string): Promise<number[]> {
  let names: string[] = [];
  try {
    names = await fsp.readdir(base);
  } catch {
    return [];
  }
  return names.filter((n) => /^[1-9]\d*$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** Is `link` a symlink pointing into `base`? */
async function linkPointsInto(link: string, base: string): Promise<boolean> {
  try {
    const target = await fsp.readlink(link);
    return isWithin(base, path.resolve(path.dirname(link), target));
  } catch {
    return false;
  }
}

/**
 * Check that `<protoRoot>/<relativeUrl>` can be (re)placed by our link: no ancestor under the
 * protocol root is a symlink or a file, and the path itself is absent or a symlink of ours.
 */
async function checkLinkPath(protoRoot: string, relativeUrl: string, base: string): Promise<void> {
  const segs = relativeUrl.split('/');
  let p = protoRoot;
  for (let i = 0; i < segs.length; i++) {
    p = path.join(p, segs[i]!);
    let st;
    try {
      st = await fsp.lstat(p);
    } catch {
      return;
    }
    const last = i === segs.length - 1;
    if (!last) {
      if (!st.isDirectory()) throw publishError('PUBLISH_PATH_TAKEN', `cannot publish at ${path.join(protoRoot, relativeUrl)}: ${p} is ${st.isSymbolicLink() ? 'another published tree (a symlink)' : 'not a directory'}`, { file: p, field: 'relative_url' });
    } else if (!st.isSymbolicLink() || !(await linkPointsInto(p, base))) {
      const target = st.isSymbolicLink() ? await fsp.readlink(p) : null;
      // The same repository and distributor under another key: its data dir reached by another
      // path (a symlink to it, or it was moved); the key is made from the working directory's path.
      const sibling = target !== null && path.dirname(path.dirname(path.resolve(path.dirname(p), target))) === path.dirname(base) && path.basename(path.dirname(path.resolve(path.dirname(p), target))).replace(/-[0-9a-f]{8}$/, '') === path.basename(base).replace(/-[0-9a-f]{8}$/, '');
      const why = sibling ? ': it was published by this same distributor through another path of the data directory (a symlink to it, or it was moved); use the --data-dir path its earlier publishes used' : '';
      throw publishError('PUBLISH_PATH_TAKEN', `cannot publish at ${p}: the path exists and is not this distributor's published link${target !== null ? ` (it points to ${target})` : ''}${why}`, { file: p, field: 'relative_url' });
    }
  }
}

async function ensureLinkParent(protoRoot: string, relativeUrl: string): Promise<string> {
  await mkdirp(protoRoot);
  const segs = relativeUrl.split('/');
  let p = protoRoot;
  for (const s of segs.slice(0, -1)) {
    p = path.join(p, s);
    try {
      const st = await fsp.lstat(p);
      if (!st.isDirectory()) throw publishError('PUBLISH_PATH_TAKEN', `cannot publish at ${path.join(protoRoot, relativeUrl)}: ${p} is not a directory`, { file: p });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(p);
      await fsp.chmod(p, DIR_MODE);
    }
  }
  return path.join(protoRoot, ...segs);
}

/** Point `link` at `target` with one atomic rename of a fresh symlink (relative target). */
export async function switchSymlink(link: string, target: string): Promise<void> {
  const rel = path.relative(path.dirname(link), target);
  const tmp = path.join(path.dirname(link), `.${path.basename(link)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.symlink(rel, tmp);
  try {
    await fsp.rename(tmp, link);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** Remove a link of ours and the directories left empty above it (up to the protocol root). */
async function removeLink(protoRoot: string, relativeUrl: string, base: string): Promise<string | null> {
  const link = path.join(protoRoot, ...relativeUrl.split('/'));
  if (!(await linkPointsInto(link, base))) return null;
  await fsp.rm(link, { force: true });
  let d = path.dirname(link);
  while (d !== protoRoot && isWithin(protoRoot, d)) {
    try {
      await fsp.rmdir(d);
    } catch {
      break;
    }
    d = path.dirname(d);
  }
  return link;
}

function checkCarryPath(rel: string): string {
  const n = path.posix.normalize(rel.replace(/^\/+/, ''));
  if (!n || n === '.' || n.startsWith('../') || n === '..' || n.includes('\0')) throw publishError('PUBLISH_BAD_CARRY_PATH', `cannot keep "${rel}" from the previous tree: not a relative path inside it`);
  return n;
}

/** The directory currently published by this distributor (null if none). */
export async function currentPublishedDir(publishRoot: string, repo: Pick<Repository, 'id' | 'workingDir'>, key = distributorKey(repo)): Promise<string | null> {
  const base = versionsBase(publishRoot, repo.id, key);
  const state = await readState(base);
  if (!state) return null;
  // The link is the truth (a publish killed between the switch and the state write).
  for (const p of PROTOCOLS) {
    const link = path.join(publishRoot, p, ...state.relativeUrl.split('/'));
    if (await linkPointsInto(link, base)) {
      const target = path.resolve(path.dirname(link), await fsp.readlink(link));
      if (await fsp.stat(target).then((st) => st.isDirectory(), () => false)) return target;
    }
  }
  const dir = path.join(base, String(state.current));
  try {
    if ((await fsp.lstat(dir)).isDirectory()) return dir;
  } catch {
    /* gone */
  }
  return null;
}

export async function atomicPublish(opts: AtomicPublishOptions): Promise<AtomicPublishResult> {
  const { publishRoot, repo, protocols, signal } = opts;
  const relativeUrl = normalizeRelativeUrl(opts.relativeUrl);
  const bad = checkRelativeUrl(relativeUrl);
  if (bad) throw publishError('PUBLISH_BAD_RELATIVE_URL', `config key "relative_url": ${bad}`, { field: 'relative_url', kind: 'invalid' });
  const clash = relativeUrlConflict(relativeUrl, opts.otherRelativeUrls ?? {});
  if (clash) throw publishError('PUBLISH_RELATIVE_URL_CONFLICT', `config key "relative_url": ${clash}`, { field: 'relative_url', kind: 'invalid' });
  const keepPrevious = Math.max(0, opts.keepPrevious ?? 1);
  const key = opts.key ?? distributorKey(repo);
  const base = versionsBase(publishRoot, repo.id, key);

  // A relative_url moved into (or out of) its own previous URL: the old link must go first.
  const prevState = await readState(base);
  if (prevState && prevState.relativeUrl !== relativeUrl && (relativeUrl.startsWith(prevState.relativeUrl + '/') || prevState.relativeUrl.startsWith(relativeUrl + '/'))) {
    for (const p of PROTOCOLS) await removeLink(path.join(publishRoot, p), prevState.relativeUrl, base);
  }
  for (const p of PROTOCOLS) if (protocols[p]) await checkLinkPath(path.join(publishRoot, p), relativeUrl, base);

  await mkdirp(base);
  await openDirChain(publishRoot, base);
  await mkdirp(repo.workingDir);
  // Leftovers of an interrupted publish (one task per repository at a time: none is running).
  for (const name of await fsp.readdir(repo.workingDir)) if (name.startsWith('publish-build-')) await fsp.rm(path.join(repo.workingDir, name), { recursive: true, force: true });
  for (const name of await fsp.readdir(base)) if (name.startsWith('.incoming-') || name.startsWith('.state.json.tmp-') || name.startsWith('.escapes.json.tmp-')) await fsp.rm(path.join(base, name), { recursive: true, force: true });

  const state = await readState(base);
  const previousDir = await currentPublishedDir(publishRoot, repo, key);
  const staging = await fsp.mkdtemp(path.join(repo.workingDir, 'publish-build-'));
  let versionDir: string | null = null;
  const carried: string[] = [];
  const notCarried: string[] = [];
  try {
    await fsp.chmod(staging, DIR_MODE);
    const built = await opts.build(staging);
    throwIfAborted(signal);
    if (previousDir && opts.carryOver) {
      for (const raw of await opts.carryOver(previousDir)) {
        const rel = checkCarryPath(raw);
        const dest = path.join(staging, rel);
        try {
          await fsp.lstat(dest);
          continue; // the new tree has it
        } catch {
          /* absent: carry it */
        }
        const src = path.join(previousDir, rel);
        let st;
        try {
          st = await fsp.lstat(src);
        } catch {
          notCarried.push(rel);
          continue;
        }
        await mkdirp(path.dirname(dest));
        if (st.isSymbolicLink()) await fsp.symlink(await fsp.readlink(src), dest);
        else if (st.isFile()) await linkOrCopy(src, dest);
        else {
          notCarried.push(rel);
          continue;
        }
        carried.push(rel);
      }
    }
    await fixTreeModes(staging);
    throwIfAborted(signal);
    const n = Math.max(0, state?.current ?? 0, ...(await versionNumbers(base))) + 1;
    const incoming = path.join(base, `.incoming-${n}-${randomBytes(4).toString('hex')}`);
    await moveTree(staging, incoming);
    versionDir = path.join(base, String(n));
    // Written before the tree exists under its name (a stale one of a removed tree is replaced):
    // serve never sees this tree without its record.
    await writeEscapesRecord(versionDir, n, (built && built.escapingLinks) || []);
    await fsp.rename(incoming, versionDir);
    throwIfAborted(signal);

    // The switch: one rename per enabled protocol.
    for (const p of PROTOCOLS) {
      if (!protocols[p]) continue;
      const link = await ensureLinkParent(path.join(publishRoot, p), relativeUrl);
      await openDirChain(publishRoot, path.dirname(link));
      await switchSymlink(link, versionDir);
    }
    versionDir = versionDir as string;
    const removedLinks: string[] = [];
    for (const p of PROTOCOLS) {
      const protoRoot = path.join(publishRoot, p);
      if (!protocols[p]) {
        const r = await removeLink(protoRoot, relativeUrl, base);
        if (r) removedLinks.push(r);
      }
      if (state && state.relativeUrl !== relativeUrl) {
        const r = await removeLink(protoRoot, state.relativeUrl, base);
        if (r) removedLinks.push(r);
      }
    }
    await writeState(base, { relativeUrl, protocols: { http: protocols.http, https: protocols.https }, current: n });

    // Only now: delete older trees beyond keepPrevious.
    const removedVersions: string[] = [];
    const older = (await versionNumbers(base)).filter((v) => v !== n).sort((a, b) => b - a);
    for (const v of older.slice(keepPrevious)) {
      const d = path.join(base, String(v));
      await fsp.rm(d, { recursive: true, force: true });
      await fsp.rm(escapesRecordOf(d), { force: true });
      removedVersions.push(d);
    }
    await recordLocation(repo.workingDir, { publishRoot: path.resolve(publishRoot), repoId: repo.id, key });
    return {
      relativeUrl,
      version: n,
      versionDir,
      previousDir,
      publishedPaths: publishedPaths(publishRoot, relativeUrl, protocols),
      urls: publishedUrls(opts.baseUrls ?? {}, relativeUrl, protocols),
      carried,
      notCarried,
      removedVersions,
      removedLinks,
    };
  } catch (e) {
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    // A version directory no link points at yet is removed again (the old tree stays published).
    if (versionDir) {
      const linked = await Promise.all(PROTOCOLS.map((p) => linkPointsInto(path.join(publishRoot, p, ...relativeUrl.split('/')), versionDir!)));
      if (!linked.some(Boolean)) {
        await fsp.rm(versionDir, { recursive: true, force: true }).catch(() => undefined);
        await fsp.rm(escapesRecordOf(versionDir), { force: true }).catch(() => undefined);
      }
    }
    throw e;
  } finally {
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Remove everything this distributor published: its links (both protocols) and its versions. */
export async function unpublish(publishRoot: string, repo: Pick<Repository, 'id' | 'workingDir'>, key = distributorKey(repo)): Promise<string[]> {
  const base = versionsBase(publishRoot, repo.id, key);
  const state = await readState(base);
  const removed: string[] = [];
  if (state) {
    for (const p of PROTOCOLS) {
      const r = await removeLink(path.join(publishRoot, p), state.relativeUrl, base);
      if (r) removed.push(r);
    }
  }
  if (await fsp.lstat(base).then(() => true, () => false)) {
    await fsp.rm(base, { recursive: true, force: true });
    removed.push(base);
    // Drop the repo's versions directory once empty.
    await fsp.rmdir(path.dirname(base)).catch(() => undefined);
  }
  return removed;
}

const LOCATION_FILE = '.published-location.json';

async function recordLocation(workingDir: string, loc: { publishRoot: string; repoId: string; key: string }): Promise<void> {
  const tmp = path.join(workingDir, `${LOCATION_FILE}.tmp-${process.pid}`);
  await fsp.writeFile(tmp, JSON.stringify(loc) + '\n');
  await fsp.rename(tmp, path.join(workingDir, LOCATION_FILE));
}

/**
 * For `distributorRemoved` (which is not given the publish root): remove what the last publish
 * from this working directory published (recorded there by atomicPublish). Returns what was removed.
 */
export async function unpublishRecorded(repo: Pick<Repository, 'id' | 'workingDir'>): Promise<string[]> {
  let loc: { publishRoot: string; repoId: string; key: string };
  try {
    loc = JSON.parse(await fsp.readFile(path.join(repo.workingDir, LOCATION_FILE), 'utf8'));
  } catch {
    return [];
  }
  const removed = await unpublish(loc.publishRoot, { id: loc.repoId, workingDir: repo.workingDir }, loc.key);
  await fsp.rm(path.join(repo.workingDir, LOCATION_FILE), { force: true });
  return removed;
}

/**
 * Serve an existing directory (e.g. an export) at `<root>/<protocol>/<relativeUrl>` for the enabled
 * protocols: one atomic symlink switch each; links of ours (pointing at `target`, or at
 * `previous.target` under `previous.relativeUrl`) are removed for disabled protocols, a changed URL
 * or a changed target.
 */
export async function exposeDirectory(opts: {
  publishRoot: string;
  relativeUrl: string;
  protocols: Protocols;
  target: string;
  otherRelativeUrls?: Record<string, string>;
  previous?: { relativeUrl: string; target: string } | null;
}): Promise<string[]> {
  const relativeUrl = normalizeRelativeUrl(opts.relativeUrl);
  const bad = checkRelativeUrl(relativeUrl);
  if (bad) throw publishError('PUBLISH_BAD_RELATIVE_URL', `config key "relative_url": ${bad}`, { field: 'relative_url', kind: 'invalid' });
  const clash = relativeUrlConflict(relativeUrl, opts.otherRelativeUrls ?? {});
  if (clash) throw publishError('PUBLISH_RELATIVE_URL_CONFLICT', `config key "relative_url": ${clash}`, { field: 'relative_url', kind: 'invalid' });
  const out: string[] = [];
  for (const p of PROTOCOLS) {
    const protoRoot = path.join(opts.publishRoot, p);
    // The previous link goes when its URL changes, its protocol is turned off, or the directory
    // changes (an export moved to another export_dir: made again below, to the new one).
    if (opts.previous && (opts.previous.relativeUrl !== relativeUrl || opts.previous.target !== opts.target || !opts.protocols[p])) await removeLink(protoRoot, opts.previous.relativeUrl, opts.previous.target);
    if (!opts.protocols[p]) {
      await removeLink(protoRoot, relativeUrl, opts.target);
      continue;
    }
    await checkLinkPath(protoRoot, relativeUrl, opts.target);
    const link = await ensureLinkParent(protoRoot, relativeUrl);
    await switchSymlink(link, opts.target);
    out.push(link);
  }
  return out;
}

/** Protocols from the config: http defaults to true, https to false (as the config schema says). */
export function protocolsOf(config: PluginCallConfig, defaults: Protocols = { http: true, https: false }): Protocols {
  const b = (k: 'http' | 'https'): boolean => {
    if (!config.has(k)) return defaults[k];
    const v = config.get(k);
    return v === true || v === 'true' || v === '1' || v === 'yes';
  };
  return { http: b('http'), https: b('https') };
}

/**
 * The usual publish of a built-in distributor: relative_url (default the repo id), protocols and
 * keep_previous from the config, uniqueness against every other distributor through the conduit.
 */
export async function publishWithConduit(
  repo: Repository,
  conduit: PublishConduit,
  config: PluginCallConfig,
  build: AtomicPublishOptions['build'],
  extra: Pick<AtomicPublishOptions, 'carryOver' | 'key' | 'keepPrevious' | 'signal'> = {},
): Promise<AtomicPublishResult> {
  const raw = config.get<unknown>('relative_url');
  const relativeUrl = normalizeRelativeUrl(typeof raw === 'string' && raw.trim() ? raw : repo.id);
  const kp = config.get<unknown>('keep_previous');
  const keepPrevious = extra.keepPrevious ?? (typeof kp === 'number' ? kp : typeof kp === 'string' && /^\d+$/.test(kp) ? Number(kp) : PUBLISH_DEFAULTS.keep_previous);
  return atomicPublish({
    publishRoot: conduit.publishRoot,
    repo,
    relativeUrl,
    protocols: protocolsOf(config),
    otherRelativeUrls: conduit.otherRelativeUrls(),
    baseUrls: conduit.baseUrls,
    keepPrevious,
    build,
    carryOver: extra.carryOver,
    key: extra.key,
    signal: extra.signal ?? conduit.signal,
  });
}
