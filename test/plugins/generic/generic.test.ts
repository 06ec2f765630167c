import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { GenericImporter, canonicalJson } from '../../../src/plugins/generic/importer.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fakeConfig } from '../../helpers/fakeconduit.js';
import { tempDir } from '../../helpers/cli.js';

const sha = (b: string) => createHash('sha256').update(b).digest('hex');

test('generic_importer: ami/vhd/cgw with the item metadata, file stored, same name replaced', async () => {
  const store = new FakeStore();
  const repo = store.repo('cloud');
  const c = store.importer('cloud');
  const imp = new GenericImporter();
  const d = tempDir();
  writeFileSync(path.join(d, 'rhel.raw'), 'IMAGE');
  const meta = { name: 'rhel-9', release: { arch: 'x86_64', date: '2024-01-01' }, regions: ['us-east-1'] };
  await imp.uploadUnit(repo, { typeId: 'ami', unitKey: {}, metadata: meta, filePath: path.join(d, 'rhel.raw') }, c, fakeConfig());
  let u = store.units('cloud');
  assert.equal(u.length, 1);
  assert.deepEqual(u[0]!.unitKey, { name: 'rhel-9', checksum: sha('IMAGE') });
  assert.deepEqual(u[0]!.metadata.release, meta.release);
  assert.equal(u[0]!.metadata.size, 5);
  assert.equal(u[0]!.relativePath, 'ami/rhel.raw');
  assert.equal(readFileSync(u[0]!.storagePath!, 'utf8'), 'IMAGE');
  writeFileSync(path.join(d, 'rhel.raw'), 'IMAGE2');
  await imp.uploadUnit(repo, { typeId: 'ami', unitKey: {}, metadata: meta, filePath: path.join(d, 'rhel.raw') }, c, fakeConfig());
  u = store.units('cloud');
  assert.equal(u.length, 1);
  assert.equal(u[0]!.unitKey.checksum, sha('IMAGE2'));
  await imp.uploadUnit(repo, { typeId: 'ami', unitKey: {}, metadata: meta, filePath: path.join(d, 'rhel.raw') }, store.importer('cloud'), fakeConfig({ replace_same_name: false }));

  // cgw without a file: the checksum is the sha256 of the canonical metadata.
  const defs = { name: 'cgw-defs', items: [{ type: 'product', action: 'create', metadata: { name: 'P' } }] };
  await imp.uploadUnit(repo, { typeId: 'cgw', unitKey: {}, metadata: defs, filePath: null }, c, fakeConfig());
  const cgw = store.units('cloud').find((x) => x.typeId === 'cgw')!;
  assert.equal(cgw.unitKey.checksum, sha(canonicalJson(defs)));
  assert.equal(cgw.storagePath, null);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');

  await assert.rejects(imp.uploadUnit(repo, { typeId: 'vhd', unitKey: {}, metadata: {}, filePath: null }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_GENERIC_NO_NAME');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'rpm', unitKey: {}, metadata: {}, filePath: null }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_UNSUPPORTED_TYPE');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'vhd', unitKey: { checksum: sha('no') }, metadata: {}, filePath: path.join(d, 'rhel.raw') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_CHECKSUM_MISMATCH');
  assert.equal(await imp.detectType(path.join(d, 'x.vhd')), 'vhd');
  mkdirSync(path.join(d, 'tree'));
  assert.equal(await imp.detectType(path.join(d, 'tree')), 'directory');
  assert.match((imp.validateConfig(repo, fakeConfig({ replace_same_name: 'sometimes' }), { repos: [] }) as { message: string }).message, /"replace_same_name"/);
  assert.match((imp.validateConfig(repo, fakeConfig({ feed: 'x' }), { repos: [] }) as { message: string }).message, /unknown config key "feed"/);
});

test('generic_importer: a RAW tree as a directory or as a tar archive gives the same unit', async () => {
  const store = new FakeStore();
  const repo = store.repo('raw', 'importer');
  const imp = new GenericImporter();
  const root = tempDir();
  const tree = path.join(root, 'ks-tree');
  mkdirSync(path.join(tree, 'images'), { recursive: true });
  writeFileSync(path.join(tree, 'images', 'boot.iso'), 'BOOT');
  writeFileSync(path.join(tree, '.treeinfo'), 'ti');
  symlinkSync('images/boot.iso', path.join(tree, 'boot'));
  const direct = await imp.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: tree }, store.importer('raw'), fakeConfig());
  for (const [archive, flag] of [['ks-tree.tar', '-cf'], ['ks-tree.tar.gz', '-czf']] as const) {
    const tr = spawnSync('tar', [flag, path.join(root, archive), '-C', tree, '.'], { encoding: 'utf8' });
    assert.equal(tr.status, 0, tr.stderr);
    const viaTar = await imp.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: path.join(root, archive) }, store.importer('raw'), fakeConfig());
    assert.deepEqual((viaTar.summary as Record<string, unknown>).digest, (direct.summary as Record<string, unknown>).digest, archive);
    assert.equal((viaTar.summary as Record<string, unknown>).name, 'ks-tree');
  }
  assert.deepEqual(readdirSync(repo.workingDir), [], 'extraction directory removed');
  writeFileSync(path.join(root, 'notatar.bin'), 'x');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: path.join(root, 'notatar.bin') }, store.importer('raw'), fakeConfig()), (e: StagepushError) => e.code === 'FILE_NOT_A_DIRECTORY');
  writeFileSync(path.join(root, 'broken.tar'), 'this is not a tar archive at all');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: path.join(root, 'broken.tar') }, store.importer('raw'), fakeConfig()), (e: StagepushError) => e.code === 'FILE_TAR_FAILED');
});
