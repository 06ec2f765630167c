/**
 * Parity with createrepo_c: for the same RPMs laid out under Packages/<l>/, our primary, filelists
 * and other equal createrepo_c's byte for byte once uncompressed (same package order).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { RepodataWriter, packagesHref, toRepodataPackage } from '../../../src/formats/repodata/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { tempDir } from '../../helpers/cli.js';
import { mtimeSeconds, recordFromRpmQuery, run, sha256File } from '../../helpers/repodata.js';
import { buildAdhocRpms } from './adhoc.js';

function layOut(rpms: string[], root: string): string[] {
  const out: string[] = [];
  for (const f of rpms) {
    const href = packagesHref(path.basename(f));
    mkdirSync(path.join(root, path.dirname(href)), { recursive: true });
    copyFileSync(f, path.join(root, href));
    out.push(href);
  }
  return out.sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : path.basename(a) > path.basename(b) ? 1 : 0));
}

test('primary/filelists/other equal createrepo_c byte for byte (ad hoc RPMs)', async () => {
  const dir = tempDir();
  const rpms = buildAdhocRpms(path.join(dir, 'build'));
  const theirs = path.join(dir, 'theirs');
  const hrefs = layOut(rpms, theirs);
  run('createrepo_c', ['--quiet', '--no-database', '--workers', '1', theirs]);
  const repomd = parseRepomd(readFileSync(path.join(theirs, 'repodata', 'repomd.xml')));

  const ours = path.join(dir, 'ours', 'repodata');
  const w = new RepodataWriter({ dir: ours, packageCount: hrefs.length });
  for (const href of hrefs) {
    const file = path.join(theirs, href);
    const rec = recordFromRpmQuery(file);
    await w.add(toRepodataPackage(rec, { pkgid: sha256File(file), mtime: mtimeSeconds(file), locationHref: href }));
  }
  const res = await w.close();
  for (const type of ['primary', 'filelists', 'other'] as const) {
    const their = repomd.records.find((r) => r.type === type)!;
    const theirXml = gunzipSync(readFileSync(path.join(theirs, their.location))).toString('utf8');
    const ourXml = gunzipSync(readFileSync(res[type].path)).toString('utf8');
    assert.equal(ourXml, theirXml, `${type}.xml differs from createrepo_c's`);
    assert.equal(res[type].openChecksum, their.openChecksum, `${type} open-checksum`);
    assert.equal(res[type].openSize, their.openSize, `${type} open-size`);
  }
  assert.ok(readdirSync(ours).every((f) => /^[0-9a-f]{64}-(primary|filelists|other)\.xml\.gz$/.test(f)));
});
