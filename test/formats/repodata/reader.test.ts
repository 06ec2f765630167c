import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { xmlElements, readPrimary, readOther, readFilelists } from '../../../src/formats/repodata/index.js';
import { StagepushError } from '../../../src/errors.js';

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="3">
<package type="rpm">
  <name>a&amp;b</name>
  <arch>noarch</arch>
  <version epoch="0" ver="1" rel="1"/>
  <checksum type="sha256" pkgid="YES">aa</checksum>
  <summary>s &lt;package x&gt;</summary>
  <description>line 1
line 2 &#13; é</description>
  <packager></packager>
  <url></url>
  <time file="1" build="2"/>
  <size package="3" installed="4" archive="5"/>
  <location xml:base="http://x/" href="Packages/a/a-1-1.noarch.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:group>G</rpm:group>
    <rpm:buildhost>h</rpm:buildhost>
    <rpm:sourcerpm>a-1-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="5000"/>
    <rpm:provides>
      <rpm:entry name="s&#xE9;r" flags="EQ" epoch="0" ver="1" rel="1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="x" pre="1"/>
      <rpm:entry name="y" flags="GE" epoch="2" ver="3"/>
    </rpm:requires>
    <file>/etc/a</file>
    <file type="dir">/usr/bin</file>
  </format>
</package>
<package type="rpm"><name>b</name><arch>x86_64</arch><version epoch="1" ver="2" rel="3"/><checksum type="sha1" pkgid="YES">bb</checksum><location href="b.rpm"/></package>
<package type="rpm"><name>c</name><arch>src</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256" pkgid="YES">cc</checksum><location href="c.rpm"/><format/></package>
</metadata>`;

async function* tiny(s: string, n: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

test('element splitting survives any chunk boundary (multi-byte characters included)', async () => {
  const whole: string[] = [];
  for await (const e of xmlElements(Buffer.from(DOC), 'package')) whole.push(e);
  assert.equal(whole.length, 3);
  assert.ok(whole[0]!.startsWith('<package type="rpm">') && whole[0]!.endsWith('</package>'));
  for (const n of [1, 2, 3, 5, 7, 64]) {
    const got: string[] = [];
    for await (const e of xmlElements(tiny(DOC, n), 'package')) got.push(e);
    assert.deepEqual(got, whole, `chunk size ${n}`);
  }
});

test('readPrimary parses entries from plain, gzip and streams', async () => {
  const read = async (src: Parameters<typeof readPrimary>[0]) => {
    const out = [];
    for await (const p of readPrimary(src)) out.push(p);
    return out;
  };
  const pkgs = await read(Buffer.from(DOC));
  assert.deepEqual(await read(gzipSync(Buffer.from(DOC))), pkgs);
  assert.deepEqual(await read(Readable.from(tiny(DOC, 3))), pkgs);
  const a = pkgs[0]!;
  assert.equal(a.name, 'a&b');
  assert.equal(a.summary, 's <package x>');
  assert.equal(a.description, 'line 1\nline 2 \r é');
  assert.equal(a.packager, '');
  assert.equal(a.locationBase, 'http://x/');
  assert.deepEqual([a.timeFile, a.timeBuild, a.sizePackage, a.sizeInstalled, a.sizeArchive, a.headerStart, a.headerEnd], [1, 2, 3, 4, 5, 4504, 5000]);
  assert.deepEqual(a.provides, [{ name: 'sér', flags: 'EQ', epoch: '0', version: '1', release: '1' }]);
  assert.deepEqual(a.requires, [
    { name: 'x', flags: null, epoch: null, version: null, release: null, pre: true },
    { name: 'y', flags: 'GE', epoch: '2', version: '3', release: null, pre: false },
  ]);
  assert.deepEqual(a.files, [{ path: '/etc/a', type: 'file' }, { path: '/usr/bin', type: 'dir' }]);
  assert.deepEqual(pkgs.map((p) => [p.name, p.epoch, p.version, p.release, p.arch, p.checksumType, p.pkgid, p.locationHref]), [
    ['a&b', '0', '1', '1', 'noarch', 'sha256', 'aa', 'Packages/a/a-1-1.noarch.rpm'],
    ['b', '1', '2', '3', 'x86_64', 'sha1', 'bb', 'b.rpm'],
    ['c', '0', '1', '1', 'src', 'sha256', 'cc', 'c.rpm'],
  ]);
});

test('filelists/other readers and errors', async () => {
  const fl = `<filelists packages="1"><package pkgid="aa" name="a" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/a</file><file type="ghost">/b</file></package></filelists>`;
  const out = [];
  for await (const f of readFilelists(Buffer.from(fl))) out.push(f);
  assert.deepEqual(out, [{ pkgid: 'aa', name: 'a', arch: 'noarch', epoch: '0', version: '1', release: '1', files: [{ path: '/a', type: 'file' }, { path: '/b', type: 'ghost' }] }]);
  const ot = `<otherdata><package pkgid="aa" name="a" arch="noarch"><version epoch="0" ver="1" rel="1"/><changelog author="J &lt;j@x&gt;" date="10">- x &amp; y</changelog></package></otherdata>`;
  const o = [];
  for await (const x of readOther(Buffer.from(ot))) o.push(x);
  assert.deepEqual(o[0]!.changelogs, [{ author: 'J <j@x>', date: 10, text: '- x & y' }]);
  const bad = '<metadata><package type="rpm"><name>z</name><arch>a</arch><version epoch="0" ver="1" rel="1"/><checksum type="sha256">z</checksum><location href="z"/><time file="x" build="1"/></package></metadata>';
  await assert.rejects(
    (async () => {
      for await (const _ of readPrimary(Buffer.from(bad), 'p.xml')) void _;
    })(),
    (e: unknown) => e instanceof StagepushError && e.code === 'REPODATA_INVALID' && e.file === 'p.xml' && e.field === 'file',
  );
});

test('a primary must be whole: truncated, garbled or miscounted documents are refused, not read short', async () => {
  const read = async (doc: string, n = 64): Promise<number> => {
    let count = 0;
    for await (const _ of readPrimary(tiny(doc, n), 'p.xml')) count++;
    return count;
  };
  assert.equal(await read(DOC), 3);
  assert.equal(await read(DOC.replace('<?xml version="1.0" encoding="UTF-8"?>', '\uFEFF<?xml version="1.0"?>\n<!-- made by hand -->')), 3);
  assert.equal(await read('<metadata packages="0"/>\n'), 0);
  assert.equal(await read('<?xml version="1.0"?>\n<metadata packages="0">\n</metadata>'), 0);
  const refused = async (doc: string, re: RegExp): Promise<void> => {
    for (const n of [1, 7, 4096]) {
      await assert.rejects(read(doc, n), (e: unknown) => e instanceof StagepushError && e.code === 'REPODATA_INVALID' && e.file === 'p.xml' && re.test(e.message), `${re} (chunks of ${n})`);
    }
  };
  const second = DOC.indexOf('<package', DOC.indexOf('<package') + 1);
  await refused(DOC.slice(0, second + 40), /ends inside a <package> element \(truncated\)/);
  await refused(DOC.slice(0, second + '<package'.length), /ends inside a <package> element \(truncated\)/);
  await refused(DOC.slice(0, DOC.lastIndexOf('</metadata>')), /ends before <\/metadata> \(truncated\)/);
  await refused(DOC.replace('packages="3"', 'packages="2"'), /<metadata packages="2"> but the file holds 3 packages/);
  await refused(DOC.replace('packages="3"', 'packages="many"'), /attribute packages is not a count/);
  await refused(DOC.replace('</package>\n<package', '</package>\nstray<package'), /unexpected content before a <package>: "stray"/);
  await refused(DOC + '<extra/>', /unexpected content at the end/);
  await refused(DOC.replace(/<metadata [^>]*>/, '<other>').replace('</metadata>', '</other>'), /<package> element outside a <metadata> root element/);
  await refused('', /no <metadata> root element/);
  await refused('\u00fd7zXZ\u0000 binary', /no <metadata> root element/);
});
