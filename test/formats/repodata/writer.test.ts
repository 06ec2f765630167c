import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  RepodataWriter,
  dumpPrimaryPackage,
  splitEvr,
  flagsToString,
  isPrimaryFile,
  packagesHref,
  toRepodataPackage,
  controlCharsField,
  controlCharsChangelog,
  jsonMayHoldControlChars,
  rpmvercmp,
  escapeAttr,
  escapeText,
  latin1ToUtf8,
  type RepodataPackage,
} from '../../../src/formats/repodata/index.js';
import { RPM_RECORD_VERSION, type RpmRecord } from '../../../src/formats/rpm/types.js';
import { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';

function record(over: Partial<RpmRecord> = {}): RpmRecord {
  return {
    recordVersion: RPM_RECORD_VERSION,
    name: 'foo',
    epoch: null,
    version: '1.0',
    release: '1',
    arch: 'noarch',
    isSource: false,
    summary: 's',
    description: 'd',
    packager: null,
    url: null,
    buildTime: 1700000000,
    license: 'MIT',
    vendor: null,
    group: 'Unspecified',
    buildHost: 'h',
    sourceRpm: 'foo-1.0-1.src.rpm',
    headerStart: 4504,
    headerEnd: 5000,
    packageSize: 6000,
    installedSize: 10,
    archiveSize: 124,
    provides: [{ name: 'foo', flags: 8, version: '1.0-1' }],
    requires: [],
    conflicts: [],
    obsoletes: [],
    recommends: [],
    suggests: [],
    supplements: [],
    enhances: [],
    files: { basenames: [], dirnames: [], dirindexes: [], modes: [], flags: [] },
    changelogs: [],
    signatures: [],
    signingKey: null,
    ...over,
  } as RpmRecord;
}

const FILE = { pkgid: 'a'.repeat(64), mtime: 1700000001, locationHref: 'Packages/f/foo-1.0-1.noarch.rpm' };

test('EVR splitting, flags and primary files as createrepo_c', () => {
  assert.deepEqual(splitEvr(''), { epoch: null, version: null, release: null });
  assert.deepEqual(splitEvr('1.0'), { epoch: '0', version: '1.0', release: null });
  assert.deepEqual(splitEvr('2:1.0-3.el9'), { epoch: '2', version: '1.0', release: '3.el9' });
  assert.deepEqual(splitEvr('1.0-3-4'), { epoch: '0', version: '1.0', release: '3-4' });
  assert.deepEqual(splitEvr('1.0-'), { epoch: '0', version: '1.0', release: null });
  assert.deepEqual(splitEvr(':1.0'), { epoch: '0', version: '1.0', release: null });
  assert.equal(splitEvr('x:1.0').epoch, null);
  assert.equal(flagsToString(8), 'EQ');
  assert.equal(flagsToString(12 | 0x1000000), 'GE');
  assert.equal(flagsToString(10), 'LE');
  assert.equal(flagsToString(0), null);
  assert.equal(flagsToString(6), null);
  assert.ok(isPrimaryFile('/etc/x'));
  assert.ok(isPrimaryFile('/opt/x/sbin/y'));
  assert.ok(isPrimaryFile('/usr/lib/sendmail'));
  assert.ok(!isPrimaryFile('/etc'));
  assert.ok(!isPrimaryFile('/usr/lib/sendmail.d'));
  assert.equal(packagesHref('/x/Zed-1-1.noarch.rpm'), 'Packages/z/Zed-1-1.noarch.rpm');
});

test('rpmvercmp', () => {
  assert.equal(rpmvercmp('1.0', '1.0'), 0);
  assert.equal(rpmvercmp('1.0', '1.1'), -1);
  assert.equal(rpmvercmp('2.14', '2.2.5'), 1);
  assert.equal(rpmvercmp('1.0~rc1', '1.0'), -1);
  assert.equal(rpmvercmp('1.0^post', '1.0'), 1);
  assert.equal(rpmvercmp('1.0a', '1.0'), 1);
  assert.equal(rpmvercmp('010', '10'), 0);
  assert.equal(rpmvercmp('a', '1'), -1);
});

test('XML escaping as libxml2 and latin1 conversion as createrepo_c', () => {
  assert.equal(escapeText('a&b<c>d"e\r\n\tü'), 'a&amp;b&lt;c&gt;d"e&#13;\n\tü');
  assert.equal(escapeAttr('a&b<c>d"e\r\n\tü😀'), 'a&amp;b&lt;c&gt;d&quot;e&#13;&#10;&#9;&#xFC;&#x1F600;');
  assert.equal(latin1ToUtf8(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x85, 0x01, 0x09])), 'café\t');
});

test('requires filtering, pre bits, weak deps, libc and changelog limit', () => {
  const pkg = toRepodataPackage(
    record({
      provides: [
        { name: 'foo', flags: 8, version: '1.0-1' },
        { name: 'cap', flags: 8, version: '2' },
      ],
      requires: [
        { name: '/etc/foo.conf', flags: 0, version: '' },
        { name: '/opt/foo/data', flags: 0, version: '' },
        { name: '/usr/bin/other', flags: 0, version: '' },
        { name: 'cap', flags: 8, version: '2' },
        { name: 'cap', flags: 12, version: '1' },
        { name: 'libc.so.6(GLIBC_2.2.5)(64bit)', flags: 0, version: '' },
        { name: 'libc.so.6(GLIBC_2.14)(64bit)', flags: 0, version: '' },
        { name: 'libc.so.6()(64bit)', flags: 0, version: '' },
        { name: 'opt', flags: 1 << 19, version: '' },
        { name: 'rpmlib(PayloadIsZstd)', flags: 16777226, version: '5.4.18-1' },
        { name: 'sh', flags: 512, version: '' },
        { name: 'sh', flags: 1024, version: '' },
        { name: 'sh', flags: 2048, version: '' },
        { name: 'x', flags: 64 | 12, version: '3:1-2' },
      ],
      recommends: [{ name: 'rec', flags: 0, version: '' }],
      files: {
        basenames: ['foo.conf', 'foo', 'data', 'log'],
        dirnames: ['/etc/', '/opt/', '/opt/foo/', '/var/'],
        dirindexes: [0, 1, 2, 3],
        modes: [0o100644, 0o40755, 0o100644, 0o100644],
        flags: [1, 0, 0, 64],
      },
      changelogs: Array.from({ length: 12 }, (_, i) => ({ time: i < 3 ? 100 : 100 - i, author: `A${i}  `, text: `t${i}` })),
    }),
    FILE,
  );
  assert.deepEqual(
    pkg.requires.map((d) => [d.name, d.flags, d.epoch, d.version, d.release, d.pre]),
    [
      ['/opt/foo/data', null, null, null, null, false],
      ['/usr/bin/other', null, null, null, null, false],
      ['cap', 'GE', '0', '1', null, false],
      ['sh', null, null, null, null, true],
      ['sh', null, null, null, null, false],
      ['x', 'GE', '3', '1', '2', true],
      ['libc.so.6(GLIBC_2.14)(64bit)', null, null, null, null, false],
    ],
  );
  assert.deepEqual(pkg.recommends.map((d) => d.name), ['opt', 'rec']);
  assert.deepEqual(pkg.files, [
    { path: '/etc/foo.conf', type: 'file' },
    { path: '/opt/foo', type: 'dir' },
    { path: '/opt/foo/data', type: 'file' },
    { path: '/var/log', type: 'ghost' },
  ]);
  // 10 newest of 12, oldest first; the three equal times made distinct (+2, +1, +0)
  assert.deepEqual(
    pkg.changelogs.map((c) => [c.author, c.date, c.text]),
    [
      ['A9', 91, 't9'],
      ['A8', 92, 't8'],
      ['A7', 93, 't7'],
      ['A6', 94, 't6'],
      ['A5', 95, 't5'],
      ['A4', 96, 't4'],
      ['A3', 97, 't3'],
      ['A2', 100, 't2'],
      ['A1', 101, 't1'],
      ['A0', 102, 't0'],
    ],
  );
  assert.equal(toRepodataPackage(record({ changelogs: [{ time: 1, author: 'a', text: 'b' }] }), FILE, { changelogLimit: 0 }).changelogs.length, 0);
  const xml = dumpPrimaryPackage(pkg);
  assert.match(xml, /<rpm:entry name="x" flags="GE" epoch="3" ver="1" rel="2" pre="1"\/>/);
  assert.match(xml, /<file>\/etc\/foo.conf<\/file>\n {2}<\/format>/);
  assert.doesNotMatch(xml, /opt\/foo\/data<\/file>/);
});

test('a control character refuses the package with a coded error', () => {
  assert.throws(
    () => toRepodataPackage(record({ description: 'bad \u0001 char' }), FILE),
    (e: unknown) => e instanceof StagepushError && e.code === 'REPODATA_CONTROL_CHARS' && e.field === 'description',
  );
});

test('controlCharsField names the field an importer refuses, with the changelog entries a repository publishes; the JSON pre-test never misses one', () => {
  assert.equal(controlCharsField(record()), null);
  assert.equal(controlCharsField(record({ summary: 'a\u001fb' })), 'summary');
  const changelogs = Array.from({ length: 12 }, (_, i) => ({ time: 100 - i, author: 'a', text: i === 11 ? 'old \u0008 entry' : 't' }));
  // Beyond the changelog limit it is not written, so not refused (createrepo_c checks what it writes).
  assert.equal(controlCharsField(record({ changelogs })), null);
  assert.equal(controlCharsChangelog(record({ changelogs })), 11);
  // All of them written: the oldest entry (last in the header) is the first one published.
  assert.equal(controlCharsField(record({ changelogs }), -1), 'changelogs[0]');
  for (let c = 0; c < 0x20; c++) {
    const r = record({ description: `x${String.fromCharCode(c)}y` });
    const allowed = c === 9 || c === 10 || c === 13;
    assert.equal(jsonMayHoldControlChars(JSON.stringify(r)), !allowed, `U+${c.toString(16)}`);
    assert.equal(controlCharsField(r), allowed ? null : 'description', `U+${c.toString(16)}`);
  }
  assert.equal(jsonMayHoldControlChars(JSON.stringify(record({ description: 'tab\tnewline\n return\r' }))), false);
});

test('RepodataWriter streams gzip files with checksums, sizes and the announced count', async () => {
  const dir = tempDir();
  const n = 300;
  const w = new RepodataWriter({ dir, packageCount: n, checksumType: 'sha512', timestamp: 1234 });
  const pkgs: RepodataPackage[] = [];
  for (let i = 0; i < n; i++) {
    const p = toRepodataPackage(record({ name: `p${i}`, description: 'x'.repeat(i) }), { ...FILE, pkgid: createHash('sha256').update(String(i)).digest('hex'), locationHref: packagesHref(`p${i}-1.0-1.noarch.rpm`) });
    pkgs.push(p);
    await w.add(p);
  }
  const res = await w.close();
  for (const type of ['primary', 'filelists', 'other'] as const) {
    const r = res[type];
    const gz = readFileSync(r.path);
    assert.equal(r.checksumType, 'sha512');
    assert.equal(r.checksum, createHash('sha512').update(gz).digest('hex'));
    assert.equal(r.size, statSync(r.path).size);
    const open = gunzipSync(gz);
    assert.equal(r.openChecksum, createHash('sha512').update(open).digest('hex'));
    assert.equal(r.openSize, open.length);
    assert.equal(r.timestamp, 1234);
    assert.equal(r.location, `repodata/${r.checksum}-${type}.xml.gz`);
    assert.equal(path.basename(r.path), `${r.checksum}-${type}.xml.gz`);
    const text = open.toString();
    assert.match(text, new RegExp(`packages="${n}">`));
    assert.equal(text.split('<package ').length - 1, n);
  }
  assert.equal(readdirSync(dir).length, 3, 'no temporary files left');

  const w2 = new RepodataWriter({ dir: tempDir(), packageCount: 2 });
  await w2.add(pkgs[0]!);
  await assert.rejects(w2.close(), (e: unknown) => e instanceof StagepushError && e.code === 'REPODATA_COUNT_MISMATCH');
  assert.throws(() => new RepodataWriter({ dir, packageCount: 1, checksumType: 'crc' as 'sha1' }), (e: unknown) => e instanceof StagepushError && e.code === 'REPODATA_BAD_CHECKSUM_TYPE');
});

test('weak dependencies in the old tags (rpm < 4.12): strong ones are Recommends / Supplements, the others Suggests / Enhances, after the new-style ones (createrepo_c LegacyWeakdeps)', () => {
  const STRONG = 1 << 27;
  const pkg = toRepodataPackage(
    record({
      recommends: [{ name: 'new-rec', flags: 0, version: '' }],
      oldSuggests: [
        { name: 'rec-a', flags: STRONG | 12, version: '1:1' },
        { name: 'sug-a', flags: 0, version: '' },
      ],
      oldEnhances: [
        { name: 'sup-c', flags: STRONG | 8, version: '5:5-5' },
        { name: 'enh-a', flags: 0, version: '' },
      ],
    }),
    FILE,
  );
  assert.deepEqual(pkg.recommends.map((d) => d.name), ['new-rec', 'rec-a']);
  assert.equal(pkg.recommends[1]!.flags, 'GE');
  assert.deepEqual(pkg.suggests.map((d) => d.name), ['sug-a']);
  assert.deepEqual(pkg.supplements.map((d) => [d.name, d.flags, d.epoch, d.version, d.release]), [['sup-c', 'EQ', '5', '5', '5']]);
  assert.deepEqual(pkg.enhances.map((d) => d.name), ['enh-a']);
  assert.deepEqual(toRepodataPackage(record({ oldSuggests: [{ name: 'sug-a', flags: 0, version: '' }] }), FILE, { legacyWeakdeps: false }).suggests, []);
});
