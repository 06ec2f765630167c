/**
 * The operator's surface of issue 4 through the CLI (fresh processes): publish.root and
 * publish.base_url_* from the config file in `repo publish` / `repo show`, the consumer payload
 * with base URLs, keys and CA, and published trees readable by a web server whatever the umask.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, tempDir } from '../../helpers/cli.js';
import { gunzipSync } from 'node:zlib';
import { parseComps } from '../../../src/formats/comps/index.js';
import { parseModulemd } from '../../../src/formats/modulemd/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { COMPS_XML, DNF_LEAVE_HOST, Engine, RPMS, matrix, modulemdYaml, productCert, sha256File, writeFixtures } from '../../helpers/yum.js';
import { startServeCli } from '../../helpers/serve.js';
import { makePki } from '../../helpers/tls.js';

const hello = () => path.join(RPMS, matrix().install['hello-1.1']!.file);

test('config file publish.root and publish.base_url_*: repo publish, repo show (JSON and .repo snippet), consumer payload', async () => {
  const eng = new Engine();
  const root = path.join(tempDir('stagepush-pubroot-'), 'pub');
  const cfg = path.join(eng.dataDir, 'config.yaml');
  writeFileSync(cfg, `publish:\n  root: ${root}\n  base_url_http: http://pub.example.com/content\n  base_url_https: https://pub.example.com:8443/content\n`);
  const c = (args: string[]) => ['--config', cfg, ...args];
  const ca = path.join(tempDir('stagepush-ca-'), 'ca.pem');
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', ca, '-days', '1', '-subj', '/CN=Test CA'], { encoding: 'utf8' });
  assert.equal(ssl.status, 0, ssl.stderr);
  const key = path.join(RPMS, 'keys', 'rsa.asc');
  eng.run(c(['repo', 'create', 'pay', '--importer', 'yum_importer', '--display-name', 'Pay Repo']));
  eng.run(c(['repo', 'distributor', 'add', 'pay', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=el9/pay', '--distributor-config', 'https=true', '--distributor-config', `gpgkey=${key}`, '--distributor-config', `https_ca=${ca}`]));
  eng.run(c(['content', 'upload', '--repo', 'pay', hello()]));
  const pub = eng.json<any[]>(c(['repo', 'publish', 'pay']));
  assert.deepEqual(pub[0].publishedPaths, [path.join(root, 'http', 'el9', 'pay'), path.join(root, 'https', 'el9', 'pay')]);
  assert.deepEqual(pub[0].urls, ['http://pub.example.com/content/el9/pay/', 'https://pub.example.com:8443/content/el9/pay/']);
  assert.ok(statSync(path.join(root, 'https', 'el9', 'pay', 'repodata', 'repomd.xml')).isFile(), 'published under publish.root');
  assert.equal(readFileSync(path.join(root, 'http', 'el9', 'pay', 'repodata', 'repomd.xml.key'), 'utf8'), readFileSync(key, 'utf8'));

  const show = eng.json<any>(c(['repo', 'show', 'pay']));
  const d = show.distributors[0];
  assert.deepEqual(d.published.urls, pub[0].urls);
  assert.deepEqual(d.published.published_paths, pub[0].publishedPaths);
  assert.deepEqual(d.lastPublish.urls, pub[0].urls);
  const human = eng.run(c(['repo', 'show', 'pay'])).stdout;
  // The https baseurl comes with the CA its server certificate is signed by (https_ca, a file).
  assert.ok(human.includes(['[pay]', 'name=Pay Repo', 'baseurl=https://pub.example.com:8443/content/el9/pay/', 'enabled=1', `sslcacert=${ca}`, 'gpgcheck=1', 'gpgkey=https://pub.example.com:8443/content/el9/pay/repodata/repomd.xml.key', ''].join('\n')), human);
  assert.equal(d.published.sslcacert, ca);
  // Without the config file: file:// URLs under the default root (the env does not see the file).
  assert.match(eng.run(['repo', 'show', 'pay']).stdout, new RegExp(`baseurl=file://${path.join(eng.dataDir, 'published', 'https', 'el9', 'pay')}/`));

  // A file repository: repo show says where its last publish went, with the URL.
  eng.run(c(['repo', 'create', 'files', '--importer', 'iso_importer']));
  eng.run(c(['repo', 'distributor', 'add', 'files', 'iso_distributor']));
  eng.run(c(['content', 'upload', '--repo', 'files', '--type', 'iso', key]));
  eng.run(c(['repo', 'publish', 'files']));
  assert.match(eng.run(c(['repo', 'show', 'files'])).stdout, new RegExp(`\\niso_distributor: published at ${path.join(root, 'http', 'files')}\\n  http://pub\\.example\\.com/content/files/`));

  // The consumer payload (what the agent's yum bind handler gets), from the same base URLs.
  const { openEngine } = await import('../../../src/engine/index.js');
  const e2 = await openEngine({ dataDir: eng.dataDir, publishRoot: root, baseUrls: { http: 'http://pub.example.com/content', https: 'https://pub.example.com:8443/content' } });
  try {
    assert.deepEqual(await e2.createConsumerPayload('pay', 'yum'), {
      repo_id: 'pay',
      repo_name: 'Pay Repo',
      server_name: 'pub.example.com',
      relative_path: 'el9/pay',
      protocols: ['http', 'https'],
      base_urls: { http: 'http://pub.example.com/content', https: 'https://pub.example.com:8443/content' },
      gpg_keys: { 'pay.gpg': readFileSync(key, 'utf8') },
      ca_cert: readFileSync(ca, 'utf8'),
    });
  } finally {
    e2.close();
  }
});

test('repo show: the .repo snippet of an https-only repository with its own CA (https_ca) and a repo_name is one dnf installs from, through stagepush serve --https', async () => {
  const pki = makePki();
  const eng = new Engine();
  const cfg = path.join(eng.dataDir, 'config.yaml');
  const c = (args: string[]) => ['--config', cfg, ...args];
  const s = await startServeCli(['--data-dir', eng.dataDir, '--https', '0', '--cert', pki.serverCert, '--key', pki.serverKey, '--no-access-log'], 1);
  try {
    writeFileSync(cfg, `publish:\n  base_url_https: ${s.urls.https!.replace(/\/$/, '')}\n`);
    eng.run(c(['repo', 'create', 'app', '--importer', 'yum_importer']));
    eng.run(c(['repo', 'distributor', 'add', 'app', 'yum_distributor', '--distributor-config', 'http=false', '--distributor-config', 'https=true', '--distributor-config', `https_ca=${pki.caCert}`, '--distributor-config', 'repo_name=App Stream']));
    eng.run(c(['content', 'upload', '--repo', 'app', hello()]));
    eng.run(c(['repo', 'publish', 'app']));
    const shown = eng.run(c(['repo', 'show', 'app'])).stdout;
    const snippet = shown.slice(shown.indexOf('[app]'));
    assert.match(snippet, /^\[app\]\nname=App Stream\nbaseurl=https:\/\/127\.0\.0\.1:\d+\/app\/\nenabled=1\n/);
    assert.ok(snippet.includes(`\nsslcacert=${pki.caCert}\n`), snippet);
    const view = eng.json<any>(c(['repo', 'show', 'app'])).distributors[0].published;
    assert.deepEqual([view.name, view.sslcacert], ['App Stream', pki.caCert]);

    // dnf with the snippet as its only repo file: it trusts the server (no curl error 60) and installs.
    const dnf = tempDir('stagepush-dnf-');
    const reposDir = path.join(dnf, 'repos.d');
    mkdirSync(reposDir);
    writeFileSync(path.join(reposDir, 'app.repo'), view.repo_snippet);
    const run = (args: string[]) =>
      spawnSync('dnf', ['-y', ...DNF_LEAVE_HOST, `--installroot=${path.join(dnf, 'root')}`, `--setopt=cachedir=${path.join(dnf, 'cache')}`, `--setopt=reposdir=${reposDir}`, '--releasever=1', ...args], { encoding: 'utf8', timeout: 300_000 });
    const listed = run(['repolist', '-v']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /Repo-name\s*:\s*App Stream/);
    const installed = run(['install', 'hello']);
    assert.equal(installed.status, 0, installed.stdout + installed.stderr);
    assert.match(spawnSync('rpm', ['--root', path.join(dnf, 'root'), '-q', 'hello'], { encoding: 'utf8' }).stdout, /^hello-1\.1-1\./);
  } finally {
    await s.stop();
  }
});

/** Every directory from `top` down to `p`'s directory searchable by others, `p` readable by others. */
function assertServable(top: string, p: string, what: string): void {
  const rel = path.relative(top, p);
  assert.ok(!rel.startsWith('..'), `${what}: ${p} is not under ${top}`);
  let d = top;
  for (const seg of ['', ...path.dirname(rel).split(path.sep).filter((s) => s && s !== '.')]) {
    d = path.join(d, seg);
    assert.equal(statSync(d).mode & 0o005, 0o005, `${what}: directory ${d} is ${(statSync(d).mode & 0o777).toString(8)}`);
  }
  assert.equal(statSync(p).mode & 0o004, 0o004, `${what}: ${p} is ${(statSync(p).mode & 0o777).toString(8)}`);
}

function walkFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const st = statSync(p); // follows symlinks, as a web server does
    if (st.isDirectory()) walkFiles(p, out);
    else out.push(p);
  }
  return out;
}

test('under umask 077: every published file (symlink targets in the store included) is readable, every directory on the way searchable', () => {
  const eng = new Engine();
  const src = tempDir('stagepush-umask-');
  const um = (args: string[]) => {
    const r = spawnSync('sh', ['-c', 'umask 077 && exec "$@"', 'sh', process.execPath, BIN, '--data-dir', eng.dataDir, ...args], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: path.join(eng.dataDir, 'none.yaml') } });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r;
  };
  // Sources written under the same umask: 0600 files.
  spawnSync('sh', ['-c', `umask 077 && cp '${hello()}' '${src}/hello.rpm' && printf ISO > '${src}/disk.iso' && mkdir -p '${src}/ks/images' && printf K > '${src}/ks/images/vmlinuz'`]);
  assert.equal(statSync(path.join(src, 'hello.rpm')).mode & 0o777, 0o600);
  um(['repo', 'create', 'y', '--importer', 'yum_importer']);
  um(['repo', 'distributor', 'add', 'y', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=deep/er/y']);
  um(['content', 'upload', '--repo', 'y', path.join(src, 'hello.rpm'), path.join(src, 'ks')]);
  um(['repo', 'publish', 'y']);
  um(['repo', 'create', 'f', '--importer', 'iso_importer']);
  um(['repo', 'distributor', 'add', 'f', 'iso_distributor', '--distributor-config', 'https=true']);
  um(['repo', 'distributor', 'add', 'f', 'export_distributor', '--id', 'ex']);
  um(['content', 'upload', '--repo', 'f', '--type', 'iso', path.join(src, 'disk.iso')]);
  um(['repo', 'publish', 'f']);
  assert.equal(statSync(path.join(src, 'hello.rpm')).mode & 0o777, 0o600, "the source's mode is left alone");

  const publishRoot = realpathSync(eng.publishRoot);
  const contentRoot = realpathSync(path.join(eng.dataDir, 'content'));
  const files = [...walkFiles(path.join(publishRoot, 'http')), ...walkFiles(path.join(publishRoot, 'https')), ...walkFiles(path.join(publishRoot, 'export'))];
  for (const want of ['Packages/h/hello-1.1-1.noarch.rpm', 'images/vmlinuz', 'repodata/repomd.xml']) assert.ok(files.some((f) => f.endsWith(path.join('deep', 'er', 'y', want))), want);
  assert.ok(files.some((f) => f.endsWith(path.join('https', 'f', 'disk.iso'))));
  // The package pool's manifest is not published (it sits beside the pool).
  assert.ok(!files.some((f) => path.basename(f).includes('pool')), 'no pool bookkeeping in the published trees');
  for (const f of files) {
    const real = realpathSync(f);
    assertServable(real.startsWith(contentRoot + path.sep) ? contentRoot : publishRoot, real, path.relative(publishRoot, f));
    assertServable(publishRoot, f, `${path.relative(publishRoot, f)} (link path)`);
  }
});

test('CLI: a kickstart tree uploaded as a directory is laid out next to repodata/; a colliding tree fails the publish naming both, the old tree stays', () => {
  const eng = new Engine();
  const src = tempDir('stagepush-ks-');
  const put = (rel: string, text: string) => {
    spawnSync('mkdir', ['-p', path.dirname(path.join(src, rel))]);
    writeFileSync(path.join(src, rel), text);
  };
  put('ks/.treeinfo', '[general]\nname = ks\n');
  put('ks/images/pxeboot/vmlinuz', 'kernel');
  put('other/images/pxeboot/vmlinuz', 'another kernel');
  put('bad/repodata/evil.xml', '<x/>');
  eng.run(['repo', 'create', 'ks', '--importer', 'yum_importer']);
  eng.run(['repo', 'distributor', 'add', 'ks', 'yum_distributor', '--id', 'yum']);
  eng.run(['content', 'upload', '--repo', 'ks', hello(), path.join(src, 'ks')]);
  const units = eng.json<any[]>(['content', 'list', '--repo', 'ks']);
  assert.deepEqual(units.find((u) => u.typeId === 'rpm').unitKey, { name: 'hello', epoch: '0', version: '1.1', release: '1', arch: 'noarch', checksum: sha256File(hello()) });
  assert.deepEqual(Object.keys(units.find((u) => u.typeId === 'directory').unitKey).sort(), ['digest', 'name']);
  eng.run(['repo', 'publish', 'ks']);
  const tree = path.join(eng.publishRoot, 'http', 'ks');
  assert.equal(readFileSync(path.join(tree, '.treeinfo'), 'utf8'), '[general]\nname = ks\n');
  assert.equal(readFileSync(path.join(tree, 'images', 'pxeboot', 'vmlinuz'), 'utf8'), 'kernel');
  assert.ok(statSync(path.join(tree, 'Packages', 'h', 'hello-1.1-1.noarch.rpm')).isFile());
  for (const [dir, re] of [
    ['other', /PUBLISH_PATH_COLLISION.*images\/pxeboot\/vmlinuz.*directory unit "(ks|other)".*directory unit "(ks|other)"/],
    ['bad', /PUBLISH_PATH_COLLISION.*"repodata".*directory unit "bad".*repodata/],
  ] as const) {
    eng.run(['content', 'upload', '--repo', 'ks', path.join(src, dir)]);
    const r = eng.run(['repo', 'publish', 'ks'], { allowFail: true });
    assert.equal(r.status, 6, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, re);
    assert.equal(readFileSync(path.join(tree, 'images', 'pxeboot', 'vmlinuz'), 'utf8'), 'kernel', 'the published tree is unchanged');
    eng.run(['content', 'remove', '--repo', 'ks', '--type', 'directory', '--filter', `name=${dir}`]);
  }
});

test('CLI: comps, modulemd and productid uploads become the units issue 4 names, and come back in the published repodata', () => {
  const eng = new Engine();
  const fx = writeFixtures({ 'comps.xml': COMPS_XML, 'modules.yaml': modulemdYaml() });
  eng.run(['repo', 'create', 'md', '--importer', 'yum_importer']);
  eng.run(['repo', 'distributor', 'add', 'md', 'yum_distributor', '--id', 'yum']);
  eng.run(['content', 'upload', '--repo', 'md', hello(), fx['comps.xml']!, fx['modules.yaml']!]);
  const cert = productCert();
  eng.run(['content', 'upload', '--repo', 'md', '--type', 'yum_repo_metadata_file', cert]);
  const keys = eng
    .json<any[]>(['content', 'list', '--repo', 'md'])
    .filter((u) => u.typeId !== 'rpm')
    .map((u) => `${u.typeId} ${JSON.stringify(u.unitKey)}`)
    .sort();
  assert.deepEqual(keys, [
    'modulemd {"name":"greet","stream":"1","version":"20240101000000","context":"c0ffee42","arch":"noarch"}',
    'modulemd_defaults {"module":"greet","repo_id":"md"}',
    'package_category {"id":"greeting","repo_id":"md"}',
    'package_environment {"id":"greeter-env","repo_id":"md"}',
    'package_group {"id":"greeters","repo_id":"md"}',
    'package_langpacks {"repo_id":"md"}',
    'yum_repo_metadata_file {"data_type":"productid","repo_id":"md"}',
  ]);
  eng.run(['repo', 'publish', 'md']);
  const tree = path.join(eng.publishRoot, 'http', 'md');
  const md = parseRepomd(readFileSync(path.join(tree, 'repodata', 'repomd.xml')));
  const file = (t: string) => {
    const buf = readFileSync(path.join(tree, md.records.find((r) => r.type === t)!.location));
    return buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  };
  const comps = parseComps(file('group'));
  assert.deepEqual([comps.groups.map((g) => g.id), comps.categories.map((x) => x.id), comps.environments.map((x) => x.id), comps.langpacks.length], [['greeters'], ['greeting'], ['greeter-env'], 1]);
  assert.deepEqual(parseModulemd(file('modules')).map((d) => d.document), ['modulemd', 'modulemd-defaults']);
  assert.equal(file('productid').toString(), readFileSync(cert, 'utf8'));
});
