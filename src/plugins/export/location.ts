/**
 * Where an export distributor put its last export, recorded in its working directory
 * (`<data dir>/working/<repo>/distributor/<id>/.export-location.json`): the export directory, the
 * relative_url its links in the publish root's protocol trees were made at (or removed from), that
 * publish root, and the directory those links lead to while it is not the export directory (an
 * export moved to another export_dir, its links not switched yet). The distributor reads it to replace or remove its own export and links;
 * `stagepush serve` reads it to follow those links to an export directory outside the publish root.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const LOCATION_FILE = '.export-location.json';

export interface ExportLocation {
  exportDir: string;
  relativeUrl?: string;
  publishRoot?: string;
  /** Where the links at relativeUrl lead, when not to exportDir. */
  linkedDir?: string;
}

/** The directory an export's links at its relative_url lead to. */
export function linkedDirOf(loc: ExportLocation): string {
  return loc.linkedDir ?? loc.exportDir;
}

/** The location recorded in a distributor's working directory; null when there is none (or it is not one). */
export async function readExportLocation(workingDir: string): Promise<ExportLocation | null> {
  let v: unknown;
  try {
    v = JSON.parse(await fsp.readFile(path.join(workingDir, LOCATION_FILE), 'utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.exportDir !== 'string') return null;
  return {
    exportDir: o.exportDir,
    ...(typeof o.relativeUrl === 'string' ? { relativeUrl: o.relativeUrl } : {}),
    ...(typeof o.publishRoot === 'string' ? { publishRoot: o.publishRoot } : {}),
    ...(typeof o.linkedDir === 'string' ? { linkedDir: o.linkedDir } : {}),
  };
}

/** Every distributor working directory of the engine whose data directory holds `workingRoot` (`<data dir>/working`). */
export async function distributorWorkingDirs(workingRoot: string): Promise<string[]> {
  const out: string[] = [];
  const list = (d: string) => fsp.readdir(d).catch(() => [] as string[]);
  for (const repo of await list(workingRoot)) {
    const dists = path.join(workingRoot, repo, 'distributor');
    for (const id of await list(dists)) out.push(path.join(dists, id));
  }
  return out;
}
