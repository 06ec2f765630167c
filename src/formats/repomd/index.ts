/**
 * repomd.xml: write (as createrepo_c lays it out) and parse; plus the streaming writer of the
 * checksum-named data files it points to.
 */
import { lazyXmlParser } from '../lazyxml.js';
import { StagepushError } from '../../errors.js';
import type { Repomd, RepomdRecord } from './types.js';

export type { Repomd, RepomdRecord } from './types.js';
export { MetadataFileWriter, writeMetadataFile, CHECKSUM_TYPES } from './file.js';
export type { MetadataFileOptions, RepodataChecksumType } from './file.js';
export { GzipMembersFileWriter, gzipMember } from './members.js';
export type { GzipMembersFileOptions } from './members.js';

const NS_REPO = 'http://linux.duke.edu/metadata/repo';
const NS_RPM = 'http://linux.duke.edu/metadata/rpm';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** repomd.xml text (records in the order given). */
export function writeRepomd(repomd: Repomd): string {
  let s = `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="${NS_REPO}" xmlns:rpm="${NS_RPM}">\n`;
  s += `  <revision>${esc(repomd.revision)}</revision>\n`;
  const tags = repomd.tags;
  if (tags && ((tags.content?.length ?? 0) + (tags.repo?.length ?? 0) + (tags.distro?.length ?? 0)) > 0) {
    s += '  <tags>\n';
    for (const c of tags.content ?? []) s += `    <content>${esc(c)}</content>\n`;
    for (const r of tags.repo ?? []) s += `    <repo>${esc(r)}</repo>\n`;
    for (const d of tags.distro ?? []) s += `    <distro${d.cpeid ? ` cpeid="${esc(d.cpeid)}"` : ''}>${esc(d.value)}</distro>\n`;
    s += '  </tags>\n';
  }
  for (const r of repomd.records) {
    s += `  <data type="${esc(r.type)}">\n`;
    s += `    <checksum type="${esc(r.checksumType)}">${esc(r.checksum)}</checksum>\n`;
    if (r.openChecksum) s += `    <open-checksum type="${esc(r.openChecksumType ?? r.checksumType)}">${esc(r.openChecksum)}</open-checksum>\n`;
    s += `    <location${r.locationBase ? ` xml:base="${esc(r.locationBase)}"` : ''} href="${esc(r.location)}"/>\n`;
    s += `    <timestamp>${r.timestamp}</timestamp>\n`;
    s += `    <size>${r.size}</size>\n`;
    if (r.openSize !== undefined) s += `    <open-size>${r.openSize}</open-size>\n`;
    if (r.databaseVersion !== undefined) s += `    <database_version>${r.databaseVersion}</database_version>\n`;
    s += '  </data>\n';
  }
  s += '</repomd>\n';
  return s;
}

type XNode = Record<string, unknown>;

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return String((v as XNode)['#text'] ?? '');
  return String(v);
}

function int(v: unknown, file: string, field: string): number {
  const s = text(v).trim();
  if (!/^\d+$/.test(s)) throw new StagepushError('REPOMD_INVALID', `${file}: ${field} is not a non-negative integer: "${s}"`, { file, field });
  return Number(s);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The location hrefs of a repomd.xml, by a light scan of its `<location … href="…"/>` elements
 * (double-quoted, as writeRepomd and createrepo_c write them; predefined and numeric entities):
 * what a republish needs of the repomd.xml it replaces, without loading the XML parser. Not a
 * validating parse: use parseRepomd for anything read from elsewhere.
 */
export function repomdLocationHrefs(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<location\b[^>]*?\shref="([^"]*)"/g)) {
    out.push(m[1]!.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_e, n: string) => (n[0] === '#' ? String.fromCodePoint(n[1] === 'x' ? parseInt(n.slice(2), 16) : Number(n.slice(1))) : ENTITIES[n]!)));
  }
  return out;
}

const repomdParser = lazyXmlParser({
  removeNSPrefix: false,
  isArray: (name) => name === 'data' || name === 'content' || name === 'repo' || name === 'distro',
});

/** Parse repomd.xml. `file` names the source in error messages. */
export function parseRepomd(xml: string | Buffer, file = 'repomd.xml'): Repomd {
  let doc: XNode;
  try {
    doc = repomdParser().parse(xml.toString(), true) as XNode;
  } catch (e) {
    throw new StagepushError('REPOMD_INVALID', `${file}: not well-formed XML: ${(e as Error).message}`, { file, cause: e });
  }
  const root = doc['repomd'] as XNode | undefined;
  if (!root || typeof root !== 'object') throw new StagepushError('REPOMD_INVALID', `${file}: no <repomd> root element`, { file });
  const records: RepomdRecord[] = [];
  for (const d of asArray(root['data'] as XNode[] | undefined)) {
    const type = String(d['@type'] ?? '');
    const where = `data[type=${type}]`;
    if (!type) throw new StagepushError('REPOMD_INVALID', `${file}: a <data> element has no type`, { file, field: 'data.type' });
    const ck = d['checksum'] as XNode | undefined;
    const loc = d['location'] as XNode | undefined;
    if (!ck || !text(ck)) throw new StagepushError('REPOMD_INVALID', `${file}: ${where} has no checksum`, { file, field: `${where}.checksum` });
    if (!loc || !loc['@href']) throw new StagepushError('REPOMD_INVALID', `${file}: ${where} has no location href`, { file, field: `${where}.location` });
    const rec: RepomdRecord = {
      type,
      checksumType: String(ck['@type'] ?? 'sha256'),
      checksum: text(ck).trim(),
      location: String(loc['@href']),
      timestamp: d['timestamp'] !== undefined ? int(d['timestamp'], file, `${where}.timestamp`) : 0,
      size: d['size'] !== undefined ? int(d['size'], file, `${where}.size`) : 0,
    };
    if (loc['@xml:base']) rec.locationBase = String(loc['@xml:base']);
    const ock = d['open-checksum'] as XNode | undefined;
    if (ock) {
      rec.openChecksum = text(ock).trim();
      rec.openChecksumType = String(ock['@type'] ?? rec.checksumType);
    }
    if (d['open-size'] !== undefined) rec.openSize = int(d['open-size'], file, `${where}.open-size`);
    if (d['database_version'] !== undefined) rec.databaseVersion = int(d['database_version'], file, `${where}.database_version`);
    records.push(rec);
  }
  const out: Repomd = { revision: text(root['revision']).trim(), records };
  const tags = root['tags'] as XNode | undefined;
  if (tags && typeof tags === 'object') {
    out.tags = {
      content: asArray(tags['content']).map(text),
      repo: asArray(tags['repo']).map(text),
      distro: asArray(tags['distro'] as XNode[]).map((x) => {
        const r: { cpeid?: string; value: string } = { value: text(x) };
        if (typeof x === 'object' && x['@cpeid']) r.cpeid = String(x['@cpeid']);
        return r;
      }),
    };
  }
  return out;
}
