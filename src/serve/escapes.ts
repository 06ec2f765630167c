/**
 * The RAW symlinks serve never follows. A RAW tree's link leaving its tree (`escapes: true` in its
 * unit's manifest) can look exactly like a link a distributor makes: an absolute link to a stored
 * file, or `up -> ..` into the distributor's versions directory. So the publishing distributors
 * record, beside each published version directory (`<base>/<n>.escapes.json`, outside what is
 * served), the paths in the tree of the RAW symlinks they laid out that lead outside it (see
 * plugins/common/publish.ts). A link at one of those paths is refused, whatever it points to.
 *
 * A tree published before these records were written has none: no RAW escape is known there, and
 * its links are judged by where they lead only, until it is published again.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { escapesRecordOf, readEscapesRecord } from '../plugins/common/publish.js';
import { within } from './safepath.js';

interface Cached {
  /** The record file's identity when it was read: device, inode, size and mtime. */
  stamp: string;
  escapes: Set<string> | null;
}

export class RawEscapes {
  /** Version directory (a real path) → its record as last read. */
  private readonly cache = new Map<string, Cached>();

  /** @param versionsRoot `<publish root>/.versions` (a real path) */
  constructor(private readonly versionsRoot: string) {}

  /**
   * Whether `link` (a symlink; its directory a real path) is a RAW symlink recorded as leading out
   * of the published tree it lies in (`<versions>/<repo>/<key>/<n>/<path>`).
   */
  async recorded(link: string): Promise<boolean> {
    if (!within(this.versionsRoot, link)) return false;
    const parts = path.relative(this.versionsRoot, link).split(path.sep);
    if (parts.length < 4 || !/^[1-9]\d*$/.test(parts[2]!)) return false;
    const versionDir = path.join(this.versionsRoot, parts[0]!, parts[1]!, parts[2]!);
    const escapes = await this.escapesOf(versionDir);
    if (escapes === null) return false;
    // A record that could not be read (the empty path) refuses every link of its tree.
    return escapes.has('') || escapes.has(parts.slice(3).join('/'));
  }

  /** The record of a version directory, read again only when its file changed (or appeared). */
  private async escapesOf(versionDir: string): Promise<Set<string> | null> {
    const st = await fsp.stat(escapesRecordOf(versionDir), { bigint: true }).catch(() => null);
    const stamp = st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : 'none';
    const hit = this.cache.get(versionDir);
    if (hit && hit.stamp === stamp) return hit.escapes;
    const escapes = st ? await readEscapesRecord(versionDir) : null;
    this.cache.set(versionDir, { stamp, escapes });
    return escapes;
  }
}
