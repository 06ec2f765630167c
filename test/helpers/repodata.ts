/**
 * Test helpers of the repodata codecs: an RpmRecord built from `rpm -qp --qf` (independent of our
 * own reader), the header byte range as createrepo_c computes it, and createrepo_c runs.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { RPM_RECORD_VERSION, type RpmDep, type RpmRecord } from '../../src/formats/rpm/types.js';

const US = '\u001f';
const RS = '\u001e';

const SCALARS = [
  'NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'SOURCEPACKAGE', 'SUMMARY', 'DESCRIPTION', 'PACKAGER', 'URL', 'BUILDTIME',
  'LICENSE', 'VENDOR', 'GROUP', 'BUILDHOST', 'SOURCERPM', 'LONGSIZE', 'LONGARCHIVESIZE',
] as const;
const ARRAYS = [
  'PROVIDENAME', 'PROVIDEFLAGS', 'PROVIDEVERSION', 'REQUIRENAME', 'REQUIREFLAGS', 'REQUIREVERSION',
  'CONFLICTNAME', 'CONFLICTFLAGS', 'CONFLICTVERSION', 'OBSOLETENAME', 'OBSOLETEFLAGS', 'OBSOLETEVERSION',
  'RECOMMENDNAME', 'RECOMMENDFLAGS', 'RECOMMENDVERSION', 'SUGGESTNAME', 'SUGGESTFLAGS', 'SUGGESTVERSION',
  'SUPPLEMENTNAME', 'SUPPLEMENTFLAGS', 'SUPPLEMENTVERSION', 'ENHANCENAME', 'ENHANCEFLAGS', 'ENHANCEVERSION',
  'BASENAMES', 'DIRNAMES', 'DIRINDEXES', 'FILEMODES', 'FILEFLAGS', 'CHANGELOGTIME', 'CHANGELOGNAME', 'CHANGELOGTEXT',
] as const;

/** createrepo_c's cr_get_header_byte_range. */
export function headerRange(buf: Buffer): { start: number; end: number } {
  const sigIndex = buf.readUInt32BE(104);
  const sigData = buf.readUInt32BE(108);
  const sigSize = sigData + sigIndex * 16;
  const pad = sigSize % 8 ? 8 - (sigSize % 8) : 0;
  const start = 112 + sigSize + pad;
  const hIndex = buf.readUInt32BE(start + 8);
  const hData = buf.readUInt32BE(start + 12);
  return { start, end: start + hData + hIndex * 16 + 16 };
}

/** An RpmRecord of `file` as rpm itself reports the header (no signature info). */
export function recordFromRpmQuery(file: string): RpmRecord {
  const qf = SCALARS.map((t) => `%{${t}}`).join(RS) + RS + ARRAYS.map((t) => `[%{${t}}${US}]`).join(RS);
  const r = spawnSync('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', qf, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`rpm -qp ${file} failed: ${r.stderr}`);
  const parts = r.stdout.split(RS);
  const sc: Record<string, string | null> = {};
  SCALARS.forEach((t, i) => {
    const v = parts[i]!;
    sc[t] = v === '(none)' ? null : v;
  });
  const ar: Record<string, string[]> = {};
  ARRAYS.forEach((t, i) => {
    const v = parts[SCALARS.length + i]!;
    ar[t] = v === '' ? [] : v.split(US).slice(0, -1);
  });
  const deps = (p: string): RpmDep[] => ar[`${p}NAME`]!.map((name, i) => ({ name, flags: Number(ar[`${p}FLAGS`]![i]), version: ar[`${p}VERSION`]![i] ?? '' }));
  const buf = readFileSync(file);
  const range = headerRange(buf);
  const isSource = sc['SOURCEPACKAGE'] !== null;
  return {
    recordVersion: RPM_RECORD_VERSION,
    name: sc['NAME']!,
    epoch: sc['EPOCH'] === null ? null : Number(sc['EPOCH']),
    version: sc['VERSION']!,
    release: sc['RELEASE']!,
    arch: isSource ? 'src' : sc['ARCH']!,
    headerArch: sc['ARCH']!,
    isSource,
    summary: sc['SUMMARY'] ?? '',
    description: sc['DESCRIPTION'] ?? '',
    packager: sc['PACKAGER'],
    url: sc['URL'],
    buildTime: Number(sc['BUILDTIME']),
    license: sc['LICENSE'],
    vendor: sc['VENDOR'],
    group: sc['GROUP'],
    buildHost: sc['BUILDHOST'],
    sourceRpm: sc['SOURCERPM'],
    headerStart: range.start,
    headerEnd: range.end,
    packageSize: buf.length,
    installedSize: Number(sc['LONGSIZE'] ?? 0),
    archiveSize: Number(sc['LONGARCHIVESIZE'] ?? 0),
    provides: deps('PROVIDE'),
    requires: deps('REQUIRE'),
    conflicts: deps('CONFLICT'),
    obsoletes: deps('OBSOLETE'),
    recommends: deps('RECOMMEND'),
    suggests: deps('SUGGEST'),
    supplements: deps('SUPPLEMENT'),
    enhances: deps('ENHANCE'),
    files: {
      basenames: ar['BASENAMES']!,
      dirnames: ar['DIRNAMES']!,
      dirindexes: ar['DIRINDEXES']!.map(Number),
      modes: ar['FILEMODES']!.map((m) => Number(m) & 0xffff),
      flags: ar['FILEFLAGS']!.map(Number),
    },
    changelogs: ar['CHANGELOGTIME']!.map((t, i) => ({ time: Number(t), author: ar['CHANGELOGNAME']![i]!, text: ar['CHANGELOGTEXT']![i]! })),
    signatures: [],
    signingKey: null,
  } as RpmRecord;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function mtimeSeconds(file: string): number {
  return Math.floor(statSync(file).mtimeMs / 1000);
}

/** Run a command, throwing with its stderr on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
