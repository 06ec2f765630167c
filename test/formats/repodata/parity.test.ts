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
import { RepodataWriter, packagesHref, readRepodataPackages, toRepodataPackage, type RepodataPackage } from '../../../src/formats/repodata/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { tempDir } from '../../helpers/cli.js';
import { comparable, mtimeSeconds, recordFromRpmQuery, run, sha256File } from '../../helpers/repodata.js';
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
  const mapped: RepodataPackage[] = [];
  for (const href of hrefs) {
    const file = path.join(theirs, href);
    const rec = recordFromRpmQuery(file);
    const pkg = toRepodataPackage(rec, { pkgid: sha256File(file), mtime: mtimeSeconds(file), locationHref: href });
    mapped.push(pkg);
    await w.add(pkg);
  }
  const res = await w.close();

  // field by field: createrepo_c's parsed entries = our mapped entries = our written entries parsed back
  const loc = (t: string) => path.join(theirs, repomd.records.find((r) => r.type === t)!.location);
  const theirPkgs = await readRepodataPackages(loc('primary'), loc('filelists'), loc('other'));
  const ourPkgs = await readRepodataPackages(res.primary.path, res.filelists.path, res.other.path);
  assert.equal(theirPkgs.length, hrefs.length);
  for (let i = 0; i < hrefs.length; i++) {
    const t = comparable(theirPkgs[i]!);
    const m = comparable(mapped[i]!);
    for (const k of Object.keys(t)) assert.deepEqual(m[k], t[k], `${hrefs[i]}: ${k} differs from createrepo_c's`);
    assert.deepEqual(comparable(ourPkgs[i]!), t, `${hrefs[i]}: written entry parsed back`);
  }
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
