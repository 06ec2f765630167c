import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync, chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DirectoryDistributor } from '../../../src/plugins/directory/distributor.js';
import { GenericImporter } from '../../../src/plugins/generic/importer.js';
import { IsoImporter } from '../../../src/plugins/iso/importer.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fakeConfig } from '../../helpers/fakeconduit.js';
import { tempDir } from '../../helpers/cli.js';

function tree(files: Record<string, string>, links: Record<string, string> = {}): string {
  const d = tempDir();
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, p)), { recursive: true });
    writeFileSync(path.join(d, p), t);
  }
  for (const [p, t] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(d, p)), { recursive: true });
    symlinkSync(t, path.join(d, p));
  }
  return d;
}

test('directory_distributor publishes RAW trees byte for byte, atomically, and refuses collisions and other types', async () => {
  const store = new FakeStore();
  const repo = store.repo('raw', 'directory_distributor');
  const gen = new GenericImporter();
  const c = store.importer('raw');
  const t1 = tree({ '.treeinfo': 'ti', 'images/boot.iso': 'BOOT', 'EULA': 'eula' }, { 'images/latest': 'boot.iso', 'shadow': '/etc/shadow' });
  chmodSync(path.join(t1, 'EULA'), 0o600);
  await gen.uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'ks' }, metadata: {}, filePath: t1 }, c, fakeConfig());
  const t2 = tree({ 'images/other.img': 'OTHER', 'README': 'r' });
  await gen.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: t2 }, c, fakeConfig());
  const dist = new DirectoryDistributor();
  const rep = await dist.publishRepo(repo, store.publisher('raw'), fakeConfig({ relative_url: 'raw/tree', file_link: 'hardlink' }));
  assert.equal(rep.success, true);
  const root = path.join(store.publishRoot, 'http/raw/tree');
  for (const [p, t] of Object.entries({ '.treeinfo': 'ti', 'images/boot.iso': 'BOOT', 'EULA': 'eula', 'images/other.img': 'OTHER', 'README': 'r' })) assert.equal(readFileSync(path.join(root, p), 'utf8'), t, p);
  assert.equal(lstatSync(path.join(root, 'EULA')).mode & 0o444, 0o444, 'world-readable even if the source was 0600');
  assert.equal(readlinkSync(path.join(root, 'images/latest')), 'boot.iso');
  assert.equal(readlinkSync(path.join(root, 'shadow')), '/etc/shadow');
  assert.deepEqual((rep.summary as Record<string, number>).trees, 2);

  // A third tree colliding on a file is refused before anything changes.
  const t3 = tree({ 'README': 'other readme' });
  await gen.uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'clash' }, metadata: {}, filePath: t3 }, c, fakeConfig());
  await assert.rejects(dist.publishRepo(repo, store.publisher('raw'), fakeConfig({ relative_url: 'raw/tree' })), (e: StagepushError) => e.code === 'PUBLISH_PATH_COLLISION' && /"clash"/.test(e.message) && new RegExp(`"${path.basename(t2)}"`).test(e.message));
  assert.equal(readFileSync(path.join(root, 'README'), 'utf8'), 'r');

  const r2 = store.repo('mixed', 'directory_distributor');
  const c2 = store.importer('mixed');
  await gen.uploadUnit(r2, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t1 }, c2, fakeConfig());
  await new IsoImporter().uploadUnit(r2, { typeId: 'iso', unitKey: {}, metadata: {}, filePath: path.join(t1, 'EULA') }, c2, fakeConfig());
  await assert.rejects(dist.publishRepo(r2, store.publisher('mixed'), fakeConfig()), (e: StagepushError) => e.code === 'FILE_NOT_RAW_ONLY' && /iso/.test(e.message));
  assert.ok(!existsSync(path.join(store.publishRoot, 'http/mixed')));
});

test('published RAW tree equals the source (diff -r, symlinks compared as links)', async () => {
  const store = new FakeStore();
  const repo = store.repo('raw2', 'directory_distributor');
  const src = tree({ 'a/b/c.txt': 'c', 'a/d.bin': '\u0000\u0001', 'top': 't' }, { 'a/link': 'b/c.txt' });
  mkdirSync(path.join(src, 'empty/dir'), { recursive: true });
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'x' }, metadata: {}, filePath: src }, store.importer('raw2'), fakeConfig());
  await new DirectoryDistributor().publishRepo(repo, store.publisher('raw2'), fakeConfig({ file_link: 'copy' }));
  const r = spawnSync('diff', ['-r', '--no-dereference', src, realpathSync(path.join(store.publishRoot, 'http/raw2'))], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
