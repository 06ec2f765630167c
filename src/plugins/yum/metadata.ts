/**
 * Glue between yum units and the metadata codecs (updateinfo, comps, modulemd, primary reader):
 * which parsed object becomes which unit (key, metadata), and back. The codecs live in
 * src/formats; nothing here parses or prints XML/YAML itself.
 */
import type { Json, Unit } from '../../engine/contract.js';
import { parseComps, writeComps, type Comps, type CompsCategory, type CompsEnvironment, type CompsGroup, type CompsLangpack } from '../../formats/comps/index.js';
import { dumpModulemdDocument, moduleDefaults, moduleStream, parseModulemd, type ModulemdDocument } from '../../formats/modulemd/index.js';
import { readPrimary } from '../../formats/repodata/index.js';
import { readUpdateinfo, updateinfoChunks, type Erratum as UpdateinfoErratum } from '../../formats/updateinfo/index.js';
import { normalizeErratum, type Erratum } from './erratum.js';

/** A metadata-only unit to save (comps, modules). */
export interface MetaUnit {
  typeId: string;
  unitKey: Record<string, Json>;
  metadata: Record<string, Json>;
}

/** One package of a remote primary.xml (what the sync needs). */
export interface RemotePackage {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
  checksumType: string;
  pkgid: string;
  locationHref: string;
  locationBase: string | null;
  sizePackage: number | null;
}

/** updateinfo.xml chunks for the errata (already filtered to the repository's packages). */
export function updateinfoXml(errata: Erratum[]): AsyncGenerator<string> {
  return updateinfoChunks(errata as unknown as UpdateinfoErratum[]);
}

/** The errata of a (downloaded) updateinfo.xml[.gz], normalised to the stored shape. */
export async function errataFromUpdateinfoXml(file: string, url: string): Promise<Erratum[]> {
  const out: Erratum[] = [];
  for await (const e of readUpdateinfo(file, url)) out.push(normalizeErratum(e as unknown as Record<string, unknown>, url));
  return out;
}

/** The packages of a (downloaded) primary.xml[.gz], one at a time. */
export async function* iteratePrimary(file: string, url: string): AsyncGenerator<RemotePackage> {
  for await (const p of readPrimary(file, url)) {
    yield {
      name: p.name,
      epoch: p.epoch || '0',
      version: p.version,
      release: p.release,
      arch: p.arch,
      checksumType: p.checksumType === 'sha' ? 'sha1' : p.checksumType,
      pkgid: p.pkgid.toLowerCase(),
      locationHref: p.locationHref,
      locationBase: p.locationBase,
      sizePackage: Number.isFinite(p.sizePackage) ? p.sizePackage : null,
    };
  }
}

const json = (v: unknown): Record<string, Json> => JSON.parse(JSON.stringify(v)) as Record<string, Json>;

/** comps.xml → units: package_group / package_category / package_environment keyed {id, repo_id}, package_langpacks keyed {repo_id}. */
export function compsUnitsFromXml(xml: string | Buffer, repoId: string, file: string): MetaUnit[] {
  const c = parseComps(xml, file);
  const out: MetaUnit[] = [];
  for (const g of c.groups) out.push({ typeId: 'package_group', unitKey: { id: g.id, repo_id: repoId }, metadata: json(g) });
  for (const x of c.categories) out.push({ typeId: 'package_category', unitKey: { id: x.id, repo_id: repoId }, metadata: json(x) });
  for (const e of c.environments) out.push({ typeId: 'package_environment', unitKey: { id: e.id, repo_id: repoId }, metadata: json(e) });
  if (c.langpacks.length) out.push({ typeId: 'package_langpacks', unitKey: { repo_id: repoId }, metadata: { matches: json({ m: c.langpacks }).m! } });
  return out;
}

/** The repository's comps units → comps.xml text. */
export function compsXmlFromUnits(units: Unit[]): string {
  const comps: Comps = { groups: [], categories: [], environments: [], langpacks: [] };
  const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  for (const u of units) {
    const md = u.metadata as unknown;
    if (u.typeId === 'package_group') comps.groups.push(md as CompsGroup);
    else if (u.typeId === 'package_category') comps.categories.push(md as CompsCategory);
    else if (u.typeId === 'package_environment') comps.environments.push(md as CompsEnvironment);
    else if (u.typeId === 'package_langpacks') comps.langpacks.push(...((u.metadata.matches as unknown as CompsLangpack[]) ?? []));
  }
  comps.groups.sort(byId);
  comps.categories.sort(byId);
  comps.environments.sort(byId);
  return writeComps(comps);
}

/**
 * A modulemd YAML stream → units: `modulemd` keyed {name, stream, version, context, arch} and
 * `modulemd_defaults` keyed {module, repo_id}; each keeps its whole document (metadata.document)
 * for modules.yaml. Other document kinds (obsoletes, translations) are not kept.
 */
export function modulemdUnitsFromYaml(text: string | Buffer, repoId: string, file: string): MetaUnit[] {
  const out: MetaUnit[] = [];
  parseModulemd(text, file).forEach((doc, idx) => {
    if (doc.document === 'modulemd') {
      const s = moduleStream(doc, file, idx);
      out.push({
        typeId: 'modulemd',
        unitKey: { name: s.name, stream: s.stream, version: s.version, context: s.context, arch: s.arch },
        metadata: { document: json(doc), summary: s.summary, profiles: Object.keys(s.profiles), artifacts: s.artifacts.rpms, nsvca: s.nsvca },
      });
    } else if (doc.document === 'modulemd-defaults') {
      const d = moduleDefaults(doc, file, idx);
      out.push({ typeId: 'modulemd_defaults', unitKey: { module: d.module, repo_id: repoId }, metadata: { document: json(doc), stream: d.stream, profiles: json(d.profiles) } });
    }
  });
  return out;
}

/** The documents of a modulemd stream that are not kept (obsoletes, translations): index and kind. */
export function ignoredModulemdDocuments(text: string | Buffer, file: string): Array<{ index: number; kind: string }> {
  const out: Array<{ index: number; kind: string }> = [];
  parseModulemd(text, file).forEach((doc, index) => {
    if (doc.document !== 'modulemd' && doc.document !== 'modulemd-defaults') out.push({ index, kind: String(doc.document) });
  });
  return out;
}

/** modules.yaml documents of the module units (streams first, then defaults). */
export function modulesYamlChunks(units: Unit[]): string[] {
  const streams = units.filter((u) => u.typeId === 'modulemd');
  const defaults = units.filter((u) => u.typeId === 'modulemd_defaults');
  return [...streams, ...defaults].map((u) => dumpModulemdDocument(u.metadata.document as unknown as ModulemdDocument));
}

export function unitToJson(u: Unit): Json {
  return { typeId: u.typeId, unitKey: u.unitKey, metadata: u.metadata };
}
