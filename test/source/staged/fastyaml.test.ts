import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fastYaml } from '../../../src/formats/yaml/fast.js';
import { parseData, parseYamlFull } from '../../../src/formats/yaml/read.js';
import { ROOT } from '../../helpers/cli.js';
import { pyyamlLoad } from '../../helpers/pyyaml.js';

async function full(text: string): Promise<unknown> {
  const r = await parseYamlFull(text);
  assert.equal(r.error, undefined);
  return r.value;
}

const SUPPORTED = [
  `header:\n  version: "0.2"\npayload:\n  files:\n  - relative_path: d/FILES/a\n    filename: a.iso\n    sha256sum: 04db0c39efb31518ff79bf98d1c27256d46cdc72b967a5b2094a6efec3166df2\n    version: '1.0'\n    order: 3\n    attributes:\n      description: "Boot \\"DVD\\" \\u00e9"\n  - relative_path: 'd/FILES/it''s'\n    order: -2.5\n    attributes: # comment\n      description:\n`,
  `---\n# comment\nid: RHBA-1\nreboot_suggested: no\nflag: On\nnothing: ~\nempty:\nlist:\n  - a\n  - 7\n  -\n  - true\nnested:\n  deeper:\n    - x: 1\n      y: yes\n    - z\n`,
  `a: b # trailing comment\nc: d#e\nurl: https://example.com/x?y=1\npath: /usr/bin/x\nneg: -3\nver: 9.4\n`,
  // One-line flow collections (an erratum's package entries, empty lists).
  'a: [1, 2]\n',
  'a: {b: 1}\n',
  `references: []\nempty: {}\npkglist:\n  - name: bench\n    packages:\n      - {name: p-1, epoch: "0", version: "1.0", release: '1', arch: noarch, src: x.src.rpm, filename: p-1-1.0-1.noarch.rpm}\n      - {name: q, epoch: '0', version: 2.5, release: 1.el9, arch: x86_64, reboot_suggested: yes}\n`,
  `list: [a, 'b, c', "d \\"e\\"", 7, ~, no, 'x''y']  # comment\nm: {k: v#w, q: 'it''s', r: "x, y"}\n`,
  `seq:\n  - [x, y]\n  - {a: b}\n  - []\n`,
  `a: [ x , y ]\nb: ["a,b", 'c]d', "{e}"]\nc: {d: 'x #y', e: -1.5, f: null, g: Off}\n`,
];

const UNSUPPORTED = [
  'a: [1, [2]]\n', 'a: {b: {c: 1}}\n', 'a: [1, 2\n', 'a: [1, 2] x\n', 'a: {b}\n', 'a: {b: 1, c}\n', 'a: [1, , 2]\n', 'a: [1, 2, ]\n', 'a: {b: c: d}\n', 'a: [a #c]\n', 'a: [&x 1]\n', 'a: {yes: 1}\n', 'a: [b:c]\n', 'a: {u: http://x}\n', "a: [it''s]\n", "a: {'q': 1}\n", "a: ['x\n", 'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: >\n  text\n', 'a: 0x1F\n', 'a: 017\n', 'a: 1_000\n',
  'a: 1:20\n', 'a: 2020-05-11\n', 'a: .inf\n', 'a: multi\n  line\n', '"quoted key": 1\n', 'just a scalar\n', '- a\n- b\n', '', 'a: 1\n---\nb: 2\n',
  'a: "unterminated\n', "a: 'x' y\n", 'yes: 1\n', '1: x\n', 'a:\tb\n', 'a: b: c\n', '<<: {a: 1}\n',
];

test('the supported subset parses exactly as the full parser (PyYAML rules)', async () => {
  for (const doc of SUPPORTED) {
    const fast = fastYaml(doc);
    assert.notEqual(fast, undefined, doc);
    assert.deepEqual(fast, await full(doc), doc);
    assert.deepEqual((await parseData(doc, false)).value, fast);
  }
  const f = fastYaml(SUPPORTED[1]!) as Record<string, unknown>;
  assert.equal(f.reboot_suggested, false);
  assert.equal(f.flag, true);
  assert.deepEqual(f.list, ['a', 7, null, true]);
});

test('anything else is left to the full parser, with the same result through parseData', async () => {
  for (const doc of UNSUPPORTED) {
    assert.equal(fastYaml(doc), undefined, JSON.stringify(doc));
  }
  assert.deepEqual((await parseData('a: 0x1F\nb: 2020-05-11\n', false)).value, { a: 31, b: new Date('2020-05-11T00:00:00.000Z') });
  assert.deepEqual((await parseData('a: y\nb: n\n', false)).value, { a: 'y', b: 'n' }, 'PyYAML reads y/n as strings');
});

test('every YAML file of the bundled staging area reads the same either way', async () => {
  const dir = path.join(ROOT, 'fixtures', 'staging', 'basic');
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)]));
  const yamls = walk(dir).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(yamls.length >= 3);
  for (const f of yamls) {
    const text = readFileSync(f, 'utf8');
    const fast = fastYaml(text);
    if (fast === undefined) continue;
    assert.deepEqual(fast, await full(text), f);
  }
  assert.notEqual(fastYaml(readFileSync(path.join(dir, 'staged.yaml'), 'utf8')), undefined);
});

test("plain scalars resolve as PyYAML's safe_load does, on the fast path and the full parser alike", async () => {
  // What PyYAML 6 gives for each (strings where PyYAML's implicit resolvers do not match).
  const cases: Array<[string, unknown]> = [
    ['08', '08'], ['09', '09'], ['010', 8], ['1_000', 1000], ['0', 0], ['-7', -7],
    ['1e5', '1e5'], ['1.0e5', '1.0e5'], ['1e-5', '1e-5'], ['1.5e-5', 1.5e-5], ['3.', 3],
    ['+.5', '+.5'], ['-.5', '-.5'], ['._5', '._5'], ['.5', 0.5],
    ['0:0', '0:0'], ['1:30', 90], ['2020-1-1', '2020-1-1'],
    ['y', 'y'], ['yes', true], ['Off', false], ['~', null],
  ];
  for (const [text, want] of cases) {
    for (const [how, parse] of [['fast or full', (t: string) => parseData(t, false)], ['full', parseYamlFull]] as const) {
      const r = await parse(`a: ${text}\n`);
      assert.deepEqual((r.value as { a: unknown } | undefined)?.a, want, `${how}: ${text} -> ${r.error ?? JSON.stringify(r.value)}`);
    }
  }
  // Errors where PyYAML raises.
  for (const text of ['2020-13-45', '2020-02-30', '=']) {
    const r = await parseData(`a: ${text}\n`, false);
    assert.ok(r.error, `${text} is an error`);
  }
});

test('NEL (U+0085) breaks a line as PyYAML reads it: folded away in a quoted or plain scalar, LF in a literal block', async () => {
  assert.deepEqual(await parseData('description: "Release notes\u0085 for 9.4"\n', false), { value: { description: 'Release notes for 9.4' } });
  assert.deepEqual(await parseData('description: Release notes\u0085 for 9.4\n', false), { value: { description: 'Release notes for 9.4' } });
  assert.deepEqual(await parseData('d: |\n  a\u0085  b\n', false), { value: { d: 'a\nb\n' } });
  // In an indented quoted value (every staged.yaml attribute): PyYAML does not ask its next line to be indented.
  for (const q of ["'", '"']) {
    const text = `payload:\n  files:\n  - attributes:\n      description: ${q}Release notes\u0085 for 9.4${q}\n`;
    assert.deepEqual(await parseData(text, false), { value: { payload: { files: [{ attributes: { description: 'Release notes for 9.4' } }] } } }, q);
  }
});

test('a %YAML directive changes nothing: every document is read with YAML 1.1 resolvers, as PyYAML reads it; a version other than 1.x or a second %YAML is refused, as PyYAML refuses it', async () => {
  const body = 'a: yes\nb: no\nc: on\nd: Off\ne: True\nf: y\ng: 0o17\nh: 017\ni: 0x1F\nj: 1_000\nm: ~\nn: 1:30\n';
  // What PyYAML 6 gives for the body, whatever the directive.
  const want = { a: true, b: false, c: true, d: false, e: true, f: 'y', g: '0o17', h: 15, i: 31, j: 1000, m: null, n: 90 };
  const texts = ['', '%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '%YAML 1.2 # a comment\n---\n', '%YAML 1.3\n---\n', '%YAML 1.2\n%TAG !e! tag:example.com,2000:\n---\n'].map((d) => d + body);
  const refused = ['%YAML 2.0\n---\n' + body, '%YAML 1.2\n%YAML 1.2\n---\n' + body];
  const oracle = pyyamlLoad([...texts, ...refused]);
  for (const [i, text] of texts.entries()) {
    const r = await parseData(text, false);
    assert.deepEqual(r, { value: want }, text);
    if (oracle) assert.deepEqual(r.value, oracle[i], `PyYAML: ${text}`);
  }
  for (const [i, text] of refused.entries()) {
    const r = await parseData(text, false);
    assert.match(r.error ?? '', /^invalid YAML: found (incompatible YAML document|duplicate YAML directive) at line \d, column 1/, text);
    if (oracle) assert.deepEqual(oracle[texts.length + i], { $error: 'ParserError' }, `PyYAML: ${text}`);
  }
});

test('nesting deeper than pushsource can read is a parse error, never a stack overflow: YAML past 500 collections (PyYAML stops near 490), JSON past 1,000 (json.loads near 990)', async () => {
  const forms = (n: number): Array<[string, string]> => [
    ['block mappings', Array.from({ length: n }, (_, i) => ' '.repeat(i) + 'a:').join('\n') + ' 1\n'],
    ['block sequences', 'a:\n' + Array.from({ length: n - 1 }, (_, i) => ' '.repeat(i) + '-').join('\n') + ' 1\n'],
    ['sequences of mappings', 'a:\n' + Array.from({ length: Math.floor((n - 1) / 2) }, (_, i) => '  '.repeat(i) + '- a:').join('\n') + ' 1\n'],
    ['flow sequences', 'a: ' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '\n'],
    ['flow mappings', 'a: ' + '{b: '.repeat(n - 1) + '1' + '}'.repeat(n - 1) + '\n'],
  ];
  for (const [form, text] of forms(500)) {
    const r = await parseData(text, false);
    assert.equal(r.error, undefined, `${form}, 500 levels: ${r.error}`);
  }
  for (const n of [501, 5000]) {
    for (const [form, text] of forms(n)) {
      const r = await parseData(text, false);
      assert.match(r.error ?? '', /^invalid YAML: .* nested more than 500 levels deep \(pushsource's PyYAML cannot read it either\)$/, `${form}, ${n} levels`);
    }
  }
  assert.equal((await parseData('['.repeat(1000) + ']'.repeat(1000), true)).error, undefined);
  for (const n of [1001, 100_000]) assert.match((await parseData('['.repeat(n) + ']'.repeat(n), true)).error ?? '', /^invalid JSON: the document is nested more than 1000 levels deep \(pushsource's json.loads cannot read it either\) \(line 1, column 1001\)$/);
});

test('what PyYAML refuses beyond the aliases is refused: an anchor set twice, a merge key as a value, a %TAG handle declared twice', async () => {
  const refused = ['a: &x 1\nb: &x 2\nc: *x\n', 'a: &x [1, &x 2]\n', 'b: [<<]\n', 'k: <<\n', '- <<\n', '%TAG !a! tag:x,2000:\n%TAG !a! tag:y,2000:\n---\na: 1\n'];
  const read = ['a: &x 1\nb: &y 2\nc: *x\n', '<<: {a: 1}\nk: 2\n', 'a: {<<: [{b: 1}]}\n', 'a: "<<"\n', "a: '<<'\n", '%TAG !a! tag:x,2000:\n%TAG !b! tag:y,2000:\n---\na: 1\n'];
  const oracle = pyyamlLoad([...refused, ...read]);
  for (const [i, text] of refused.entries()) {
    const r = await parseData(text, false);
    assert.match(r.error ?? '', /^invalid YAML: (found duplicate anchor &x|a merge key \(<<\) is only a mapping's key|duplicate tag handle !a!).* at line \d+, column \d+$/, JSON.stringify(text));
    if (oracle) assert.ok((oracle[i] as { $error?: string }).$error, `PyYAML refuses ${JSON.stringify(text)}`);
  }
  for (const [i, text] of read.entries()) {
    const r = await parseData(text, false);
    assert.equal(r.error, undefined, JSON.stringify(text));
    if (oracle) assert.deepEqual(r.value, oracle[refused.length + i], `PyYAML: ${JSON.stringify(text)}`);
  }
});

test('a block scalar ending the file without a line break reads as PyYAML reads it: no line break added, whatever its chomping and indentation indicators', async () => {
  // What PyYAML 6 gives for `a: <indicator>\n<lines>` (no final line break, unless the lines end with one).
  const cases: Array<[string, string, string]> = [
    ['|', '  x', 'x'], ['>', '  x', 'x'], ['|-', '  x', 'x'], ['>-', '  x', 'x'], ['|+', '  x', 'x'], ['>+', '  x', 'x'],
    ['|2', '  x', 'x'], ['>2', '  x', 'x'], ['|2+', '  x', 'x'], ['|+2', '  x', 'x'], ['|2-', '  x', 'x'],
    ['|', '  x\n  y', 'x\ny'], ['>', '  x\n  y', 'x y'], ['|+', '  x\n\n  y', 'x\n\ny'], ['>+', '  x\n\n  y', 'x\ny'], ['|2', '   x\n  y', ' x\ny'],
    // A line break or a last line of blanks ends the text: the content keeps its line break(s).
    ['|', '  x\n', 'x\n'], ['>', '  x\n', 'x\n'], ['|+', '  x\n\n', 'x\n\n'], ['|', '  x\n  ', 'x\n'], ['|+', '  x\n  ', 'x\n'], ['>+', '  x\n\n ', 'x\n\n'], ['|-', '  x\n', 'x'],
    ['|', '  x \n  ', 'x \n'],
    // Whatever follows the indentation on the last line is text, blanks included: no line break added.
    ['|', '  x\n  \t', 'x\n\t'], ['>', '  x\n  \t', 'x\n\t'], ['|+', '  x\n  \t', 'x\n\t'], ['|-', '  x\n  \t', 'x\n\t'], ['|', '  x\n  \t ', 'x\n\t '],
    ['|', '  x\n   ', 'x\n '], ['>', '  x\n   ', 'x\n '], ['|', '  x\n   \t', 'x\n \t'], ['|2', '   x\n  \t', ' x\n\t'],
  ];
  const texts = cases.flatMap(([ind, lines]) => [`a: ${ind}\n${lines}`, `b:\n  a: ${ind}\n${lines.replace(/^/gm, '  ')}`, `- ${ind}\r\n${lines.replace(/\n/g, '\r\n')}`]);
  const oracle = pyyamlLoad(texts);
  for (const [i, [ind, , want]] of cases.entries()) {
    // At the top, one level deeper, and in a sequence of a file with CRLF line breaks.
    const wants = [{ a: want }, { b: { a: want } }, [want]];
    for (let k = 0; k < 3; k++) {
      const text = texts[i * 3 + k]!;
      const r = await parseData(text, false);
      assert.deepEqual(r, { value: wants[k] }, `${JSON.stringify(text)} (${ind})`);
      if (oracle) assert.deepEqual(r.value, oracle[i * 3 + k], `PyYAML: ${JSON.stringify(text)}`);
    }
  }
});
