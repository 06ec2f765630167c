import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseComps, writeComps } from '../../../src/formats/comps/index.js';
import { StagepushError } from '../../../src/errors.js';
import { COMPS } from '../../helpers/repodata-samples.js';


test('comps round trip', () => {
  const xml = writeComps(COMPS);
  assert.deepEqual(parseComps(xml), COMPS);
  assert.match(xml, /<name xml:lang="pt_BR">Ferramentas &lt;alpha&gt;<\/name>/);
  assert.match(xml, /<packagereq type="conditional" requires="alpha">cond<\/packagereq>/);
  assert.deepEqual(parseComps(writeComps({})), { groups: [], categories: [], environments: [], langpacks: [] });
});

test('bad comps are refused with coded errors', () => {
  const bad = (xml: string, field: string) =>
    assert.throws(() => parseComps(xml, 'c.xml'), (e: unknown) => e instanceof StagepushError && e.code === 'COMPS_INVALID' && e.file === 'c.xml' && (e.field ?? '') === field);
  bad('<comps><group><name>x</name></group></comps>', 'group.id');
  bad('<comps><group><id>g</id><default>maybe</default></group></comps>', 'default');
  bad('<comps><group><id>g</id><packagelist><packagereq type="weird">p</packagereq></packagelist></group></comps>', 'packagereq.type');
  bad('<comps><category><id>c</id><display_order>x</display_order></category></comps>', 'display_order');
  bad('<notcomps/>', '');
});

test('character references are not capped: a long description with 1,001 accents parses (createrepo_c and dnf read it)', () => {
  const text = Array.from({ length: 1001 }, () => 'caf&#233;').join(' ');
  const c = parseComps(`<?xml version="1.0"?><comps><group><id>g1</id><name>G1</name><description>${text}</description><packagelist><packagereq>p</packagereq></packagelist></group></comps>`);
  assert.equal(c.groups[0]!.description, Array.from({ length: 1001 }, () => 'café').join(' '));
});

test('every reference is decoded once, as an XML parser does (python ElementTree decides): &#38;amp; is "&amp;", not "&"; a CDATA section is kept as written', () => {
  const cases = ['a &#38;amp; b', 'x &#x26;lt; y', '&#038;#60;', 'plain &amp; &lt;tag&gt; &#233;', '<![CDATA[&#38;amp; raw]]>', '&#38;quot;'];
  for (const text of cases) {
    const xml = `<?xml version="1.0"?><comps><group><id>g1</id><name>G1</name><description>${text}</description><packagelist><packagereq>p</packagereq></packagelist></group></comps>`;
    const oracle = spawnSync('python3', ['-c', 'import sys,xml.etree.ElementTree as E; sys.stdout.write(E.fromstring(sys.stdin.read()).find("group/description").text)'], { input: xml, encoding: 'utf8' });
    assert.equal(oracle.status, 0, oracle.stderr);
    assert.equal(parseComps(xml).groups[0]!.description, oracle.stdout, text);
  }
});

test('comps bytes are read as UTF-8, as libcomps reads them: a byte that is not UTF-8 (a Latin-1 é, whatever the declaration says) is COMPS_INVALID naming it, its line and column (it became U+FFFD, published); a byte order mark is skipped', () => {
  const body = (name: Buffer) => Buffer.concat([Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<comps>\n  <group><id>g1</id><name>'), name, Buffer.from('</name><packagelist><packagereq>p</packagereq></packagelist></group>\n</comps>\n')]);
  assert.throws(
    () => parseComps(body(Buffer.from('Caf\xe9', 'latin1')), 'c.xml'),
    (e: unknown) => e instanceof StagepushError && e.code === 'COMPS_INVALID' && e.file === 'c.xml' && e.field === 'encoding' && /^c\.xml: not valid UTF-8 \(byte 0xe9 at line 3, column 30\)/.test(e.message),
  );
  assert.equal(parseComps(body(Buffer.from('Café'))).groups[0]!.name, 'Café');
  assert.equal(parseComps(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body(Buffer.from('Café'))])).groups[0]!.name, 'Café');
});
