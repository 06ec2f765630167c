/**
 * A path a handler writes or removes under a consumer root stays under it after symlinks: the
 * nearest existing ancestor of the path, resolved, must lie inside the resolved root (a root
 * whose etc is a symlink to the host's /etc must not have the host's files written or removed).
 * A symlink whose target is missing on the way is refused too: writing through it would create
 * its target, wherever that is.
 */
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

export function assertInsideRoot(root: string, p: string, what: string): void {
  const realRoot = realpathSync(root);
  let cur = path.resolve(p);
  while (!existsSync(cur)) {
    if (lstatSync(cur, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new Error(`${what} ${p} leads through ${cur}, a symlink to a missing target (writing through it could create a file out of the consumer root ${root})`);
    }
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  const real = realpathSync(cur);
  if (real !== realRoot && !isUnder(realRoot, real)) {
    // Say "through a symlink" only when one took it out: a path out of the root as written (the
    // directory above a file setting that named the root itself) has no symlink to name.
    if (!isUnder(path.resolve(root), path.resolve(p))) throw new Error(`${what} ${p} is out of the consumer root ${root}`);
    throw new Error(`${what} ${p} leads out of the consumer root ${root} (through a symlink: ${cur} is ${real})`);
  }
}

/** `p` is `dir` or below it (both absolute and normalised). */
function isUnder(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/**
 * A directory a tool writes anywhere inside (a cache, a database directory): the directory stays
 * inside the root, and so does every symlink in it, at any depth (symlinks are checked, not
 * followed).
 */
export function assertTreeInsideRoot(root: string, dir: string, what: string): void {
  assertInsideRoot(root, dir, what);
  const walk = (d: string): void => {
    if (!lstatSync(d, { throwIfNoEntry: false })?.isDirectory()) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) assertInsideRoot(root, p, what);
      else if (e.isDirectory()) walk(p);
    }
  };
  // The directory itself may be a symlink (checked above to lead inside): walk what it leads to.
  if (existsSync(dir)) walk(realpathSync(dir));
}
