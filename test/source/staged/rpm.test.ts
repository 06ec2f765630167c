import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadStaged } from '../../../src/source/staged/index.js';
import type { RpmRecord } from '../../../src/formats/rpm/types.js';
import type { RpmPushItem } from '../../../src/items/types.js';
import { FIXTURES_BUILD } from '../../helpers/cli.js';
import { stage, type Spec } from '../../helpers/staged.js';

interface Matrix {
  keys: Record<string, { keyId: string }>;
  packages: Record<string, { file: string; key: string | null }>;
}
const RPMS = path.join(FIXTURES_BUILD, 'rpms');
const matrix = JSON.parse(readFileSync(path.join(RPMS, 'matrix.json'), 'utf8')) as Matrix;

test('RPMS/SRPMS: signing_key from the signature header (v3, v4, Ed25519, unsigned), name = file name, records handed over', async () => {
  const files: Record<string, Spec> = {};
  for (const p of Object.values(matrix.packages)) {
    const name = path.basename(p.file);
    files[`dest/${name.endsWith('.src.rpm') ? 'SRPMS' : 'RPMS'}/${name}`] = { symlink: path.join(RPMS, p.file) };
  }
  files['dest/RPMS/corrupt.rpm'] = Buffer.from('this is not an rpm at all, just text that is long enough to be read as a lead ......................................');
  const root = stage(files);
  const records = new Map<string, RpmRecord>();
  const r = await loadStaged([`staged:${root}?threads=2`], { onRpmRecord: (item: RpmPushItem, rec: RpmRecord) => records.set(item.name, rec) });
  assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
  assert.equal(r.problems[0]!.file, `${root}/dest/RPMS/corrupt.rpm`);
  assert.match(r.problems[0]!.code, /^RPM_/);
  const byName = new Map(r.items.map((i) => [i.name, i]));
  for (const p of Object.values(matrix.packages)) {
    const name = path.basename(p.file);
    const item = byName.get(name);
    assert.ok(item, name);
    assert.equal(item.kind, 'RpmPushItem');
    assert.equal(item.signing_key, p.key ? matrix.keys[p.key]!.keyId.toUpperCase() : null, name);
    assert.equal(item.build, null);
    assert.equal(item.origin, root);
    assert.equal(item.src, `${root}/dest/${name.endsWith('.src.rpm') ? 'SRPMS' : 'RPMS'}/${name}`);
    assert.ok(records.get(name), `record for ${name}`);
  }
  assert.equal(records.get('sp-rich-deps-1.0-1.src.rpm')!.arch, 'src');
});

test('RPM checksums come from the same pass as the header', async () => {
  const p = matrix.packages['signed-v4']!;
  const root = stage({ 'd/RPMS/a.rpm': { symlink: path.join(RPMS, p.file) } });
  const r = await loadStaged([`staged:${root}`], { checksums: ['md5', 'sha256'] });
  assert.deepEqual(r.problems, []);
  const bytes = readFileSync(path.join(RPMS, p.file));
  assert.equal(r.items[0]!.md5sum, createHash('md5').update(bytes).digest('hex'));
  assert.equal(r.items[0]!.sha256sum, createHash('sha256').update(bytes).digest('hex'));
});
