import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';

// The compiled schema validators are cached on disk (ajv standalone code); a run that loads them
// from the cache validates exactly like the run that compiled them.
test('compiled validators are cached in STAGEPUSH_CACHE_DIR and give the same results', () => {
  const dir = tempDir();
  const cacheDir = path.join(dir, 'cache');
  const good = path.join(dir, 'good.yaml');
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(good, 'allow_unsigned: true\npush: {threads: 2}\n');
  writeFileSync(bad, 'allow_unsigned: maybe\npush:\n  threads: 0\nbogus: 1\n');
  const env = { STAGEPUSH_CACHE_DIR: cacheDir, STAGEPUSH_CONFIG: '' };
  const run = (file: string) => runCli(['--config', file, 'config', 'check', '--json'], { env });
  const first = [run(good), run(bad)];
  assert.equal(first[0]!.status, 0, first[0]!.stderr);
  assert.notEqual(first[1]!.status, 0);
  assert.ok(existsSync(cacheDir));
  assert.ok(readdirSync(cacheDir).some((f) => /^config-validator-[0-9a-f]{16}\.cjs$/.test(f)), readdirSync(cacheDir).join(','));
  const second = [run(good), run(bad)];
  for (let i = 0; i < 2; i++) {
    assert.equal(second[i]!.status, first[i]!.status);
    assert.equal(second[i]!.stdout, first[i]!.stdout);
    assert.equal(second[i]!.stderr, first[i]!.stderr);
  }
  // A damaged cache file is ignored (compiled again and rewritten).
  for (const f of readdirSync(cacheDir)) writeFileSync(path.join(cacheDir, f), 'garbage(');
  const third = run(bad);
  assert.equal(third.stderr, first[1]!.stderr);
  assert.equal(third.status, first[1]!.status);
});
