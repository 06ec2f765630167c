/**
 * Parity with createrepo_c: the shared RPM matrix (fixtures/rpms → FIXTURES_BUILD/rpms, with
 * matrix.json) plus ad hoc RPMs for createrepo_c's special cases, laid out under Packages/<l>/.
 * Records come from our reader (readRpmFile). Our primary, filelists and other must equal
 * createrepo_c's: parsed and compared field by field (everything but file mtime, which is equal
 * here anyway), and byte for byte once uncompressed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readRpmFile } from '../../../src/formats/rpm/index.js';
import { RepodataWriter, packagesHref, readRepodataPackages, toRepodataPackage, type RepodataPackage } from '../../../src/formats/repodata/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { FIXTURES_BUILD, tempDir } from '../../helpers/cli.js';
import { comparable, mtimeSeconds, run } from '../../helpers/repodata.js';
import { buildAdhocRpms } from './adhoc.js';

function byBase(a: string, b: string): number {
  const x = path.basename(a);
  const y = path.basename(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function matrixRpms(): string[] {
  const base = path.join(FIXTURES_BUILD, 'rpms');
  const matrix = JSON.parse(readFileSync(path.join(base, 'matrix.json'), 'utf8')) as { packages: Record<string, { file: string }> };
  const files = Object.values(matrix.packages).map((e) => path.join(base, e.file));
  for (const f of readdirSync(path.join(base, 'install'))) if (f.endsWith('.rpm')) files.push(path.join(base, 'install', f));
  return files;
}

test('primary/filelists/other equal createrepo_c (RPM matrix + ad hoc RPMs), field by field and byte for byte', async () => {
  const dir = tempDir();
  const rpms = [...matrixRpms(), ...buildAdhocRpms(path.join(dir, 'build'))];
  assert.ok(rpms.length >= 15, `expected the RPM matrix, got ${rpms.length} files`);
  const theirs = path.join(dir, 'theirs');
  const hrefs: string[] = [];
  for (const f of rpms) {
    const href = packagesHref(path.basename(f));
    mkdirSync(path.join(theirs, path.dirname(href)), { recursive: true });
    copyFileSync(f, path.join(theirs, href));
    hrefs.push(href);
  }
  hrefs.sort(byBase);
  run('createrepo_c', ['--quiet', '--no-database', '--workers', '1', theirs]);
  const repomd = parseRepomd(readFileSync(path.join(theirs, 'repodata', 'repomd.xml')));

  const w = new RepodataWriter({ dir: path.join(dir, 'ours', 'repodata'), packageCount: hrefs.length });
  const mapped: RepodataPackage[] = [];
  for (const href of hrefs) {
    const file = path.join(theirs, href);
    const { record, checksums } = await readRpmFile(file, { checksums: ['sha256'] });
    const pkg = toRepodataPackage(record, { pkgid: checksums.sha256!, mtime: mtimeSeconds(file), locationHref: href });
    mapped.push(pkg);
    await w.add(pkg);
  }
  const res = await w.close();

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
});
