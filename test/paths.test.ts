import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { resolvePath } from '../src/paths.js';

test('resolvePath gives what path.resolve gives, and an absolute normal path itself', () => {
  const cases = ['/a/b/c.rpm', '/', '/a//b', '/a/./b', '/a/../b', '/a/b/', '/a/b/.', '/a/b/..', '/..', '/.', 'rel/x', './x', '../x', '', '/a/.hidden/b', '/a/b..c/d', '/a/...', '/a/b.'];
  for (const c of cases) assert.equal(resolvePath(c), path.resolve(c), JSON.stringify(c));
  const p = '/srv/stage/d/RPMS/pkg-1.0-1.noarch.rpm';
  assert.equal(resolvePath(p), p);
});
