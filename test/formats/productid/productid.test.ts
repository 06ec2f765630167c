import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseProductCertificate, ProductIdError, decodeOid, readTlv } from '../../../src/formats/productid/index.js';
import { tempDir } from '../../helpers/cli.js';
import { productCert } from '../../helpers/staged.js';

const dir = tempDir();

test('products from the 1.3.6.1.4.1.2312.9.1.<id>.<1-4> extensions, as pushsource gives them', () => {
  const pem = readFileSync(
    productCert(dir, {
      '1.3.6.1.4.1.2312.9.1.69.1': 'Red Hat Enterprise Linux Server',
      '1.3.6.1.4.1.2312.9.1.69.2': '6.10',
      '1.3.6.1.4.1.2312.9.1.69.3': 'x86_64',
      '1.3.6.1.4.1.2312.9.1.69.4': 'rhel-6,rhel-6-server',
    }),
    'utf8',
  );
  assert.deepEqual(parseProductCertificate(pem, 'x.pem'), [
    { id: 69, name: 'Red Hat Enterprise Linux Server', version: '6.10', architecture: ['x86_64'], provided_tags: ['rhel-6', 'rhel-6-server'] },
  ]);
});

test('several products, missing attributes are null, order of first appearance', () => {
  const pem = readFileSync(
    productCert(dir, {
      '1.3.6.1.4.1.2312.9.1.479.1': 'Red Hat Enterprise Linux for x86_64',
      '1.3.6.1.4.1.2312.9.1.72.1': 'RHEL for IBM z',
      '1.3.6.1.4.1.2312.9.1.72.3': 's390x,s390',
      '1.3.6.1.4.1.2312.9.1.479.2': '9.4',
    }),
  );
  assert.deepEqual(parseProductCertificate(pem, 'x.pem'), [
    { id: 479, name: 'Red Hat Enterprise Linux for x86_64', version: '9.4', architecture: null, provided_tags: null },
    { id: 72, name: 'RHEL for IBM z', version: null, architecture: ['s390x', 's390'], provided_tags: null },
  ]);
});

test('a certificate without product extensions is not a ProductID certificate', () => {
  const pem = readFileSync(productCert(dir, { '1.3.6.1.4.1.2312.9.2.1': 'other' }), 'utf8');
  assert.throws(
    () => parseProductCertificate(pem, '/s/d/PRODUCTID/plain.pem'),
    (e: unknown) => e instanceof ProductIdError && e.code === 'PRODUCTID_NOT_PRODUCT_CERT' && e.message === "File '/s/d/PRODUCTID/plain.pem' is not a ProductID certificate.",
  );
});

test('garbage, truncated or non-PEM input: unable to load PEM file, never a crash', () => {
  const good = readFileSync(productCert(dir, { '1.3.6.1.4.1.2312.9.1.69.1': 'X' }), 'utf8');
  for (const bad of ['', 'hello', '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n', good.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n')]) {
    assert.throws(
      () => parseProductCertificate(bad, 'bad.pem'),
      (e: unknown) => e instanceof ProductIdError && e.code === 'PRODUCTID_PEM_INVALID' && /Unable to load PEM file 'bad.pem'/.test(e.message),
      JSON.stringify(bad.slice(0, 40)),
    );
  }
  // every single-byte truncation of the DER ends as a coded error or a parse, never another exception
  const body = good.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const der = Buffer.from(body, 'base64');
  for (let n = 0; n < der.length; n += 7) {
    const pem = `-----BEGIN CERTIFICATE-----\n${der.subarray(0, n).toString('base64')}\n-----END CERTIFICATE-----\n`;
    try {
      parseProductCertificate(pem, 't.pem');
    } catch (e) {
      assert.ok(e instanceof ProductIdError, `truncated at ${n}: ${String(e)}`);
    }
  }
});

test('DER primitives', () => {
  assert.equal(decodeOid(Uint8Array.from([0x2b, 0x06, 0x01, 0x04, 0x01, 0x92, 0x08, 0x09, 0x01, 0x45, 0x01])), '1.3.6.1.4.1.2312.9.1.69.1');
  const t = readTlv(Uint8Array.from([0x30, 0x82, 0x01, 0x00, ...new Array(256).fill(0)]), 0);
  assert.equal(t.start, 4);
  assert.equal(t.end, 260);
  assert.throws(() => readTlv(Uint8Array.from([0x30, 0x80, 0, 0]), 0), /indefinite/);
  assert.throws(() => readTlv(Uint8Array.from([0x30, 0x05, 0]), 0), /runs past/);
});
