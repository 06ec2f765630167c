/**
 * The Packages/ pool's link modes: `auto` (the default) makes hard links, and symlinks where the
 * filesystem refuses a hard link (the pool on another filesystem than the store).
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../../helpers/cli.js';
import { PackagePool } from '../../../src/plugins/yum/pool.js';

function storedFile(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  writeFileSync(p, body);
  return p;
}

test('package_link auto: a hard link to the stored file on the same filesystem', () => {
  const root = tempDir('stagepush-pool-');
  const stored = storedFile(path.join(root, 'content'), 'aa11', 'rpm a');
  const pool = new PackagePool(path.join(root, 'versions'), 'auto');
  pool.ensure('a/a-1-1.noarch.rpm', stored, 'aa11');
  pool.save();
  const entry = path.join(pool.dir, 'a', 'a-1-1.noarch.rpm');
  assert.ok(lstatSync(entry).isFile(), 'not a symlink');
  assert.equal(statSync(entry).ino, statSync(stored).ino, 'the stored file itself');
  assert.equal(path.basename(pool.dir), 'packages-auto');
  // The next publish trusts the manifest: nothing is made again.
  const again = new PackagePool(path.join(root, 'versions'), 'auto');
  again.ensure('a/a-1-1.noarch.rpm', () => assert.fail('made again'), 'aa11');
  assert.equal(again.added, 0);
});

test("an entry's content never changes: other content of the same file name gets an entry of its own", () => {
  const root = tempDir('stagepush-pool-');
  const a = storedFile(path.join(root, 'content'), 'a', 'build A');
  const b = storedFile(path.join(root, 'content'), 'b', 'build B');
  const shaA = 'a'.repeat(64);
  const shaB = 'b'.repeat(64);
  const pool = new PackagePool(path.join(root, 'versions'), 'auto');
  assert.equal(pool.entryFor('f', 'foo-1.0-1.noarch.rpm', shaA), 'f/foo-1.0-1.noarch.rpm');
  pool.ensure('f/foo-1.0-1.noarch.rpm', a, shaA);
  pool.save();
  // Rebuilt (same NEVRA, other content): the published entry stays as it is.
  const next = new PackagePool(path.join(root, 'versions'), 'auto');
  const rel = next.entryFor('f', 'foo-1.0-1.noarch.rpm', shaB);
  assert.equal(rel, `f/${shaB.slice(0, 12)}-foo-1.0-1.noarch.rpm`);
  next.ensure(rel, b, shaB);
  assert.equal(readFileSync(path.join(next.dir, 'f', 'foo-1.0-1.noarch.rpm'), 'utf8'), 'build A');
  assert.equal(readFileSync(path.join(next.dir, ...rel.split('/')), 'utf8'), 'build B');
  assert.equal(next.entryFor('f', 'foo-1.0-1.noarch.rpm', shaA), 'f/foo-1.0-1.noarch.rpm', 'content the pool holds keeps its entry');
  assert.throws(() => next.ensure('f/foo-1.0-1.noarch.rpm', b, shaB), /holds a{64}, not b{64}/);
  // Once the old entry is pruned (no metadata names it), the plain name is free again.
  const t = Math.floor(Date.now() / 1000);
  assert.deepEqual(next.prune(t, 0), { unlinked: 0, kept: 1, keptSha256: ['a'.repeat(64)], keptUntilMs: t * 1000 }, 'kept while old metadata may name it (its file pinned until then)');
  assert.deepEqual(next.prune(t + 1, 0), { unlinked: 1, kept: 0, keptSha256: [], keptUntilMs: 0 });
  assert.equal(existsSync(path.join(next.dir, 'f', 'foo-1.0-1.noarch.rpm')), false);
  assert.equal(next.entryFor('f', 'foo-1.0-1.noarch.rpm', shaA), 'f/foo-1.0-1.noarch.rpm');
});

// /dev/shm is a tmpfs on Linux: another filesystem than the temporary directory's.
const shm = '/dev/shm';
const otherFs = existsSync(shm) && statSync(shm).dev !== statSync(tempDir('stagepush-pool-dev-')).dev;
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

test('package_link auto: symlinks when the pool is on another filesystem; hardlink copies there', { skip: otherFs ? false : 'no second filesystem (/dev/shm) here' }, () => {
  const root = tempDir('stagepush-pool-');
  const stored = storedFile(path.join(root, 'content'), 'bb22', 'rpm b');
  const stored2 = storedFile(path.join(root, 'content'), 'cc33', 'rpm c');
  const base = mkdtempSync(path.join(shm, 'stagepush-pool-'));
  made.push(base);
  const auto = new PackagePool(base, 'auto');
  auto.ensure('b/b-1-1.noarch.rpm', stored, 'bb22');
  auto.ensure('c/c-1-1.noarch.rpm', stored2, 'cc33');
  for (const [rel, target] of [['b/b-1-1.noarch.rpm', stored], ['c/c-1-1.noarch.rpm', stored2]] as const) {
    const entry = path.join(auto.dir, ...rel.split('/'));
    assert.ok(lstatSync(entry).isSymbolicLink(), rel);
    assert.equal(readlinkSync(entry), target);
  }
  assert.equal(auto.added, 2);
  const hard = new PackagePool(base, 'hardlink');
  hard.ensure('b/b-1-1.noarch.rpm', stored, 'bb22');
  const copy = path.join(hard.dir, 'b', 'b-1-1.noarch.rpm');
  assert.ok(lstatSync(copy).isFile());
  assert.notEqual(statSync(copy).ino, statSync(stored).ino);
  assert.equal(readFileSync(copy, 'utf8'), 'rpm b');
});

test('the manifest sits beside the pool, not in it (Packages/ serves the pool); one in the pool of an earlier version is read, then moved out', () => {
  const root = tempDir('stagepush-pool-');
  const stored = storedFile(path.join(root, 'content'), 'dd44', 'rpm d');
  const base = path.join(root, 'versions');
  const pool = new PackagePool(base, 'auto');
  pool.ensure('d/d-1-1.noarch.rpm', stored, 'dd44');
  pool.save();
  assert.ok(existsSync(path.join(base, 'packages-auto.json')));
  assert.ok(!existsSync(path.join(pool.dir, '.pool.json')));
  // An earlier version's layout: the manifest inside the pool.
  renameSync(path.join(base, 'packages-auto.json'), path.join(pool.dir, '.pool.json'));
  const again = new PackagePool(base, 'auto');
  again.ensure('d/d-1-1.noarch.rpm', () => assert.fail('made again'), 'dd44');
  again.save();
  assert.ok(existsSync(path.join(base, 'packages-auto.json')));
  assert.ok(!existsSync(path.join(pool.dir, '.pool.json')));
  assert.equal(JSON.parse(readFileSync(path.join(base, 'packages-auto.json'), 'utf8')).entries['d/d-1-1.noarch.rpm'], 'dd44');
});
