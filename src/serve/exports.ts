/**
 * The export directories outside the publish root that serve follows a protocol tree's link to.
 * An export distributor with an absolute `export_dir` and http/https links
 * `<publish root>/<proto>/<relative_url>` to it, and records that in its working directory (see
 * plugins/export/location.ts). Such a link is followed only when a record of this publish root
 * says that relative_url leads to that very directory: never a link to anywhere else.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { distributorWorkingDirs, linkedDirOf, readExportLocation } from '../plugins/export/location.js';
import { normalizeRelativeUrl } from '../plugins/common/publish.js';

/** A path's real form, the last component not followed (as resolveRequest names a link's target); null when its directory is gone. */
async function realOf(p: string): Promise<string | null> {
  const abs = path.resolve(p);
  try {
    return path.join(await fsp.realpath(path.dirname(abs)), path.basename(abs));
  } catch {
    return null;
  }
}

export class ExportLinks {
  /** `<relative_url>\0<real export dir>` → the working directory whose record says so (read again on each use). */
  private known = new Map<string, string>();
  private scanning: Promise<void> | null = null;

  /**
   * @param workingRoot the engine's `<data dir>/working`
   * @param publishRoot the served publish root (a real path)
   */
  constructor(
    private readonly workingRoot: string,
    private readonly publishRoot: string,
  ) {}

  /** Whether an export distributor recorded linking `relativeUrl` (of a protocol tree) to `target` (a real path). */
  async recorded(relativeUrl: string, target: string): Promise<boolean> {
    const key = `${relativeUrl}\0${target}`;
    const dir = this.known.get(key);
    // The record is read again: an export moved or removed since is not followed.
    if (dir !== undefined && (await this.keyOf(dir)) === key) return true;
    // Unknown (a link made since the last reading, or one no export made): read every record.
    // Only a protocol tree's own links come here, and stagepush makes no other kind there.
    this.scanning ??= this.scan().finally(() => (this.scanning = null));
    await this.scanning;
    return this.known.has(key);
  }

  private async scan(): Promise<void> {
    const next = new Map<string, string>();
    for (const dir of await distributorWorkingDirs(this.workingRoot)) {
      const key = await this.keyOf(dir);
      if (key !== null) next.set(key, dir);
    }
    this.known = next;
  }

  /** The key of a distributor's export record, when it is one of this publish root. */
  private async keyOf(workingDir: string): Promise<string | null> {
    const loc = await readExportLocation(workingDir);
    if (!loc?.relativeUrl || !loc.publishRoot || !path.isAbsolute(linkedDirOf(loc))) return null;
    if ((await fsp.realpath(loc.publishRoot).catch(() => null)) !== this.publishRoot) return null;
    const exportDir = await realOf(linkedDirOf(loc));
    return exportDir === null ? null : `${normalizeRelativeUrl(loc.relativeUrl)}\0${exportDir}`;
  }
}
