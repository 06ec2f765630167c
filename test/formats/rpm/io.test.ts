import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { parseHeaders, readRpmFile, readRpmFileSync } from '../../../src/formats/rpm/index.js';
import { tempDir } from '../../helpers/cli.js';
import { rpmFixtures } from '../../helpers/rpm.js';

const fx = rpmFixtures();

/** A sparse file: the package's headers, then `size` bytes in all (holes read as zeros). */
function sparseCopy(file: string, size: number): { file: string; headerEnd: number } {
  const data = readFileSync(fx.packages.find((p) => p.name === 'signed-v4')!.file);
  const { layout } = parseHeaders(data);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, data, 0, layout.headerEnd, 0);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  return { file, headerEnd: layout.headerEnd };
}

test('only the headers are read: a 12 GiB (sparse) package reads at once, with its exact size', async () => {
  const { file, headerEnd } = sparseCopy(path.join(tempDir(), 'huge-1.0-1.noarch.rpm'), 12 * 1024 ** 3);
  const { record, checksums } = await readRpmFile(file);
  assert.equal(record.packageSize, 12 * 1024 ** 3);
  assert.equal(record.headerEnd, headerEnd);
  assert.deepEqual(checksums, {});
});

test('checksums: one pass, both digests, and the event loop keeps running while hashing', async () => {
  const size = 64 * 1024 * 1024 + 12345;
  const { file } = sparseCopy(path.join(tempDir(), 'big-1.0-1.noarch.rpm'), size);
  let ticked = false;
  const pending = readRpmFile(file, { checksums: ['sha256', 'md5'] });
  setImmediate(() => (ticked = true));
  const { record, checksums } = await pending;
  assert.ok(ticked, 'an immediate scheduled after the call ran before the result');
  const data = readFileSync(file);
  assert.equal(checksums.sha256, createHash('sha256').update(data).digest('hex'));
  assert.equal(checksums.md5, createHash('md5').update(data).digest('hex'));
  assert.equal(record.packageSize, size);
  assert.deepEqual(readRpmFileSync(file, { checksums: ['md5'] }).checksums, { md5: checksums.md5 });
});

test('the sync reader reuses its chunk buffer: files read one after the other (large, small, large) each get their own record and digests', () => {
  const big = sparseCopy(path.join(tempDir(), 'big2-1.0-1.noarch.rpm'), 3 * 1024 * 1024 + 7).file;
  const order = [big, ...fx.packages.map((p) => p.file), big, ...fx.packages.map((p) => p.file).reverse()];
  const first = new Map<string, ReturnType<typeof readRpmFileSync>>();
  for (const f of order) {
    const got = readRpmFileSync(f, { checksums: ['sha256'] });
    assert.equal(got.checksums.sha256, createHash('sha256').update(readFileSync(f)).digest('hex'), f);
    const seen = first.get(f);
    if (seen) assert.deepEqual(got, seen, `${f}: the same on a second read`);
    else first.set(f, got);
  }
  // A record read before other files were read with the shared buffer is left as it was.
  const p = fx.packages[0]!;
  const early = readRpmFileSync(p.file);
  const snapshot = JSON.stringify(early.record);
  for (const q of fx.packages) readRpmFileSync(q.file, { checksums: ['sha256'] });
  assert.equal(JSON.stringify(early.record), snapshot);
});
