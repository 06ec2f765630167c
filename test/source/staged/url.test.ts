import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseStagedUrl } from '../../../src/source/staged/url.js';
import { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';

function usageError(fn: () => unknown, re: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof StagepushError && e.code === 'STAGED_URL_INVALID' && e.kind === 'usage' && re.test(e.message));
}

test('staged: URLs: dirs verbatim, defaults, parameters', () => {
  assert.deepEqual(parseStagedUrl('staged:/a/b/'), { url: 'staged:/a/b/', dirs: ['/a/b/'], threads: 4, timeout: 3600, pollTimeout: 0, pollRate: 30 });
  assert.deepEqual(parseStagedUrl('staged:rel/x,/abs/y?threads=2&timeout=10&poll_timeout=1.5&poll_rate=0.1').dirs, ['rel/x', '/abs/y']);
  const u = parseStagedUrl('staged:/x?threads=2&timeout=10&poll_timeout=1.5&poll_rate=0.1');
  assert.equal(u.threads, 2);
  assert.equal(u.timeout, 10);
  assert.equal(u.pollTimeout, 1.5);
  assert.equal(u.pollRate, 0.1);
  // A caller's defaults (the push's config) apply where the URL gives nothing; the URL wins.
  assert.deepEqual(parseStagedUrl('staged:/x', { threads: 2, timeout: 10 }), { url: 'staged:/x', dirs: ['/x'], threads: 2, timeout: 10, pollTimeout: 0, pollRate: 30 });
  assert.equal(parseStagedUrl('staged:/x?threads=3', { threads: 2 }).threads, 3);
  assert.equal(parseStagedUrl('staged:/x?timeout=5', { threads: 2, timeout: 10 }).timeout, 5);
  assert.deepEqual(parseStagedUrl('staged:/with space/dir').dirs, ['/with space/dir']);
  assert.deepEqual(parseStagedUrl('staged:/x#frag').dirs, ['/x']);
});

test('a bare directory means staged: (the path taken whole), whether it exists or not: a missing one is the load\'s problem, not a usage error', () => {
  const d = tempDir();
  assert.deepEqual(parseStagedUrl(d).dirs, [d]);
  assert.deepEqual(parseStagedUrl(`${d}/missing`), parseStagedUrl(`staged:${d}/missing`));
  assert.deepEqual(parseStagedUrl('rel/a,b?threads=2').dirs, ['rel/a,b?threads=2']);
  // A directory named like a scheme is a directory; a scheme without one is refused.
  mkdirSync(path.join(d, 'koji:x'));
  assert.deepEqual(parseStagedUrl(path.join(d, 'koji:x')).dirs, [path.join(d, 'koji:x')]);
  usageError(() => parseStagedUrl('koji:https://x'), /unsupported source type 'koji'/);
  usageError(() => parseStagedUrl(''), /no staging directory given/);
});

test('bad parameters are usage errors naming them', () => {
  usageError(() => parseStagedUrl('staged:/x?threads=two'), /threads=two is not an integer/);
  usageError(() => parseStagedUrl('staged:/x?threads=0'), /threads=0 must be at least 1/);
  usageError(() => parseStagedUrl('staged:/x?timeout=1.5'), /timeout=1.5 is not an integer/);
  usageError(() => parseStagedUrl('staged:/x?bogus=1'), /unknown parameter 'bogus'/);
  usageError(() => parseStagedUrl('staged:/x/40_eq=1'), /'=' in a path/);
  usageError(() => parseStagedUrl('staged:'), /no staging directory/);
  usageError(() => parseStagedUrl('staged:/a,,/b'), /no staging directory/);
});

test('staged:///DIR and staged://HOST/DIR are the path, as urlparse gives it to pushsource; a blank parameter value is dropped, as parse_qs drops it', () => {
  assert.deepEqual(parseStagedUrl('staged:///srv/a,/srv/b').dirs, ['/srv/a', '/srv/b']);
  assert.deepEqual(parseStagedUrl('staged://localhost/srv/a').dirs, ['/srv/a']);
  const blank = parseStagedUrl('staged:/srv/a?threads=&timeout=');
  assert.equal(blank.threads, parseStagedUrl('staged:/srv/a').threads);
  assert.equal(blank.timeout, parseStagedUrl('staged:/srv/a').timeout);
});
