/**
 * Readers of primary.xml, filelists.xml and other.xml (plain or .gz, path, buffer or stream), one
 * `<package>` at a time: for syncing a remote repository and for comparing with createrepo_c.
 */
import { lazyXmlParser } from '../lazyxml.js';
import { StagepushError } from '../../errors.js';
import type { RepodataChangelog, RepodataDep, RepodataFile, RepodataFileType, RepodataFlags, RepodataPackage } from './package.js';
import { asArray, attr, txt, type XNode } from './xnode.js';
import { xmlElements, type XmlSource } from './xmlsplit.js';


const parser = lazyXmlParser({
  trimValues: false,
  isArray: (name) => name === 'package' || name === 'rpm:entry' || name === 'file' || name === 'changelog',
});

function num(n: unknown, name: string, where: string, file: string): number {
  const v = attr(n, name);
  if (v === null || !/^-?\d+$/.test(v.trim())) {
    throw new StagepushError('REPODATA_INVALID', `${file}: ${where}: attribute ${name} is not an integer: "${v ?? ''}"`, { file, entry: where, field: name });
  }
  return Number(v);
}

function parseChunk(xml: string, file: string): XNode[] {
  let doc: XNode;
  try {
    doc = parser().parse(xml, true) as XNode;
  } catch (e) {
    throw new StagepushError('REPODATA_INVALID', `${file}: not well-formed XML in a <package>: ${(e as Error).message}`, { file, cause: e });
  }
  return asArray(doc['package'] as XNode[] | undefined);
}

function files(n: XNode): RepodataFile[] {
  return asArray(n['file'] as unknown[] | undefined).map((f) => ({ path: txt(f) ?? '', type: (attr(f, 'type') ?? 'file') as RepodataFileType }));
}

function deps(format: XNode, tag: string, isRequires: boolean): RepodataDep[] {
  const list = format[`rpm:${tag}`] as XNode | undefined;
  if (!list || typeof list !== 'object') return [];
  return asArray(list['rpm:entry'] as XNode[] | undefined).map((e) => {
    const d: RepodataDep = {
      name: attr(e, 'name') ?? '',
      flags: attr(e, 'flags') as RepodataFlags | null,
      epoch: attr(e, 'epoch'),
      version: attr(e, 'ver'),
      release: attr(e, 'rel'),
    };
    if (isRequires) d.pre = attr(e, 'pre') === '1' || attr(e, 'pre') === 'true';
    return d;
  });
}

function nevra(p: XNode, file: string, what: string) {
  const v = p['version'] as XNode | undefined;
  if (!v) throw new StagepushError('REPODATA_INVALID', `${file}: a ${what} package has no <version>`, { file, field: 'version' });
  return { epoch: attr(v, 'epoch') ?? '0', version: attr(v, 'ver') ?? '', release: attr(v, 'rel') ?? '' };
}

/** One primary.xml `<package>` element (parsed) → entry; files are the primary ones only, no changelogs. */
export function primaryPackageFromNode(p: XNode, file = 'primary.xml'): RepodataPackage {
  const name = txt(p['name']) ?? '';
  const arch = txt(p['arch']) ?? '';
  const where = `${name}.${arch}`;
  const ck = p['checksum'] as XNode | undefined;
  const loc = p['location'] as XNode | undefined;
  if (!name || !ck || !loc || !attr(loc, 'href')) {
    throw new StagepushError('REPODATA_INVALID', `${file}: package "${where}" lacks name, checksum or location`, { file, entry: where });
  }
  const fmt = (p['format'] as XNode | undefined) ?? {};
  const hr = fmt['rpm:header-range'] as XNode | undefined;
  const time = p['time'] as XNode | undefined;
  const size = p['size'] as XNode | undefined;
  const e = nevra(p, file, 'primary');
  const optText = (v: unknown) => txt(v);
  return {
    pkgid: (txt(ck) ?? '').trim(),
    checksumType: attr(ck, 'type') ?? 'sha256',
    name,
    arch,
    ...e,
    summary: optText(p['summary']),
    description: optText(p['description']),
    packager: optText(p['packager']),
    url: optText(p['url']),
    timeFile: time ? num(time, 'file', where, file) : 0,
    timeBuild: time ? num(time, 'build', where, file) : 0,
    sizePackage: size ? num(size, 'package', where, file) : 0,
    sizeInstalled: size && attr(size, 'installed') !== null ? num(size, 'installed', where, file) : 0,
    sizeArchive: size && attr(size, 'archive') !== null ? num(size, 'archive', where, file) : 0,
    locationHref: attr(loc, 'href')!,
    locationBase: attr(loc, 'xml:base'),
    license: optText(fmt['rpm:license']),
    vendor: optText(fmt['rpm:vendor']),
    group: optText(fmt['rpm:group']),
    buildhost: optText(fmt['rpm:buildhost']),
    sourcerpm: optText(fmt['rpm:sourcerpm']),
    headerStart: hr ? num(hr, 'start', where, file) : 0,
    headerEnd: hr ? num(hr, 'end', where, file) : 0,
    provides: deps(fmt, 'provides', false),
    requires: deps(fmt, 'requires', true),
    conflicts: deps(fmt, 'conflicts', false),
    obsoletes: deps(fmt, 'obsoletes', false),
    suggests: deps(fmt, 'suggests', false),
    enhances: deps(fmt, 'enhances', false),
    recommends: deps(fmt, 'recommends', false),
    supplements: deps(fmt, 'supplements', false),
    files: files(fmt),
    changelogs: [],
  };
}

export interface FilelistsEntry {
  pkgid: string;
  name: string;
  arch: string;
  epoch: string;
  version: string;
  release: string;
  files: RepodataFile[];
}

export interface OtherEntry {
  pkgid: string;
  name: string;
  arch: string;
  epoch: string;
  version: string;
  release: string;
  changelogs: RepodataChangelog[];
}

function fileName(src: XmlSource, dflt: string): string {
  return typeof src === 'string' ? src : dflt;
}

/**
 * The `<package>` elements of a repodata document whose root is `root`, as parsed nodes. The
 * document must be whole (see XmlDocumentShape: a truncated or garbled file is refused, not read
 * as fewer packages), and hold as many packages as its root's `packages` attribute says.
 */
async function* packageNodes(src: XmlSource, root: string, file: string): AsyncGenerator<XNode> {
  let announced: number | null = null;
  let count = 0;
  const onRoot = (startTag: string): void => {
    const m = /\spackages\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(startTag);
    if (!m) return;
    const v = (m[1] ?? m[2]!).trim();
    if (!/^\d+$/.test(v)) throw new StagepushError('REPODATA_INVALID', `${file}: <${root}> attribute packages is not a count: "${v}"`, { file, field: 'packages' });
    announced = Number(v);
  };
  for await (const chunk of xmlElements(src, 'package', { root, onRoot, file, code: 'REPODATA_INVALID' })) {
    for (const p of parseChunk(chunk, file)) {
      count++;
      yield p;
    }
  }
  if (announced !== null && announced !== count) {
    throw new StagepushError('REPODATA_INVALID', `${file}: <${root} packages="${announced}"> but the file holds ${count} package${count === 1 ? '' : 's'}`, { file, field: 'packages' });
  }
}

/** Stream the package entries of primary.xml(.gz). */
export async function* readPrimary(src: XmlSource, file = fileName(src, 'primary.xml')): AsyncGenerator<RepodataPackage> {
  for await (const p of packageNodes(src, 'metadata', file)) yield primaryPackageFromNode(p, file);
}

/** Stream the entries of filelists.xml(.gz). */
export async function* readFilelists(src: XmlSource, file = fileName(src, 'filelists.xml')): AsyncGenerator<FilelistsEntry> {
  for await (const p of packageNodes(src, 'filelists', file)) {
    yield { pkgid: attr(p, 'pkgid') ?? '', name: attr(p, 'name') ?? '', arch: attr(p, 'arch') ?? '', ...nevra(p, file, 'filelists'), files: files(p) };
  }
}

/** Stream the entries of other.xml(.gz). */
export async function* readOther(src: XmlSource, file = fileName(src, 'other.xml')): AsyncGenerator<OtherEntry> {
  for await (const p of packageNodes(src, 'otherdata', file)) {
    const where = `${attr(p, 'name')}.${attr(p, 'arch')}`;
    yield {
      pkgid: attr(p, 'pkgid') ?? '',
      name: attr(p, 'name') ?? '',
      arch: attr(p, 'arch') ?? '',
      ...nevra(p, file, 'other'),
      changelogs: asArray(p['changelog'] as XNode[] | undefined).map((c) => ({ author: attr(c, 'author') ?? '', date: num(c, 'date', where, file), text: txt(c) ?? '' })),
    };
  }
}

/** Read all three and join them by pkgid into full entries (files from filelists, changelogs from other). */
export async function readRepodataPackages(primary: XmlSource, filelists: XmlSource, other: XmlSource): Promise<RepodataPackage[]> {
  const out: RepodataPackage[] = [];
  const byId = new Map<string, RepodataPackage[]>();
  for await (const p of readPrimary(primary)) {
    out.push(p);
    const l = byId.get(p.pkgid) ?? [];
    l.push(p);
    byId.set(p.pkgid, l);
  }
  const seenF = new Map<string, number>();
  for await (const f of readFilelists(filelists)) {
    const i = seenF.get(f.pkgid) ?? 0;
    seenF.set(f.pkgid, i + 1);
    const p = byId.get(f.pkgid)?.[i];
    if (p) p.files = f.files;
  }
  const seenO = new Map<string, number>();
  for await (const o of readOther(other)) {
    const i = seenO.get(o.pkgid) ?? 0;
    seenO.set(o.pkgid, i + 1);
    const p = byId.get(o.pkgid)?.[i];
    if (p) p.changelogs = o.changelogs;
  }
  return out;
}
