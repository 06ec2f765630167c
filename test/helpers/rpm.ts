/**
 * RPM fixtures for tests (built by fixtures/rpms/build.sh into FIXTURES_BUILD/rpms) and the
 * `rpm -qp --qf` oracle with the committed query format test/formats/rpm/record.qf.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  assembleRpm,
  encodeHeader,
  parseHeaders,
  rawEntriesFrom,
  RPMSENSE,
  SIGTAG,
  TAG,
  type RpmDep,
  type RpmRecord,
} from '../../src/formats/rpm/index.js';
import { FIXTURES_BUILD, ROOT } from './cli.js';

export const RPM_FIXTURES = path.join(FIXTURES_BUILD, 'rpms');

export interface RpmFixtureKey {
  name: string;
  file: string;
  keyId: string;
  longKeyId: string;
  algorithm: string;
}

export interface RpmFixture {
  name: string;
  /** Absolute path. */
  file: string;
  /** Key name in `keys` (null: unsigned). */
  key: string | null;
  demonstrates?: string;
  nevra?: string;
}

export interface RpmFixtureMatrix {
  dir: string;
  keys: Record<string, RpmFixtureKey>;
  /** The named matrix (all in `dir/matrix`). */
  packages: RpmFixture[];
  /** hello-1.0-1.noarch, hello-1.1-1.noarch (signed by `rsa`), world-1.0-1.noarch (unsigned). */
  install: RpmFixture[];
}

/** The fixture matrix (paths made absolute). */
export function rpmFixtures(): RpmFixtureMatrix {
  const m = JSON.parse(readFileSync(path.join(RPM_FIXTURES, 'matrix.json'), 'utf8'));
  const fix = (name: string, v: any): RpmFixture => ({ ...v, name, file: path.join(RPM_FIXTURES, v.file) });
  const keys: Record<string, RpmFixtureKey> = {};
  for (const [k, v] of Object.entries<any>(m.keys)) keys[k] = { ...v, name: k, file: path.join(RPM_FIXTURES, v.file) };
  return {
    dir: RPM_FIXTURES,
    keys,
    packages: Object.entries<any>(m.packages).map(([k, v]) => fix(k, v)),
    install: Object.entries<any>(m.install).map(([k, v]) => fix(k, v)),
  };
}

export const RECORD_QF = path.join(ROOT, 'test', 'formats', 'rpm', 'record.qf');

/** One line of the query output: a key and its ⟦…⟧ fields. */
export interface QfLine {
  key: string;
  fields: string[];
}

/** Parse the output of record.qf: lines `KEY:⟦a⟧⟦b⟧…` (fields may span lines). */
export function parseQfOutput(out: string): QfLine[] {
  const lines: QfLine[] = [];
  let p = 0;
  while (p < out.length) {
    const colon = out.indexOf(':', p);
    if (colon < 0) throw new Error(`bad qf output at ${p}: ${JSON.stringify(out.slice(p, p + 80))}`);
    const key = out.slice(p, colon);
    if (!/^[A-Z]+$/.test(key)) throw new Error(`bad qf key ${JSON.stringify(key)} at ${p}`);
    p = colon + 1;
    const fields: string[] = [];
    while (out.startsWith('⟦', p)) {
      const end = out.indexOf('⟧', p);
      if (end < 0) throw new Error(`unterminated field at ${p}`);
      fields.push(out.slice(p + 1, end));
      p = end + 1;
    }
    if (out[p] !== '\n') throw new Error(`expected newline at ${p}: ${JSON.stringify(out.slice(p, p + 40))}`);
    p++;
    lines.push({ key, fields });
  }
  return lines;
}

/** `rpm -qp --qf record.qf FILE`, parsed (LC_ALL=C: the C locale of i18n strings). */
export function queryRpm(file: string): QfLine[] {
  // The file ends with a newline after the last array: not part of the format.
  const qf = readFileSync(RECORD_QF, 'utf8').replace(/\n$/, '');
  const r = spawnSync('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', qf, file], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`rpm -qp failed on ${file}: ${r.stderr}`);
  return parseQfOutput(r.stdout);
}

/** Scalar lines of a query as a map (value of the first field). */
export function qfScalars(lines: QfLine[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of lines) if (!m.has(l.key)) m.set(l.key, l.fields);
  return m;
}

const none = (s: string): string | null => (s === '(none)' ? null : s);

/** Compare every record field with `rpm -qp --qf record.qf`. */
export function assertRecordMatchesRpm(rec: RpmRecord, lines: QfLine[], label: string): void {
  const s = qfScalars(lines);
  const one = (k: string): string => {
    const v = s.get(k);
    assert.ok(v, `${label}: rpm printed no ${k}`);
    return v[0];
  };
  assert.equal(rec.name, one('NAME'), `${label}: name`);
  assert.equal(rec.epoch, none(one('EPOCH')) === null ? null : Number(one('EPOCH')), `${label}: epoch`);
  assert.equal(rec.version, one('VERSION'), `${label}: version`);
  assert.equal(rec.release, one('RELEASE'), `${label}: release`);
  const isSource = one('SOURCEPACKAGE') === '1';
  assert.equal(rec.isSource, isSource, `${label}: isSource`);
  assert.equal(rec.headerArch, one('ARCH'), `${label}: headerArch`);
  assert.equal(rec.arch, isSource ? 'src' : one('ARCH'), `${label}: arch`);
  assert.equal(rec.summary, one('SUMMARY'), `${label}: summary`);
  assert.equal(rec.description, one('DESCRIPTION'), `${label}: description`);
  assert.equal(rec.packager, none(one('PACKAGER')), `${label}: packager`);
  assert.equal(rec.url, none(one('URL')), `${label}: url`);
  assert.equal(rec.buildTime, Number(one('BUILDTIME')), `${label}: buildTime`);
  assert.equal(rec.license, none(one('LICENSE')), `${label}: license`);
  assert.equal(rec.vendor, none(one('VENDOR')), `${label}: vendor`);
  assert.equal(rec.group, none(one('GROUP')), `${label}: group`);
  assert.equal(rec.buildHost, none(one('BUILDHOST')), `${label}: buildHost`);
  assert.equal(rec.sourceRpm, none(one('SOURCERPM')), `${label}: sourceRpm`);
  assert.equal(rec.modularityLabel, none(one('MODULARITYLABEL')), `${label}: modularityLabel`);
  assert.equal(rec.installedSize, Number(one('LONGSIZE')), `${label}: installedSize`);
  assert.equal(rec.archiveSize, Number(one('LONGARCHIVESIZE')), `${label}: archiveSize`);

  // Signatures: RSAHEADER, DSAHEADER, PGP, GPG in that order.
  const sigs = s.get('SIGS')!;
  const tags = ['RSAHEADER', 'DSAHEADER', 'PGP', 'GPG'] as const;
  tags.forEach((tag, i) => {
    const ours = rec.signatures.filter((x) => x.tag === tag);
    if (sigs[i] === '(none)') {
      assert.equal(ours.length, 0, `${label}: rpm sees no ${tag}`);
    } else {
      const m = /Key ID ([0-9a-f]{16})$/.exec(sigs[i]);
      assert.ok(m, `${label}: ${tag} pgpsig ${sigs[i]}`);
      assert.equal(ours.length, 1, `${label}: one ${tag} signature`);
      assert.equal(ours[0].longKeyId, m[1].toUpperCase(), `${label}: ${tag} key id`);
      assert.equal(ours[0].keyId, m[1].slice(8).toUpperCase(), `${label}: ${tag} short key id`);
      assert.ok(sigs[i].startsWith(ours[0].pubkeyAlgo === 1 ? 'RSA/' : ours[0].pubkeyAlgo === 22 ? 'EdDSA/' : 'DSA/'), `${label}: ${tag} algorithm ${sigs[i]}`);
    }
  });

  const deps = (key: string, ours: RpmDep[]): void => {
    const theirs = lines.filter((l) => l.key === key);
    assert.deepEqual(
      ours.map((d) => [d.name, String(d.flags), d.version]),
      theirs.map((l) => l.fields.slice(0, 3)),
      `${label}: ${key}`,
    );
    // The pre/post bits as rpm's deptype formatter reads them.
    theirs.forEach((l, i) => {
      const types = l.fields[3].split(',');
      assert.equal(types.includes('pre'), (ours[i].flags & RPMSENSE.SCRIPT_PRE) !== 0, `${label}: ${key} ${ours[i].name} pre bit`);
      assert.equal(types.includes('post'), (ours[i].flags & RPMSENSE.SCRIPT_POST) !== 0, `${label}: ${key} ${ours[i].name} post bit`);
    });
  };
  deps('PROVIDES', rec.provides);
  deps('REQUIRES', rec.requires);
  deps('CONFLICTS', rec.conflicts);
  deps('OBSOLETES', rec.obsoletes);
  deps('RECOMMENDS', rec.recommends);
  deps('SUGGESTS', rec.suggests);
  deps('SUPPLEMENTS', rec.supplements);
  deps('ENHANCES', rec.enhances);
  deps('OLDSUGGESTS', rec.oldSuggests ?? []);
  deps('OLDENHANCES', rec.oldEnhances ?? []);

  const files = lines.filter((l) => l.key === 'FILE');
  assert.deepEqual(rec.files.basenames, files.map((l) => l.fields[0]), `${label}: basenames`);
  assert.deepEqual(rec.files.dirindexes.map(String), files.map((l) => l.fields[1]), `${label}: dirindexes`);
  assert.deepEqual(rec.files.modes.map(String), files.map((l) => l.fields[2]), `${label}: modes`);
  assert.deepEqual(rec.files.flags.map(String), files.map((l) => l.fields[3]), `${label}: flags`);
  assert.deepEqual(rec.files.dirnames, lines.filter((l) => l.key === 'DIR').map((l) => l.fields[0]), `${label}: dirnames`);
  assert.deepEqual(
    rec.changelogs.map((c) => [String(c.time), c.author, c.text]),
    lines.filter((l) => l.key === 'CHANGELOG').map((l) => l.fields),
    `${label}: changelogs`,
  );
}


/**
 * Write a copy of the matrix's `signed-v4` package whose signature header also carries the
 * `signed-ed25519` package's DSAHEADER: two different keys (the reader gives RPM_MULTIPLE_KEYS,
 * pushsource raises "More than one key found"). Returns the two short key ids.
 */
export function writeTwoKeyRpm(outFile: string): { keyIds: [string, string] } {
  const fx = rpmFixtures();
  const file = (n: string) => fx.packages.find((p) => p.name === n)!.file;
  const rsaData = readFileSync(file('signed-v4'));
  const rsa = parseHeaders(rsaData);
  const ed = parseHeaders(readFileSync(file('signed-ed25519')));
  const sig = encodeHeader([...rawEntriesFrom(rsa.signature), rawEntriesFrom(ed.signature).find((e) => e.tag === SIGTAG.DSAHEADER)!], TAG.HEADERSIGNATURES);
  const { headerStart, headerEnd } = rsa.layout;
  writeFileSync(outFile, assembleRpm(rsaData.subarray(0, 96), sig, rsaData.subarray(headerStart, headerEnd), rsaData.subarray(headerEnd)));
  return { keyIds: [fx.keys.rsa.keyId, fx.keys.ed25519.keyId] };
}

/** Broken packages for error-path tests: name → what the reader reports. */
export function writeBrokenRpms(dir: string): Array<{ file: string; code: string }> {
  const fx = rpmFixtures();
  const data = readFileSync(fx.packages.find((p) => p.name === 'unsigned')!.file);
  const { layout } = parseHeaders(data);
  const out: Array<{ file: string; code: string; data: Buffer }> = [
    { file: path.join(dir, 'truncated-1.0-1.noarch.rpm'), code: 'RPM_TRUNCATED', data: data.subarray(0, layout.headerEnd - 10) },
    { file: path.join(dir, 'not-an-rpm-1.0-1.noarch.rpm'), code: 'RPM_BAD_MAGIC', data: Buffer.from('this is not an rpm\n'.repeat(10)) },
    { file: path.join(dir, 'empty-1.0-1.noarch.rpm'), code: 'RPM_TRUNCATED', data: Buffer.alloc(0) },
  ];
  for (const o of out) writeFileSync(o.file, o.data);
  return out.map(({ file, code }) => ({ file, code }));
}
