/**
 * A path a handler writes or removes under a consumer root stays under it after symlinks: the
 * nearest existing ancestor of the path, resolved, must lie inside the resolved root (a root
 * whose etc is a symlink to the host's /etc must not have the host's files written or removed).
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';

export function assertInsideRoot(root: string, p: string, what: string): void {
  const realRoot = realpathSync(root);
  let cur = path.resolve(p);
  while (!existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  const real = realpathSync(cur);
  if (real !== realRoot && !real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep)) {
    throw new Error(`${what} ${p} leads out of the consumer root ${root} (through a symlink: ${cur} is ${real})`);
  }
}
