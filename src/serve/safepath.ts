/**
 * Mapping a request path onto a published tree, safely: the path is percent-decoded exactly once;
 * NUL bytes, backslashes, "." and ".." segments (raw or decoded), and what looks double-encoded
 * after the decoding (%2e, %2f, %5c, %00, %25) are refused; symlinks are followed one by one, only
 * those a published tree is made of (see followable). Every refusal is a 404: nothing tells a
 * client what exists outside.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export type Resolved =
  | { kind: 'file'; realPath: string; urlPath: string; segments: string[] }
  | { kind: 'dir'; realPath: string; urlPath: string; segments: string[] }
  | { kind: 'notfound'; reason: string };

const SUSPICIOUS = /%(2e|2f|5c|00|25)/i;

/** A stored file's path inside the content store (engine/store.ts pathFor). */
const STORED_FILE = /^sha256\/[0-9a-f]{2}\/[0-9a-f]{62}$/;

/** Decode and check the URL path; the safe segments, or a reason to refuse. */
export function decodeRequestPath(rawPath: string): { segments: string[]; trailingSlash: boolean } | { reason: string } {
  const q = rawPath.indexOf('?');
  const p = q >= 0 ? rawPath.slice(0, q) : rawPath;
  if (!p.startsWith('/')) return { reason: 'not an absolute path' };
  for (const s of p.split('/')) if (s === '.' || s === '..') return { reason: 'dot segment' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return { reason: 'bad percent-encoding' };
  }
  if (decoded.includes('\0')) return { reason: 'NUL byte' };
  if (decoded.includes('\\')) return { reason: 'backslash' };
  if (SUSPICIOUS.test(decoded)) return { reason: 'double-encoded' };
  const segs = decoded.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '.' || s === '..') return { reason: 'dot segment' };
    if (s === '') {
      if (i === segs.length - 1) break; // trailing slash
      return { reason: 'empty segment' };
    }
    out.push(s);
  }
  return { segments: out, trailingSlash: decoded.endsWith('/') };
}

export function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Where a served request may lead (real paths). */
export interface ServeRoots {
  publishRoot: string;
  /** The content store (published files are symlinks to its files). */
  store: string;
  /** Export directories outside the publish root an export distributor links a protocol tree to (see exports.ts). */
  exportLinks?: { recorded(relativeUrl: string, target: string): Promise<boolean> };
  /** The RAW symlinks the publishing distributors recorded as leading out of their trees (see escapes.ts): never followed. */
  rawEscapes?: { recorded(link: string): Promise<boolean> };
}

/**
 * Whether serve follows the symlink `link` landing at `target` (its directory's real path joined
 * with its name). Published trees are symlinks from the protocol's tree into a distributor's
 * versions directory (`.versions/<repo>/<key>`) or to an export directory (under
 * `<publish root>/export`, or an absolute export_dir an export distributor recorded linking that
 * relative_url to); inside one, a link is followed only to the content store (stored files) or
 * within that same directory (yum's Packages/ pool, a RAW tree's own relative links). A RAW tree's
 * link leaving its tree (`escapes: true`), to another repository, the other protocol's tree, an
 * export directory or anywhere else, is not followed: a 404. Where it leads is not enough to tell:
 * an absolute link to a stored file, or `up -> ..` into the versions directory, is also where a
 * distributor's own links lead; so a link the distributor recorded as a RAW tree's escaping one
 * (roots.rawEscapes) is refused first, whatever it points to.
 *
 * Into the content store, only the link a distributor makes for a published file: from inside a
 * published tree, written as an absolute path, to a stored file itself (`sha256/<2>/<62>`). Any
 * target inside the store was followed, first of all: a RAW tree's escaping link to the store's
 * directory listed every stored file and served it, an https-only repository's files over http.
 */
async function followable(link: string, text: string, target: string, treeRoot: string, roots: ServeRoots, scope: Scope): Promise<boolean> {
  if (roots.rawEscapes && (await roots.rawEscapes.recorded(link))) return false;
  if (within(roots.store, target)) return scope.base !== null && path.isAbsolute(text) && STORED_FILE.test(path.relative(roots.store, target).split(path.sep).join('/'));
  if (scope.base !== null) return scope.tree !== null && (within(scope.tree, target) || inPool(scope.base, target));
  const versions = path.join(roots.publishRoot, '.versions');
  const exports = path.join(roots.publishRoot, 'export');
  if (within(versions, target)) {
    const parts = path.relative(versions, target).split(path.sep);
    if (parts.length < 2 || !parts[0] || !parts[1]) return false;
    scope.base = path.join(versions, parts[0], parts[1]);
    // The published version (`<base>/<n>`): the protocol tree's link names it. A link to the
    // distributor's directory itself leads nowhere further.
    scope.tree = parts[2] ? path.join(scope.base, parts[2]) : null;
    return true;
  }
  if (within(exports, target) && target !== exports) {
    scope.base = scope.tree = target;
    return true;
  }
  // A link of the protocol tree itself, at the relative_url an export distributor recorded for this target.
  if (roots.exportLinks && within(treeRoot, link) && link !== treeRoot) {
    const relativeUrl = path.relative(treeRoot, link).split(path.sep).join('/');
    if (await roots.exportLinks.recorded(relativeUrl, target)) {
      scope.base = scope.tree = target;
      return true;
    }
  }
  return false;
}

/**
 * Where a request went in: the distributor's versions directory (`.versions/<repo>/<key>`, or an
 * export directory) and the published tree in it (`<base>/<n>`). Past the first link, a link is
 * followed within that tree, or into the distributor's package pool beside it (yum's `Packages ->
 * ../packages-<mode>`): never to the versions directory itself, its state.json, its escape
 * records or its other versions, where a RAW tree's link through `Packages/..` led (the escape
 * check at import and publish does not know the distributor's own links).
 */
interface Scope {
  base: string | null;
  tree: string | null;
}

/** `target` is in the package pool of the versions directory `base` (`packages-<mode>/…`). */
function inPool(base: string, target: string): boolean {
  const first = path.relative(base, target).split(path.sep)[0] ?? '';
  return /^packages-[^.]+$/.test(first);
}

/**
 * Where the symlink `link` (its directory a real path) with `text` leads, as the kernel resolves
 * it: its directory's components resolved by realpath(3), the last one named and not followed (the
 * next hop checks it). The text is not normalised first: `l/../x` with `l -> a/b` is `a/x`, not
 * `x` (path.resolve made it `x`, and `l/../..` the directory above the tree, which the kernel never
 * reaches). Trailing slashes are dropped (`current -> 9.4/` is `9.4`); a last component "." or
 * ".." is resolved with the rest.
 */
async function linkTarget(link: string, text: string): Promise<string> {
  const joined = (path.isAbsolute(text) ? text : `${path.dirname(link)}/${text}`).replace(/\/+$/, '') || '/';
  const slash = joined.lastIndexOf('/');
  const last = joined.slice(slash + 1);
  // fs.promises.realpath is realpath(3): components in order, a symlink resolved before a "..".
  if (last === '.' || last === '..') return fsp.realpath(joined);
  return path.join(await fsp.realpath(joined.slice(0, slash) || '/'), last);
}

/** Resolve a request path under `treeRoot` (a real path), following only the symlinks serve follows (see followable). */
export async function resolveRequest(rawPath: string, treeRoot: string, roots: ServeRoots): Promise<Resolved> {
  const d = decodeRequestPath(rawPath);
  if ('reason' in d) return { kind: 'notfound', reason: d.reason };
  const scope: Scope = { base: null, tree: null };
  let cur = treeRoot;
  for (const seg of d.segments) {
    let p = path.join(cur, seg);
    if (!within(cur, p)) return { kind: 'notfound', reason: 'outside the tree' };
    for (let hops = 0; ; hops++) {
      let lst;
      try {
        lst = await fsp.lstat(p);
      } catch {
        return { kind: 'notfound', reason: 'no such file' };
      }
      if (!lst.isSymbolicLink()) break;
      if (hops >= 40) return { kind: 'notfound', reason: 'too many symlinks' };
      let text: string;
      let target: string;
      try {
        text = await fsp.readlink(p);
        target = await linkTarget(p, text);
      } catch {
        return { kind: 'notfound', reason: 'no such file' };
      }
      if (!(await followable(p, text, target, treeRoot, roots, scope))) return { kind: 'notfound', reason: `symlink ${p} -> ${target} is not followed` };
      p = target;
    }
    cur = p;
  }
  let st;
  try {
    st = await fsp.stat(cur);
  } catch {
    return { kind: 'notfound', reason: 'no such file' };
  }
  const urlPath = '/' + d.segments.join('/');
  if (st.isDirectory()) return { kind: 'dir', realPath: cur, urlPath, segments: d.segments };
  if (st.isFile()) return { kind: 'file', realPath: cur, urlPath, segments: d.segments };
  return { kind: 'notfound', reason: 'not a regular file' };
}
