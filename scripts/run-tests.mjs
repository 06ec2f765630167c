#!/usr/bin/env node
// Runs every compiled test (dist/test/**/*.test.js) with node's test runner, after building the
// shared fixtures once (fixtures/build-all.sh caches them under fixtures/.build, keyed by the
// scripts' content). Arguments filter test files by substring: `npm test -- formats/rpm`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

if (existsSync('fixtures/build-all.sh')) {
  const r = spawnSync('bash', ['fixtures/build-all.sh'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('fixtures/build-all.sh failed');
    process.exit(r.status ?? 1);
  }
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
let files = existsSync('dist/test') ? walk('dist/test', []).sort() : [];
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (!files.length) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, STAGEPUSH_TEST: '1' },
});
process.exit(r.status ?? 1);
