import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { moduleDefaults, moduleStream, parseModulemd, writeModulemd } from '../../../src/formats/modulemd/index.js';
import { StagepushError } from '../../../src/errors.js';
import { MODULES_YAML } from '../../helpers/repodata-samples.js';
import { tempDir } from '../../helpers/cli.js';
import { run } from '../../helpers/repodata.js';

test('modulemd YAML aliases: one naming no anchor is MODULEMD_INVALID with its line (it crashed with a ReferenceError); an anchor is shared by any number of aliases', () => {
  assert.throws(
    () => parseModulemd('---\ndocument: modulemd-obsoletes\nversion: 1\ndata: {module: *m}\n...\n', '/x/modules.yaml'),
    (err: unknown) => err instanceof StagepushError && err.code === 'MODULEMD_INVALID' && /line 4: alias \*m names no anchor/.test(err.message),
  );
  const uses = Array.from({ length: 150 }, (_, i) => `  k${i}: *v`).join('\n');
  const [doc] = parseModulemd(`---\ndocument: modulemd-obsoletes\nversion: 1\ndata:\n  v: &v x\n${uses}\n...\n`, '/x/modules.yaml');
  assert.equal(doc!.data.k149, 'x');
});


test('modulemd parse keeps exact scalars and full data; typed views', () => {
  const docs = parseModulemd(MODULES_YAML);
  assert.equal(docs.length, 2);
  const s = moduleStream(docs[0]!);
  assert.equal(s.nsvca, 'alphamod:1.10:8040020210716161022:abcd1234:x86_64');
  assert.deepEqual(s.license, { module: ['MIT'], content: ['MIT', 'GPL'] });
  assert.deepEqual(s.artifacts.rpms, ['alpha-3:1.2-4.x86_64', 'alpha-3:1.2-4.src']);
  assert.deepEqual(s.profiles, { default: { description: 'Default profile', rpms: ['alpha'] }, minimal: { description: null, rpms: ['tiny'] } });
  assert.deepEqual(s.dependencies, [{ buildrequires: { platform: ['el8'] }, requires: { platform: ['el8'] } }]);
  assert.equal(s.description, 'An alpha module: with "quotes" & a long description.');
  assert.deepEqual((docs[0]!.data['components'] as Record<string, Record<string, Record<string, string>>>)['rpms']!['alpha'], { rationale: 'main', ref: '1.2', buildorder: '10' });
  assert.deepEqual(moduleDefaults(docs[1]!), { module: 'alphamod', stream: '1.10', profiles: { '1.10': ['default'] }, modified: null });
});

test('modules.yaml round trip is accepted by modulemd-validator', () => {
  const docs = parseModulemd(MODULES_YAML);
  const out = writeModulemd(docs);
  assert.deepEqual(parseModulemd(out), docs);
  const dir = tempDir();
  const f = path.join(dir, 'modules.yaml');
  writeFileSync(f, out);
  assert.match(run('modulemd-validator', [f]), /validated successfully/);
});

test('bad modulemd documents are refused with coded errors', () => {
  const bad = (yaml: string, field: string) =>
    assert.throws(() => parseModulemd(yaml, 'm.yaml'), (e: unknown) => e instanceof StagepushError && e.code === 'MODULEMD_INVALID' && e.file === 'm.yaml' && e.field === field);
  bad('---\ndocument: modulemd\nversion: 2\ndata:\n  name: x\n  stream: s\n  version: 1\n  context: c\n...\n', 'data.arch');
  bad('---\ndocument: modulemd\nversion: 2\ndata:\n  name: x\n  stream: s\n  version: v1\n  context: c\n  arch: a\n...\n', 'data.version');
  bad('---\ndocument: modulemd\nversion: two\ndata: {}\n...\n', 'version');
  bad('---\n- a list\n...\n', 'document');
  bad('---\nkey: [unclosed\n', 'YAML');
  bad('---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  stream: s\n...\n', 'data.module');
});

test('a module stream libmodulemd refuses (dnf then drops it) is refused, naming the field; what it accepts is accepted: modulemd-validator decides each case', () => {
  const dir = tempDir();
  const base = 'name: foo\n  stream: "1"\n  version: 1\n  context: c0ffee42\n  arch: x86_64\n';
  const doc = (data: string) => `---\ndocument: modulemd\nversion: 2\ndata:\n  ${base}${data}...\n`;
  const lic = '  summary: s\n  description: d\n  license: {module: [MIT]}\n';
  const cases: Array<[string, string, string | null]> = [
    ['complete', lic, null],
    ['every known section', `${lic}  servicelevels: {rawhide: {eol: 2077-10-23}}\n  xmd: {any: [thing]}\n  dependencies: [{buildrequires: {platform: [el9]}, requires: {platform: [el9]}}]\n  references: {community: a, documentation: b, tracker: c}\n  profiles: {default: {description: d, rpms: [foo], default: true}}\n  api: {rpms: [foo]}\n  filter: {rpms: [bar]}\n  demodularized: {rpms: [baz]}\n  buildopts: {rpms: {macros: x, whitelist: [a]}, arches: [x86_64]}\n  components: {rpms: {foo: {rationale: r, ref: f, buildorder: 1, arches: [x86_64]}}, modules: {m: {rationale: r}}}\n  artifacts: {rpms: [foo-0:1-1.x86_64]}\n`, null],
    ['no license', '  summary: s\n  description: d\n', 'data.license.module'],
    ['license content only', '  summary: s\n  description: d\n  license: {content: [MIT]}\n', 'data.license.module'],
    ['no summary', '  description: d\n  license: {module: [MIT]}\n', 'data.summary'],
    ['no description', '  summary: s\n  license: {module: [MIT]}\n', 'data.description'],
    ['unknown top-level key', `${lic}  frobnicate: yes\n`, 'data.frobnicate'],
    ['eol in v2', `${lic}  eol: 2077-01-01\n`, 'data.eol'],
    ['unknown profile key', `${lic}  profiles: {default: {rpms: [a], zz: 1}}\n`, 'data.profiles.default.zz'],
    ['unknown dependency key', `${lic}  dependencies: [{requires: {a: [b]}, zz: {}}]\n`, 'data.dependencies[0].zz'],
    ['unknown component key', `${lic}  components: {rpms: {foo: {rationale: r, zz: 1}}}\n`, 'data.components.rpms.foo.zz'],
    ['unknown license key', '  summary: s\n  description: d\n  license: {module: [MIT], x: [a]}\n', 'data.license.x'],
  ];
  for (const [label, data, field] of cases) {
    const text = doc(data);
    const f = path.join(dir, 'm.yaml');
    writeFileSync(f, text);
    const oracle = spawnSync('modulemd-validator', [f], { encoding: 'utf8' });
    assert.equal(oracle.status === 0, field === null, `${label}: modulemd-validator ${oracle.status === 0 ? 'accepts' : 'refuses'} it`);
    if (field === null) assert.doesNotThrow(() => parseModulemd(text, 'm.yaml'), label);
    else assert.throws(() => parseModulemd(text, 'm.yaml'), (e: unknown) => e instanceof StagepushError && e.code === 'MODULEMD_INVALID' && e.field === field, label);
  }
});
