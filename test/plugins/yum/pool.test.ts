/** The Packages/ pool: new entries are made on the thread pool and `settle` waits for them. */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PackagePool } from '../../../src/plugins/yum/pool.js';
import { tempDir } from '../../helpers/cli.js';

function storeWith(root: string, n: number): string[] {
  const dir = path.join(root, 'store');
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const f = path.join(dir, `blob-${i}`);
    writeFileSync(f, `content ${i}\n`);
    return f;
  });
}

test('pool: 3,000 new symlinks are all in place after settle, and the manifest lists them', async () => {
  const root = tempDir('pool-');
  const blobs = storeWith(root, 3000);
  const pool = new PackagePool(path.join(root, 'versions'), 'symlink');
  blobs.forEach((b, i) => pool.ensure(`${'abc'[i % 3]}/p-${i}.rpm`, b, `sha-${i}`));
  // Saving before the entries are in place would record directory stamps too early.
  assert.throws(() => pool.save(), /settle/);
  await pool.settle();
  pool.save();
  assert.equal(pool.added, 3000);
  for (let i = 0; i < 3000; i += 397) {
    const p = path.join(pool.dir, 'abc'[i % 3]!, `p-${i}.rpm`);
    assert.equal(readlinkSync(p), blobs[i]);
  }
  const manifest = JSON.parse(readFileSync(path.join(pool.dir, '.pool.json'), 'utf8')) as { entries: Record<string, string> };
  assert.equal(Object.keys(manifest.entries).length, 3000);
  // A second pool over the same directory trusts it: nothing to make again.
  const again = new PackagePool(path.join(root, 'versions'), 'symlink');
  blobs.forEach((b, i) => again.ensure(`${'abc'[i % 3]}/p-${i}.rpm`, b, `sha-${i}`));
  await again.settle();
  assert.equal(again.added, 0);
});

test('pool: an entry that appeared meanwhile is replaced; a link that cannot be made fails settle', async () => {
  const root = tempDir('pool-');
  const [a, b] = storeWith(root, 2);
  const pool = new PackagePool(path.join(root, 'versions'), 'symlink');
  // Something made the entry after the pool listed its directory (another process, a crash leftover).
  mkdirSync(path.join(pool.dir, 'x'), { recursive: true });
  symlinkSync('/nonexistent', path.join(pool.dir, 'x', 'x.rpm'));
  pool.ensure('x/x.rpm', a!, 'sha-a');
  await pool.settle();
  assert.equal(readlinkSync(path.join(pool.dir, 'x', 'x.rpm')), a);

  const hard = new PackagePool(path.join(root, 'versions'), 'hardlink');
  hard.ensure('y/y.rpm', b!, 'sha-b');
  hard.ensure('y/gone.rpm', path.join(root, 'store', 'missing'), 'sha-gone');
  await assert.rejects(hard.settle(), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.equal(statSync(path.join(hard.dir, 'y', 'y.rpm')).ino, statSync(b!).ino, 'the other entry is a hard link');
  assert.ok(!existsSync(path.join(hard.dir, 'y', 'gone.rpm')));
  assert.ok(lstatSync(path.join(hard.dir, 'y')).isDirectory());
});
