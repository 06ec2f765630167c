import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readRpmFile, readRpmFileSync, parseRpm, parseHeaders, RPMSENSE } from '../../../src/formats/rpm/index.js';
import { tempDir } from '../../helpers/cli.js';
import { assertRecordMatchesRpm, queryRpm, rpmFixtures } from '../../helpers/rpm.js';

const fx = rpmFixtures();

test('the fixture matrix covers what the reader must handle', () => {
  const names = fx.packages.map((p) => p.name).sort();
  for (const n of ['signed-v4', 'signed-v3', 'signed-ed25519', 'unsigned', 'epoch', 'srpm', 'many-files', 'rich-deps', 'file-kinds']) {
    assert.ok(names.includes(n), `matrix has ${n}`);
  }
});

test('every RpmRecord field equals rpm -qp --qf on every matrix RPM', async () => {
  for (const p of [...fx.packages, ...fx.install]) {
    const { record, checksums } = await readRpmFile(p.file, { checksums: ['md5', 'sha256'] });
    assertRecordMatchesRpm(record, queryRpm(p.file), p.name);
    const data = readFileSync(p.file);
    assert.equal(record.packageSize, statSync(p.file).size, `${p.name}: packageSize`);
    assert.equal(checksums.sha256, createHash('sha256').update(data).digest('hex'), `${p.name}: sha256`);
    assert.equal(checksums.md5, createHash('md5').update(data).digest('hex'), `${p.name}: md5`);
    assert.deepEqual(readRpmFileSync(p.file, { checksums: ['md5', 'sha256'] }), { record, checksums }, `${p.name}: readRpmFileSync`);
    // In-memory parse gives the same record.
    assert.deepEqual(parseRpm(data), record, `${p.name}: parseRpm equals readRpmFile`);
    // Signing key: the key the fixture script signed with.
    assert.equal(record.signingKey, p.key ? fx.keys[p.key].keyId : null, `${p.name}: signingKey`);
  }
});

test('the matrix exercises the interesting values', async () => {
  const rec = async (n: string) => (await readRpmFile(fx.packages.find((p) => p.name === n)!.file)).record;
  const rich = await rec('rich-deps');
  assert.ok(rich.requires.some((d) => d.name === '(sp-a or sp-b)'));
  assert.ok(rich.requires.some((d) => d.name === 'sp-pre-tool' && d.flags & RPMSENSE.SCRIPT_PRE));
  assert.ok(rich.requires.some((d) => d.name === 'sp-post-tool' && d.flags & RPMSENSE.SCRIPT_POST));
  for (const k of ['recommends', 'suggests', 'supplements', 'enhances', 'conflicts', 'obsoletes'] as const) assert.ok(rich[k].length > 0, k);
  assert.equal(rich.signatures.length, 2, 'rich-deps: --rpmv3 gives RSAHEADER and PGP');
  const kinds = await rec('file-kinds');
  assert.ok(kinds.files.flags.some((f) => f & 64), 'ghost file');
  assert.ok(kinds.files.modes.some((m) => (m & 0o170000) === 0o040000), 'directory');
  const many = await rec('many-files');
  assert.ok(many.files.basenames.length > 1000);
  assert.ok(many.headerEnd > 64 * 1024, 'header larger than the first read');
  assert.equal((await rec('epoch')).epoch, 3);
  const srpm = await rec('srpm');
  assert.equal(srpm.arch, 'src');
  assert.equal(srpm.sourceRpm, null);
  const ed = await rec('signed-ed25519');
  assert.equal(ed.signatures[0].tag, 'DSAHEADER');
  assert.equal(ed.signatures[0].pubkeyAlgo, 22);
  assert.ok((await rec('signed-v4')).changelogs.length >= 3);
});

test("rpm -qpi's Signature line names the same key", async () => {
  for (const p of fx.packages) {
    const r = spawnSync('rpm', ['-qpi', '--nosignature', '--nodigest', p.file], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('Signature'));
    assert.ok(line, `${p.name}: Signature line`);
    const m = /Key ID ([0-9a-f]{16})/.exec(line);
    const { record } = await readRpmFile(p.file);
    assert.equal(record.signingKey, m ? m[1].slice(8).toUpperCase() : null, `${p.name}: ${line}`);
  }
});

test('header range and sizes equal what createrepo_c writes in primary.xml', async () => {
  const out = tempDir('stagepush-rpm-crc-');
  const r = spawnSync('createrepo_c', ['--quiet', '--no-database', '--outputdir', out, path.join(fx.dir, 'matrix')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const repomd = readFileSync(path.join(out, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
  const { gunzipSync } = await import('node:zlib');
  const primary = gunzipSync(readFileSync(path.join(out, href))).toString('utf8');
  const pkgs = primary.split('<package ').slice(1);
  assert.equal(pkgs.length, fx.packages.length);
  for (const xml of pkgs) {
    const loc = /<location href="([^"]+)"/.exec(xml)![1];
    const { record, checksums } = await readRpmFile(path.join(fx.dir, 'matrix', loc), { checksums: ['sha256'] });
    const range = /<rpm:header-range start="(\d+)" end="(\d+)"\/>/.exec(xml)!;
    assert.equal(record.headerStart, Number(range[1]), `${loc}: header start`);
    assert.equal(record.headerEnd, Number(range[2]), `${loc}: header end`);
    const size = /<size package="(\d+)" installed="(\d+)" archive="(\d+)"\/>/.exec(xml)!;
    assert.equal(record.packageSize, Number(size[1]), `${loc}: package size`);
    assert.equal(record.installedSize, Number(size[2]), `${loc}: installed size`);
    assert.equal(record.archiveSize, Number(size[3]), `${loc}: archive size`);
    assert.equal(checksums.sha256, /<checksum type="sha256" pkgid="YES">([0-9a-f]+)</.exec(xml)![1], `${loc}: checksum`);
    assert.equal(record.arch, /<arch>([^<]+)</.exec(xml)![1], `${loc}: arch`);
  }
});

test('parseHeaders gives typed tag access', () => {
  const p = fx.packages.find((x) => x.name === 'rich-deps')!;
  const parsed = parseHeaders(readFileSync(p.file));
  assert.equal(parsed.lead.major, 3);
  assert.equal(parsed.header.getString(1000), 'sp-rich-deps');
  assert.deepEqual(parsed.header.getStrings(1049)?.includes('sp-plain'), true);
  assert.equal(typeof parsed.header.getNumber(1006), 'number');
  assert.ok(parsed.signature.getBin(268)!.length > 100);
  // I18N summary: first locale is C.
  assert.equal(parsed.header.getString(1004), 'Stagepush fixture package sp-rich-deps');
  assert.ok(parsed.header.getStrings(1004)!.length >= 3, 'Summary(de) and Summary(fr) present');
  writeFileSync(path.join(tempDir(), 'dump.json'), JSON.stringify(parsed.header.dump()));
});
