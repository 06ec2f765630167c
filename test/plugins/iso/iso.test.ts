import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { lstatSync, readFileSync, readlinkSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IsoImporter, manifestUrlOf } from '../../../src/plugins/iso/importer.js';
import { IsoDistributor } from '../../../src/plugins/iso/distributor.js';
import { checkIsoName, formatManifest, parseManifest } from '../../../src/plugins/iso/manifest.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fakeConfig } from '../../helpers/fakeconduit.js';
import { tempDir } from '../../helpers/cli.js';
import { pythonHttpServer } from '../../helpers/serve.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

test('PULP_MANIFEST parse and format', () => {
  const a = sha('a');
  assert.deepEqual(parseManifest(`x.iso,${a},1\n\n"sub/y.iso",${a.toUpperCase()},2\r\n`, 'M'), [
    { name: 'x.iso', sha256: a, size: 1 },
    { name: 'sub/y.iso', sha256: a, size: 2 },
  ]);
  for (const [bad, re] of [
    [`x.iso,${a}\n`, /M:1: expected "name,sha256,size"/],
    [`x.iso,abc,1\n`, /M:1: "abc" is not a sha256/],
    [`ok,${a},1\nx.iso,${a},-1\n`, /M:2: size "-1"/],
    [`../x,${a},1\n`, /M:1: name/],
    [`x,${a},1\nx,${a},1\n`, /M:2: "x" is listed twice \(first on line 1\)/],
  ] as const) {
    assert.throws(() => parseManifest(bad, 'M'), (e: StagepushError) => e.code === 'FILE_MANIFEST_INVALID' && re.test(e.message), bad);
  }
  assert.equal(formatManifest([{ name: 'b', sha256: a, size: 2 }, { name: 'a', sha256: a, size: 1 }]), `a,${a},1\nb,${a},2\n`);
  assert.equal(manifestUrlOf('http://h/x'), 'http://h/x/PULP_MANIFEST');
  assert.equal(manifestUrlOf('http://h/x/'), 'http://h/x/PULP_MANIFEST');
  assert.equal(manifestUrlOf('file:///a/PULP_MANIFEST'), 'file:///a/PULP_MANIFEST');
});

test('a file name is refused with the reason that applies to it', () => {
  assert.equal(checkIsoName('sub/x.iso'), null);
  assert.equal(checkIsoName('b\\s.txt'), '"b\\s.txt" must not contain backslashes');
  assert.equal(checkIsoName('sub\\'), '"sub\\" must not contain backslashes');
  assert.match(checkIsoName('a/../b') ?? '', /must be a relative path without "\.", "\.\." or empty segments/);
  assert.match(checkIsoName('a,b') ?? '', /commas, quotes or control characters/);
  assert.match(checkIsoName('PULP_MANIFEST') ?? '', /reserved/);
});

test('iso_importer config validation names the key', () => {
  const imp = new IsoImporter();
  const store = new FakeStore();
  const repo = store.repo('r');
  const none = { repos: [] };
  assert.deepEqual(imp.validateConfig(repo, fakeConfig({ feed: 'https://x/y', remove_missing: true, max_downloads: 3 }), none), { valid: true });
  const notPem = path.join(tempDir(), 'ca.txt');
  writeFileSync(notPem, 'not a certificate\n');
  for (const [cfg, re] of [
    [{ feed: 'ftp://x' }, /"feed".*ftp/],
    [{ feed: 'not a url' }, /"feed"/],
    [{ remove_missing: 'perhaps' }, /"remove_missing"/],
    [{ max_downloads: 0 }, /"max_downloads"/],
    [{ colour: 'red' }, /unknown config key "colour"/],
    [{ ssl_client_cert: '/c' }, /"ssl_client_cert" and "ssl_client_key"/],
    [{ ssl_ca_cert: '/nonexistent/ca.pem' }, /"ssl_ca_cert": cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
    [{ ssl_client_cert: '/nonexistent/c.pem', ssl_client_key: notPem }, /"ssl_client_cert": cannot read/],
    [{ ssl_ca_cert: notPem }, /"ssl_ca_cert": .* is not a PEM file/],
  ] as const) {
    const r = imp.validateConfig(repo, fakeConfig(cfg as Record<string, unknown>), none);
    assert.equal(r.valid, false, JSON.stringify(cfg));
    assert.match((r as { message: string }).message, re);
  }
});

test('upload: sha256 and size as the key, same-name upload replaces, mismatches refused', async () => {
  const store = new FakeStore();
  const repo = store.repo('files');
  const dir = tempDir();
  writeFileSync(path.join(dir, 'a.iso'), 'first');
  const imp = new IsoImporter();
  const c = store.importer('files');
  const r1 = await imp.uploadUnit(repo, { typeId: 'iso', unitKey: {}, metadata: { description: 'd' }, filePath: path.join(dir, 'a.iso') }, c, fakeConfig());
  assert.equal(r1.success, true);
  let units = store.units('files');
  assert.equal(units.length, 1);
  assert.deepEqual(units[0]!.unitKey, { name: 'a.iso', checksum: sha('first'), size: 5 });
  assert.equal(units[0]!.metadata.description, 'd');
  assert.equal(readFileSync(units[0]!.storagePath!, 'utf8'), 'first');
  writeFileSync(path.join(dir, 'a.iso'), 'second!');
  await imp.uploadUnit(repo, { typeId: 'iso', unitKey: {}, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig());
  units = store.units('files');
  assert.equal(units.length, 1, 'same name replaced');
  assert.equal(units[0]!.unitKey.checksum, sha('second!'));
  await imp.uploadUnit(repo, { typeId: 'iso', unitKey: { name: 'other.iso' }, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig());
  assert.equal(store.units('files').length, 2);
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'iso', unitKey: { checksum: sha('x') }, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_CHECKSUM_MISMATCH');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'iso', unitKey: { size: 3 }, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_SIZE_MISMATCH');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'iso', unitKey: { name: 'a,b' }, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_BAD_NAME');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'iso', unitKey: {}, metadata: {}, filePath: path.join(dir, 'nope') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_UPLOAD_NOT_FOUND');
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'rpm', unitKey: {}, metadata: {}, filePath: path.join(dir, 'a.iso') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_UNSUPPORTED_TYPE');
  const tmpDir = path.join(store.contentRoot, 'tmp');
  assert.deepEqual(existsSync(tmpDir) ? readdirSync(tmpDir) : [], [], 'no temp files left by failed uploads');
});

function feedDir(files: Record<string, string>): string {
  const d = tempDir();
  const entries = Object.entries(files).map(([name, text]) => {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), text);
    return { name, sha256: sha(text), size: Buffer.byteLength(text) };
  });
  writeFileSync(path.join(d, 'PULP_MANIFEST'), formatManifest(entries));
  return d;
}

async function serveDir(dir: string, opts: { failFirst?: Set<string>; corrupt?: Set<string>; basicAuth?: string; query?: string } = {}): Promise<{ url: string; close(): Promise<void>; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    hits.push(p);
    if (opts.query !== undefined && new URL(req.url!, 'http://x').search !== `?${opts.query}`) {
      res.statusCode = 403;
      res.end('no token');
      return;
    }
    if (opts.basicAuth !== undefined && req.headers.authorization !== `Basic ${Buffer.from(opts.basicAuth).toString('base64')}`) {
      res.statusCode = 401;
      res.end();
      return;
    }
    if (opts.failFirst?.has(p)) {
      opts.failFirst.delete(p);
      res.statusCode = 503;
      res.end('busy');
      return;
    }
    const f = path.join(dir, p);
    if (!existsSync(f) || !lstatSync(f).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const body = readFileSync(f);
    res.end(opts.corrupt?.has(p) ? Buffer.from(body.toString().toUpperCase()) : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

test('sync from a PULP_MANIFEST over http (retries a 503) and file://, remove_missing', async () => {
  const feed = feedDir({ 'a.iso': 'alpha', 'sub/b.iso': 'bravo' });
  const srv = await serveDir(feed, { failFirst: new Set(['/sub/b.iso']) });
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const imp = new IsoImporter();
    const rep = await imp.syncRepo(repo, store.importer('files'), fakeConfig({ feed: srv.url, retries: 2 }));
    assert.equal((rep.summary as Record<string, number>).added, 2);
    const byName = new Map(store.units('files').map((u) => [u.unitKey.name, u]));
    assert.equal(readFileSync(byName.get('sub/b.iso')!.storagePath!, 'utf8'), 'bravo');
    assert.equal(byName.get('a.iso')!.unitKey.size, 5);
    assert.ok(srv.hits.filter((h) => h === '/sub/b.iso').length === 2, 'retried once');

    // Second sync: nothing to download.
    srv.hits.length = 0;
    const rep2 = await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: srv.url }));
    assert.equal((rep2.summary as Record<string, number>).added, 0);
    assert.deepEqual(srv.hits, ['/PULP_MANIFEST']);

    // The feed changes: a.iso replaced, sub/b.iso gone; without remove_missing b stays.
    const feed2 = feedDir({ 'a.iso': 'alpha2', 'c.iso': 'charlie' });
    const fileFeed = pathToFileURL(path.join(feed2, 'PULP_MANIFEST')).toString();
    await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: fileFeed }));
    assert.deepEqual(store.units('files').map((u) => `${u.unitKey.name}:${u.unitKey.size}`).sort(), ['a.iso:6', 'c.iso:7', 'sub/b.iso:5']);
    await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: fileFeed, remove_missing: true }));
    assert.deepEqual(store.units('files').map((u) => u.unitKey.name).sort(), ['a.iso', 'c.iso']);
  } finally {
    await srv.close();
  }
});

test('sync from a feed URL with credentials: sent as Basic authentication', async () => {
  const feed = feedDir({ 'a.iso': 'alpha' });
  const srv = await serveDir(feed, { basicAuth: 'u:p@ss' });
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const rep = await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: srv.url.replace('http://', 'http://u:p%40ss@') }));
    assert.equal((rep.summary as Record<string, number>).added, 1);
    assert.deepEqual(store.units('files').map((u) => u.unitKey.name), ['a.iso']);
    // The password is in no summary or error.
    assert.equal(JSON.stringify(rep).includes('p%40ss'), false, JSON.stringify(rep));
    await assert.rejects(
      () => new IsoImporter().syncRepo(store.repo('other'), store.importer('other'), fakeConfig({ feed: srv.url.replace('http://', 'http://u:wrong-secret@'), retries: 0 })),
      (e: Error & { file?: string }) => !`${e.message} ${e.file ?? ''}`.includes('wrong-secret') && /u:\*\*\*@/.test(e.message) && /HTTP 401/.test(e.message),
    );
  } finally {
    await srv.close();
  }
});

test('sync from a feed whose URL carries a query string (a CDN access token): every file is fetched with it', async () => {
  const feed = feedDir({ 'a.iso': 'alpha', 'sub/b.iso': 'beta' });
  const srv = await serveDir(feed, { query: 'token=t0k%2Fen' });
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const rep = await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: `${srv.url.replace(/\/+$/, '')}/PULP_MANIFEST?token=t0k%2Fen`, retries: 0 }));
    assert.equal((rep.summary as Record<string, number>).added, 2);
    assert.deepEqual(store.units('files').map((u) => u.unitKey.name).sort(), ['a.iso', 'sub/b.iso']);
  } finally {
    await srv.close();
  }
});

test('sync from python3 -m http.server (HTTP/1.0: the server closes the connection after each response)', async () => {
  // Files of 3 MB: the body outruns the file being written, and undici paused its parser, then
  // failed an assertion when the server closed the connection (an uncaught exception).
  const d = tempDir();
  const entries = ['a.iso', 'b.iso', 'c.iso'].map((name) => {
    const body = randomBytes(3 * 1024 * 1024);
    writeFileSync(path.join(d, name), body);
    return { name, sha256: sha(body), size: body.length };
  });
  writeFileSync(path.join(d, 'PULP_MANIFEST'), formatManifest(entries));
  const srv = await pythonHttpServer(d);
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const rep = await new IsoImporter().syncRepo(repo, store.importer('files'), fakeConfig({ feed: srv.url, retries: 0, max_downloads: 3 }));
    assert.equal((rep.summary as Record<string, number>).added, 3);
    for (const u of store.units('files')) assert.equal(sha(readFileSync(u.storagePath!)), entries.find((e) => e.name === u.unitKey.name)!.sha256);
  } finally {
    await srv.close();
  }
});

test('sync refuses a file whose checksum differs, leaving nothing half-stored', async () => {
  const feed = feedDir({ 'a.iso': 'alpha' });
  const srv = await serveDir(feed, { corrupt: new Set(['/a.iso']) });
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const conduit = store.importer('files');
    await assert.rejects(new IsoImporter().syncRepo(repo, conduit, fakeConfig({ feed: srv.url + 'PULP_MANIFEST' })), (e: StagepushError) => e.code === 'FILE_SYNC_CHECKSUM_MISMATCH' && e.message.includes('a.iso'));
    assert.equal(store.units('files').length, 0);
    assert.deepEqual(readdirSync(path.join(store.contentRoot, 'tmp')), []);
    await assert.rejects(new IsoImporter().syncRepo(repo, conduit, fakeConfig({ feed: srv.url + 'missing/' })), (e: StagepushError) => e.code === 'FILE_SYNC_HTTP_ERROR' && /404/.test(e.message));
    await assert.rejects(new IsoImporter().syncRepo(repo, conduit, fakeConfig({})), (e: StagepushError) => e.code === 'FILE_SYNC_NO_FEED');
  } finally {
    await srv.close();
  }
});

test('iso_distributor publishes files and PULP_MANIFEST atomically; link modes; config checked', async () => {
  const store = new FakeStore();
  const repo = store.repo('files', 'iso_distributor');
  const dir = tempDir();
  const imp = new IsoImporter();
  const c = store.importer('files');
  for (const [n, t] of [['b.iso', 'bee'], ['a.iso', 'ay'], ['d/c.iso', 'sea']]) {
    writeFileSync(path.join(dir, 'x'), t);
    await imp.uploadUnit(repo, { typeId: 'iso', unitKey: { name: n }, metadata: {}, filePath: path.join(dir, 'x') }, c, fakeConfig());
  }
  store.baseUrls = { https: 'https://cdn.example/content' };
  const dist = new IsoDistributor();
  const rep = await dist.publishRepo(repo, store.publisher('files'), fakeConfig({ relative_url: 'content/files', http: false, https: true }));
  assert.deepEqual(rep.publishedPaths, [path.join(store.publishRoot, 'https/content/files')]);
  assert.deepEqual(rep.urls, ['https://cdn.example/content/content/files/']);
  const root = path.join(store.publishRoot, 'https/content/files');
  assert.equal(readFileSync(path.join(root, 'PULP_MANIFEST'), 'utf8'), `a.iso,${sha('ay')},2\nb.iso,${sha('bee')},3\nd/c.iso,${sha('sea')},3\n`);
  assert.equal(readFileSync(path.join(root, 'd/c.iso'), 'utf8'), 'sea');
  assert.ok(lstatSync(path.join(root, 'a.iso')).isSymbolicLink());
  assert.equal(readlinkSync(path.join(root, 'a.iso')), store.blobPath(sha('ay')));
  assert.ok(!existsSync(path.join(store.publishRoot, 'http/content/files')));

  await new IsoDistributor().publishRepo(repo, store.publisher('files'), fakeConfig({ relative_url: 'content/files', file_link: 'copy', https: 'true' }));
  assert.ok(lstatSync(path.join(root, 'a.iso')).isFile());
  assert.equal(lstatSync(path.join(root, 'a.iso')).mode & 0o777, 0o644);
  assert.ok(existsSync(path.join(store.publishRoot, 'http/content/files/PULP_MANIFEST')));

  const none = { repos: [] };
  assert.match((dist.validateConfig(repo, fakeConfig({ file_link: 'teleport' }), none) as { message: string }).message, /"file_link"/);
  assert.match((dist.validateConfig(repo, fakeConfig({ relative_url: 'a/../b' }), none) as { message: string }).message, /"relative_url"/);
  assert.match((dist.validateConfig(repo, fakeConfig({ checksum_type: 'md5' }), none) as { message: string }).message, /unknown config key "checksum_type"/);
  assert.deepEqual(dist.createConsumerPayload(repo, fakeConfig({ relative_url: 'x', https: false })), { repo_name: 'files', repo_id: 'files', relative_path: 'x', protocols: ['http'] });

  await dist.distributorRemoved(repo, fakeConfig());
  assert.ok(!existsSync(root));
});

test('cancelSyncRepo stops the downloads; nothing is saved and no temp file stays', async () => {
  const feed = feedDir({ 'a.iso': 'alpha', 'b.iso': 'bravo', 'c.iso': 'charlie' });
  // A server that sends the manifest, then hangs on every file.
  const server = http.createServer((req, res) => {
    if (req.url === '/PULP_MANIFEST') res.end(readFileSync(path.join(feed, 'PULP_MANIFEST')));
    else {
      res.writeHead(200, { 'Content-Length': '5' });
      res.write('al');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const store = new FakeStore();
    const repo = store.repo('files');
    const imp = new IsoImporter();
    const conduit = store.importer('files');
    const p = imp.syncRepo(repo, conduit, fakeConfig({ feed: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, max_downloads: 2 }));
    setTimeout(() => imp.cancelSyncRepo(), 300);
    await assert.rejects(p, (e: StagepushError) => e.code === 'FILE_SYNC_CANCELED');
    assert.equal(store.units('files').length, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(path.join(store.contentRoot, 'tmp')), []);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('sync over https: the CA from ssl_ca_cert is trusted; without it the certificate is refused at once', async () => {
  const { spawnSync } = await import('node:child_process');
  const https = await import('node:https');
  const d = tempDir();
  const cert = path.join(d, 'cert.pem');
  const key = path.join(d, 'key.pem');
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(ssl.status, 0, ssl.stderr);
  const feed = feedDir({ 'a.iso': 'alpha over tls' });
  const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const f = path.join(feed, decodeURIComponent(new URL(req.url!, 'https://x').pathname));
    if (existsSync(f)) res.end(readFileSync(f));
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    const store = new FakeStore();
    const repo = store.repo('tls');
    await assert.rejects(new IsoImporter().syncRepo(repo, store.importer('tls'), fakeConfig({ feed: url })), (e: StagepushError) => e.code === 'FILE_SYNC_TLS_ERROR' && /ssl_ca_cert/.test(e.message));
    await new IsoImporter().syncRepo(repo, store.importer('tls'), fakeConfig({ feed: url, ssl_ca_cert: cert }));
    assert.equal(readFileSync(store.units('tls')[0]!.storagePath!, 'utf8'), 'alpha over tls');
    await assert.rejects(new IsoImporter().syncRepo(repo, store.importer('tls'), fakeConfig({ feed: url, ssl_ca_cert: path.join(d, 'missing.pem') })), (e: StagepushError) => e.code === 'FILE_SYNC_TLS_FILE' && e.field === 'ssl_ca_cert');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a RAW tree in a file repository: uploaded as a directory unit, published beside the files (not in the manifest); a tree path claimed by a file fails the publish', async () => {
  const store = new FakeStore();
  const repo = store.repo('files', 'iso_distributor');
  const dir = tempDir();
  const imp = new IsoImporter();
  const c = store.importer('files');
  mkdirSync(path.join(dir, 'tree', 'images'), { recursive: true });
  writeFileSync(path.join(dir, 'tree', 'images', 'boot.img'), 'boot');
  writeFileSync(path.join(dir, 'tree', '.treeinfo'), '[general]\n');
  assert.equal(imp.detectType(path.join(dir, 'tree')), 'directory');
  const up = await imp.uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'ks' }, metadata: {}, filePath: path.join(dir, 'tree') }, c, fakeConfig());
  assert.equal((up.summary as { type: string }).type, 'directory');
  writeFileSync(path.join(dir, 'x'), 'iso bytes');
  await imp.uploadUnit(repo, { typeId: 'iso', unitKey: { name: 'disc.iso' }, metadata: {}, filePath: path.join(dir, 'x') }, c, fakeConfig());
  await assert.rejects(imp.uploadUnit(repo, { typeId: 'directory', unitKey: {}, metadata: {}, filePath: path.join(dir, 'x') }, c, fakeConfig()), (e: StagepushError) => e.code === 'FILE_NOT_A_DIRECTORY');

  const rep = await new IsoDistributor().publishRepo(repo, store.publisher('files'), fakeConfig({ relative_url: 'files' }));
  assert.deepEqual([(rep.summary as { files: number }).files, (rep.summary as { directory: number }).directory], [1, 1]);
  const root = path.join(store.publishRoot, 'http/files');
  assert.equal(readFileSync(path.join(root, 'PULP_MANIFEST'), 'utf8'), `disc.iso,${sha('iso bytes')},9\n`);
  assert.equal(readFileSync(path.join(root, 'images', 'boot.img'), 'utf8'), 'boot');
  assert.equal(readFileSync(path.join(root, '.treeinfo'), 'utf8'), '[general]\n');
  assert.equal(readFileSync(path.join(root, 'disc.iso'), 'utf8'), 'iso bytes');

  // a file unit named like a tree's file: the publish fails and the published tree stays
  writeFileSync(path.join(dir, 'y'), 'other');
  await imp.uploadUnit(repo, { typeId: 'iso', unitKey: { name: 'images/boot.img' }, metadata: {}, filePath: path.join(dir, 'y') }, c, fakeConfig());
  await assert.rejects(new IsoDistributor().publishRepo(repo, store.publisher('files'), fakeConfig({ relative_url: 'files' })), (e: StagepushError) => e.code === 'PUBLISH_PATH_COLLISION' && /images\/boot\.img/.test(e.message));
  assert.equal(readFileSync(path.join(root, 'images', 'boot.img'), 'utf8'), 'boot');
});
