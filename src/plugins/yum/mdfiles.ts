/**
 * Glue between the yum distributor and the repodata codecs (src/formats/{repodata,repomd,
 * updateinfo,comps,modulemd}): which unit feeds which writer, file names, repomd records.
 * No XML/YAML is produced here; the codecs do it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Unit } from '../../engine/contract.js';
import { RepodataWriter, toRepodataPackage, type RepodataFileInfo } from '../../formats/repodata/index.js';
import { repomdLocationHrefs, writeMetadataFile, writeRepomd as repomdText, type RepodataChecksumType, type RepomdRecord } from '../../formats/repomd/index.js';
import type { RpmRecord } from '../../formats/rpm/types.js';
import { compsXmlFromUnits, modulesYamlChunks } from './metadata.js';
import type { Erratum } from './erratum.js';
import { updateinfoXml } from './metadata.js';

export type RepomdEntry = RepomdRecord;

/** The order createrepo_c + modifyrepo_c leave the records in. */
const ORDER = ['primary', 'filelists', 'other', 'group', 'group_gz', 'updateinfo', 'modules', 'productid'];

export interface PackageMetadataWriter {
  add(record: RpmRecord, file: RepodataFileInfo): Promise<void>;
  finish(): Promise<RepomdEntry[]>;
  abort(): Promise<void>;
}

/** primary, filelists and other, written side by side (count announced up front). */
export async function openPackageMetadata(dir: string, checksumType: RepodataChecksumType, count: number, opts: { timestamp?: number; changelogLimit?: number } = {}): Promise<PackageMetadataWriter> {
  const w = new RepodataWriter({ dir, packageCount: count, checksumType, timestamp: opts.timestamp });
  return {
    add: (record, file) => w.add(toRepodataPackage(record, file, { changelogLimit: opts.changelogLimit })),
    finish: async () => {
      const r = await w.close();
      return [strip(r.primary), strip(r.filelists), strip(r.other)];
    },
    abort: () => w.abort(),
  };
}

function strip(r: RepomdRecord & { path?: string }): RepomdEntry {
  const { path: _p, ...rest } = r;
  return rest;
}

export async function writeUpdateinfoFile(dir: string, errata: Erratum[], checksumType: RepodataChecksumType, timestamp: number): Promise<RepomdEntry> {
  return strip(await writeMetadataFile({ dir, type: 'updateinfo', name: 'updateinfo.xml', checksumType, timestamp }, updateinfoXml(errata)));
}

export async function writeCompsFile(dir: string, units: Unit[], checksumType: RepodataChecksumType, timestamp: number): Promise<RepomdEntry> {
  // dnf reads the uncompressed "group" record or "group_gz"; write the plain file as createrepo_c -g does.
  return strip(await writeMetadataFile({ dir, type: 'group', name: 'comps.xml', compression: 'none', checksumType, timestamp }, compsXmlFromUnits(units)));
}

/** modules.yaml from the module units' stored documents. */
export async function writeModulesFile(dir: string, units: Unit[], checksumType: RepodataChecksumType, timestamp: number): Promise<RepomdEntry> {
  return strip(await writeMetadataFile({ dir, type: 'modules', name: 'modules.yaml', checksumType, timestamp }, modulesYamlChunks(units)));
}

/** A repo metadata file unit (productid …) as `<checksum>-<data_type>.gz`. */
export async function writeExtraFile(dir: string, dataType: string, file: string, checksumType: RepodataChecksumType, timestamp: number): Promise<RepomdEntry> {
  return strip(await writeMetadataFile({ dir, type: dataType, name: dataType, checksumType, timestamp }, await fsp.readFile(file)));
}

/** repomd.xml (records in createrepo_c's order) with the given revision. */
export async function writeRepomd(dir: string, entries: RepomdEntry[], revision: string): Promise<void> {
  const rank = (t: string): number => {
    const i = ORDER.indexOf(t);
    return i < 0 ? ORDER.length : i;
  };
  const records = [...entries].sort((a, b) => rank(a.type) - rank(b.type) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const tmp = path.join(dir, `.repomd.xml.tmp-${process.pid}`);
  await fsp.writeFile(tmp, repomdText({ revision, records }), { mode: 0o644 });
  await fsp.rename(tmp, path.join(dir, 'repomd.xml'));
}

/** The locations (repodata/…) a repomd.xml names. */
export async function readRepomdLocations(repomdPath: string): Promise<string[]> {
  // The replaced repomd.xml is one this distributor wrote: a light scan of its hrefs will do.
  return repomdLocationHrefs(await fsp.readFile(repomdPath, 'utf8')).filter((l) => l.startsWith('repodata/') && !l.includes('..'));
}
