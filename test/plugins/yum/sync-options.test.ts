/**
 * yum_importer sync options end to end through the engine (in-process, so the feed servers,
 * the proxy and the TLS endpoints live in this test process and count what they see): proxy_url
 * (+ credentials), ssl_ca_cert, ssl_client_cert/ssl_client_key, ssl_validation, retries with
 * backoff, max_downloads, checksum mismatch, remove_missing, skip, require_signature +
 * allowed_keys, cancel, and the no-work second sync. One createrepo_c feed (3 RPMs + updateinfo,
 * comps, modules) is shared by every test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { taskResultHuman } from '../../../src/cli/repo.js';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../../helpers/cli.js';
import { makePki, startFeed, startProxy, type FeedServer, type Pki } from '../../helpers/tls.js';
import { COMPS_XML, RPMS, matrix, modulemdYaml, productCert, sha256File } from '../../helpers/yum.js';
import { openEngine, type Engine } from '../../../src/engine/index.js';
import { StagepushError } from '../../../src/errors.js';

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="release@example.com" status="final" type="bugfix" version="1">
    <id>RHBA-2024:0200</id>
    <title>world fix</title>
    <issued date="2024-03-01 00:00:00"/>
    <updated date="2024-03-02 00:00:00"/>
    <summary>world fix</summary>
    <description>fixes</description>
    <pkglist>
      <collection short="c1">
        <name>col1</name>
        <package name="world" version="1.0" release="1" epoch="0" arch="noarch" src="world-1.0-1.src.rpm">
          <filename>world-1.0-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
}

/** A createrepo_c repository of `files` (+ updateinfo, comps, modules unless `bare`). */
function makeFeed(files: string[], bare = false, checksum = 'sha256'): string {
  const dir = path.join(tempDir('stagepush-feed-'), 'repo');
  mkdirSync(path.join(dir, 'Packages'), { recursive: true });
  for (const f of files) cpSync(f, path.join(dir, 'Packages', path.basename(f)));
  if (bare) {
    run('createrepo_c', ['--no-database', '--checksum', checksum, dir]);
    return dir;
  }
  const md = tempDir();
  writeFileSync(path.join(md, 'comps.xml'), COMPS_XML);
  writeFileSync(path.join(md, 'updateinfo.xml'), UPDATEINFO);
  writeFileSync(path.join(md, 'modules.yaml'), modulemdYaml());
  run('createrepo_c', ['--no-database', '-g', path.join(md, 'comps.xml'), dir]);
  run('modifyrepo_c', ['--mdtype=updateinfo', path.join(md, 'updateinfo.xml'), path.join(dir, 'repodata')]);
  run('modifyrepo_c', ['--mdtype=modules', path.join(md, 'modules.yaml'), path.join(dir, 'repodata')]);
  return dir;
}

/** The error a promise rejects with (fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<StagepushError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StagepushError, `a StagepushError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a failure');
}

describe('yum_importer sync options', () => {
  const m = matrix();
  const files = Object.values(m.install).map((x) => path.join(RPMS, x.file));
  const rpmPaths = files.map((f) => `/Packages/${path.basename(f)}`);
  let feedDir = '';
  let pki: Pki;
  let eng: Engine;
  let plain: FeedServer;
  const servers: Array<{ close(): Promise<void> }> = [];
  let n = 0;

  /** A new repository syncing from `feed` with the extra importer config. */
  async function repo(feed: string, config: Record<string, unknown> = {}): Promise<string> {
    const id = `r${++n}`;
    await eng.createRepo({ id, importer: { typeId: 'yum_importer', config: { feed: `${feed}/`, ...config } } });
    return id;
  }
  const rpmChecksums = (id: string): string[] => eng.listUnits(id, { typeIds: ['rpm'] }).map((u) => String(u.unitKey.checksum)).sort();
  const types = (id: string): Set<string> => new Set(eng.listUnits(id).map((u) => u.typeId));
  const allChecksums = (): string[] => files.map(sha256File).sort();

  before(async () => {
    feedDir = makeFeed(files);
    pki = makePki();
    eng = await openEngine({ dataDir: tempDir('stagepush-yumopt-') });
    plain = await startFeed(feedDir);
    servers.push(plain);
  });
  after(async () => {
    eng?.close();
    for (const s of servers) await s.close();
  });

  test('proxy_url with proxy_username/proxy_password: every request goes through the proxy; a wrong password is refused', async () => {
    const proxy = await startProxy({ requireAuth: 'alice:s3cret' });
    servers.push(proxy);
    const before = plain.requests.length;
    const id = await repo(plain.url, { proxy_url: proxy.url, proxy_username: 'alice', proxy_password: 's3cret' });
    await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    const seen = plain.requests.slice(before);
    assert.ok(seen.includes('/repodata/repomd.xml') && rpmPaths.every((p) => seen.includes(p)), seen.join(' '));
    assert.ok(proxy.forwarded.length + proxy.tunnels.length > 0, 'the proxy carried the requests');
    // Every origin request came through the proxy: forwarded one by one, or in tunnels to the feed.
    const feedHost = new URL(plain.url).host;
    assert.ok(proxy.tunnels.every((t) => t === feedHost), proxy.tunnels.join(' '));
    if (!proxy.tunnels.length) assert.equal(proxy.forwarded.length, seen.length);
    assert.ok(proxy.auth.every((a) => a === `Basic ${Buffer.from('alice:s3cret').toString('base64')}`), 'credentials sent to the proxy');

    const bad = await repo(plain.url, { proxy_url: proxy.url, proxy_username: 'alice', proxy_password: 'wrong', retries: 0 });
    const e = await failure(eng.sync(bad));
    assert.equal(e.code, 'YUM_DOWNLOAD_FAILED');
    assert.match(e.message, /407|proxy/i);
    assert.equal(eng.getRepo(bad)!.version, 0);
  });

  test('ssl_ca_cert: an https feed signed by a private CA syncs with it, fails with a coded error without it', async () => {
    const feed = await startFeed(feedDir, { tls: { cert: pki.serverCert, key: pki.serverKey } });
    servers.push(feed);
    const none = await repo(feed.url);
    const e = await failure(eng.sync(none));
    assert.equal(e.code, 'YUM_TLS_FAILED', e.message);
    assert.match(e.message, /ssl_ca_cert/);
    assert.equal(eng.getRepo(none)!.version, 0);
    const other = await repo(feed.url, { ssl_ca_cert: pki.otherCaCert });
    assert.equal((await failure(eng.sync(other))).code, 'YUM_TLS_FAILED', 'a CA that did not sign the server certificate is refused');
    // As a file path and as inline PEM text.
    const byPath = await repo(feed.url, { ssl_ca_cert: pki.caCert });
    await eng.sync(byPath);
    assert.deepEqual(rpmChecksums(byPath), allChecksums());
    const inline = await repo(feed.url, { ssl_ca_cert: readFileSync(pki.caCert, 'utf8'), skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(inline);
    assert.deepEqual(rpmChecksums(inline), allChecksums());
    // ssl_validation=false accepts any certificate.
    const novalid = await repo(feed.url, { ssl_validation: false, skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(novalid);
    assert.deepEqual(rpmChecksums(novalid), allChecksums());
  });

  test('ssl_client_cert + ssl_client_key: a feed requiring a client certificate accepts the sync and refuses it without', async () => {
    const feed = await startFeed(feedDir, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true } });
    servers.push(feed);
    const without = await repo(feed.url, { ssl_ca_cert: pki.caCert, retries: 1 });
    const e = await failure(eng.sync(without));
    assert.equal(e.code, 'YUM_TLS_FAILED', e.message);
    assert.match(e.message, /ssl_client_cert/);
    assert.ok(feed.tlsErrors > 0 || !feed.requests.length, 'the server refused the handshake');
    assert.equal(eng.getRepo(without)!.version, 0);
    // A client certificate the server does not trust: refused, the message or hint names the key.
    const wrong = await repo(feed.url, { ssl_ca_cert: pki.caCert, ssl_client_cert: pki.otherClientCert, ssl_client_key: pki.otherClientKey, retries: 0 });
    const ew = await failure(eng.sync(wrong));
    assert.ok(['YUM_TLS_FAILED', 'YUM_DOWNLOAD_FAILED'].includes(ew.code), ew.code);
    assert.match(`${ew.message} ${ew.hint}`, /ssl_client_cert/);
    const withCert = await repo(feed.url, { ssl_ca_cert: pki.caCert, ssl_client_cert: pki.clientCert, ssl_client_key: pki.clientKey });
    await eng.sync(withCert);
    assert.deepEqual(rpmChecksums(withCert), allChecksums());
    assert.ok(types(withCert).has('erratum') && types(withCert).has('modulemd') && types(withCert).has('package_group'));
    // One PEM file holding the certificate and its key, as ssl_client_cert alone.
    const both = path.join(pki.dir, 'client-both.pem');
    writeFileSync(both, readFileSync(pki.clientCert, 'utf8') + readFileSync(pki.clientKey, 'utf8'));
    const combined = await repo(feed.url, { ssl_ca_cert: pki.caCert, ssl_client_cert: both, skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(combined);
    assert.deepEqual(rpmChecksums(combined), allChecksums());
  });

  test('proxy_url to an https feed: a CONNECT tunnel, TLS to the feed inside it (ssl_ca_cert, client certificate)', async () => {
    const feed = await startFeed(feedDir, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true } });
    const proxy = await startProxy();
    servers.push(feed, proxy);
    const id = await repo(feed.url, { proxy_url: proxy.url, ssl_ca_cert: pki.caCert, ssl_client_cert: pki.clientCert, ssl_client_key: pki.clientKey, skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    assert.ok(proxy.tunnels.length > 0 && proxy.tunnels.every((t) => t === new URL(feed.url).host), proxy.tunnels.join(' '));
    assert.deepEqual(proxy.forwarded, [], 'nothing sent in clear');
  });

  test('retries: a server failing twice then answering is retried with backoff; retries=1 gives up; a 404 is not retried', async () => {
    const feed = await startFeed(feedDir);
    servers.push(feed);
    feed.failNext('/repodata/repomd.xml', 2);
    feed.failNext(rpmPaths[0]!, 2, 500);
    const id = await repo(feed.url, { skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    const count = (p: string) => feed.requests.filter((r) => r === p).length;
    assert.equal(count('/repodata/repomd.xml'), 3);
    assert.equal(count(rpmPaths[0]!), 3);
    assert.equal(count(rpmPaths[1]!), 1);

    feed.requests.length = 0;
    feed.failNext('/repodata/repomd.xml', 2);
    const few = await repo(feed.url, { retries: 1 });
    const e = await failure(eng.sync(few));
    assert.equal(e.code, 'YUM_DOWNLOAD_FAILED');
    assert.match(e.message, /503.*after 2 attempts/);
    assert.equal(count('/repodata/repomd.xml'), 2);

    feed.requests.length = 0;
    const missing = await repo(`${feed.url}/nothing-here`);
    const e404 = await failure(eng.sync(missing));
    assert.equal(e404.code, 'YUM_DOWNLOAD_FAILED');
    assert.match(e404.message, /404/);
    assert.deepEqual(feed.requests, ['/nothing-here/repodata/repomd.xml']);
  });

  test('timeout: a server that stops answering fails the sync after the timeout (and the retries)', async () => {
    const feed = await startFeed(feedDir);
    servers.push(feed);
    feed.hang('/repodata/repomd.xml');
    const id = await repo(feed.url, { timeout: 1, retries: 1 });
    const e = await failure(eng.sync(id));
    assert.equal(e.code, 'YUM_DOWNLOAD_FAILED');
    assert.match(e.message, /timeout/i);
    assert.match(e.message, /after 2 attempts/);
    assert.equal(feed.requests.length, 2);
  });

  test('max_downloads bounds the concurrent package downloads', async () => {
    for (const max of [1, 2]) {
      const feed = await startFeed(feedDir, { rpmDelayMs: 150 });
      servers.push(feed);
      const id = await repo(feed.url, { max_downloads: max, skip: ['erratum', 'comps', 'modules'] });
      await eng.sync(id);
      assert.deepEqual(rpmChecksums(id), allChecksums());
      assert.equal(feed.maxConcurrentRpms, max, `max_downloads=${max}`);
    }
  });

  test('a package whose checksum differs from primary is refused and the repository is unchanged', async () => {
    const feed = await startFeed(feedDir);
    servers.push(feed);
    const id = await repo(feed.url, { retries: 1 });
    const r0 = await eng.upload(id, { filePath: files[0]! });
    assert.equal(r0.version, 1);
    const before = eng.listUnits(id).map((u) => u.id);
    feed.corrupt(rpmPaths[2]!);
    const e = await failure(eng.sync(id));
    assert.equal(e.code, 'YUM_CHECKSUM_MISMATCH', e.message);
    assert.match(e.message, new RegExp(path.basename(rpmPaths[2]!).replace(/\./g, '\\.')));
    assert.equal(feed.requests.filter((r) => r === rpmPaths[2]).length, 2, 'retried once');
    assert.equal(eng.getRepo(id)!.version, 1);
    assert.deepEqual(eng.listUnits(id).map((u) => u.id), before);
  });

  test('a feed with old-style "sha" (sha1) checksums syncs; a second sync finds every package present', async () => {
    const shaDir = makeFeed(files, true, 'sha');
    assert.match(readFileSync(path.join(shaDir, 'repodata', 'repomd.xml'), 'utf8'), /<checksum type="sha">/);
    const feed = await startFeed(shaDir);
    servers.push(feed);
    const id = await repo(feed.url);
    const r1 = await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    assert.equal((r1.report as any).packages_added, files.length);
    await eng.updateImporterConfig(id, { remove_missing: true });
    feed.requests.length = 0;
    const r2 = await eng.sync(id);
    assert.equal((r2.report as any).packages_present, files.length);
    assert.ok(!feed.requests.some((r) => r.endsWith('.rpm')), 'nothing downloaded again');
    assert.equal(r2.version, 1);

    // A package rebuilt under the same NEVRA (another sha1): the sync sees the change and
    // replaces it; only that package is downloaded.
    const rebuilt = path.join(shaDir, 'Packages', path.basename(files[0]!));
    run('rpmsign', ['--delsign', rebuilt]);
    run('createrepo_c', ['--no-database', '--checksum', 'sha', shaDir]);
    feed.requests.length = 0;
    const r3 = await eng.sync(id);
    assert.equal((r3.report as any).packages_added, 1);
    assert.deepEqual(feed.requests.filter((r) => r.endsWith('.rpm')), [`/Packages/${path.basename(files[0]!)}`]);
    assert.deepEqual(rpmChecksums(id), [sha256File(rebuilt), ...files.slice(1).map(sha256File)].sort());
  });

  test('a package the feed lists at two locations is fetched once and counted once', async () => {
    const dir = path.join(tempDir('stagepush-feed-'), 'repo');
    mkdirSync(path.join(dir, 'a'), { recursive: true });
    mkdirSync(path.join(dir, 'b'), { recursive: true });
    cpSync(files[0]!, path.join(dir, 'a', path.basename(files[0]!)));
    cpSync(files[0]!, path.join(dir, 'b', path.basename(files[0]!)));
    cpSync(files[1]!, path.join(dir, 'b', path.basename(files[1]!)));
    run('createrepo_c', ['--no-database', dir]);
    const feed = await startFeed(dir);
    servers.push(feed);
    const id = await repo(feed.url);
    const r = await eng.sync(id);
    assert.equal((r.report as any).packages_added, 2);
    assert.equal((r.report as any).packages_remote, 2);
    assert.equal(r.added, 2);
    assert.equal(feed.requests.filter((q) => q.endsWith(path.basename(files[0]!))).length, 1, 'fetched once');
  });

  test('remove_missing: off keeps units gone from the feed, on removes them', async () => {
    const small = await startFeed(makeFeed(files.slice(0, 2), true));
    servers.push(small);
    const id = await repo(plain.url);
    await eng.sync(id);
    await eng.updateImporterConfig(id, { feed: `${small.url}/` });
    await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums(), 'remove_missing off: world kept');
    assert.ok(types(id).has('erratum') && types(id).has('modulemd'));
    await eng.updateImporterConfig(id, { remove_missing: true });
    const r = await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), files.slice(0, 2).map(sha256File).sort());
    assert.ok(!types(id).has('erratum') && !types(id).has('modulemd') && !types(id).has('package_group'), 'metadata gone from the feed removed too');
    assert.ok(r.removed > 0);
  });

  test('a feed URL with credentials (http://user:password@host/) is synced with them as Basic authentication; wrong ones fail with 401', async () => {
    const feed = await startFeed(makeFeed(files.slice(0, 1), true), { basicAuth: 'mirror:p@ss:w' });
    servers.push(feed);
    const host = feed.url.replace(/^http:\/\//, '');
    const id = await repo(`http://mirror:p%40ss%3Aw@${host}`);
    const r = await eng.sync(id);
    assert.equal(r.added, 1);
    assert.deepEqual(rpmChecksums(id), [sha256File(files[0]!)]);
    // The password is in no report, progress or error (the task list, the console, cron mail).
    assert.equal(JSON.stringify(r).includes('p%40ss'), false, JSON.stringify(r));
    assert.match(JSON.stringify(r), /mirror:\*\*\*@/);
    const wrong = await repo(`http://mirror:nope-secret@${host}`);
    const e = await failure(eng.sync(wrong));
    assert.equal(e.code, 'YUM_DOWNLOAD_FAILED');
    assert.match(e.message, /HTTP 401/);
    assert.equal(`${e.message} ${e.file ?? ''} ${e.hint ?? ''}`.includes('nope-secret'), false, e.message);
    assert.match(e.message, /http:\/\/mirror:\*\*\*@/);
    assert.equal(JSON.stringify(eng.tasks.list()).includes('nope-secret'), false);
    assert.equal(eng.listUnits(wrong).length, 0);
  });

  test('a feed URL with a query string (a CDN access token) is fetched with it for every file: repomd.xml, metadata, packages; with or without a slash before it', async () => {
    const feed = await startFeed(makeFeed(files.slice(0, 2)), { query: 'token=t0k%2Fen' });
    servers.push(feed);
    const base = feed.url.replace(/\/+$/, '');
    for (const [i, url] of [`${base}?token=t0k%2Fen`, `${base}/?token=t0k%2Fen`].entries()) {
      const id = `tokened${i}`;
      await eng.createRepo({ id, importer: { typeId: 'yum_importer', config: { feed: url } } });
      const r = await eng.sync(id);
      assert.equal(r.added >= 2, true, JSON.stringify(r));
      assert.deepEqual(rpmChecksums(id), files.slice(0, 2).map(sha256File).sort());
      assert.ok(types(id).has('erratum'), 'the metadata files were fetched with it too');
    }
  });

  test('remove_missing: a productid gone from the feed is removed (kept without remove_missing)', async () => {
    const dir = makeFeed(files.slice(0, 1), true);
    run('modifyrepo_c', ['--mdtype=productid', productCert(), path.join(dir, 'repodata')]);
    const keep = await repo(`file://${dir}`);
    const drop = await repo(`file://${dir}`, { remove_missing: true });
    for (const id of [keep, drop]) await eng.sync(id);
    const productids = (id: string): number => eng.listUnits(id, { typeIds: ['yum_repo_metadata_file'] }).length;
    assert.equal(productids(keep), 1);
    assert.equal(productids(drop), 1);
    run('modifyrepo_c', ['--remove', 'productid', path.join(dir, 'repodata')]);
    for (const id of [keep, drop]) await eng.sync(id);
    assert.equal(productids(keep), 1, 'remove_missing off: kept');
    assert.equal(productids(drop), 0, 'remove_missing on: removed');
    assert.equal(rpmChecksums(drop).length, 1, 'the packages stay');
  });

  test('remove_missing removes every unit gone from the feed, past the first 500 (removal does not shift the listing)', async () => {
    const { buildRpm } = await import('../../../src/formats/rpm/writer.js');
    const big = path.join(tempDir('stagepush-bigfeed-'), 'repo');
    const one = path.join(tempDir('stagepush-onefeed-'), 'repo');
    mkdirSync(big, { recursive: true });
    mkdirSync(one, { recursive: true });
    for (let i = 0; i < 620; i++) writeFileSync(path.join(big, `bulk${i}-1-1.noarch.rpm`), buildRpm({ name: `bulk${i}`, version: '1', release: '1' }));
    cpSync(path.join(big, 'bulk0-1-1.noarch.rpm'), path.join(one, 'bulk0-1-1.noarch.rpm'));
    for (const d of [big, one]) run('createrepo_c', ['--no-database', d]);
    const id = await repo(`file://${big}/`, { remove_missing: true });
    await eng.sync(id);
    assert.equal(rpmChecksums(id).length, 620);
    await eng.updateImporterConfig(id, { feed: `file://${one}/` });
    const r = await eng.sync(id);
    assert.equal(r.removed, 619);
    assert.deepEqual(rpmChecksums(id), [sha256File(path.join(one, 'bulk0-1-1.noarch.rpm'))]);
  });

  test('skip: skipped types are neither fetched nor stored', async () => {
    const feed = await startFeed(feedDir);
    servers.push(feed);
    const noPkgs = await repo(feed.url, { skip: ['rpm', 'srpm'] });
    await eng.sync(noPkgs);
    assert.deepEqual(rpmChecksums(noPkgs), []);
    assert.ok(!feed.requests.some((r) => r.endsWith('.rpm') || r.includes('primary')), feed.requests.join(' '));
    for (const t of ['erratum', 'package_group', 'modulemd']) assert.ok(types(noPkgs).has(t), t);
    feed.requests.length = 0;
    const onlyPkgs = await repo(feed.url, { skip: 'errata,comps,modules' });
    await eng.sync(onlyPkgs);
    assert.deepEqual([...types(onlyPkgs)], ['rpm']);
    assert.ok(!feed.requests.some((r) => /updateinfo|comps|modules/.test(r)), feed.requests.join(' '));
  });

  test('require_signature + allowed_keys: only packages signed by an allowed key are stored', async () => {
    const rsa = m.keys!.rsa as { keyId: string; longKeyId: string };
    for (const key of [rsa.keyId, `0x${rsa.longKeyId}`]) {
      const id = await repo(plain.url, { require_signature: true, allowed_keys: [key], skip: ['erratum', 'comps', 'modules'] });
      const r = await eng.sync(id);
      const names = eng.listUnits(id, { typeIds: ['rpm'] }).map((u) => `${u.unitKey.name}-${u.unitKey.version}`).sort();
      assert.deepEqual(names, ['hello-1.0', 'hello-1.1'], `allowed_keys ${key}: world (unsigned) refused`);
      assert.equal((r.report as any).packages_refused, 1);
      // Which package was refused, and why, is in the result (the importer's details).
      assert.deepEqual((r.details as any).refused.map((x: { location: string }) => path.basename(x.location)), ['world-1.0-1.noarch.rpm']);
      assert.match((r.details as any).refused[0].reason, /not signed|unsigned/);
      // Named by its place in the feed, never by the sync's temp file; and said in the text output.
      assert.match((r.details as any).refused[0].location, /^https?:\/\/.*world-1\.0-1\.noarch\.rpm$/);
      assert.doesNotMatch((r.details as any).refused[0].reason, /sync-|pkg-\d+\.rpm/);
      const text = taskResultHuman(r);
      assert.match(text, /refused 1 package\(s\) \(the signature policy/);
      assert.match(text, /world-1\.0-1\.noarch\.rpm: /);
    }
    // A long key id is compared whole: one with the signing key's short id and other leading
    // digits (a key anyone can make) lets nothing in.
    const forged = `${rsa.longKeyId.startsWith('DEADBEEF') ? 'FEEDFACE' : 'DEADBEEF'}${rsa.keyId}`;
    const fid = await repo(plain.url, { require_signature: true, allowed_keys: [forged], skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(fid);
    assert.deepEqual(rpmChecksums(fid), [], `allowed_keys ${forged}: not ${rsa.longKeyId}`);
    const other = m.keys!.other as { keyId: string };
    const id = await repo(plain.url, { require_signature: true, allowed_keys: [other.keyId], skip: ['erratum', 'comps', 'modules'] });
    await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), [], 'hello signed by a key not allowed, world unsigned');
    // Relaxing the policy on an unchanged feed: the next sync takes what was refused.
    await eng.updateImporterConfig(id, { require_signature: null, allowed_keys: null });
    const r = await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    assert.equal(r.version, 1);
  });

  test('cancel during the downloads leaves the repository as it was', async () => {
    const feed = await startFeed(feedDir, { rpmDelayMs: 2000 });
    servers.push(feed);
    const dataDir = eng.dataDir;
    const id = await repo(feed.url, { max_downloads: 1 });
    await eng.upload(id, { filePath: files[0]! });
    const before = eng.listUnits(id).map((u) => u.id);
    const ac = new AbortController();
    const e2 = await openEngine({ dataDir, signal: ac.signal });
    try {
      const t = setInterval(() => {
        if (feed.requests.some((r) => r.endsWith('.rpm'))) {
          clearInterval(t);
          // As the CLI does on SIGINT (src/cli/main.ts): the reason is an interrupted StagepushError.
          ac.abort(new StagepushError('TEST_INTERRUPTED', 'interrupted by the test', { kind: 'interrupted' }));
        }
      }, 20);
      const e = await e2.sync(id).then(
        () => null,
        (err: unknown) => err,
      );
      clearInterval(t);
      assert.ok(e instanceof StagepushError && e.kind === 'interrupted', `the sync was canceled: ${String(e)}`);
      assert.equal(feed.requests.filter((r) => r.endsWith('.rpm')).length, 1, 'no further download started');
    } finally {
      e2.close();
    }
    assert.equal(eng.getRepo(id)!.version, 1);
    assert.deepEqual(eng.listUnits(id).map((u) => u.id), before);
    // Nothing remembered: the next sync does the work.
    feed.rpmDelayMs = 0;
    const r = await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    assert.equal(r.version, 2);
  });

  test('a second sync with an unchanged repomd.xml fetches only repomd.xml and keeps the version (https + client certificate)', async () => {
    const feed = await startFeed(feedDir, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true } });
    servers.push(feed);
    const id = await repo(feed.url, { ssl_ca_cert: pki.caCert, ssl_client_cert: pki.clientCert, ssl_client_key: pki.clientKey });
    const r1 = await eng.sync(id);
    assert.equal(r1.version, 1);
    feed.requests.length = 0;
    const r2 = await eng.sync(id);
    assert.deepEqual(feed.requests, ['/repodata/repomd.xml']);
    assert.equal(r2.version, 1);
    assert.equal(r2.newVersion, false);
    assert.equal((r2.report as any).unchanged, true);
    // A package removed from the repository since: the next sync brings it back.
    const rm = await eng.removeUnits(id, { typeIds: ['rpm'], filters: { name: 'world' } });
    assert.equal(rm.version, 2);
    feed.requests.length = 0;
    const r3 = await eng.sync(id);
    assert.deepEqual(rpmChecksums(id), allChecksums());
    assert.equal(r3.version, 3);
    assert.deepEqual(feed.requests.filter((r) => r.endsWith('.rpm')), [rpmPaths[2]]);
    // force_full: the work is done (metadata fetched again), nothing changes.
    feed.requests.length = 0;
    const r4 = await eng.sync(id, { override: { force_full: true } });
    assert.ok(feed.requests.some((r) => r.includes('primary')), feed.requests.join(' '));
    assert.equal(r4.version, 3);
    assert.equal(r4.newVersion, false);
    feed.requests.length = 0;
    await eng.sync(id);
    assert.deepEqual(feed.requests, ['/repodata/repomd.xml'], 'unchanged again');
  });

  test('yum_importer validateConfig refuses unknown keys and bad values, naming the key', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ proxy: 'http://x' }, /"proxy"/],
      [{ feed: 'ftp://example.com/repo/' }, /"feed"/],
      [{ max_downloads: 0 }, /"max_downloads"/],
      [{ retries: 'lots' }, /"retries"/],
      [{ proxy_url: 'socks5://127.0.0.1:1080' }, /"proxy_url"/],
      [{ proxy_username: 'bob', proxy_password: 'secret' }, /"proxy_username" needs "proxy_url"/],
      [{ proxy_url: 'http://127.0.0.1:3128', proxy_password: 'secret' }, /"proxy_password" needs "proxy_username"/],
      [{ ssl_ca_cert: '/nonexistent/ca.pem' }, /"ssl_ca_cert"/],
      [{ ssl_client_key: pki.clientKey }, /"ssl_client_key" needs "ssl_client_cert"/],
      [{ ssl_ca_cert: pki.clientKey }, /"ssl_ca_cert".*no certificate/],
      [{ ssl_ca_cert: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' }, /"ssl_ca_cert".*cannot be read/],
      [{ ssl_client_cert: pki.clientCert }, /"ssl_client_cert" holds no private key/],
      [{ ssl_client_cert: pki.clientCert, ssl_client_key: readFileSync(path.join(RPMS, 'keys', 'rsa.asc'), 'utf8') }, /"ssl_client_key" holds no private key/],
      [{ ssl_client_cert: pki.clientCert, ssl_client_key: pki.serverKey }, /"ssl_client_key": the private key does not go with the certificate/],
      [{ ssl_validation: 'perhaps' }, /"ssl_validation"/],
      [{ remove_missing: 2 }, /"remove_missing"/],
      [{ skip: ['everything'] }, /"skip"/],
      [{ require_signature: 'y' }, /"require_signature"/],
      [{ allowed_keys: ['not-a-key'] }, /"allowed_keys"/],
      [{ force_full: 'always' }, /"force_full"/],
    ];
    for (const [config, re] of cases) {
      const id = `bad${++n}`;
      await assert.rejects(() => eng.createRepo({ id, importer: { typeId: 'yum_importer', config } }), (e: any) => {
        assert.match(e.message, re, JSON.stringify(config));
        return true;
      });
      assert.equal(eng.getRepo(id), null, `nothing created for ${JSON.stringify(config)}`);
    }
    // The same check applies to a call's override, before the operation starts (no task, no version).
    const id = `bad${++n}`;
    await eng.createRepo({ id, importer: { typeId: 'yum_importer', config: {} }, distributors: [{ id: 'yum', typeId: 'yum_distributor', config: { relative_url: id } }] });
    await assert.rejects(() => eng.sync(id, { override: { max_downloads: 0 } }), (e: any) => {
      assert.equal(e.code, 'PLUGIN_CONFIG_INVALID');
      assert.match(e.message, /"max_downloads".*call override|call override.*"max_downloads"/);
      return true;
    });
    await assert.rejects(() => eng.publish(id, { override: { checksum_type: 'crc32' } }), (e: any) => {
      assert.equal(e.code, 'PLUGIN_CONFIG_INVALID');
      assert.match(e.message, /"checksum_type"/);
      return true;
    });
    assert.equal(eng.getRepo(id)!.version, 0);
  });
});
