import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { buildRpm, readRpmFile, RPMSENSE, TAG } from '../../../src/formats/rpm/index.js';
import { tempDir } from '../../helpers/cli.js';
import { assertRecordMatchesRpm, queryRpm } from '../../helpers/rpm.js';

/** Names and sizes in a newc cpio archive (as rpm2cpio writes it). */
function cpioNewc(buf: Buffer): string[] {
  const out: string[] = [];
  let p = 0;
  for (;;) {
    assert.equal(buf.toString('latin1', p, p + 6), '070701', `cpio magic at ${p}`);
    const field = (i: number) => parseInt(buf.toString('latin1', p + 6 + 8 * i, p + 14 + 8 * i), 16);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.toString('utf8', p + 110, p + 110 + nameSize - 1);
    if (name === 'TRAILER!!!') return out;
    out.push(`${name}:${size}`);
    p += 110 + nameSize;
    p += (4 - (p % 4)) % 4;
    p += size;
    p += (4 - (p % 4)) % 4;
  }
}

test('packages written by buildRpm are read by rpm, rpm2cpio and createrepo_c like ours', async () => {
  const dir = tempDir('stagepush-rpm-writer-');
  const repo = path.join(dir, 'repo');
  mkdirSync(repo);
  const files = [
    { path: '/usr/share/gen/data.bin', data: randomBytes(5000) },
    { path: '/usr/share/gen/sub/readme.txt', data: Buffer.from('hello\n') },
    { path: '/usr/bin/gen-tool', data: Buffer.from('#!/bin/sh\n'), mode: 0o100755 },
  ];
  const pkgs = [
    buildRpm({ name: 'gen-a', version: '1.2', release: '3', files }),
    buildRpm({ name: 'gen-b', version: '0.1', release: '1.el9', epoch: 2, arch: 'x86_64', files: files.slice(0, 1), extra: [{ tag: TAG.URL, value: { type: 'STRING', value: 'https://gen.invalid/' } }] }),
    buildRpm({ name: 'gen-empty', version: '1', release: '1' }),
    // Legacy weak deps (OLDSUGGESTS / OLDENHANCES with and without RPMSENSE_STRONG), a modularity label.
    buildRpm({
      name: 'gen-legacy',
      version: '1',
      release: '1.module+el8',
      extra: [
        { tag: TAG.OLDSUGGESTSNAME, value: { type: 'STRING_ARRAY', value: ['sug-weak', 'sug-strong'] } },
        { tag: TAG.OLDSUGGESTSFLAGS, value: { type: 'INT32', value: [0, RPMSENSE.STRONG | RPMSENSE.GREATER | RPMSENSE.EQUAL] } },
        { tag: TAG.OLDSUGGESTSVERSION, value: { type: 'STRING_ARRAY', value: ['', '2.0'] } },
        { tag: TAG.OLDENHANCESNAME, value: { type: 'STRING_ARRAY', value: ['enh-strong'] } },
        { tag: TAG.OLDENHANCESFLAGS, value: { type: 'INT32', value: [RPMSENSE.STRONG] } },
        { tag: TAG.OLDENHANCESVERSION, value: { type: 'STRING_ARRAY', value: [''] } },
        { tag: TAG.MODULARITYLABEL, value: { type: 'STRING', value: 'perl:5.30:8030020200608205155:466ea64f' } },
      ],
    }),
  ];
  const paths = pkgs.map((p, i) => {
    const f = path.join(repo, `gen-${i}.rpm`);
    writeFileSync(f, p);
    return f;
  });
  for (const f of paths) {
    const { record } = await readRpmFile(f);
    assertRecordMatchesRpm(record, queryRpm(f), path.basename(f));
    if (record.name === 'gen-legacy') {
      assert.equal(record.oldSuggests?.length, 2);
      assert.equal(record.oldEnhances?.[0].name, 'enh-strong');
      assert.equal(record.modularityLabel, 'perl:5.30:8030020200608205155:466ea64f');
    }
    // Digests verify (header SHA256/SHA1, header+payload MD5).
    const k = spawnSync('rpm', ['-Kv', '--nosignature', f], { encoding: 'utf8' });
    assert.equal(k.status, 0, k.stdout + k.stderr);
    assert.doesNotMatch(k.stdout, /BAD|FAIL/);
  }
  // The payload is a real cpio archive holding the files.
  const cpio = spawnSync('rpm2cpio', [paths[0]], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(cpio.status, 0, String(cpio.stderr));
  assert.deepEqual(cpioNewc(cpio.stdout).sort(), files.map((f) => '.' + f.path + ':' + f.data.length).sort());
  mkdirSync(path.join(dir, 'out'));
  const crc = spawnSync('createrepo_c', ['--quiet', '--no-database', '--outputdir', path.join(dir, 'out'), repo], { encoding: 'utf8' });
  assert.equal(crc.status, 0, crc.stderr);
  const primaryFile = readdirSync(path.join(dir, 'out', 'repodata')).find((f) => f.endsWith('primary.xml.gz'))!;
  const primary = gunzipSync(readFileSync(path.join(dir, 'out', 'repodata', primaryFile))).toString('utf8');
  for (const xml of primary.split('<package ').slice(1)) {
    const loc = /<location href="([^"]+)"/.exec(xml)![1];
    const { record } = await readRpmFile(path.join(repo, loc));
    const range = /<rpm:header-range start="(\d+)" end="(\d+)"\/>/.exec(xml)!;
    assert.deepEqual([record.headerStart, record.headerEnd], [Number(range[1]), Number(range[2])], loc);
    const size = /<size package="(\d+)" installed="(\d+)" archive="(\d+)"\/>/.exec(xml)!;
    assert.deepEqual([record.packageSize, record.installedSize, record.archiveSize], size.slice(1).map(Number), loc);
  }
});

test('a header larger than the first read and the first hash chunk (> 1 MiB) reads whole', async () => {
  const dir = tempDir('stagepush-rpm-bighdr-');
  const files = Array.from({ length: 25_000 }, (_, i) => ({ path: `/usr/share/big/dir-${i % 500}/a-rather-long-file-name-number-${i}.txt`, data: Buffer.from([i & 0xff]) }));
  const pkg = buildRpm({ name: 'big-header', version: '1', release: '1', files });
  const f = path.join(dir, 'big-header.rpm');
  writeFileSync(f, pkg);
  const { record, checksums } = await readRpmFile(f, { checksums: ['sha256', 'md5'] });
  assert.ok(record.headerEnd > 1024 * 1024, `header end ${record.headerEnd}`);
  assert.equal(record.files.basenames.length, 25_000);
  assert.equal(checksums.sha256, createHash('sha256').update(pkg).digest('hex'));
  assert.equal(checksums.md5, createHash('md5').update(pkg).digest('hex'));
  assert.deepEqual((await readRpmFile(f)).record, record);
  assertRecordMatchesRpm(record, queryRpm(f), 'big-header');
});
