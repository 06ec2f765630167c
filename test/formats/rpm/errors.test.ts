import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StagepushError } from '../../../src/errors.js';
import {
  parseHeaders,
  parseRpm,
  parseSignatures,
  readRpmFile,
  buildRpm,
  SIGTAG,
} from '../../../src/formats/rpm/index.js';
import { tempDir } from '../../helpers/cli.js';
import { rpmFixtures, writeBrokenRpms, writeTwoKeyRpm } from '../../helpers/rpm.js';

const fx = rpmFixtures();
const pkg = (n: string) => fx.packages.find((p) => p.name === n)!;

function expectCode(fn: () => unknown, code: string, re?: RegExp): StagepushError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StagepushError, `expected StagepushError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.kind, 'invalid');
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected ${code}`);
}

async function expectFileCode(file: string, code: string): Promise<StagepushError> {
  try {
    await readRpmFile(file, { checksums: ['sha256'] });
  } catch (err) {
    assert.ok(err instanceof StagepushError, `expected StagepushError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), 'message names the file');
    return err;
  }
  assert.fail(`expected ${code} for ${file}`);
}

test('truncated packages give RPM_TRUNCATED naming the offset', async () => {
  const dir = tempDir();
  const data = readFileSync(pkg('signed-v4').file);
  const { layout } = parseHeaders(data);
  for (const cut of [0, 1, 50, 95, 96, 100, 111, layout.headerStart - 1, layout.headerStart + 8, layout.headerStart + 20, layout.headerEnd - 1]) {
    const f = path.join(dir, `cut-${cut}.rpm`);
    writeFileSync(f, data.subarray(0, cut));
    const err = await expectFileCode(f, 'RPM_TRUNCATED');
    assert.match(err.message, /\d+ bytes/);
    expectCode(() => parseRpm(data.subarray(0, cut)), 'RPM_TRUNCATED');
  }
  // Up to the end of the main header is enough for the record, in memory; a file holding no more
  // is a package cut short (its payload is missing).
  const record = parseRpm(data.subarray(0, layout.headerEnd));
  assert.equal(record.name, 'sp-signed');
  assert.equal(record.packageSize, layout.headerEnd);
  const f = path.join(dir, 'headers-only.rpm');
  writeFileSync(f, data.subarray(0, layout.headerEnd));
  const err = await expectFileCode(f, 'RPM_TRUNCATED');
  assert.match(err.message, /bytes of the payload are missing/);
});

test('corrupt magic, counts and lengths give RPM_* errors with offsets', () => {
  const data = readFileSync(pkg('signed-v4').file);
  const { layout } = parseHeaders(data);
  const mutate = (at: number, bytes: number[]): Buffer => {
    const b = Buffer.from(data);
    bytes.forEach((v, i) => (b[at + i] = v));
    return b;
  };
  expectCode(() => parseRpm(mutate(0, [0x00])), 'RPM_BAD_MAGIC', /offset 0/);
  expectCode(() => parseRpm(Buffer.from('not an rpm at all, just some text that is long enough to fill a lead......................................................')), 'RPM_BAD_MAGIC');
  expectCode(() => parseRpm(mutate(4, [9])), 'RPM_BAD_LEAD', /offset 4/);
  expectCode(() => parseRpm(mutate(96, [0])), 'RPM_BAD_HEADER', /offset 96/);
  expectCode(() => parseRpm(mutate(layout.headerStart, [0])), 'RPM_BAD_HEADER', new RegExp(`offset ${layout.headerStart}`));
  // Index count beyond rpm's limit, zero, and data length beyond the limit / the file.
  expectCode(() => parseRpm(mutate(104, [0, 1, 0, 0])), 'RPM_LIMIT', /65536 index entries/);
  expectCode(() => parseRpm(mutate(104, [0, 0, 0, 0])), 'RPM_LIMIT');
  expectCode(() => parseRpm(mutate(layout.headerStart + 12, [0x7f, 0, 0, 0])), 'RPM_LIMIT');
  expectCode(() => parseRpm(mutate(layout.headerStart + 12, [0, 0x7f, 0, 0])), 'RPM_TRUNCATED');
  expectCode(() => parseRpm(mutate(layout.headerStart + 8, [0, 0, 0x7f, 0])), 'RPM_TRUNCATED');
  // An entry pointing outside the store, a misaligned INT32, an unknown type, a count too big.
  const entry0 = layout.headerStart + 16 + 16; // second entry (after the region tag)
  expectCode(() => parseRpm(mutate(entry0 + 8, [0x00, 0x10, 0, 0])), 'RPM_BAD_HEADER', /outside/);
  expectCode(() => parseRpm(mutate(entry0 + 8, [0xff, 0xff, 0xff, 0xf0])), 'RPM_BAD_HEADER', /outside/);
  expectCode(() => parseRpm(mutate(entry0 + 4, [0, 0, 0, 42])), 'RPM_BAD_HEADER', /unknown type 42/);
  expectCode(() => parseRpm(mutate(entry0 + 12, [0x10, 0, 0, 0])), 'RPM_BAD_HEADER');
});

test('strings without a terminating NUL are refused', () => {
  const data = readFileSync(pkg('unsigned').file);
  const parsed = parseHeaders(data);
  const b = Buffer.from(data);
  // Overwrite the whole data store with non-NUL bytes.
  b.fill(0x41, parsed.header.storeStart, parsed.header.storeStart + parsed.header.dataLength);
  expectCode(() => parseRpm(b), 'RPM_BAD_HEADER', /not NUL-terminated|region tag/);
});

test('non-regular files are refused before opening: a FIFO named x.rpm does not block', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'x.rpm');
  const r = spawnSync('mkfifo', [fifo]);
  assert.equal(r.status, 0);
  const started = Date.now();
  const timer = new Promise((_, rej) => setTimeout(() => rej(new Error('readRpmFile blocked on a FIFO')), 3000).unref());
  const err = await Promise.race([expectFileCode(fifo, 'RPM_NOT_A_FILE'), timer]);
  assert.match((err as Error).message, /FIFO/);
  assert.ok(Date.now() - started < 3000);
  const sub = path.join(dir, 'dir.rpm');
  mkdirSync(sub);
  assert.match((await expectFileCode(sub, 'RPM_NOT_A_FILE')).message, /directory/);
  await expectFileCode('/dev/null', 'RPM_NOT_A_FILE');
  await expectFileCode(path.join(dir, 'missing.rpm'), 'RPM_NOT_FOUND');
});

test('two different signing keys give RPM_MULTIPLE_KEYS', async () => {
  const f = path.join(tempDir(), 'two-keys-1.0-1.noarch.rpm');
  const { keyIds } = writeTwoKeyRpm(f);
  const err = await expectFileCode(f, 'RPM_MULTIPLE_KEYS');
  assert.ok(err.message.includes(keyIds[0]) && err.message.includes(keyIds[1]), err.message);
  // The same key twice (RSAHEADER + PGP from --rpmv3) is one key.
  assert.equal(parseRpm(readFileSync(pkg('signed-v3').file)).signingKey, fx.keys.rsa.keyId);
});

test('writeBrokenRpms gives the codes it promises', async () => {
  for (const b of writeBrokenRpms(tempDir())) await expectFileCode(b.file, b.code);
});

/** A v3 signature packet (old format, 2-byte length), RSA/SHA1 like walrus-5.21-1.noarch.rpm. */
function v3Packet(keyId: string): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 5, 0x00]),
    Buffer.from([0x5f, 0x00, 0x00, 0x00]),
    Buffer.from(keyId, 'hex'),
    Buffer.from([1, 2, 0xab, 0xcd]),
    Buffer.from([0x00, 0x08, 0xff]), // a tiny MPI
  ]);
  const hdr = Buffer.from([0x80 | (2 << 2) | 1, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([hdr, body]);
}

/** A v4 signature packet (new format) with the given hashed / unhashed subpackets. */
function v4Packet(hashed: Buffer[], unhashed: Buffer[], pubkeyAlgo = 1): Buffer {
  const h = Buffer.concat(hashed);
  const u = Buffer.concat(unhashed);
  const body = Buffer.concat([Buffer.from([4, 0x00, pubkeyAlgo, 8, h.length >> 8, h.length & 0xff]), h, Buffer.from([u.length >> 8, u.length & 0xff]), u, Buffer.from([0x12, 0x34, 0x00, 0x01, 0x01])]);
  const len = body.length;
  const lenBytes = len < 192 ? Buffer.from([len]) : Buffer.from([((len - 192) >> 8) + 192, (len - 192) & 0xff]);
  return Buffer.concat([Buffer.from([0xc0 | 2]), lenBytes, body]);
}
const sub = (type: number, data: Buffer) => Buffer.concat([Buffer.from([data.length + 1, type]), data]);

test('key ids from v3 packets, v4 Issuer subpackets and Issuer Fingerprint', () => {
  assert.deepEqual(
    parseSignatures(v3Packet('0123456789abcdef')).map((s) => [s.packetVersion, s.keyId, s.longKeyId, s.pubkeyAlgo, s.hashAlgo]),
    [[3, '89ABCDEF', '0123456789ABCDEF', 1, 2]],
  );
  const issuer = sub(16, Buffer.from('1122334455667788', 'hex'));
  const time = sub(2, Buffer.from([0x60, 0, 0, 0]));
  const fpr = sub(33, Buffer.concat([Buffer.from([4]), Buffer.from('00112233445566778899aabbccddeeff0a0b0c0d', 'hex')]));
  assert.equal(parseSignatures(v4Packet([time], [issuer]))[0].keyId, '55667788', 'issuer in the unhashed area');
  assert.equal(parseSignatures(v4Packet([time, issuer], []))[0].keyId, '55667788', 'issuer in the hashed area');
  assert.equal(parseSignatures(v4Packet([time, fpr], []))[0].longKeyId, 'CCDDEEFF0A0B0C0D', 'fingerprint fallback');
  // A long packet (two-byte new-format length).
  const pad = sub(20, Buffer.alloc(300, 1));
  assert.equal(parseSignatures(v4Packet([time, pad], [issuer]))[0].keyId, '55667788');

  // A v3 signature in the PGP tag of a package, as old rpmsign wrote.
  const pkt = v3Packet('00000000f78fb195');
  const rpm = buildRpm({ name: 'v3pkt', version: '1', release: '1', signature: [{ tag: SIGTAG.PGP, type: 7, count: pkt.length, data: pkt }] });
  const rec = parseRpm(rpm);
  assert.equal(rec.signingKey, 'F78FB195');
  assert.equal(rec.signatures[0].tag, 'PGP');
  assert.equal(rec.signatures[0].packetVersion, 3);

  // rpm 6's OPENPGP tag: base64-encoded packets in a STRING_ARRAY.
  const b64 = Buffer.from(v4Packet([time], [issuer]).toString('base64') + '\0');
  const v6 = parseRpm(buildRpm({ name: 'openpgp', version: '1', release: '1', signature: [{ tag: SIGTAG.OPENPGP, type: 8, count: 1, data: b64 }] }));
  assert.deepEqual([v6.signingKey, v6.signatures[0].tag], ['55667788', 'OPENPGP']);

  // Garbage in a signature tag is a coded error.
  const bad = buildRpm({ name: 'badsig', version: '1', release: '1', signature: [{ tag: SIGTAG.RSAHEADER, type: 7, count: 4, data: Buffer.from([0x89, 0x00, 0x10, 0x04]) }] });
  expectCode(() => parseRpm(bad), 'RPM_BAD_SIGNATURE', /RSAHEADER/);
});
