import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { fixTreeModes } from '../../../src/plugins/common/fsutil.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PathClaims, ingestDirectory, layoutDirectoryUnit, manifestDigest, manifestOf, scanDirectory, symlinkEscapes, type DirectoryEntry } from '../../../src/plugins/common/directory.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fileSha256, modeOf } from '../../helpers/fakeconduit.js';
import { tempDir } from '../../helpers/cli.js';
import type { Json } from '../../../src/engine/contract.js';


function makeTree(): string {
  const d = tempDir();
  mkdirSync(path.join(d, 'images/pxeboot'), { recursive: true });
  mkdirSync(path.join(d, 'empty'));
  writeFileSync(path.join(d, '.treeinfo'), '[general]\nname = x\n');
  writeFileSync(path.join(d, 'images/pxeboot/vmlinuz'), Buffer.from([0, 1, 2, 255, 254]));
  writeFileSync(path.join(d, 'images/install.img'), 'img');
  chmodSync(path.join(d, 'images/install.img'), 0o755);
  symlinkSync('pxeboot/vmlinuz', path.join(d, 'images/vmlinuz-link'));
  symlinkSync('/etc/shadow', path.join(d, 'shadow'));
  symlinkSync('../../outside', path.join(d, 'images/out'));
  return d;
}

test('symlinkEscapes', () => {
  assert.equal(symlinkEscapes('a/b', 'c'), false);
  assert.equal(symlinkEscapes('a/b', '../c'), false);
  assert.equal(symlinkEscapes('a/b', '../../c'), true);
  assert.equal(symlinkEscapes('a', '/etc/shadow'), true);
});

test('symlinkEscapes resolves through the tree\'s own symlinks: s/up -> .. makes s/up/s/up/../.. leave the tree; links that stay inside do not; a loop is not taken to stay inside', () => {
  const links = new Map([
    ['s/up', '..'],
    ['abs', '/etc'],
    ['s/self', 'self'],
    ['d/back', '../s'],
  ]);
  const deep = `${'s/up/'.repeat(12)}${'../'.repeat(12)}etc/passwd`;
  assert.equal(symlinkEscapes('x', deep), false, 'as text it stays inside');
  assert.equal(symlinkEscapes('x', deep, links), true);
  assert.equal(symlinkEscapes('x', 's/up/..', links), true);
  assert.equal(symlinkEscapes('x', 's/up/s/up/s', links), false, 'back to the root each time, never above it');
  assert.equal(symlinkEscapes('s/up', '..', links), false, 'the root itself');
  assert.equal(symlinkEscapes('d/x', 'back/up/f', links), false);
  assert.equal(symlinkEscapes('d/x', 'back/up/../f', links), true);
  assert.equal(symlinkEscapes('x', 'abs', links), true, 'through a link with an absolute target');
  assert.equal(symlinkEscapes('x', 's/self', links), true, 'a loop');
  assert.equal(symlinkEscapes('x', 'missing/../f', links), false, 'a path the tree does not hold is judged as text');
});

test('scanDirectory records escapes: true for a link leaving the tree through another of its links (the push and the importer refuse it with refuse_escaping_symlinks)', async () => {
  const d = tempDir();
  mkdirSync(path.join(d, 's'));
  writeFileSync(path.join(d, 'f'), 'f');
  symlinkSync('..', path.join(d, 's', 'up'));
  const target = `${'s/up/'.repeat(12)}${'../'.repeat(12)}etc/passwd`;
  symlinkSync(target, path.join(d, 'x'));
  symlinkSync('s/up/f', path.join(d, 'inside'));
  // The kernel agrees: the link leads out of the tree.
  assert.equal(readFileSync(path.join(d, 'x'), 'utf8'), readFileSync('/etc/passwd', 'utf8'));
  const { entries } = await scanDirectory(d);
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.equal(by.get('x')!.escapes, true);
  assert.equal(by.get('s/up')!.escapes, undefined);
  assert.equal(by.get('inside')!.escapes, undefined);
  const store = new FakeStore();
  await assert.rejects(ingestDirectory(store.importer('r'), d, 't', { refuseEscapingSymlinks: true }), (err: StagepushError) => err.code === 'FILE_DIRECTORY_ESCAPING_SYMLINK' && err.message.includes(path.join(d, 'x')));
  const kept = manifestOf(await ingestDirectory(store.importer('r'), d, 't'));
  assert.equal(kept.find((e) => e.path === 'x')!.escapes, true);
});

test('ingestDirectory stores every file as a blob and the manifest as metadata; digest is canonical', async () => {
  const tree = makeTree();
  const store = new FakeStore();
  const conduit = store.importer('r1');
  const unit = await ingestDirectory(conduit, tree, 'ks');
  assert.equal(unit.typeId, 'directory');
  assert.equal(unit.unitKey.name, 'ks');
  const manifest = manifestOf(unit);
  const byPath = new Map(manifest.map((e) => [e.path, e]));
  assert.deepEqual([...byPath.keys()].sort(), ['.treeinfo', 'empty', 'images', 'images/install.img', 'images/out', 'images/pxeboot', 'images/pxeboot/vmlinuz', 'images/vmlinuz-link', 'shadow']);
  const vml = byPath.get('images/pxeboot/vmlinuz')!;
  assert.equal(vml.sha256, fileSha256(path.join(tree, 'images/pxeboot/vmlinuz')));
  assert.equal(vml.size, 5);
  assert.equal(byPath.get('images/install.img')!.mode, 0o755);
  assert.deepEqual(byPath.get('shadow'), { path: 'shadow', type: 'symlink', mode: 0o777, target: '/etc/shadow', escapes: true });
  assert.equal(byPath.get('images/out')!.escapes, true);
  assert.equal(byPath.get('images/vmlinuz-link')!.escapes, undefined);
  assert.equal(unit.unitKey.digest, manifestDigest(manifest));
  assert.equal(unit.metadata.file_count, 3);
  assert.equal(unit.blobs!.length, 3);
  for (const sha of unit.blobs!) assert.equal(fileSha256(store.blobPath(sha)), sha);

  // Same tree → same digest; one byte changed → another digest.
  const again = await ingestDirectory(conduit, tree, 'ks');
  assert.equal(again.unitKey.digest, unit.unitKey.digest);
  writeFileSync(path.join(tree, '.treeinfo'), '[general]\nname = y\n');
  const changed = await ingestDirectory(conduit, tree, 'ks');
  assert.notEqual(changed.unitKey.digest, unit.unitKey.digest);
  // Entry order does not matter for the digest.
  const e: DirectoryEntry[] = [{ path: 'b', type: 'dir', mode: 0o755 }, { path: 'a', type: 'dir', mode: 0o755 }];
  assert.equal(manifestDigest(e), manifestDigest([...e].reverse()));

  await assert.rejects(ingestDirectory(conduit, tree, 'ks', { refuseEscapingSymlinks: true }), (err: StagepushError) => err.code === 'FILE_DIRECTORY_ESCAPING_SYMLINK');
  await assert.rejects(ingestDirectory(conduit, path.join(tree, 'nope'), 'x'), (err: StagepushError) => err.code === 'FILE_DIRECTORY_NOT_FOUND');
  await assert.rejects(ingestDirectory(conduit, path.join(tree, '.treeinfo'), 'x'), (err: StagepushError) => err.code === 'FILE_NOT_A_DIRECTORY');
  await assert.rejects(ingestDirectory(conduit, tree, 'a/b'), (err: StagepushError) => err.code === 'FILE_DIRECTORY_BAD_NAME');
});

test('scanDirectory refuses FIFOs', async () => {
  const d = tempDir();
  const r = spawnSync('mkfifo', [path.join(d, 'fifo')]);
  if (r.status !== 0) return;
  await assert.rejects(scanDirectory(d), (err: StagepushError) => err.code === 'FILE_DIRECTORY_UNSUPPORTED_ENTRY' && err.message.includes('fifo'));
});

test('layoutDirectoryUnit: symlinks to blobs, hard links or copies; RAW symlinks kept; byte for byte', async () => {
  const tree = makeTree();
  const store = new FakeStore();
  const unit = await ingestDirectory(store.importer('r1'), tree, 'ks');
  for (const mode of ['symlink', 'hardlink', 'copy'] as const) {
    const out = tempDir();
    const old = process.umask(0o077);
    const counts = await layoutDirectoryUnit(unit, out, (s) => store.blobPath(s), { mode }).finally(() => process.umask(old));
    assert.deepEqual(counts, { files: 3, dirs: 3, symlinks: 3 });
    for (const rel of ['.treeinfo', 'images/pxeboot/vmlinuz', 'images/install.img']) {
      assert.deepEqual(readFileSync(path.join(out, rel)), readFileSync(path.join(tree, rel)), `${mode}: ${rel}`);
      const l = lstatSync(path.join(out, rel));
      if (mode === 'symlink') assert.equal(readlinkSync(path.join(out, rel)), store.blobPath(fileSha256(path.join(tree, rel))));
      else assert.ok(l.isFile());
      if (mode === 'hardlink') assert.equal(l.ino, statSync(store.blobPath(fileSha256(path.join(tree, rel)))).ino);
      // Executable when staged (install.img 0755): published 0755, whatever the stored file's mode; else 0644.
      if (mode === 'copy') assert.equal(modeOf(path.join(out, rel)), rel === 'images/install.img' ? 0o755 : 0o644);
      assert.equal(statSync(path.join(out, rel)).mode & 0o111, statSync(path.join(tree, rel)).mode & 0o111, `${mode}: ${rel} keeps its executable bits`);
    }
    assert.equal(readlinkSync(path.join(out, 'shadow')), '/etc/shadow');
    assert.equal(readlinkSync(path.join(out, 'images/vmlinuz-link')), 'pxeboot/vmlinuz');
    assert.ok(statSync(path.join(out, 'empty')).isDirectory());
    assert.equal(modeOf(path.join(out, 'images/pxeboot')), 0o755);
  }
});

test('manifestOf refuses paths leaving the tree', () => {
  for (const bad of ['../x', '/etc/passwd', 'a/../../b', 'a//b', '']) {
    assert.throws(() => manifestOf({ unitKey: { name: 'n' }, metadata: { manifest: [{ path: bad, type: 'dir', mode: 493 }] } }), (e: StagepushError) => e.code === 'FILE_DIRECTORY_BAD_MANIFEST', bad);
  }
  assert.throws(() => manifestOf({ unitKey: { name: 'n' }, metadata: { manifest: [{ path: 'f', type: 'file', mode: 420, sha256: 'zz' }] } }), /bad manifest entry/);
});

test('PathClaims: collisions with reserved paths and other trees name both', async () => {
  const tree = makeTree();
  const store = new FakeStore();
  const ks = await ingestDirectory(store.importer('r1'), tree, 'ks');
  const c = new PathClaims();
  c.reserve('repodata/', 'yum metadata');
  c.reserve('Packages', 'yum packages');
  c.claimUnit(ks);
  // another tree sharing the directory "images" but not the files: fine
  c.claimDir('images', 'directory unit "other"');
  c.claimFile('images/other.img', 'directory unit "other"');
  assert.throws(() => c.claimFile('images/install.img', 'directory unit "other"'), (e: StagepushError) => e.code === 'PUBLISH_PATH_COLLISION' && /directory unit "other"/.test(e.message) && /directory unit "ks"/.test(e.message));
  assert.throws(() => c.claimFile('repodata/repomd.xml', 'directory unit "bad"'), (e: StagepushError) => /directory unit "bad"/.test(e.message) && /yum metadata/.test(e.message));
  assert.throws(() => c.claimDir('Packages', 'directory unit "bad"'), /yum packages/);
  assert.throws(() => c.claimFile('.treeinfo/x', 'directory unit "bad"'), /directory unit "ks"/);
  assert.throws(() => c.reserve('images', 'yum'), /images/);
  assert.throws(() => c.claimFile('../x', 'bad'), (e: StagepushError) => e.code === 'PUBLISH_BAD_PATH');
  // The walk up from a path stops at its first claimed ancestor: a file or tree met higher up is still met.
  const d = new PathClaims();
  d.claimFile('a/b', 'file a/b');
  assert.throws(() => d.claimFile('a/b/c/d/e', 'deep'), /file a\/b/);
  d.reserve('t', 'tree t');
  assert.throws(() => d.claimDir('t/x/y', 'deep'), /tree t/);
  d.claimDir('p/q/r', 'dir p/q/r');
  assert.throws(() => d.claimFile('p', 'file p'), /dir p\/q\/r/);
  assert.throws(() => d.claimFile('p/q', 'file p/q'), /dir p\/q\/r/);
  d.claimFile('p/q/r/s/t', 'deep file');
  // A deep chain (one directory and one file a level) is claimed level by level, each walk short.
  let deep = 'l0';
  for (let i = 1; i < 300; i++) {
    d.claimDir(deep, 'chain');
    d.claimFile(`${deep}/f`, 'chain');
    deep = `${deep}/l${i}`;
  }
  assert.throws(() => d.claimDir('l0/l1/f/x', 'under a file'), /chain/);
});

test('layoutDirectoryUnit: two files of one content with different modes are published each with its own (0755 executable, else 0644; 0600 readable)', async () => {
  const tree = tempDir();
  writeFileSync(path.join(tree, 'run.sh'), 'echo hi\n');
  writeFileSync(path.join(tree, 'run.txt'), 'echo hi\n');
  writeFileSync(path.join(tree, 'secret'), 'not secret once published\n');
  chmodSync(path.join(tree, 'run.sh'), 0o755);
  chmodSync(path.join(tree, 'run.txt'), 0o644);
  chmodSync(path.join(tree, 'secret'), 0o600);
  const store = new FakeStore();
  const unit = await ingestDirectory(store.importer('r1'), tree, 'modes');
  for (const mode of ['symlink', 'hardlink', 'auto', 'copy'] as const) {
    const out = tempDir();
    await layoutDirectoryUnit(unit, out, (s) => store.blobPath(s), { mode });
    await fixTreeModes(out);
    const eff = (rel: string) => statSync(path.join(out, rel)).mode & 0o777;
    assert.equal(eff('run.sh'), 0o755, `${mode}: run.sh`);
    assert.equal(eff('run.txt'), 0o644, `${mode}: run.txt`);
    assert.equal(eff('secret') & 0o444, 0o444, `${mode}: secret is readable`);
  }
});

test('layoutDirectoryUnit, hardlink mode across filesystems: the copy made in place of the link keeps the executable bit', async (t) => {
  const other = '/dev/shm';
  const out = tempDir();
  let shm: string;
  try {
    if (statSync(other).dev === statSync(out).dev) return t.skip('/dev/shm is on the same filesystem as the temp dir');
    shm = mkdtempSync(path.join(other, 'stagepush-layout-'));
  } catch {
    return t.skip('no /dev/shm');
  }
  try {
    const blob = path.join(shm, 'blob');
    writeFileSync(blob, '#!/bin/sh\n');
    chmodSync(blob, 0o755);
    const entries: DirectoryEntry[] = [{ path: 'run.sh', type: 'file', mode: 0o755, sha256: fileSha256(blob), size: 10 }];
    const unit = { unitKey: { name: 't', digest: manifestDigest(entries) }, metadata: { manifest: entries as unknown as Json } };
    await layoutDirectoryUnit(unit, out, () => blob, { mode: 'hardlink' });
    assert.equal(statSync(path.join(out, 'run.sh')).ino === statSync(blob).ino, false, 'a copy: the link was refused (EXDEV)');
    assert.equal(statSync(path.join(out, 'run.sh')).mode & 0o777, 0o755);
  } finally {
    rmSync(shm, { recursive: true, force: true });
  }
});
