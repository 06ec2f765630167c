/**
 * Mapping of an RpmRecord (raw header values) to a repodata package entry, as createrepo_c's
 * cr_package_from_header does it (createrepo_c 0.17, LegacyWeakdeps build as in Debian):
 * - EVR of dependency versions split at the first ':' and the first '-' after it; epoch "0" when
 *   absent; a dependency whose epoch is not numeric is dropped;
 * - flags: the comparison bits only (EQ, LT, LE, GT, GE; none when 0 or any other combination);
 * - requires: `rpmlib(` dropped; a path that the package itself contains and that is a primary file
 *   dropped; one provided with the same name, flags and version string dropped; `pre="1"` when
 *   PREREQ, SCRIPT_PRE or SCRIPT_POST is set; a repeat of the previous same-name require with the same
 *   flags, version and pre dropped; a MISSINGOK require moved to recommends; of all `libc.so.6*`
 *   requires only the highest kept, appended last;
 * - files: full paths in header order, type dir (S_ISDIR mode) or ghost (RPMFILE_GHOST) or file;
 * - changelogs: the first `changelogLimit` header entries (header order is newest first), author
 *   trailing spaces trimmed, equal times made distinct (+1 on older entries), written oldest first.
 * A package holding a control character (< 0x20 except tab, LF, CR) in any string is refused, as
 * createrepo_c refuses it (REPODATA_CONTROL_CHARS).
 */
import { StagepushError } from '../../errors.js';
import type { RpmDep, RpmRecord } from '../rpm/types.js';
import { rpmvercmp } from './rpmvercmp.js';
import { hasControlChars } from './xml.js';

export type RepodataFlags = 'EQ' | 'LT' | 'LE' | 'GT' | 'GE';

export interface RepodataDep {
  name: string;
  flags: RepodataFlags | null;
  epoch: string | null;
  version: string | null;
  release: string | null;
  /** Only on requires: true for pre="1". */
  pre?: boolean;
}

export type RepodataFileType = 'file' | 'dir' | 'ghost';

export interface RepodataFile {
  path: string;
  type: RepodataFileType;
}

export interface RepodataChangelog {
  author: string;
  date: number;
  text: string;
}

export type ChecksumType = 'sha256' | 'sha1' | 'sha512' | 'sha384' | 'sha224' | 'md5';

/** One package entry of primary/filelists/other (createrepo_c's cr_Package). Absent strings are null. */
export interface RepodataPackage {
  pkgid: string;
  checksumType: ChecksumType | string;
  name: string;
  arch: string;
  epoch: string;
  version: string;
  release: string;
  summary: string | null;
  description: string | null;
  packager: string | null;
  url: string | null;
  timeFile: number;
  timeBuild: number;
  sizePackage: number;
  sizeInstalled: number;
  sizeArchive: number;
  locationHref: string;
  locationBase: string | null;
  license: string | null;
  vendor: string | null;
  group: string | null;
  buildhost: string | null;
  sourcerpm: string | null;
  headerStart: number;
  headerEnd: number;
  provides: RepodataDep[];
  requires: RepodataDep[];
  conflicts: RepodataDep[];
  obsoletes: RepodataDep[];
  suggests: RepodataDep[];
  enhances: RepodataDep[];
  recommends: RepodataDep[];
  supplements: RepodataDep[];
  files: RepodataFile[];
  changelogs: RepodataChangelog[];
}

/** What the caller knows about the file (not in the header). */
export interface RepodataFileInfo {
  /** Hex checksum of the whole .rpm (the pkgid). */
  pkgid: string;
  /** Its algorithm (default sha256). */
  checksumType?: ChecksumType | string;
  /** File mtime in seconds (createrepo_c's time file). */
  mtime: number;
  /** Location href, e.g. `Packages/f/foo-1-1.noarch.rpm` (see packagesHref). */
  locationHref: string;
  locationBase?: string | null;
  /** File size in bytes; default record.packageSize. */
  size?: number;
}

export interface RepodataMapOptions {
  /** Newest changelog entries kept (createrepo_c default 10); -1 keeps all. */
  changelogLimit?: number;
  /** Requires with RPMSENSE_MISSINGOK become recommends (createrepo_c built with LegacyWeakdeps, Debian's is). Default true. */
  legacyWeakdeps?: boolean;
}

export const DEFAULT_CHANGELOG_LIMIT = 10;

const RPMSENSE_LESS = 2;
const RPMSENSE_GREATER = 4;
const RPMSENSE_EQUAL = 8;
const RPMSENSE_PREREQ = 64;
const RPMSENSE_SCRIPT_PRE = 512;
const RPMSENSE_STRONG = 1 << 27;
const RPMSENSE_SCRIPT_POST = 1024;
const RPMSENSE_MISSINGOK = 1 << 19;
const RPMFILE_GHOST = 64;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** createrepo_c's cr_flag_to_str: the comparison bits, or null. */
export function flagsToString(flags: number): RepodataFlags | null {
  switch (flags & 0xf) {
    case RPMSENSE_LESS:
      return 'LT';
    case RPMSENSE_GREATER:
      return 'GT';
    case RPMSENSE_EQUAL:
      return 'EQ';
    case RPMSENSE_LESS | RPMSENSE_EQUAL:
      return 'LE';
    case RPMSENSE_GREATER | RPMSENSE_EQUAL:
      return 'GE';
    default:
      return null;
  }
}

export interface Evr {
  /** null when there was a version and its epoch is not numeric (the dependency is then dropped). */
  epoch: string | null;
  version: string | null;
  release: string | null;
}

/** C strtol's end pointer for base 10 (leading space, optional sign, digits); 0 when no digits. */
function strtolEnd(s: string): number {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  if (s[i] === '+' || s[i] === '-') i++;
  const d = i;
  while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
  return i === d ? 0 : i;
}

/** createrepo_c's cr_str_to_evr. An empty string gives all null. */
export function splitEvr(s: string): Evr {
  if (!s) return { epoch: null, version: null, release: null };
  let epoch: string | null = null;
  let bad = false;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    if (strtolEnd(s) === colon) {
      if (colon > 0) epoch = s.slice(0, colon);
    } else {
      bad = true;
    }
    rest = s.slice(colon + 1);
  }
  if (epoch === null && !bad) epoch = '0';
  const dash = rest.indexOf('-');
  if (dash >= 0) {
    const rel = rest.slice(dash + 1);
    return { epoch, version: rest.slice(0, dash), release: rel.length ? rel : null };
  }
  return { epoch, version: rest, release: null };
}

/** createrepo_c's cr_is_primary: files listed in primary.xml. */
export function isPrimaryFile(path: string): boolean {
  return path.startsWith('/etc/') || path === '/usr/lib/sendmail' || path.includes('bin/');
}

/** `Packages/<first letter, lower-cased>/<file>` (Pulp's yum distributor layout). */
export function packagesHref(filename: string): string {
  const base = filename.slice(filename.lastIndexOf('/') + 1);
  if (!base) throw new StagepushError('REPODATA_BAD_FILENAME', `package file name is empty: "${filename}"`, { field: 'filename' });
  return `Packages/${base[0]!.toLowerCase()}/${base}`;
}

/** createrepo_c's libc.so.6 name comparison: 0 same, 1 first bigger, 2 second bigger, -1 error. */
function compareLibcDep(d1: string, d2: string): number {
  if (d1 === d2) return 0;
  let v1 = d1.indexOf('(');
  let v2 = d2.indexOf('(');
  if (v1 < 0 && v2 < 0) return 0;
  if (v1 < 0) return 2;
  if (v2 < 0) return 1;
  const e1 = d1.indexOf(')', v1);
  const e2 = d2.indexOf(')', v2);
  if (e1 < 0 && e2 < 0) return -1;
  if (e1 < 0) return 2;
  if (e2 < 0) return 1;
  v1++;
  v2++;
  if (v1 === e1 && v2 === e2) return 0;
  if (v1 === e1) return 2;
  if (v2 === e2) return 1;
  while (v1 < d1.length && !(d1[v1]! >= '0' && d1[v1]! <= '9')) v1++;
  while (v2 < d2.length && !(d2[v2]! >= '0' && d2[v2]! <= '9')) v2++;
  if (v1 > e1 && v2 > e2) return 0;
  if (v1 > e1) return 2;
  if (v2 > e2) return 1;
  const r = rpmvercmp(d1.slice(v1, e1), d2.slice(v2, e2));
  return r === -1 ? 2 : r;
}

function toDep(name: string, flags: RepodataFlags | null, evr: Evr): RepodataDep {
  return { name, flags, epoch: evr.epoch, version: evr.version, release: evr.release };
}

/** Non-requires dependency lists: EVR split, bad-epoch entries dropped. */
/**
 * Weak dependencies of packages built before rpm 4.12 (OLDSUGGESTS / OLDENHANCES tags), as
 * createrepo_c with LegacyWeakdeps reads them: with RPMSENSE_STRONG they are Recommends /
 * Supplements, without it Suggests / Enhances (after the new-style ones).
 */
function oldWeak(deps: readonly RpmDep[] | undefined, strong: boolean): RpmDep[] {
  return (deps ?? []).filter((d) => Boolean(d.flags & RPMSENSE_STRONG) === strong);
}

function mapPlain(deps: readonly RpmDep[]): RepodataDep[] {
  const out: RepodataDep[] = [];
  for (const d of deps) {
    const evr = splitEvr(d.version);
    if (d.version && evr.epoch === null) continue;
    out.push(toDep(d.name, flagsToString(d.flags), evr));
  }
  return out;
}

function str(v: string | null | undefined): string | null {
  return v === undefined ? null : v;
}

export function toRepodataPackage(record: RpmRecord, file: RepodataFileInfo, opts: RepodataMapOptions = {}): RepodataPackage {
  const changelogLimit = opts.changelogLimit ?? DEFAULT_CHANGELOG_LIMIT;
  const legacyWeakdeps = opts.legacyWeakdeps ?? true;

  // Files
  const f = record.files;
  const files: RepodataFile[] = [];
  const n = Math.min(f.basenames.length, f.dirindexes.length, f.modes.length, f.flags.length);
  for (let i = 0; i < n; i++) {
    const dir = f.dirnames.length ? f.dirnames[f.dirindexes[i]!] : '';
    if (dir === undefined) {
      throw new StagepushError('REPODATA_BAD_RECORD', `${record.name}: file ${f.basenames[i]} has directory index ${f.dirindexes[i]} out of range`, { field: 'files.dirindexes' });
    }
    const path = dir + f.basenames[i]!;
    const type: RepodataFileType = (f.modes[i]! & S_IFMT) === S_IFDIR ? 'dir' : f.flags[i]! & RPMFILE_GHOST ? 'ghost' : 'file';
    files.push({ path, type });
  }
  // The package's own primary files, built on the first absolute-path require that needs it.
  let ownPrimary: Set<string> | null = null;
  const ownsPrimary = (name: string): boolean => {
    if (!isPrimaryFile(name)) return false;
    if (!ownPrimary) {
      ownPrimary = new Set();
      for (const x of files) if (isPrimaryFile(x.path)) ownPrimary.add(x.path);
    }
    return ownPrimary.has(name);
  };

  // Provides first (their name+flags+version feed the requires filter)
  const provided = new Set<string>();
  for (const d of record.provides) provided.add(d.name + (flagsToString(d.flags) ?? '') + d.version);
  const provides = mapPlain(record.provides);

  const requires: RepodataDep[] = [];
  const missingOk: RepodataDep[] = [];
  const seen = new Map<string, { flags: string | null; version: string; pre: boolean }>();
  let libcHighest: RepodataDep | null = null;
  for (const d of record.requires) {
    const name = d.name;
    const flags = flagsToString(d.flags);
    const version = d.version ?? '';
    if (name.startsWith('rpmlib(')) continue;
    if (name.startsWith('/') && ownsPrimary(name)) continue;
    if (provided.has(name + (flags ?? '') + version)) continue;
    const pre = (d.flags & (RPMSENSE_PREREQ | RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST)) !== 0;
    const prev = seen.get(name);
    if (prev && prev.flags === flags && prev.version === version && prev.pre === pre) continue;
    const evr = splitEvr(version);
    if (version && evr.epoch === null) continue;
    const dep = toDep(name, flags, evr);
    if (legacyWeakdeps && d.flags & RPMSENSE_MISSINGOK) {
      missingOk.push(dep);
      continue;
    }
    dep.pre = pre;
    if (name.startsWith('libc.so.6')) {
      if (!libcHighest || compareLibcDep(libcHighest.name, name) === 2) libcHighest = dep;
      continue;
    }
    requires.push(dep);
    seen.set(name, { flags, version, pre });
  }
  if (libcHighest) requires.push(libcHighest);

  // Changelogs
  const picked: RepodataChangelog[] = [];
  let lastTime = 0;
  for (const c of record.changelogs) {
    if (!(changelogLimit > 0 || changelogLimit === -1) || (changelogLimit > 0 && picked.length >= changelogLimit)) break;
    let author = c.author;
    if (author) {
      let end = author.length;
      while (end > 1 && author[end - 1] === ' ') end--;
      author = author.slice(0, end);
    }
    const entry: RepodataChangelog = { author, date: c.time, text: c.text };
    if (lastTime === c.time) {
      let t = c.time;
      for (let k = picked.length - 1; k >= 0 && picked[k]!.date === t; k--) {
        picked[k]!.date++;
        t++;
      }
    } else {
      lastTime = c.time;
    }
    picked.push(entry);
  }
  picked.reverse();

  const pkg: RepodataPackage = {
    pkgid: file.pkgid,
    checksumType: file.checksumType ?? 'sha256',
    name: record.name,
    arch: record.isSource ? 'src' : record.arch,
    epoch: String(record.epoch ?? 0),
    version: record.version,
    release: record.release,
    summary: str(record.summary),
    description: str(record.description),
    packager: str(record.packager),
    url: str(record.url),
    timeFile: file.mtime,
    timeBuild: record.buildTime,
    sizePackage: file.size ?? record.packageSize,
    sizeInstalled: record.installedSize,
    sizeArchive: record.archiveSize,
    locationHref: file.locationHref,
    locationBase: file.locationBase ?? null,
    license: str(record.license),
    vendor: str(record.vendor),
    group: str(record.group),
    buildhost: str(record.buildHost),
    sourcerpm: str(record.sourceRpm),
    headerStart: record.headerStart,
    headerEnd: record.headerEnd,
    provides,
    requires,
    conflicts: mapPlain(record.conflicts),
    obsoletes: mapPlain(record.obsoletes),
    suggests: [...mapPlain(record.suggests), ...(legacyWeakdeps ? mapPlain(oldWeak(record.oldSuggests, false)) : [])],
    enhances: [...mapPlain(record.enhances), ...(legacyWeakdeps ? mapPlain(oldWeak(record.oldEnhances, false)) : [])],
    recommends: [...missingOk, ...mapPlain(record.recommends), ...(legacyWeakdeps ? mapPlain(oldWeak(record.oldSuggests, true)) : [])],
    supplements: [...mapPlain(record.supplements), ...(legacyWeakdeps ? mapPlain(oldWeak(record.oldEnhances, true)) : [])],
    files,
    changelogs: picked,
  };
  checkControlChars(pkg);
  return pkg;
}

const PKG_STRING_FIELDS = [
  'name', 'arch', 'version', 'epoch', 'release', 'summary', 'description', 'url', 'license', 'vendor',
  'group', 'buildhost', 'sourcerpm', 'packager', 'locationHref', 'locationBase',
] as const;
const DEP_LISTS = ['requires', 'provides', 'conflicts', 'obsoletes', 'suggests', 'enhances', 'recommends', 'supplements'] as const;

/**
 * The field of a header record that holds a control character createrepo_c refuses when it
 * publishes the package with this changelog limit (the entries beyond it are not written, so not
 * checked), or null: what an importer checks before a package enters a repository.
 */
export function controlCharsField(record: RpmRecord, changelogLimit = DEFAULT_CHANGELOG_LIMIT): string | null {
  try {
    toRepodataPackage(record, { pkgid: '', checksumType: 'sha256', mtime: 0, locationHref: '', size: 0 }, { changelogLimit });
    return null;
  } catch (e) {
    if (e instanceof StagepushError && e.code === 'REPODATA_CONTROL_CHARS') return e.field ?? 'header';
    throw e;
  }
}

/** The newest changelog entry holding a control character (0: the newest, header order), or null. */
export function controlCharsChangelog(record: RpmRecord): number | null {
  const i = record.changelogs.findIndex((c) => hasControlChars(c.author) || hasControlChars(c.text));
  return i < 0 ? null : i;
}

/**
 * Whether a header record's JSON text (JSON.stringify's) may hold a control character: its
 * escapes \u0000–\u001f, \b or \f (tab, LF, CR are allowed). A cheap test before controlCharsField.
 */
export function jsonMayHoldControlChars(json: string): boolean {
  return /\\u00[01]|\\[bf]/.test(json);
}

/** Refuse a package createrepo_c would refuse ("Forbidden control chars found"). */
export function checkControlChars(pkg: RepodataPackage): void {
  const fail = (field: string): never => {
    throw new StagepushError(
      'REPODATA_CONTROL_CHARS',
      `package ${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch} (${pkg.locationHref}): ${field} holds a control character (below 0x20 other than tab, LF, CR); createrepo_c refuses such packages`,
      { field, entry: pkg.locationHref },
    );
  };
  for (const k of PKG_STRING_FIELDS) {
    const v = pkg[k];
    if (v && hasControlChars(v)) fail(k);
  }
  for (const list of DEP_LISTS) {
    pkg[list].forEach((d, i) => {
      if (hasControlChars(d.name) || (d.epoch && hasControlChars(d.epoch)) || (d.version && hasControlChars(d.version)) || (d.release && hasControlChars(d.release))) {
        fail(`${list}[${i}]`);
      }
    });
  }
  pkg.files.forEach((f, i) => {
    if (hasControlChars(f.path)) fail(`files[${i}]`);
  });
  pkg.changelogs.forEach((c, i) => {
    if (hasControlChars(c.author) || hasControlChars(c.text)) fail(`changelogs[${i}]`);
  });
}
