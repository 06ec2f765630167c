import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { assembleRpm, encodeHeader, parseHeaders, rawEntries, rawEntriesFrom, readRpmFile, readRpmFileSync, SIGTAG, TAG } from '../../../src/formats/rpm/index.js';
import type { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';
import { rpmFixtures } from '../../helpers/rpm.js';

const fx = rpmFixtures();

/**
 * A sparse file: the package's headers, then `size` bytes in all (holes read as zeros). Its
 * signature header says that size (LONGSIZE, as rpm writes it for a package past 4 GiB), so the
 * reader takes it for a whole package.
 */
function sparseCopy(file: string, size: number): { file: string; headerEnd: number } {
  const data = readFileSync(fx.packages.find((p) => p.name === 'signed-v4')!.file);
  const { signature, layout } = parseHeaders(data);
  const sigEntries = (longSize: number) => [...rawEntriesFrom(signature).filter((e) => e.tag !== SIGTAG.SIZE && e.tag !== SIGTAG.LONGSIZE), ...rawEntries([{ tag: SIGTAG.LONGSIZE, value: { type: 'INT64', value: [longSize] } }])];
  const mainHeader = data.subarray(layout.headerStart, layout.headerEnd);
  const headerStart = assembleRpm(data.subarray(0, 96), encodeHeader(sigEntries(0), TAG.HEADERSIGNATURES), Buffer.alloc(0), Buffer.alloc(0)).length;
  const head = assembleRpm(data.subarray(0, 96), encodeHeader(sigEntries(size - headerStart), TAG.HEADERSIGNATURES), mainHeader, Buffer.alloc(0));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head, 0, head.length, 0);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  return { file, headerEnd: head.length };
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

test("a file of another size than the signature header's SIZE is refused: cut short in the payload (RPM_TRUNCATED), or with bytes after the package (RPM_TRAILING_DATA)", async () => {
  const dir = tempDir();
  const p = fx.packages.find((q) => q.name === 'many-files')!;
  const data = readFileSync(p.file);
  const { layout } = parseHeaders(data);
  const cases = [
    { name: 'cut.rpm', data: data.subarray(0, data.length - 2000), code: 'RPM_TRUNCATED', message: /2000 bytes of the payload are missing/ },
    { name: 'cut1.rpm', data: data.subarray(0, layout.headerEnd), code: 'RPM_TRUNCATED', message: new RegExp(`the file has ${layout.headerEnd} bytes but the package is ${data.length}`) },
    { name: 'long.rpm', data: Buffer.concat([data, Buffer.from('junkjunk')]), code: 'RPM_TRAILING_DATA', message: /8 bytes follow it/ },
  ];
  for (const c of cases) {
    const file = path.join(dir, c.name);
    writeFileSync(file, c.data);
    for (const checksums of [[], ['sha256']] as const) {
      for (const read of [() => readRpmFileSync(file, { checksums: [...checksums] }), () => readRpmFile(file, { checksums: [...checksums] })]) {
        await assert.rejects(
          async () => read(),
          (err: StagepushError) => err.code === c.code && err.file === file && c.message.test(err.message) && err.message.startsWith(`${file}: `),
          `${c.name} with checksums [${checksums.join(', ')}]`,
        );
      }
    }
  }
  // The whole package reads.
  assert.equal(readRpmFileSync(p.file).record.packageSize, data.length);
});
