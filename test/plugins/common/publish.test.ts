import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  atomicPublish,
  checkRelativeUrl,
  currentPublishedDir,
  distributorKey,
  normalizeRelativeUrl,
  publishedUrls,
  publishWithConduit,
  relativeUrlConflict,
  unpublish,
  versionsBase,
} from '../../../src/plugins/common/publish.js';
import { checkPublishKeys } from '../../../src/plugins/common/config.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fakeConfig, modeOf } from '../../helpers/fakeconduit.js';

function write(dir: string, rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), text);
}

test('relative_url syntax and conflicts', () => {
  assert.equal(normalizeRelativeUrl('/a/b/'), 'a/b');
  assert.equal(checkRelativeUrl('content/dist/rhel/x86_64'), null);
  assert.match(checkRelativeUrl('')!, /empty/);
  assert.match(checkRelativeUrl('a/../b')!, /"\.\."/);
  assert.match(checkRelativeUrl('a/./b')!, /"\."/);
  assert.match(checkRelativeUrl('a//b')!, /empty path segment/);
  assert.match(checkRelativeUrl('a b')!, /segment "a b"/);
  assert.match(checkRelativeUrl('.versions/x')!, /dot/);
  assert.match(checkRelativeUrl('a\\b')!, /separator/);
  assert.equal(relativeUrlConflict('a/b', { 'r1/d1': 'a/c', 'r2/d2': 'ab' }), null);
  assert.match(relativeUrlConflict('a/b', { 'r1/d1': '/a/b/' })!, /already used by r1\/d1/);
  assert.match(relativeUrlConflict('a', { 'r1/d1': 'a/b' })!, /would contain "a\/b".*r1\/d1/);
  assert.match(relativeUrlConflict('a/b/c', { 'r1/d1': 'a/b' })!, /lies inside "a\/b".*r1\/d1/);
  assert.deepEqual(publishedUrls({ http: 'http://h/pub/', https: 'https://h/pub' }, 'x/y', { http: true, https: true }), ['http://h/pub/x/y/', 'https://h/pub/x/y/']);
  assert.deepEqual(publishedUrls({ http: 'http://h' }, 'x', { http: false, https: true }), []);
});

test('checkPublishKeys names the key', () => {
  const store = new FakeStore();
  const repo = store.repo('r1');
  const none = { repos: [] };
  assert.equal(checkPublishKeys(repo, fakeConfig({ relative_url: 'a/b', http: 'true', https: false, keep_previous: 2 }), none), null);
  assert.match(checkPublishKeys(repo, fakeConfig({ relative_url: '../x' }), none)!, /relative_url/);
  assert.match(checkPublishKeys(repo, fakeConfig({ relative_url: 5 }), none)!, /"relative_url" must be a string/);
  assert.match(checkPublishKeys(repo, fakeConfig({ http: 'maybe' }), none)!, /"http" must be true or false/);
  assert.match(checkPublishKeys(repo, fakeConfig({ keep_previous: -1 }), none)!, /"keep_previous"/);
  // default relative_url = repo id; another repo of the same type using it is refused
  assert.match(checkPublishKeys(repo, fakeConfig({}), { repos: [{ id: 'r2', pluginId: 'x', config: { relative_url: 'r1' } }] })!, /already used by r2/);
});

test('atomic publish: links, modes whatever the umask, old tree whole until the switch, older trees removed after', async () => {
  const store = new FakeStore();
  const repo = store.repo('r1', 'iso_distributor');
  const old = process.umask(0o077);
  try {
    const r1 = await atomicPublish({
      publishRoot: store.publishRoot,
      repo,
      relativeUrl: 'a/b',
      protocols: { http: true, https: true },
      baseUrls: { http: 'http://example.com/pub' },
      build: async (dir) => {
        write(dir, 'one.txt', 'v1');
        write(dir, 'sub/two.txt', 'v1-two');
      },
    });
    assert.equal(r1.version, 1);
    assert.equal(r1.previousDir, null);
    const httpLink = path.join(store.publishRoot, 'http', 'a', 'b');
    const httpsLink = path.join(store.publishRoot, 'https', 'a', 'b');
    assert.deepEqual(r1.publishedPaths, [httpLink, httpsLink]);
    assert.deepEqual(r1.urls, ['http://example.com/pub/a/b/']);
    assert.ok(lstatSync(httpLink).isSymbolicLink());
    assert.ok(!path.isAbsolute(readlinkSync(httpLink)), 'relative symlink');
    assert.equal(readFileSync(path.join(httpsLink, 'sub/two.txt'), 'utf8'), 'v1-two');
    assert.equal(modeOf(path.join(httpLink, 'one.txt')), 0o644);
    assert.equal(modeOf(path.join(httpLink, 'sub')), 0o755);
    assert.equal(modeOf(realpathSync(httpLink)), 0o755);
    assert.equal(modeOf(path.join(store.publishRoot, 'http', 'a')), 0o755);

    const r2 = await atomicPublish({
      publishRoot: store.publishRoot,
      repo,
      relativeUrl: 'a/b',
      protocols: { http: true, https: true },
      build: async (dir) => {
        // While the new tree is built, the old one is published whole.
        assert.equal(readFileSync(path.join(httpLink, 'one.txt'), 'utf8'), 'v1');
        assert.equal(readFileSync(path.join(httpLink, 'sub/two.txt'), 'utf8'), 'v1-two');
        write(dir, 'one.txt', 'v2');
      },
      carryOver: () => ['sub/two.txt', 'missing.txt', 'one.txt'],
    });
    assert.equal(r2.version, 2);
    assert.equal(r2.previousDir, r1.versionDir);
    assert.deepEqual(r2.carried, ['sub/two.txt']);
    assert.deepEqual(r2.notCarried, ['missing.txt']);
    assert.equal(readFileSync(path.join(httpLink, 'one.txt'), 'utf8'), 'v2', 'the new tree wins over a carried path');
    assert.equal(statSync(path.join(httpLink, 'sub/two.txt')).ino, statSync(path.join(r1.versionDir, 'sub/two.txt')).ino, 'carried as a hard link');
    assert.ok(existsSync(r1.versionDir), 'previous tree kept (keep_previous 1)');
    assert.equal(await currentPublishedDir(store.publishRoot, repo), r2.versionDir);

    const r3 = await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'a/b', protocols: { http: true, https: true }, build: async (dir) => write(dir, 'x', '3') });
    assert.deepEqual(r3.removedVersions, [r1.versionDir]);
    assert.ok(!existsSync(r1.versionDir));
    assert.ok(existsSync(r2.versionDir));
    const r4 = await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'a/b', protocols: { http: true, https: true }, keepPrevious: 0, build: async (dir) => write(dir, 'x', '4') });
    assert.deepEqual(readdirSync(path.dirname(r4.versionDir)).filter((n) => /^\d+$/.test(n)), ['4']);
    // Each tree's record of escaping RAW symlinks goes with it.
    assert.deepEqual(readdirSync(path.dirname(r4.versionDir)).filter((n) => n.endsWith('.escapes.json')), ['4.escapes.json']);
  } finally {
    process.umask(old);
  }
});

test('protocol turned off and relative_url changed: old links removed, empty parents too', async () => {
  const store = new FakeStore();
  const repo = store.repo('r1', 'd');
  await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'x/y', protocols: { http: true, https: true }, build: async (d) => write(d, 'f', '1') });
  const r = await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'z', protocols: { http: true, https: false }, build: async (d) => write(d, 'f', '2') });
  assert.ok(!existsSync(path.join(store.publishRoot, 'http', 'x')), 'old url and its empty parent removed');
  assert.ok(!existsSync(path.join(store.publishRoot, 'https', 'x')));
  assert.ok(!existsSync(path.join(store.publishRoot, 'https', 'z')));
  assert.equal(readFileSync(path.join(store.publishRoot, 'http', 'z', 'f'), 'utf8'), '2');
  assert.ok(r.removedLinks.length >= 2);
  // Moving into / out of its own previous URL.
  await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'z/inner', protocols: { http: true, https: false }, build: async (d) => write(d, 'f', '3') });
  assert.equal(readFileSync(path.join(store.publishRoot, 'http', 'z', 'inner', 'f'), 'utf8'), '3');
  await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'z', protocols: { http: true, https: false }, build: async (d) => write(d, 'f', '4') });
  assert.equal(readFileSync(path.join(store.publishRoot, 'http', 'z', 'f'), 'utf8'), '4');
  const removed = await unpublish(store.publishRoot, repo);
  assert.ok(removed.includes(path.join(store.publishRoot, 'http', 'z')));
  assert.ok(!existsSync(path.join(store.publishRoot, 'http', 'z')));
  assert.ok(!existsSync(versionsBase(store.publishRoot, 'r1', distributorKey(repo))));
});

test('conflicts, foreign paths, failed builds and cancel leave the published tree as it was', async () => {
  const store = new FakeStore();
  const repo = store.repo('r1', 'd');
  const first = await atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'p', protocols: { http: true, https: false }, build: async (d) => write(d, 'f', 'old') });
  const link = path.join(store.publishRoot, 'http', 'p');

  await assert.rejects(
    atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'p', protocols: { http: true, https: false }, otherRelativeUrls: { 'r9/yum': 'p/q' }, build: async () => {} }),
    (e: StagepushError) => e.code === 'PUBLISH_RELATIVE_URL_CONFLICT' && /r9\/yum/.test(e.message),
  );
  await assert.rejects(
    atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'p', protocols: { http: true, https: false }, build: async () => { throw new Error('boom'); } }),
    /boom/,
  );
  const ac = new AbortController();
  await assert.rejects(
    atomicPublish({ publishRoot: store.publishRoot, repo, relativeUrl: 'p', protocols: { http: true, https: false }, signal: ac.signal, build: async (d) => { write(d, 'f', 'new'); ac.abort(new Error('canceled')); } }),
    /canceled/,
  );
  assert.equal(readFileSync(path.join(link, 'f'), 'utf8'), 'old');
  assert.equal(realpathSync(link), realpathSync(first.versionDir));
  assert.deepEqual(readdirSync(path.dirname(first.versionDir)).filter((n) => n !== 'state.json'), ['1', '1.escapes.json'], 'the failed publishes left no tree and no record');
  assert.deepEqual(readdirSync(repo.workingDir), ['.published-location.json'], 'no build leftovers');

  // A path that is not ours (another tool's directory, a foreign symlink) is never replaced.
  mkdirSync(path.join(store.publishRoot, 'http', 'foreign'), { recursive: true });
  symlinkSync('/tmp', path.join(store.publishRoot, 'http', 'alien'));
  for (const url of ['foreign', 'alien', 'alien/sub']) {
    const other = store.repo('r-' + url.replace('/', '_'), 'd');
    await assert.rejects(
      atomicPublish({ publishRoot: store.publishRoot, repo: other, relativeUrl: url, protocols: { http: true, https: false }, build: async () => {} }),
      (e: StagepushError) => e.code === 'PUBLISH_PATH_TAKEN',
    );
  }
  assert.equal(readlinkSync(path.join(store.publishRoot, 'http', 'alien')), '/tmp');
});

test('publishWithConduit: defaults to the repo id, checks every other distributor, gives URLs', async () => {
  const store = new FakeStore();
  store.baseUrls = { http: 'http://pub.example/p', https: 'https://pub.example/p' };
  const repo = store.repo('myrepo', 'iso');
  const res = await publishWithConduit(repo, store.publisher('myrepo'), fakeConfig({ https: 'false' }), async (d) => write(d, 'a', 'a'));
  assert.deepEqual(res.publishedPaths, [path.join(store.publishRoot, 'http', 'myrepo')]);
  assert.deepEqual(res.urls, ['http://pub.example/p/myrepo/']);
  store.otherUrls = { 'other/yum_distributor': 'myrepo' };
  await assert.rejects(publishWithConduit(repo, store.publisher('myrepo'), fakeConfig({}), async () => {}), (e: StagepushError) => e.code === 'PUBLISH_RELATIVE_URL_CONFLICT' && e.message.includes('other/yum_distributor'));
});
