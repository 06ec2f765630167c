import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GenericImporter } from '../../src/plugins/generic/importer.js';
import { DirectoryDistributor } from '../../src/plugins/directory/distributor.js';
import { startServer } from '../../src/serve/server.js';
import { parseRange } from '../../src/serve/server.js';
import { decodeRequestPath } from '../../src/serve/safepath.js';
import { contentTypeOf } from '../../src/serve/mime.js';
import { FakeStore, fakeConfig } from '../helpers/fakeconduit.js';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { rawRequest, startServeCli } from '../helpers/serve.js';
import { Engine, RPMS } from '../helpers/yum.js';

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** A published RAW tree (via the real plugins on a fake conduit) with traps pointing outside. */
async function published(): Promise<{ store: FakeStore; secret: string }> {
  const store = new FakeStore();
  const outside = tempDir();
  const secret = path.join(outside, 'secret.txt');
  writeFileSync(secret, 'TOP SECRET');
  mkdirSync(path.join(outside, 'dir'));
  writeFileSync(path.join(outside, 'dir/x'), 'outside dir');
  const t = tempDir();
  mkdirSync(path.join(t, 'repodata'));
  writeFileSync(path.join(t, 'repodata/repomd.xml'), '<repomd/>');
  writeFileSync(path.join(t, 'PULP_MANIFEST'), 'a,b,c\n');
  writeFileSync(path.join(t, 'big.iso'), Buffer.from('0123456789'));
  writeFileSync(path.join(t, 'name with space.txt'), 'spaced');
  writeFileSync(path.join(t, 'empty'), '');
  symlinkSync('/etc/shadow', path.join(t, 'shadow'));
  symlinkSync(secret, path.join(t, 'secret-link'));
  symlinkSync(path.join(outside, 'dir'), path.join(t, 'dirlink'));
  symlinkSync('big.iso', path.join(t, 'inside-link'));
  const repo = store.repo('raw', 'directory_distributor');
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('raw'), fakeConfig());
  await new DirectoryDistributor().publishRepo(repo, store.publisher('raw'), fakeConfig({ relative_url: 'pub/raw', https: true }));
  return { store, secret };
}

test('safe path decoding, ranges, content types', () => {
  assert.deepEqual(decodeRequestPath('/a/b%20c/?x=1'), { segments: ['a', 'b c'], trailingSlash: true });
  for (const bad of ['/a/../b', '/a/%2e%2e/b', '/a/%2E%2E', '/a/%252e%252e/b', '/a%00b', '/a/%5c..', '/a/./b', '/a//b', '/%E0%A4%A']) {
    assert.ok('reason' in decodeRequestPath(bad), bad);
  }
  assert.deepEqual(parseRange('bytes=0-3', 10), { start: 0, end: 3 });
  assert.deepEqual(parseRange('bytes=7-', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
  // RFC 9110 14.1.1 edge cases: a suffix longer than the file is all of it; a zero suffix, a
  // first-pos past the end, and any range of an empty file are unsatisfiable; last < first is invalid.
  assert.deepEqual(parseRange('bytes=-20', 10), { start: 0, end: 9 });
  assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=20-30', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=-5', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-0', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=5-3', 10), null);
  assert.equal(parseRange('bytes=0-1,3-4', 10), null);
  assert.equal(parseRange('items=0-1', 10), null);
  assert.equal(contentTypeOf('repodata/repomd.xml'), 'application/xml');
  assert.equal(contentTypeOf('x-primary.xml.gz'), 'application/gzip');
  assert.equal(contentTypeOf('PULP_MANIFEST'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeOf('a.rpm'), 'application/x-rpm');
  assert.equal(contentTypeOf('modules.yaml'), 'application/yaml');
  assert.equal(contentTypeOf('repomd.xml.asc'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeOf('repodata/repomd.xml.key'), 'application/pgp-keys');
  assert.equal(contentTypeOf('noext'), 'application/octet-stream');
});

test('serve: files, HEAD, ranges, conditional requests, listings, and nothing outside the roots', async () => {
  const { store } = await published();
  const lines: string[] = [];
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0, log: (l) => lines.push(l) });
  try {
    const url = srv.listeners[0]!.url;
    let r = await rawRequest(url, '/pub/raw/big.iso');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '0123456789');
    assert.equal(r.headers['content-type'], 'application/x-iso9660-image');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    const etag = r.headers.etag!;
    const lm = r.headers['last-modified']!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    r = await rawRequest(url, '/pub/raw/big.iso', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '10');
    assert.equal(r.body.length, 0);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=2-4' } });
    assert.equal(r.status, 206);
    assert.equal(r.body.toString(), '234');
    assert.equal(r.headers['content-range'], 'bytes 2-4/10');
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=-3' } });
    assert.equal(r.body.toString(), '789');
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=20-' } });
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], 'bytes */10');
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=-20' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], 'bytes 0-9/10');
    assert.equal(r.body.toString(), '0123456789');
    for (const range of ['bytes=-5', 'bytes=0-']) {
      r = await rawRequest(url, '/pub/raw/empty', { headers: { Range: range } });
      assert.equal(r.status, 416, `${range} of an empty file`);
      assert.equal(r.headers['content-range'], 'bytes */0', range);
    }
    r = await rawRequest(url, '/pub/raw/empty');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '0');
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=0-1,4-5' } });
    assert.equal(r.status, 200);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=0-1', 'If-Range': '"other"' } });
    assert.equal(r.status, 200, 'If-Range mismatch: whole file');
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { Range: 'bytes=0-1', 'If-Range': etag } });
    assert.equal(r.status, 206);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { 'If-None-Match': etag } });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { 'If-None-Match': '"nope"' } });
    assert.equal(r.status, 200);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { 'If-Modified-Since': lm } });
    assert.equal(r.status, 304);
    r = await rawRequest(url, '/pub/raw/big.iso', { headers: { 'If-Modified-Since': new Date(Date.parse(lm) - 3600_000).toUTCString() } });
    assert.equal(r.status, 200);
    r = await rawRequest(url, '/pub/raw/PULP_MANIFEST');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    r = await rawRequest(url, '/pub/raw/repodata/repomd.xml');
    assert.equal(r.headers['content-type'], 'application/xml');
    assert.equal(r.body.toString(), '<repomd/>');
    r = await rawRequest(url, '/pub/raw/name%20with%20space.txt');
    assert.equal(r.body.toString(), 'spaced');
    r = await rawRequest(url, '/pub/raw/inside-link');
    assert.equal(r.body.toString(), '0123456789', 'a symlink inside the tree is followed');

    r = await rawRequest(url, '/pub/raw');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/pub/raw/');
    r = await rawRequest(url, '/pub/raw/');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /text\/html/);
    const html = r.body.toString();
    for (const n of ['big.iso', 'repodata/', 'PULP_MANIFEST', 'name%20with%20space.txt', 'inside-link']) assert.ok(html.includes(`href="${n}"`), n);
    for (const n of ['shadow', 'secret-link', 'dirlink']) assert.ok(!html.includes(`href="${n}`), `${n} not listed`);

    for (const bad of [
      '/pub/raw/shadow',
      '/pub/raw/secret-link',
      '/pub/raw/dirlink/x',
      '/pub/raw/../../content',
      '/pub/raw/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/pub/raw/%2E%2E/',
      '/pub/raw/%252e%252e/%252e%252e/etc/passwd',
      '/pub/raw/big.iso%00.txt',
      '/pub/raw/..%2f..%2f..%2fetc%2fpasswd',
      '/pub/raw/..%5c..%5cetc',
      '/..',
      '/pub/raw/nothing',
      '/.versions/',
    ]) {
      const b = await rawRequest(url, bad);
      assert.equal(b.status, 404, `${bad} → ${b.status}`);
      assert.ok(!b.body.toString().includes('TOP SECRET'));
    }
    r = await rawRequest(url, '/pub/raw/big.iso', { method: 'POST' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
    assert.ok(lines.some((l) => /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/pub\/raw\/big\.iso HTTP\/1\.1" 200 10 "-" "-" [\d.]+ms$/.test(l)), lines.slice(0, 3).join('\n'));
    assert.ok(lines.some((l) => l.includes('"HEAD /pub/raw/big.iso HTTP/1.1" 200 -')));
  } finally {
    await srv.close();
  }
  const noList = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0, listing: false });
  try {
    assert.equal((await rawRequest(noList.listeners[0]!.url, '/pub/raw/')).status, 403);
  } finally {
    await noList.close();
  }
});

test('stagepush serve (CLI): http + https, access log file, parseable lines, graceful SIGTERM', async () => {
  const { store } = await published();
  const d = tempDir();
  const cert = path.join(d, 'cert.pem');
  const key = path.join(d, 'key.pem');
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
  assert.equal(ssl.status, 0, ssl.stderr);
  const log = path.join(d, 'access.log');
  const s = await startServeCli(['--data-dir', store.root, '--publish-root', store.publishRoot, '--http', '0', '--https', '0', '--cert', cert, '--key', key, '--access-log', log], 2);
  try {
    assert.match(s.urls.http!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(s.urls.https!, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const a = await rawRequest(s.urls.http!, '/pub/raw/big.iso');
    assert.equal(a.body.toString(), '0123456789');
    const b = await rawRequest(s.urls.https!, '/pub/raw/repodata/repomd.xml');
    assert.equal(b.body.toString(), '<repomd/>');
    // The https tree is <root>/https: a repo published for http only is not there.
    writeFileSync(path.join(d, 'x'), 'x');
    assert.equal((await rawRequest(s.urls.https!, '/pub/raw/shadow')).status, 404);
  } finally {
    const code = await s.stop('SIGTERM');
    assert.equal(code, 0, s.stderr());
  }
  assert.match(s.stdout(), /stopped/);
  const logText = readFileSync(log, 'utf8');
  assert.match(logText, /"GET \/pub\/raw\/big\.iso HTTP\/1\.1" 200 10/);
  assert.match(logText, /"GET \/pub\/raw\/repodata\/repomd\.xml HTTP\/1\.1" 200 9/);
  assert.match(logText, /"GET \/pub\/raw\/shadow HTTP\/1\.1" 404/);
});

test('stagepush serve refuses bad flags (exit 2) and a busy port (exit 6)', async () => {
  const d = tempDir();
  for (const [args, re] of [
    [['--https', '0'], /SERVE_TLS_FILE.*--https needs --cert/],
    [['--http', 'eighty'], /SERVE_BAD_PORT.*--http eighty/],
    [['--http', '0', '--cert', 'c.pem'], /--cert\/--key given without --https/],
    [['--https', '0', '--cert', path.join(d, 'none.pem'), '--key', path.join(d, 'none.pem')], /SERVE_TLS_FILE.*none\.pem: ENOENT/],
  ] as const) {
    const r = runCli(['serve', '--data-dir', d, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const store = new FakeStore();
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const busy = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const c = spawnCli(['serve', '--data-dir', d, '--http', String(srv.listeners[0]!.port)]);
      let err = '';
      c.stderr.on('data', (x: Buffer) => (err += x.toString()));
      c.on('exit', (status) => resolve({ status, stderr: err }));
    });
    assert.equal(busy.status, 6, busy.stderr);
    assert.match(busy.stderr, /SERVE_LISTEN_FAILED.*EADDRINUSE/);
  } finally {
    await srv.close();
  }
});

test('serve follows only the links a published tree is made of: a RAW tree\'s link into the https-only tree, another repository or up out of its tree is a 404 over http (and not listed)', async () => {
  const store = new FakeStore();
  // An https-only tree holding a secret.
  const s = tempDir();
  writeFileSync(path.join(s, 'secret.txt'), 'TOPSECRET');
  const priv = store.repo('private', 'directory_distributor');
  await new GenericImporter().uploadUnit(priv, { typeId: 'directory', unitKey: { name: 's' }, metadata: {}, filePath: s }, store.importer('private'), fakeConfig());
  await new DirectoryDistributor().publishRepo(priv, store.publisher('private'), fakeConfig({ relative_url: 'private', http: false, https: true }));
  // A public RAW tree with links: absolute into the https tree, relative up and over, and one inside.
  const t = tempDir();
  mkdirSync(path.join(t, 'sub'));
  writeFileSync(path.join(t, 'sub', 'ok.txt'), 'fine');
  symlinkSync(path.join(store.publishRoot, 'https', 'private', 'secret.txt'), path.join(t, 'leak'));
  symlinkSync('../../../../https/private/secret.txt', path.join(t, 'sub', 'up'));
  symlinkSync('sub/ok.txt', path.join(t, 'inside'));
  const pub = store.repo('pub', 'directory_distributor');
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('pub'), fakeConfig());
  await new DirectoryDistributor().publishRepo(pub, store.publisher('pub'), fakeConfig({ relative_url: 'pub' }));
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    assert.equal((await rawRequest(url, '/private/secret.txt')).status, 404, 'https-only');
    for (const p of ['/pub/leak', '/pub/sub/up']) {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /TOPSECRET/);
    }
    const ok = await rawRequest(url, '/pub/inside');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'fine');
    const list = (await rawRequest(url, '/pub/')).body.toString();
    assert.match(list, /inside/);
    assert.doesNotMatch(list, /leak/);
  } finally {
    await srv.close();
  }
});

test('serve follows an export distributor\'s link to its absolute export_dir (and lists it) at the relative_url it recorded, nothing else: a RAW tree\'s link into it, another link to it, or a link at a relative_url it no longer uses is a 404', async () => {
  const eng = new Engine();
  const work = tempDir();
  const exports = path.join(work, 'exports');
  writeFileSync(path.join(work, 'a.iso'), 'EXPORTED');
  eng.run(['repo', 'create', 'fx', '--importer', 'iso_importer']);
  eng.run(['content', 'upload', '--repo', 'fx', path.join(work, 'a.iso')]);
  eng.run(['repo', 'distributor', 'add', 'fx', 'export_distributor', '--id', 'ex', '--distributor-config', `export_dir=${exports}/fx`, '--distributor-config', 'http=true', '--distributor-config', 'relative_url=exp/fx']);
  eng.run(['repo', 'publish', 'fx']);
  // A RAW tree with links into that export directory.
  const t = path.join(work, 'tree');
  mkdirSync(t);
  writeFileSync(path.join(t, 'own.txt'), 'own');
  symlinkSync(path.join(exports, 'fx', 'a.iso'), path.join(t, 'leak'));
  symlinkSync(path.join(exports, 'fx'), path.join(t, 'leakdir'));
  eng.run(['repo', 'create', 'raw', '--importer', 'generic_importer']);
  eng.run(['repo', 'distributor', 'add', 'raw', 'directory_distributor']);
  eng.run(['content', 'upload', '--repo', 'raw', '--type', 'directory', t]);
  eng.run(['repo', 'publish', 'raw']);
  // A link to the export directory that no export made.
  symlinkSync(path.join(exports, 'fx'), path.join(eng.publishRoot, 'http', 'planted'));
  const s = await startServeCli(['--data-dir', eng.dataDir, '--http', '0', '--no-access-log'], 1);
  try {
    const url = s.urls.http!;
    let r = await rawRequest(url, '/exp/fx/a.iso');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'EXPORTED');
    assert.match((await rawRequest(url, '/exp/')).body.toString(), /href="fx\/"/);
    assert.match((await rawRequest(url, '/exp/fx/')).body.toString(), /href="a\.iso"/);
    assert.equal((await rawRequest(url, '/raw/own.txt')).status, 200);
    for (const p of ['/raw/leak', '/raw/leakdir/a.iso', '/planted/a.iso']) {
      r = await rawRequest(url, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /EXPORTED/);
    }
    const root = (await rawRequest(url, '/')).body.toString();
    assert.match(root, /href="exp\/"/);
    assert.doesNotMatch(root, /planted/);
    // The export moves to another relative_url: served there, no longer at the old one (even linked back).
    eng.run(['repo', 'distributor', 'update', 'fx', 'ex', '--distributor-config', 'relative_url=exp/moved']);
    eng.run(['repo', 'publish', 'fx']);
    assert.equal((await rawRequest(url, '/exp/moved/a.iso')).body.toString(), 'EXPORTED');
    assert.equal((await rawRequest(url, '/exp/fx/a.iso')).status, 404);
    symlinkSync(path.join(exports, 'fx'), path.join(eng.publishRoot, 'http', 'exp', 'fx'));
    assert.equal((await rawRequest(url, '/exp/fx/a.iso')).status, 404, 'a link no export made');
  } finally {
    assert.equal(await s.stop('SIGTERM'), 0, s.stderr());
  }
});

test('serve never follows a RAW tree\'s escaping link into the content store (the store, a shard of it): a 404 over http and not listed; the published files, links into the store, are served', async () => {
  const store = new FakeStore();
  // An https-only tree holding a secret: its file is in the content store.
  const s = tempDir();
  writeFileSync(path.join(s, 'secret.txt'), 'TOPSECRET');
  const priv = store.repo('private', 'directory_distributor');
  await new GenericImporter().uploadUnit(priv, { typeId: 'directory', unitKey: { name: 's' }, metadata: {}, filePath: s }, store.importer('private'), fakeConfig());
  await new DirectoryDistributor().publishRepo(priv, store.publisher('private'), fakeConfig({ relative_url: 'private', http: false, https: true }));
  const shard = sha256Hex('TOPSECRET').slice(0, 2);
  // A public RAW tree with links leaving it (escapes: true) into the store, and a file of its own.
  const t = tempDir();
  writeFileSync(path.join(t, 'ok.txt'), 'fine');
  symlinkSync(store.contentRoot, path.join(t, 'store'));
  symlinkSync(path.join(store.contentRoot, 'sha256', shard), path.join(t, 'shard'));
  const pub = store.repo('pub', 'directory_distributor');
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('pub'), fakeConfig());
  await new DirectoryDistributor().publishRepo(pub, store.publisher('pub'), fakeConfig({ relative_url: 'pub' }));
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    const ok = await rawRequest(url, '/pub/ok.txt');
    assert.equal(ok.status, 200, 'a published file (a link into the store) is served');
    assert.equal(ok.body.toString(), 'fine');
    for (const p of ['/pub/store/', '/pub/store/sha256/', `/pub/store/sha256/${shard}/`, `/pub/store/sha256/${shard}/${sha256Hex('TOPSECRET').slice(2)}`, '/pub/shard/', `/pub/shard/${sha256Hex('TOPSECRET').slice(2)}`]) {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /TOPSECRET|sha256/);
    }
    const list = (await rawRequest(url, '/pub/')).body.toString();
    assert.match(list, /href="ok\.txt"/);
    assert.doesNotMatch(list, /store|shard/);
  } finally {
    await srv.close();
  }
});

test('serve lists the entries of a directory whose name holds ?, % or #, with hrefs that lead to them', async () => {
  const store = new FakeStore();
  const t = tempDir();
  const dirs = { 'what?': 'q.txt', '50%off': 'p.txt', 'a b#c': 'r?.txt' };
  for (const [d, f] of Object.entries(dirs)) {
    mkdirSync(path.join(t, d));
    writeFileSync(path.join(t, d, f), `${d}/${f}`);
  }
  const pub = store.repo('pub', 'directory_distributor');
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('pub'), fakeConfig());
  await new DirectoryDistributor().publishRepo(pub, store.publisher('pub'), fakeConfig({ relative_url: 'pub' }));
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    const hrefs = async (p: string) => {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 200, p);
      return [...r.body.toString().matchAll(/href="([^"]*)"/g)].map((m) => m[1]!).filter((h) => h !== '../');
    };
    const top = await hrefs('/pub/');
    assert.deepEqual(top.sort(), ['50%25off/', 'a%20b%23c/', 'what%3F/']);
    // Every href, followed from its listing, leads to the entry; each directory lists its file.
    for (const [d, f] of Object.entries(dirs)) {
      const dirHref = top.find((h) => decodeURIComponent(h) === `${d}/`)!;
      const inner = await hrefs(`/pub/${dirHref}`);
      assert.deepEqual(inner, [encodeURIComponent(f)], d);
      const r = await rawRequest(url, `/pub/${dirHref}${inner[0]}`);
      assert.equal(r.status, 200, `${d}/${f}`);
      assert.equal(r.body.toString(), `${d}/${f}`);
    }
  } finally {
    await srv.close();
  }
});

test('serve never follows a RAW tree\'s link recorded as leaving it, though it leads where a distributor\'s own links do: an absolute link to a stored file (an https-only repository\'s) and `up -> ..` into the versions directory are a 404 over http and not listed, as is a link of another tree going through `up`', async () => {
  const store = new FakeStore();
  // An https-only tree holding a secret: its file is a stored file.
  const s = tempDir();
  writeFileSync(path.join(s, 'secret.txt'), 'TOPSECRET');
  const priv = store.repo('private', 'directory_distributor');
  await new GenericImporter().uploadUnit(priv, { typeId: 'directory', unitKey: { name: 's' }, metadata: {}, filePath: s }, store.importer('private'), fakeConfig());
  await new DirectoryDistributor().publishRepo(priv, store.publisher('private'), fakeConfig({ relative_url: 'private', http: false, https: true }));
  const stored = store.blobPath(sha256Hex('TOPSECRET'));
  // A public RAW tree: a link to that stored file, written as a distributor writes its own, and `up -> ..`.
  const t = tempDir();
  writeFileSync(path.join(t, 'ok.txt'), 'fine');
  symlinkSync('ok.txt', path.join(t, 'inside'));
  symlinkSync(stored, path.join(t, 'leak'));
  symlinkSync('..', path.join(t, 'up'));
  // A second tree of the same repository, laid out at the same root: its link goes through the first tree's `up`.
  const u = tempDir();
  symlinkSync('up/state.json', path.join(u, 'via'));
  const pub = store.repo('pub', 'directory_distributor');
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('pub'), fakeConfig());
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 'u' }, metadata: {}, filePath: u }, store.importer('pub'), fakeConfig());
  await new DirectoryDistributor().publishRepo(pub, store.publisher('pub'), fakeConfig({ relative_url: 'pub' }));
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    for (const p of ['/pub/ok.txt', '/pub/inside']) {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 200, p);
      assert.equal(r.body.toString(), 'fine');
    }
    for (const p of ['/pub/leak', '/pub/up/', '/pub/up/state.json', '/pub/up/1/ok.txt', '/pub/via']) {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /TOPSECRET|relativeUrl|Index of/, p);
    }
    const list = (await rawRequest(url, '/pub/')).body.toString();
    assert.match(list, /href="ok\.txt"/);
    assert.match(list, /href="inside"/);
    assert.doesNotMatch(list, /leak|up|via/);
  } finally {
    await srv.close();
  }
});

test('serve resolves a link\'s target as the kernel does, each link before the ".." after it: `x -> l/../..` with `l -> a/b` is the tree\'s root, not the versions directory above it (state.json), and `y -> l/../f.txt` is a/f.txt', async () => {
  const store = new FakeStore();
  const t = tempDir();
  mkdirSync(path.join(t, 'a', 'b'), { recursive: true });
  writeFileSync(path.join(t, 'a', 'f.txt'), 'kernel');
  writeFileSync(path.join(t, 'f.txt'), 'lexical');
  symlinkSync('a/b', path.join(t, 'l'));
  symlinkSync('l/../..', path.join(t, 'x'));
  symlinkSync('l/../f.txt', path.join(t, 'y'));
  const pub = store.repo('pub', 'directory_distributor');
  await new GenericImporter().uploadUnit(pub, { typeId: 'directory', unitKey: { name: 't' }, metadata: {}, filePath: t }, store.importer('pub'), fakeConfig());
  await new DirectoryDistributor().publishRepo(pub, store.publisher('pub'), fakeConfig({ relative_url: 'pub' }));
  // Neither link leaves the tree: nothing is recorded, where they lead decides.
  const tree = path.join(store.publishRoot, 'http', 'pub');
  assert.equal(readFileSync(path.join(tree, 'y'), 'utf8'), 'kernel');
  const srv = await startServer({ publishRoot: store.publishRoot, contentRoot: store.contentRoot, httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    let r = await rawRequest(url, '/pub/y');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'kernel');
    r = await rawRequest(url, '/pub/x/');
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /href="f\.txt"/, 'the tree\'s root');
    assert.doesNotMatch(r.body.toString(), /state\.json/);
    assert.equal((await rawRequest(url, '/pub/x/state.json')).status, 404);
    assert.equal((await rawRequest(url, '/pub/x/f.txt')).body.toString(), 'lexical');
  } finally {
    await srv.close();
  }
});

test('serve never follows a yum tree\'s RAW link through the distributor\'s own Packages link out of the published version (Packages/.. is the versions directory: its state.json, other versions); the packages themselves are served', async () => {
  const eng = new Engine();
  const work = tempDir();
  const t = path.join(work, 'tree');
  mkdirSync(path.join(t, 'a'), { recursive: true });
  writeFileSync(path.join(t, 'a', 'f.txt'), 'own');
  symlinkSync('Packages/..', path.join(t, 'z'));
  symlinkSync('Packages/../state.json', path.join(t, 'w'));
  symlinkSync('a/f.txt', path.join(t, 'inside'));
  eng.run(['repo', 'create', 'y1', '--importer', 'yum_importer']);
  eng.run(['repo', 'distributor', 'add', 'y1', 'yum_distributor', '--distributor-config', 'relative_url=y1']);
  eng.run(['content', 'upload', '--repo', 'y1', path.join(RPMS, 'install', 'hello-1.0-1.noarch.rpm')]);
  eng.run(['content', 'upload', '--repo', 'y1', '--type', 'directory', '--unit-key', 'name=t1', t]);
  eng.run(['repo', 'publish', 'y1']);
  const srv = await startServer({ publishRoot: eng.publishRoot, contentRoot: path.join(eng.dataDir, 'content'), httpPort: 0 });
  try {
    const url = srv.listeners[0]!.url;
    for (const p of ['/y1/inside', '/y1/a/f.txt']) assert.equal((await rawRequest(url, p)).body.toString(), 'own', p);
    const rpm = await rawRequest(url, '/y1/Packages/h/hello-1.0-1.noarch.rpm');
    assert.equal(rpm.status, 200);
    assert.deepEqual(rpm.body, readFileSync(path.join(RPMS, 'install', 'hello-1.0-1.noarch.rpm')));
    for (const p of ['/y1/w', '/y1/z/', '/y1/z/state.json', '/y1/z/1/a/f.txt']) {
      const r = await rawRequest(url, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /relativeUrl|Index of|own/, p);
    }
    const list = (await rawRequest(url, '/y1/')).body.toString();
    assert.match(list, /href="inside"/);
    assert.doesNotMatch(list, /href="[wz]"/);
  } finally {
    await srv.close();
  }
});
