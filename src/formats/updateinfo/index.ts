/**
 * updateinfo.xml: pushsource's erratum shape ⇄ `<update>` entries as dnf (libsolv) reads them.
 * The erratum interfaces here are the one definition of that shape: the yum plugin's stored
 * erratum (src/plugins/yum/erratum.ts) is this shape with every optional field resolved.
 * Dates are written `YYYY-MM-DD HH:MM:SS` (UTC), the only form dnf accepts; other input forms
 * (ISO 8601 with T/Z/offset, date only, "… UTC", epoch seconds) are normalised.
 */
import { lazyXmlParser } from '../lazyxml.js';
import { StagepushError } from '../../errors.js';
import { asArray, attr, txt, type XNode } from '../repodata/xnode.js';
import { escapeText } from '../repodata/xml.js';
import { xmlElements, type XmlSource } from '../repodata/xmlsplit.js';

export interface ErratumReference {
  href: string;
  id: string | null;
  title: string | null;
  type: string;
}

export interface ErratumPackage {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
  src: string;
  filename: string;
  reboot_suggested?: boolean;
  md5sum?: string | null;
  sha1sum?: string | null;
  sha256sum?: string | null;
  /** pushsource's raw flat list `[algo, hex, algo, hex…]` (read when the *sum fields are absent). */
  sum?: string[] | null;
}

export interface ErratumModule {
  name: string;
  stream: string;
  version: string;
  context: string;
  arch: string;
}

export interface ErratumCollection {
  name: string;
  short: string;
  module?: ErratumModule | null;
  packages: ErratumPackage[];
}

export interface Erratum {
  id: string;
  type: string;
  status: string;
  version: string;
  release: string;
  pushcount?: string;
  issued: string | null;
  updated: string | null;
  title: string | null;
  severity: string | null;
  summary: string | null;
  description: string | null;
  solution: string | null;
  rights: string | null;
  from: string | null;
  reboot_suggested: boolean;
  references: ErratumReference[];
  pkglist: ErratumCollection[];
}

export interface UpdateinfoWriteOptions {
  /** Keep a package in the written pkglist only when this returns true (e.g. present in the repo). */
  packageFilter?: (pkg: ErratumPackage, collection: ErratumCollection, erratum: Erratum) => boolean;
  /** Keep collections left without packages (default false: dropped). */
  keepEmptyCollections?: boolean;
}

const DNF_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$/i;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function fmt(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/**
 * An erratum date as milliseconds since the epoch (UTC), or null when it is not a date. Accepts
 * `YYYY-MM-DD HH:MM:SS` (the form dnf reads), `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS] UTC`, ISO 8601
 * (`T`, fractions, `Z` or `±hh[:]mm`) and epoch seconds; out-of-range fields (month 13, Feb 30)
 * are not dates.
 */
export function parseErratumDate(value: string | number): number | null {
  const s = String(value).trim();
  if (/^\d{9,11}$/.test(s)) return Number(s) * 1000;
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone] = m;
  const local = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec);
  // Calendar check: the fields must survive the round trip (no rollover of Feb 30 into March).
  if (Number.isNaN(local) || fmt(new Date(local)) !== `${y}-${mo}-${d} ${h}:${mi}:${sec}`) return null;
  let ms = local + (frac ? Math.floor(Number(frac) * 1000) : 0);
  if (zone && /^[+-]/.test(zone)) {
    const z = zone.replace(':', '');
    const off = (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5))) * 60_000;
    ms += zone.startsWith('+') ? -off : off;
  }
  return ms;
}

/**
 * Normalise an erratum date to `YYYY-MM-DD HH:MM:SS` (UTC), the only form dnf reads (inputs as
 * parseErratumDate). Throws UPDATEINFO_BAD_DATE otherwise.
 */
export function normalizeErratumDate(value: string | number, where: { entry?: string; field?: string } = {}): string {
  const s = String(value).trim();
  if (DNF_DATE.test(s) && parseErratumDate(s) !== null) return s;
  const ms = parseErratumDate(s);
  if (ms === null) {
    throw new StagepushError('UPDATEINFO_BAD_DATE', `${where.entry ? `${where.entry}: ` : ''}${where.field ?? 'date'} "${s}" is not a date (expected YYYY-MM-DD HH:MM:SS, YYYY-MM-DD, ISO 8601 or epoch seconds)`, where);
  }
  return fmt(new Date(ms));
}

/**
 * Element text as libxml2 writes it (createrepo_c): a carriage return is written `&#13;`, since an
 * XML reader turns a literal one into a line feed (a description's "\r\n" read back as "\n").
 */
function esc(s: string): string {
  return escapeText(s);
}
function escA(s: string): string {
  return esc(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

/** The checksums of a package as [type, hex] pairs (md5, sha1, sha256 order as Pulp writes them). */
export function packageSums(p: ErratumPackage): [string, string][] {
  const out: [string, string][] = [];
  const fromList: Record<string, string> = {};
  const raw = p.sum ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) fromList[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
  const md5 = p.md5sum ?? fromList['md5'];
  const sha1 = p.sha1sum ?? fromList['sha1'] ?? fromList['sha'];
  const sha256 = p.sha256sum ?? fromList['sha256'];
  if (md5) out.push(['md5', md5]);
  if (sha1) out.push(['sha1', sha1]);
  if (sha256) out.push(['sha256', sha256]);
  return out;
}

export const UPDATEINFO_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n';
export const UPDATEINFO_FOOTER = '</updates>\n';

/** The advisory types dnf knows (`<update type=…>`). */
export const ERRATUM_TYPES: readonly string[] = ['bugfix', 'security', 'enhancement', 'newpackage'];

/** One `<update>` element (with trailing newline) for an erratum. */
export function dumpUpdate(e: Erratum, opts: UpdateinfoWriteOptions = {}): string {
  if (!e.id) throw new StagepushError('UPDATEINFO_INVALID', 'an erratum has no id', { field: 'id' });
  if (!ERRATUM_TYPES.includes(e.type)) {
    throw new StagepushError('UPDATEINFO_INVALID', `${e.id}: type "${e.type}" is not one of ${ERRATUM_TYPES.join(', ')}`, { entry: e.id, field: 'type' });
  }
  let s = `  <update from="${escA(e.from ?? '')}" status="${escA(e.status)}" type="${escA(e.type)}" version="${escA(String(e.version))}">\n`;
  s += `    <id>${esc(e.id)}</id>\n`;
  s += `    <title>${esc(e.title ?? '')}</title>\n`;
  if (e.issued) s += `    <issued date="${normalizeErratumDate(e.issued, { entry: e.id, field: 'issued' })}"/>\n`;
  if (e.updated) s += `    <updated date="${normalizeErratumDate(e.updated, { entry: e.id, field: 'updated' })}"/>\n`;
  if (e.rights) s += `    <rights>${esc(e.rights)}</rights>\n`;
  if (e.release !== undefined && e.release !== null && e.release !== '') s += `    <release>${esc(String(e.release))}</release>\n`;
  if (e.pushcount) s += `    <pushcount>${esc(String(e.pushcount))}</pushcount>\n`;
  if (e.severity) s += `    <severity>${esc(e.severity)}</severity>\n`;
  if (e.summary) s += `    <summary>${esc(e.summary)}</summary>\n`;
  if (e.description) s += `    <description>${esc(e.description)}</description>\n`;
  if (e.solution) s += `    <solution>${esc(e.solution)}</solution>\n`;
  if (e.reboot_suggested) s += '    <reboot_suggested>True</reboot_suggested>\n';
  s += '    <references>\n';
  for (const r of e.references ?? []) {
    s += `      <reference href="${escA(r.href)}"`;
    if (r.id !== null && r.id !== undefined) s += ` id="${escA(String(r.id))}"`;
    s += ` type="${escA(r.type ?? 'other')}"`;
    if (r.title !== null && r.title !== undefined) s += ` title="${escA(r.title)}"`;
    s += '/>\n';
  }
  s += '    </references>\n';
  s += '    <pkglist>\n';
  for (const c of e.pkglist ?? []) {
    const pkgs = opts.packageFilter ? c.packages.filter((p) => opts.packageFilter!(p, c, e)) : c.packages;
    if (!pkgs.length && !opts.keepEmptyCollections) continue;
    s += `      <collection short="${escA(c.short ?? '')}">\n`;
    s += `        <name>${esc(c.name ?? '')}</name>\n`;
    if (c.module) {
      const m = c.module;
      s += `        <module name="${escA(m.name)}" stream="${escA(m.stream)}" version="${escA(String(m.version))}" context="${escA(m.context)}" arch="${escA(m.arch)}"/>\n`;
    }
    for (const p of pkgs) {
      s += `        <package name="${escA(p.name)}" version="${escA(p.version)}" release="${escA(p.release)}" epoch="${escA(String(p.epoch ?? '0'))}" arch="${escA(p.arch)}" src="${escA(p.src ?? '')}">\n`;
      s += `          <filename>${esc(p.filename)}</filename>\n`;
      for (const [t, v] of packageSums(p)) s += `          <sum type="${t}">${esc(v)}</sum>\n`;
      if (p.reboot_suggested) s += '          <reboot_suggested>True</reboot_suggested>\n';
      s += '        </package>\n';
    }
    s += '      </collection>\n';
  }
  s += '    </pkglist>\n';
  s += '  </update>\n';
  return s;
}

/** A whole updateinfo.xml document. */
export function writeUpdateinfo(errata: Iterable<Erratum>, opts: UpdateinfoWriteOptions = {}): string {
  let s = UPDATEINFO_HEADER;
  for (const e of errata) s += dumpUpdate(e, opts);
  return s + UPDATEINFO_FOOTER;
}

/** Streamed chunks of an updateinfo.xml document (for MetadataFileWriter / writeMetadataFile). */
export async function* updateinfoChunks(errata: Iterable<Erratum> | AsyncIterable<Erratum>, opts: UpdateinfoWriteOptions = {}): AsyncGenerator<string> {
  yield UPDATEINFO_HEADER;
  for await (const e of errata) yield dumpUpdate(e, opts);
  yield UPDATEINFO_FOOTER;
}

// ---------------------------------------------------------------------------------------------
// Parsing


const parser = lazyXmlParser({
  trimValues: false,
  isArray: (name) => ['update', 'reference', 'collection', 'package', 'sum'].includes(name),
});

function truthy(v: unknown): boolean {
  const t = txt(v);
  if (t === null) return false;
  return ['true', '1', 'yes', ''].includes(t.trim().toLowerCase());
}

/** One `<update>` element → Erratum (dates as written). */
export function parseUpdate(node: XNode, file = 'updateinfo.xml'): Erratum {
  const id = (txt(node['id']) ?? '').trim();
  if (!id) throw new StagepushError('UPDATEINFO_INVALID', `${file}: an <update> has no <id>`, { file, field: 'id' });
  const date = (k: string): string | null => attr(node[k], 'date') ?? (txt(node[k])?.trim() || null);
  const e: Erratum = {
    id,
    type: attr(node, 'type') ?? 'bugfix',
    status: attr(node, 'status') ?? 'final',
    version: attr(node, 'version') ?? '1',
    release: txt(node['release'])?.trim() ?? '0',
    issued: date('issued'),
    updated: date('updated'),
    title: txt(node['title']),
    severity: txt(node['severity']),
    summary: txt(node['summary']),
    description: txt(node['description']),
    solution: txt(node['solution']),
    rights: txt(node['rights']),
    from: attr(node, 'from'),
    reboot_suggested: node['reboot_suggested'] !== undefined && truthy(node['reboot_suggested']),
    references: [],
    pkglist: [],
  };
  const pc = txt(node['pushcount']);
  if (pc !== null) e.pushcount = pc.trim();
  const refs = node['references'] as XNode | undefined;
  for (const r of asArray(refs?.['reference'] as XNode[] | undefined)) {
    e.references.push({ href: attr(r, 'href') ?? '', id: attr(r, 'id'), title: attr(r, 'title'), type: attr(r, 'type') ?? 'other' });
  }
  const pl = node['pkglist'] as XNode | undefined;
  for (const c of asArray(pl?.['collection'] as XNode[] | undefined)) {
    const col: ErratumCollection = { name: txt(c['name']) ?? '', short: attr(c, 'short') ?? '', packages: [] };
    const m = c['module'] as XNode | undefined;
    if (m) {
      col.module = {
        name: attr(m, 'name') ?? '',
        stream: attr(m, 'stream') ?? '',
        version: attr(m, 'version') ?? '',
        context: attr(m, 'context') ?? '',
        arch: attr(m, 'arch') ?? '',
      };
    }
    for (const p of asArray(c['package'] as XNode[] | undefined)) {
      const pkg: ErratumPackage = {
        name: attr(p, 'name') ?? '',
        epoch: attr(p, 'epoch') ?? '0',
        version: attr(p, 'version') ?? '',
        release: attr(p, 'release') ?? '',
        arch: attr(p, 'arch') ?? '',
        src: attr(p, 'src') ?? '',
        filename: (txt(p['filename']) ?? '').trim(),
        reboot_suggested: p['reboot_suggested'] !== undefined && truthy(p['reboot_suggested']),
      };
      for (const s of asArray(p['sum'] as XNode[] | undefined)) {
        const t = (attr(s, 'type') ?? '').toLowerCase();
        const v = (txt(s) ?? '').trim();
        if (t === 'md5') pkg.md5sum = v;
        else if (t === 'sha1' || t === 'sha') pkg.sha1sum = v;
        else if (t === 'sha256') pkg.sha256sum = v;
      }
      col.packages.push(pkg);
    }
    e.pkglist.push(col);
  }
  return e;
}

function parseXml(xml: string, file: string): XNode {
  try {
    return parser().parse(xml, true) as XNode;
  } catch (err) {
    throw new StagepushError('UPDATEINFO_INVALID', `${file}: not well-formed XML: ${(err as Error).message}`, { file, cause: err });
  }
}

/** Parse a whole updateinfo.xml document. */
export function parseUpdateinfo(xml: string | Buffer, file = 'updateinfo.xml'): Erratum[] {
  const doc = parseXml(xml.toString(), file);
  const root = doc['updates'];
  if (root === undefined) throw new StagepushError('UPDATEINFO_INVALID', `${file}: no <updates> root element`, { file });
  if (!root || typeof root !== 'object') return [];
  return asArray((root as XNode)['update'] as XNode[] | undefined).map((u) => parseUpdate(u, file));
}

/**
 * Stream the errata of an updateinfo.xml(.gz) path, buffer or stream, one `<update>` at a time.
 * The document must be whole: a truncated or garbled file is refused, not read as fewer errata.
 */
export async function* readUpdateinfo(src: XmlSource, file = typeof src === 'string' ? src : 'updateinfo.xml'): AsyncGenerator<Erratum> {
  for await (const chunk of xmlElements(src, 'update', { root: 'updates', file, code: 'UPDATEINFO_INVALID' })) {
    const doc = parseXml(chunk, file);
    for (const u of asArray(doc['update'] as XNode[] | undefined)) yield parseUpdate(u, file);
  }
}
