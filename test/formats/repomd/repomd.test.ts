import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRepomd, repomdLocationHrefs, writeMetadataFile, writeRepomd, type Repomd } from '../../../src/formats/repomd/index.js';
import { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';
import { run } from '../../helpers/repodata.js';

test('repomd round trip', () => {
  const md: Repomd = {
    revision: '1700000000',
    tags: { content: ['binary-x86_64'], repo: [], distro: [{ cpeid: 'cpe:/o:x', value: 'X & Y' }] },
    records: [
      { type: 'primary', checksumType: 'sha256', checksum: 'a'.repeat(64), openChecksumType: 'sha256', openChecksum: 'b'.repeat(64), location: `repodata/${'a'.repeat(64)}-primary.xml.gz`, timestamp: 1700000000, size: 10, openSize: 20 },
      { type: 'group', checksumType: 'sha1', checksum: 'c'.repeat(40), location: 'repodata/comps.xml', locationBase: 'http://x/', timestamp: 1, size: 5 },
      { type: 'primary_db', checksumType: 'sha256', checksum: 'd'.repeat(64), location: 'repodata/p.sqlite.bz2', timestamp: 2, size: 3, databaseVersion: 10 },
    ],
  };
  assert.deepEqual(parseRepomd(writeRepomd(md)), md);
  // The light scan of hrefs gives what the parser gives, entities decoded.
  assert.deepEqual(repomdLocationHrefs(writeRepomd(md)), md.records.map((r) => r.location));
  const odd = { ...md, records: [{ ...md.records[1]!, location: 'repodata/a&b "c" <d>.xml' }] };
  assert.deepEqual(repomdLocationHrefs(writeRepomd(odd)), ['repodata/a&b "c" <d>.xml']);
  assert.deepEqual(repomdLocationHrefs('<data><location xml:base="x" href="repodata/&#x41;&#66;"/></data>'), ['repodata/AB']);
  assert.throws(() => parseRepomd('<repomd><data type="x"><location href="a"/></data></repomd>', 'r.xml'), (e: unknown) => e instanceof StagepushError && e.code === 'REPOMD_INVALID' && e.file === 'r.xml');
  assert.throws(() => parseRepomd('<nope/>'), (e: unknown) => e instanceof StagepushError && e.code === 'REPOMD_INVALID');
});

test('parses createrepo_c repomd.xml and writeMetadataFile matches modifyrepo_c checksums', async () => {
  const dir = tempDir();
  run('createrepo_c', ['--quiet', '--no-database', dir]);
  const content = '<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n</updates>\n';
  const rec = await writeMetadataFile({ dir: path.join(dir, 'repodata'), type: 'updateinfo', name: 'updateinfo.xml', timestamp: 5 }, content);
  assert.equal(rec.openChecksum, createHash('sha256').update(content).digest('hex'));
  assert.equal(rec.openSize, Buffer.byteLength(content));
  assert.equal(rec.checksum, createHash('sha256').update(readFileSync(rec.path)).digest('hex'));
  assert.equal(rec.location, `repodata/${rec.checksum}-updateinfo.xml.gz`);
  const plain = await writeMetadataFile({ dir: path.join(dir, 'repodata'), type: 'group', name: 'comps.xml', compression: 'none' }, ['<comps>', '</comps>\n']);
  assert.equal(plain.openChecksum, undefined);
  assert.equal(readFileSync(plain.path, 'utf8'), '<comps></comps>\n');
  const md = parseRepomd(readFileSync(path.join(dir, 'repodata', 'repomd.xml')));
  assert.deepEqual(md.records.map((r) => r.type), ['primary', 'filelists', 'other']);
  assert.ok(md.records.every((r) => r.openChecksum && r.openSize && r.size > 0 && r.location.startsWith('repodata/')));
  assert.match(md.revision, /^\d+$/);
  assert.deepEqual(repomdLocationHrefs(readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8')), md.records.map((r) => r.location));
});

test('a repomd.xml cut short is REPOMD_INVALID naming the elements left open, not a position that is not where anything is wrong', () => {
  const full = '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision><data type="primary"><checksum type="sha256">abc</checksum><location href="repodata/p.xml.gz"/></data></repomd>\n';
  assert.throws(
    () => parseRepomd(Buffer.from(full.slice(0, 160)), 'feed/repodata/repomd.xml'),
    (e: unknown) => e instanceof StagepushError && e.code === 'REPOMD_INVALID' && e.message === 'feed/repodata/repomd.xml: not well-formed XML: the document ends with 3 element(s) not closed: <repomd> <data> <checksum> (cut short?)',
  );
});
