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

test('string arrays: UTF-8 ones decode whole; one Latin-1 string among them decodes alone, the others as UTF-8', () => {
  const spec = { name: 'arr', version: '1', release: '1', files: [{ path: '/usr/share/arr/na\u00efve.txt', data: Buffer.from('x') }, { path: '/usr/share/arr/plain.txt', data: Buffer.from('y') }, { path: '/usr/share/arr/\u00e9t\u00e9.txt', data: Buffer.from('z') }] };
  const names = (r: ReturnType<typeof parseRpm>) => r.files.basenames.map((b, i) => r.files.dirnames[r.files.dirindexes[i]!] + b).sort();
  assert.deepEqual(names(parseRpm(buildRpm(spec))), ['/usr/share/arr/na\u00efve.txt', '/usr/share/arr/plain.txt', '/usr/share/arr/\u00e9t\u00e9.txt']);
  // Make the first basename Latin-1 ("ï" c3 af -> ef 'X'): that string alone falls back.
  const rpm = buildRpm(spec);
  const at = rpm.indexOf(Buffer.from('na\u00efve.txt\0', 'utf8'));
  assert.ok(at > 0);
  rpm[at + 2] = 0xef;
  rpm[at + 3] = 0x58;
  assert.deepEqual(names(parseRpm(rpm)), ['/usr/share/arr/na\u00efXve.txt', '/usr/share/arr/plain.txt', '/usr/share/arr/\u00e9t\u00e9.txt']);
});
