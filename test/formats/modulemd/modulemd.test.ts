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
    // rpm-map entries: every part of the NEVRA, and a nevra equal to them.
    ['rpm-map entry complete', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo, epoch: 0, version: "1", release: "1", arch: x86_64, nevra: foo-0:1-1.x86_64}}}}\n`, null],
    ['rpm-map entry without its version', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo, epoch: 0, release: "1", arch: x86_64, nevra: foo-0:1-1.x86_64}}}}\n`, 'data.artifacts.rpm-map.sha256.abc.version'],
    ['rpm-map entry without its epoch', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo, version: "1", release: "1", arch: x86_64, nevra: foo-0:1-1.x86_64}}}}\n`, 'data.artifacts.rpm-map.sha256.abc.epoch'],
    ['rpm-map entry without its nevra', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo, epoch: 0, version: "1", release: "1", arch: x86_64}}}}\n`, 'data.artifacts.rpm-map.sha256.abc.nevra'],
    ['rpm-map entry with only a name', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo}}}}\n`, 'data.artifacts.rpm-map.sha256.abc.epoch'],
    ['rpm-map nevra other than its parts', `${lic}  artifacts: {rpms: [foo-0:1-1.x86_64], rpm-map: {sha256: {abc: {name: foo, epoch: 0, version: "1", release: "2", arch: x86_64, nevra: foo-0:1-1.x86_64}}}}\n`, 'data.artifacts.rpm-map.sha256.abc.nevra'],
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

test('a value of a shape libmodulemd refuses (dnf then drops the stream or the defaults, "Module yaml error" on every run) is refused, naming the field: modulemd-validator decides each case', () => {
  const dir = tempDir();
  const stream = (data: string) => `---\ndocument: modulemd\nversion: 2\ndata:\n  name: foo\n  stream: "1"\n  version: 1\n  context: c0ffee42\n  arch: x86_64\n  summary: s\n  description: d\n  license: {module: [MIT]}\n${data}...\n`;
  const defaults = (data: string) => `---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: foo\n${data}...\n`;
  const comp = (body: string) => `  components: {rpms: {foo: {rationale: r, ${body}}}}\n`;
  const cases: Array<[string, string, string | null]> = [
    ['single values where lists go', stream('  profiles: {p: {rpms: a}}\n  api: {rpms: a}\n  dependencies: [{requires: {platform: el9}}]\n  buildopts: {arches: x86_64}\n').replace('license: {module: [MIT]}', 'license: {module: MIT}'), null],
    ['empty xmd and profile rpms, an empty api last', stream('  xmd:\n  profiles: {p: {rpms: }}\n  api:\n'), null],
    ['an empty api before another key', stream('  api:\n  xmd: {a: b}\n'), 'data.api'],
    ['a profile default that is not true/false', stream('  profiles: {p: {rpms: [a], default: maybe}}\n'), 'data.profiles.p.default'],
    ['static_context True', stream('  static_context: True\n'), 'data.static_context'],
    ['static_context quoted "true"', stream('  static_context: "true"\n'), null],
    ['an artifact that is not N-E:V-R.A', stream('  artifacts: {rpms: [foo-0:1-1.x86_64, foo]}\n'), 'data.artifacts.rpms[1]'],
    ['an artifact without an epoch', stream('  artifacts: {rpms: [foo-1.0-1.x86_64]}\n'), 'data.artifacts.rpms[0]'],
    ['artifacts read from the end (dashes in the name, colons in the epoch)', stream('  artifacts: {rpms: [a-b-0:1-1.src, a-0:1:2-1.x86_64, a-0x:1-1.noarch]}\n'), null],
    ['artifacts rpms empty', stream('  artifacts:\n    rpms:\n'), 'data.artifacts.rpms'],
    ['a version past 64 bits', stream('').replace('version: 1\n', 'version: 18446744073709551616\n'), 'data.version'],
    ['the largest version', stream('').replace('version: 1\n', 'version: 18446744073709551615\n'), null],
    ['a buildorder that is not an integer', stream(comp('buildorder: 3x')), 'data.components.rpms.foo.buildorder'],
    ['a negative buildorder', stream(comp('buildorder: -3')), null],
    ['buildonly yes', stream(comp('buildonly: yes')), 'data.components.rpms.foo.buildonly'],
    ['buildafter a single value', stream(comp('buildafter: bar')), 'data.components.rpms.foo.buildafter'],
    ['buildafter in a module component', stream('  components: {modules: {m: {rationale: r, buildafter: [x]}}}\n'), 'data.components.modules.m.buildafter'],
    ['an eol that is not a date', stream('  servicelevels: {rawhide: {eol: soon}}\n'), 'data.servicelevels.rawhide.eol'],
    ['dependencies a mapping', stream('  dependencies: {requires: {platform: [el9]}}\n'), 'data.dependencies'],
    ['profiles a list', stream('  profiles: [a]\n'), 'data.profiles'],
    ['profiles with no value', stream('  profiles:\n'), 'data.profiles'],
    ['a profile rpm that is a list', stream('  profiles: {p: {rpms: [a, [b]]}}\n'), 'data.profiles.p.rpms[1]'],
    ['a reference that is a list', stream('  references: {community: [a]}\n'), 'data.references.community'],
    ['summary a list', stream('').replace('summary: s', 'summary: [s]'), 'data.summary'],
    ['xmd a list', stream('  xmd: [1]\n'), 'data.xmd'],
    ['buildorder and buildafter in one stream', stream('  components: {rpms: {a: {rationale: r, buildorder: 1}, b: {rationale: r, buildafter: [a]}}}\n'), 'data.components.rpms.b.buildafter'],
    ['buildafter beside a buildorder of 0', stream('  components: {rpms: {a: {rationale: r, buildorder: 0}, b: {rationale: r, buildafter: [a]}}}\n'), null],
    ['buildafter naming no rpm component', stream(comp('buildafter: [zz]')), 'data.components.rpms.foo.buildafter'],
    ['a dependency mixing streams and excluded streams', stream('  dependencies: [{requires: {platform: [el8, -el9]}}]\n'), 'data.dependencies[0].requires.platform'],
    ['excluded streams only', stream('  dependencies: [{buildrequires: {platform: [-el8]}, requires: {platform: [-el8, -el7]}}]\n'), null],
    ['a static context with a dot', stream('  static_context: true\n').replace('context: c0ffee42', 'context: "a.b"'), 'data.context'],
    ['a dot in a context that is not static', stream('').replace('context: c0ffee42', 'context: "a.b"'), null],
    ['defaults: complete', defaults('  modified: 202601010000\n  stream: "1"\n  profiles: {"1": [default], "2": default}\n  intents: {server: {stream: "1", profiles: {"1": [default]}}}\n'), null],
    ['defaults: stream a list', defaults('  stream: [x]\n'), 'data.stream'],
    ['defaults: modified not an integer', defaults('  modified: notanumber\n'), 'data.modified'],
    ['defaults: an unknown key', defaults('  stram: "2"\n'), 'data.stram'],
    ['defaults: profiles a list', defaults('  profiles: [a]\n'), 'data.profiles'],
    ['defaults: an intent with no value', defaults('  intents: {i: }\n'), 'data.intents.i'],
    ['defaults: an unknown intent key', defaults('  intents: {i: {bogus: 1}}\n'), 'data.intents.i.bogus'],
  ];
  for (const [label, text, field] of cases) {
    const f = path.join(dir, 'm.yaml');
    writeFileSync(f, text);
    const oracle = spawnSync('modulemd-validator', [f], { encoding: 'utf8' });
    assert.equal(oracle.status === 0, field === null, `${label}: modulemd-validator ${oracle.status === 0 ? 'accepts' : 'refuses'} it`);
    if (field === null) assert.doesNotThrow(() => parseModulemd(text, 'm.yaml'), label);
    else {
      assert.throws(
        () => parseModulemd(text, 'm.yaml'),
        (e: unknown) => e instanceof StagepushError && e.code === 'MODULEMD_INVALID' && e.file === 'm.yaml' && e.field === field && e.message.startsWith(`m.yaml: document 1: ${field} `),
        label,
      );
    }
  }
});

test('modules.yaml bytes are read as UTF-8, as libyaml reads them: a byte that is not UTF-8 is MODULEMD_INVALID naming it, its line and column (it became U+FFFD, published); a byte order mark is skipped', () => {
  const text = (description: Buffer) => Buffer.concat([Buffer.from('---\ndocument: modulemd\nversion: 2\ndata:\n  name: foo\n  stream: "1"\n  version: 1\n  context: c\n  arch: noarch\n  summary: s\n  description: '), description, Buffer.from('\n  license: {module: [MIT]}\n...\n')]);
  assert.throws(
    () => parseModulemd(text(Buffer.from('caf\xe9', 'latin1')), 'm.yaml'),
    (e: unknown) => e instanceof StagepushError && e.code === 'MODULEMD_INVALID' && e.file === 'm.yaml' && e.field === 'encoding' && /^m\.yaml: not valid UTF-8 \(byte 0xe9 at line 11, column 19\)/.test(e.message),
  );
  assert.equal(moduleStream(parseModulemd(text(Buffer.from('café')))[0]!).description, 'café');
  assert.equal(moduleStream(parseModulemd(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text(Buffer.from('café'))]))[0]!).description, 'café');
});
