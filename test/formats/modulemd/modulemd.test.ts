import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { moduleDefaults, moduleStream, parseModulemd, writeModulemd } from '../../../src/formats/modulemd/index.js';
import { StagepushError } from '../../../src/errors.js';
import { MODULES_YAML } from '../../helpers/repodata-samples.js';
import { tempDir } from '../../helpers/cli.js';
import { run } from '../../helpers/repodata.js';


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
