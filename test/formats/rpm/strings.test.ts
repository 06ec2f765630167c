import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeaderString, latin1ToUtf8 } from '../../../src/formats/rpm/strings.js';
import { buildRpm } from '../../../src/formats/rpm/writer.js';
import { parseRpm } from '../../../src/formats/rpm/index.js';

test('valid UTF-8 header strings decode as UTF-8', () => {
  assert.equal(decodeHeaderString(Buffer.from('café – ok', 'utf8')), 'café – ok');
});

test('invalid UTF-8 decodes as createrepo_c does (Latin-1, continuation and control bytes dropped)', () => {
  const bytes = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x85, 0x01, 0x09, 0x41]);
  assert.equal(decodeHeaderString(bytes), 'café\tA');
  assert.equal(latin1ToUtf8(bytes), 'café\tA');
});

test('a package whose description is Latin-1 is read without U+FFFD', () => {
  const rpm = buildRpm({ name: 'latin', version: '1', release: '1', description: 'caf\u00e9 description' });
  // Re-encode the UTF-8 "é" (c3 a9) as Latin-1 "é" plus one ASCII byte: same length, invalid UTF-8.
  const at = rpm.indexOf(Buffer.from('caf\u00e9 description', 'utf8'));
  assert.ok(at > 0);
  rpm[at + 3] = 0xe9;
  rpm[at + 4] = 0x58; // 'X'
  const record = parseRpm(rpm);
  assert.equal(record.description, 'caf\u00e9X description');
  assert.ok(!record.description.includes('\ufffd'));
});
