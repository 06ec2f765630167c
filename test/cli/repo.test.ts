import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { rpmFixtures } from '../helpers/rpm.js';

test('a key id written key=12345678 or key=1234E567 on the command line (--importer-config, --override) is the hex text written, not a JSON number: the policy holds it', () => {
  const work = tempDir();
  const sp = (args: string[]) => runCli(['--data-dir', path.join(work, 'data'), ...args]);
  const ok = (args: string[]) => {
    const r = sp(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const config = (id: string) => (JSON.parse(ok(['repo', 'show', id, '--json'])) as { importer: { config: Record<string, unknown> } }).importer.config;
  ok(['repo', 'create', 'r1', '--importer', 'yum_importer', '--importer-config', 'allowed_keys=12345678', '--importer-config', 'max_downloads=3']);
  assert.deepEqual(config('r1'), { allowed_keys: '12345678', max_downloads: 3 }, 'the key id as written; another key still JSON');
  ok(['repo', 'importer', 'update', 'r1', '--importer-config', 'allowed_keys=1234E567']);
  assert.equal(config('r1').allowed_keys, '1234E567');

  // An upload's override: the package's key is not 12345678, so the policy refuses it, naming both.
  const fx = rpmFixtures();
  const hello = fx.install.find((p) => p.name === 'hello-1.0')!;
  const key = fx.keys[hello.key!]!.keyId;
  ok(['repo', 'create', 'r2', '--importer', 'yum_importer']);
  const refused = sp(['content', 'upload', '--repo', 'r2', '--override', 'allowed_keys=12345678', hello.file]);
  assert.equal(refused.status, 4, refused.stderr);
  assert.match(refused.stderr, new RegExp(`YUM_KEY_NOT_ALLOWED.*signed with key ${key}, not one of allowed_keys \\(12345678\\)`));
  ok(['content', 'upload', '--repo', 'r2', '--override', `allowed_keys=${key},12345678`, hello.file]);
});
