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
