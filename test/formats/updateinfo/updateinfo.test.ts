import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  normalizeErratumDate,
  parseErratumDate,
  parseUpdateinfo,
  readUpdateinfo,
  writeUpdateinfo,
  type Erratum,
} from '../../../src/formats/updateinfo/index.js';
import { StagepushError } from '../../../src/errors.js';
import { ERRATUM } from '../../helpers/repodata-samples.js';


test('dates are normalised to the one form dnf reads', () => {
  assert.equal(normalizeErratumDate('2024-01-10 08:30:00'), '2024-01-10 08:30:00');
  assert.equal(normalizeErratumDate('2024-01-10'), '2024-01-10 00:00:00');
  assert.equal(normalizeErratumDate('2024-01-10T08:30:00Z'), '2024-01-10 08:30:00');
  assert.equal(normalizeErratumDate('2024-01-10T08:30:00.123+02:00'), '2024-01-10 06:30:00');
  assert.equal(normalizeErratumDate('2024-01-10 08:30:00 UTC'), '2024-01-10 08:30:00');
  assert.equal(normalizeErratumDate('2024-01-10 08:30'), '2024-01-10 08:30:00');
  assert.equal(normalizeErratumDate(1704875400), '2024-01-10 08:30:00');
  for (const bad of ['yesterday', '2024-13-01', '2024-02-30 00:00:00', '']) {
    assert.throws(() => normalizeErratumDate(bad, { entry: 'E', field: 'issued' }), (e: unknown) => e instanceof StagepushError && e.code === 'UPDATEINFO_BAD_DATE' && e.field === 'issued');
    assert.equal(parseErratumDate(bad), null, bad);
  }
  // One parser serves the writer and the yum plugin's re-upload rule (ordering across forms).
  assert.equal(parseErratumDate('2024-01-10T10:30:00+02:00'), parseErratumDate('2024-01-10 08:30:00'));
  assert.ok(parseErratumDate('2024-01-10 08:30:01')! > parseErratumDate('2024-01-10 08:30:00 UTC')!);
});

test('updateinfo round trip, with the package filter', async () => {
  const keep = new Set(['alpha-1.2-4.x86_64.rpm']);
  const xml = writeUpdateinfo([ERRATUM], { packageFilter: (p) => keep.has(p.filename) });
  assert.match(xml, /<issued date="2024-01-10 08:30:00"\/>/);
  assert.match(xml, /<updated date="2024-01-11 00:00:00"\/>/);
  assert.doesNotMatch(xml, /gone/);
  const back = parseUpdateinfo(xml);
  assert.equal(back.length, 1);
  const e = back[0]!;
  assert.deepEqual(
    { ...e },
    {
      ...ERRATUM,
      issued: '2024-01-10 08:30:00',
      updated: '2024-01-11 00:00:00',
      pkglist: [{ ...ERRATUM.pkglist[0]!, packages: [ERRATUM.pkglist[0]!.packages[0]!] }],
    },
  );
  // unfiltered: sums from the flat list, empty collection kept when it has packages
  const all = parseUpdateinfo(writeUpdateinfo([ERRATUM]))[0]!;
  assert.equal(all.pkglist.length, 2);
  assert.equal(all.pkglist[0]!.packages[1]!.md5sum, 'b'.repeat(32));
  assert.equal(all.pkglist[0]!.packages[1]!.sha256sum, 'c'.repeat(64));
  assert.equal(all.pkglist[0]!.packages[1]!.reboot_suggested, false);
  // streaming reader over gzip gives the same
  const two = writeUpdateinfo([ERRATUM, { ...ERRATUM, id: 'RHBA-2024:0002', type: 'bugfix', reboot_suggested: false }]);
  const streamed: Erratum[] = [];
  for await (const x of readUpdateinfo(gzipSync(Buffer.from(two)))) streamed.push(x);
  assert.deepEqual(streamed, parseUpdateinfo(two));
  assert.deepEqual(streamed.map((x) => [x.id, x.type, x.reboot_suggested]), [['RHSA-2024:0001', 'security', true], ['RHBA-2024:0002', 'bugfix', false]]);
  // A cut document is refused, not read as fewer errata.
  const cut = two.slice(0, two.lastIndexOf('<update '));
  await assert.rejects(
    (async () => {
      for await (const _ of readUpdateinfo(Buffer.from(cut), 'u.xml')) void _;
    })(),
    (e: unknown) => e instanceof StagepushError && e.code === 'UPDATEINFO_INVALID' && e.file === 'u.xml' && /ends before <\/updates> \(truncated\)/.test(e.message),
  );
});

test('a carriage return in an element\'s text is written &#13; (as createrepo_c\'s libxml2 writes it) and reads back: a literal one an XML reader (dnf\'s too) turns into a line feed', () => {
  const e: Erratum = { ...ERRATUM, title: 'a\rb', description: 'line one\r\nline two\r\n', solution: 'x\r', pkglist: [] };
  const xml = writeUpdateinfo([e]);
  assert.match(xml, /<description>line one&#13;\nline two&#13;\n<\/description>/);
  assert.doesNotMatch(xml, /\r/);
  const back = parseUpdateinfo(xml)[0]!;
  assert.deepEqual([back.title, back.description, back.solution], ['a\rb', 'line one\r\nline two\r\n', 'x\r']);
});

test('bad errata are refused with coded errors', () => {
  assert.throws(() => writeUpdateinfo([{ ...ERRATUM, type: 'weird' }]), (e: unknown) => e instanceof StagepushError && e.code === 'UPDATEINFO_INVALID' && e.field === 'type');
  assert.throws(() => writeUpdateinfo([{ ...ERRATUM, issued: 'soon' }]), (e: unknown) => e instanceof StagepushError && e.code === 'UPDATEINFO_BAD_DATE' && e.entry === 'RHSA-2024:0001');
  assert.throws(() => parseUpdateinfo('<updates><update'), (e: unknown) => e instanceof StagepushError && e.code === 'UPDATEINFO_INVALID');
});
