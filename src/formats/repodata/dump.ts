/**
 * Package entries of primary.xml, filelists.xml and other.xml, byte for byte as createrepo_c dumps
 * them (libxml2 pretty print, two-space indent, each entry followed by a newline), and the file
 * headers/footers.
 *
 * The yum distributor caches these entries (src/plugins/yum/blockcache.ts): a change to what an
 * entry looks like (here or in package.ts) must bump FORMAT there, or republishes keep serving
 * the old form from the cache.
 */
import type { RepodataDep, RepodataPackage } from './package.js';
import { isPrimaryFile } from './package.js';
import { escapeAttr as a, escapeText as t } from './xml.js';

export const NS_COMMON = 'http://linux.duke.edu/metadata/common';
export const NS_RPM = 'http://linux.duke.edu/metadata/rpm';
export const NS_FILELISTS = 'http://linux.duke.edu/metadata/filelists';
export const NS_OTHER = 'http://linux.duke.edu/metadata/other';

const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function primaryHeader(packages: number): string {
  return `${XML_DECL}<metadata xmlns="${NS_COMMON}" xmlns:rpm="${NS_RPM}" packages="${packages}">\n`;
}
export const PRIMARY_FOOTER = '</metadata>';
export function filelistsHeader(packages: number): string {
  return `${XML_DECL}<filelists xmlns="${NS_FILELISTS}" packages="${packages}">\n`;
}
export const FILELISTS_FOOTER = '</filelists>';
export function otherHeader(packages: number): string {
  return `${XML_DECL}<otherdata xmlns="${NS_OTHER}" packages="${packages}">\n`;
}
export const OTHER_FOOTER = '</otherdata>';

function el(indent: string, name: string, value: string | null): string {
  return `${indent}<${name}>${t(value ?? '')}</${name}>\n`;
}

function deps(tag: string, list: RepodataDep[], isRequires: boolean): string {
  if (!list.length) return '';
  let s = `    <rpm:${tag}>\n`;
  for (const d of list) {
    s += `      <rpm:entry name="${a(d.name)}"`;
    if (d.flags) {
      s += ` flags="${d.flags}"`;
      if (d.epoch) s += ` epoch="${a(d.epoch)}"`;
      if (d.version) s += ` ver="${a(d.version)}"`;
      if (d.release) s += ` rel="${a(d.release)}"`;
    }
    if (isRequires && d.pre) s += ' pre="1"';
    s += '/>\n';
  }
  return `${s}    </rpm:${tag}>\n`;
}

function versionLine(p: RepodataPackage): string {
  return `  <version epoch="${a(p.epoch)}" ver="${a(p.version)}" rel="${a(p.release)}"/>\n`;
}

function fileLines(p: RepodataPackage, primary: boolean, indent: string): string {
  let s = '';
  for (const f of p.files) {
    if (primary && !isPrimaryFile(f.path)) continue;
    s += f.type === 'file' ? `${indent}<file>${t(f.path)}</file>\n` : `${indent}<file type="${f.type}">${t(f.path)}</file>\n`;
  }
  return s;
}

/** The `<package type="rpm">…</package>\n` entry of primary.xml. */
export function dumpPrimaryPackage(p: RepodataPackage): string {
  let s = '<package type="rpm">\n';
  s += el('  ', 'name', p.name);
  s += el('  ', 'arch', p.arch);
  s += versionLine(p);
  s += `  <checksum type="${a(p.checksumType)}" pkgid="YES">${t(p.pkgid)}</checksum>\n`;
  s += el('  ', 'summary', p.summary);
  s += el('  ', 'description', p.description);
  s += el('  ', 'packager', p.packager);
  s += el('  ', 'url', p.url);
  s += `  <time file="${p.timeFile}" build="${p.timeBuild}"/>\n`;
  s += `  <size package="${p.sizePackage}" installed="${p.sizeInstalled}" archive="${p.sizeArchive}"/>\n`;
  const base = p.locationBase ? ` xml:base="${a(p.locationBase.startsWith('/') ? `file://${p.locationBase}` : p.locationBase)}"` : '';
  s += `  <location${base} href="${a(p.locationHref)}"/>\n`;
  s += '  <format>\n';
  s += el('    ', 'rpm:license', p.license);
  s += el('    ', 'rpm:vendor', p.vendor);
  s += el('    ', 'rpm:group', p.group);
  s += el('    ', 'rpm:buildhost', p.buildhost);
  s += el('    ', 'rpm:sourcerpm', p.sourcerpm);
  s += `    <rpm:header-range start="${p.headerStart}" end="${p.headerEnd}"/>\n`;
  s += deps('provides', p.provides, false);
  s += deps('requires', p.requires, true);
  s += deps('conflicts', p.conflicts, false);
  s += deps('obsoletes', p.obsoletes, false);
  s += deps('suggests', p.suggests, false);
  s += deps('enhances', p.enhances, false);
  s += deps('recommends', p.recommends, false);
  s += deps('supplements', p.supplements, false);
  s += fileLines(p, true, '    ');
  s += '  </format>\n</package>\n';
  return s;
}

/** The `<package pkgid= name= arch=>…</package>\n` entry of filelists.xml. */
export function dumpFilelistsPackage(p: RepodataPackage): string {
  return `<package pkgid="${a(p.pkgid)}" name="${a(p.name)}" arch="${a(p.arch)}">\n${versionLine(p)}${fileLines(p, false, '  ')}</package>\n`;
}

/** The `<package pkgid= name= arch=>…</package>\n` entry of other.xml. */
export function dumpOtherPackage(p: RepodataPackage): string {
  let s = `<package pkgid="${a(p.pkgid)}" name="${a(p.name)}" arch="${a(p.arch)}">\n${versionLine(p)}`;
  for (const c of p.changelogs) s += `  <changelog author="${a(c.author)}" date="${c.date}">${t(c.text)}</changelog>\n`;
  return `${s}</package>\n`;
}
