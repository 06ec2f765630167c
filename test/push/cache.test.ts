import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PushCache } from '../../src/push/cache.js';
import { tempDir } from '../helpers/cli.js';

const hex = (i: number) => i.toString(16).padStart(64, '0');
const record = (i: number) => ({ name: `p${i}`, version: '1', release: '1', arch: 'noarch', epoch: 0, isSource: false, signingKey: null, files: [`/usr/share/p${i}`] });

test('push cache: header records announced with expectRecords read back as stagedRecord gives them, in any order, any number of times', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  try {
    for (let i = 0; i < 600; i++) c.stageRecord(hex(i), record(i) as never);
    c.flush();
    const plain = (i: number) => JSON.stringify(c.stagedRecord(hex(i)));
    const want = Array.from({ length: 600 }, (_, i) => JSON.stringify(record(i)));
    assert.deepEqual(Array.from({ length: 600 }, (_, i) => plain(i)), want);
    // Announced (with duplicates and unknown digests), asked in order across chunk boundaries,
    // out of order, twice, and some never announced.
    const order = [...Array.from({ length: 600 }, (_, i) => hex(i)), hex(3), hex(999_999)];
    c.expectRecords(order);
    const asked = [0, 1, 2, 255, 256, 257, 599, 3, 3, 100, 700, 999_999, 511, 512, 4];
    assert.deepEqual(
      asked.map((i) => JSON.stringify(c.stagedRecord(hex(i)) ?? null)),
      asked.map((i) => (i < 600 ? want[i] : 'null')),
    );
    // Each read gives a fresh object.
    assert.notEqual(c.stagedRecord(hex(5)), c.stagedRecord(hex(5)));
  } finally {
    c.close();
  }
  // A read-only (dry run) cache sees the stored records too.
  const ro = PushCache.open(dataDir, { readOnly: true });
  try {
    ro.expectRecords([hex(1), hex(2)]);
    assert.deepEqual(ro.stagedRecord(hex(2)), record(2));
    assert.equal(ro.stagedRecord(hex(700)), undefined);
  } finally {
    ro.close();
  }
});

test('push cache: the checksum cache answers the same with and without prefetch (hits, identity misses, unknown paths, repeats, after a set)', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  try {
    const cc = c.checksumCache();
    const st = (i: number) => ({ dev: 1, ino: 100 + i, size: 1000 + i, mtimeMs: 5_000 + i });
    for (let i = 0; i < 2500; i++) cc.set(`/area/f${i}.rpm`, st(i), { sha256: hex(i) });
    for (let i = 0; i < 10; i++) c.stageRecord(hex(i), record(i) as never);
    c.flush();
    const asked: Array<[string, ReturnType<typeof st>]> = [
      ...Array.from({ length: 2500 }, (_, i) => [`/area/f${i}.rpm`, st(i)] as [string, ReturnType<typeof st>]),
      ['/area/f7.rpm', { ...st(7), mtimeMs: 1 }], // changed since: a miss
      ['/area/unknown.rpm', st(1)],
      ['/area/f3.rpm', st(3)], // asked twice
    ];
    const plain = asked.map(([p, s]) => JSON.stringify(cc.get(p, s) ?? null));
    const cc2 = c.checksumCache();
    cc2.prefetch([...asked.map(([p]) => p), '/area/never-asked.rpm']);
    assert.deepEqual(
      asked.map(([p, s]) => JSON.stringify(cc2.get(p, s) ?? null)),
      plain,
    );
    assert.match(plain[0]!, /"rpm":\{"signingKey":null\}/); // a stored header is reported
    assert.equal(plain[2500], 'null');
    assert.equal(plain[2501], 'null');
    // A path prefetched as unknown, then set, then asked: the new row.
    const cc3 = c.checksumCache();
    cc3.prefetch(['/area/new.rpm']);
    cc3.set('/area/new.rpm', st(9), { sha256: hex(9) });
    assert.equal(cc3.get('/area/new.rpm', st(9))?.sha256, hex(9));
  } finally {
    c.close();
  }
});
