/**
 * End to end through the CLI (fresh processes): the fixture RPMs uploaded with errata, comps,
 * modulemd and productid, published by yum_distributor, and read by Debian's dnf over file:// and
 * HTTP; compared with createrepo_c's repository on the same RPMs; republish keeps old repodata.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { tempDir } from '../../helpers/cli.js';
import { YumDistributor, YumImporter } from '../../../src/plugins/yum/index.js';
import { FakeStore, fakeConfig } from '../../helpers/fakeconduit.js';
import { comparable } from '../../helpers/repodata.js';
import { packagesHref, readRepodataPackages } from '../../../src/formats/repodata/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { serveEngine, withIdFilter, COMPS_XML, Dnf, DNF_LEAVE_HOST, Engine, RPMS, erratumYaml, matrix, modulemdYaml, productCert, sha256File, status, writeFixtures } from '../../helpers/yum.js';

function repomdLocations(repoDir: string): string[] {
  const xml = readFileSync(path.join(repoDir, 'repodata', 'repomd.xml'), 'utf8');
  return [...xml.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]!);
}

describe('yum_distributor publish read by dnf', () => {
  const eng = new Engine();
  const m = matrix();
  const rpmFiles = [...Object.values(m.install).map((x) => path.join(RPMS, x.file)), ...Object.values(m.packages).map((x) => path.join(RPMS, x.file))];
  const uniqueRpms = [...new Set(rpmFiles)];
  let published = '';
  let server: Awaited<ReturnType<typeof serveEngine>>;

  before(async () => {
    const fx = writeFixtures({
      'RHSA-2024:0001.yaml': erratumYaml({ id: 'RHSA-2024:0001', type: 'security', packages: [{ name: 'hello', version: '1.1', release: '1' }, { name: 'absent', version: '9', release: '9' }] }),
      'RHBA-2024:0002.yaml': erratumYaml({ id: 'RHBA-2024:0002', type: 'bugfix', packages: [{ name: 'world', version: '1.0', release: '1' }] }),
      'comps.xml': COMPS_XML,
      'modules.yaml': modulemdYaml(),
    });
    eng.run(['repo', 'create', 'yumrepo', '--importer', 'yum_importer']);
    eng.run(['repo', 'distributor', 'add', 'yumrepo', 'yum_distributor', '--id', 'yum']);
    eng.run(['content', 'upload', '--repo', 'yumrepo', ...uniqueRpms]);
    eng.run(['content', 'upload', '--repo', 'yumrepo', fx['RHSA-2024:0001.yaml']!, fx['RHBA-2024:0002.yaml']!, fx['comps.xml']!, fx['modules.yaml']!]);
    eng.run(['content', 'upload', '--repo', 'yumrepo', '--type', 'yum_repo_metadata_file', productCert()]);
    eng.run(['repo', 'publish', 'yumrepo']);
    published = path.join(eng.publishRoot, 'http', 'yumrepo');
    server = await serveEngine(eng);
  });
  after(async () => {
    await server?.close();
  });

  test('tree: Packages/<l>/<file>, repodata with every record, modes', () => {
    assert.ok(existsSync(path.join(published, 'Packages', 'h', 'hello-1.1-1.noarch.rpm')));
    // package_link auto (the default): a hard link to the stored file (the store is on the same filesystem).
    const hello = path.join(published, 'Packages', 'h', 'hello-1.1-1.noarch.rpm');
    const sha = sha256File(hello);
    assert.ok(lstatSync(hello).isFile(), 'a hard link by default, not a symlink');
    assert.equal(statSync(hello).ino, statSync(path.join(eng.dataDir, 'content', 'sha256', sha.slice(0, 2), sha.slice(2))).ino);
    const types = [...readFileSync(path.join(published, 'repodata', 'repomd.xml'), 'utf8').matchAll(/<data type="([^"]+)"/g)].map((x) => x[1]);
    assert.deepEqual(types, ['primary', 'filelists', 'other', 'group', 'updateinfo', 'modules', 'productid']);
    for (const loc of repomdLocations(published)) assert.equal(statSync(path.join(published, loc)).mode & 0o777, 0o644, loc);
    assert.equal(statSync(path.join(published, 'repodata')).mode & 0o777, 0o755);
  });

  for (const proto of ['file', 'http'] as const) {
    test(`dnf over ${proto}: every NEVRA with the file's sha256`, () => {
      const dnf = new Dnf(proto === 'file' ? `file://${published}` : `${server.url}/yumrepo`);
      const pk = dnf.packages();
      const want = new Map<string, string>();
      for (const f of uniqueRpms) {
        const q = spawnSync('rpm', ['-qp', '--nosignature', '--qf', '%{NAME}-%|EPOCH?{%{EPOCH}}:{0}|:%{VERSION}-%{RELEASE}.%{ARCH}', f], { encoding: 'utf8' });
        const src = spawnSync('rpm', ['-qp', '--nosignature', '--qf', '%|SOURCERPM?{binary}:{src}|', f], { encoding: 'utf8' }).stdout;
        want.set(src === 'src' ? q.stdout.replace(/\.[^.]+$/, '.src') : q.stdout, sha256File(f));
      }
      assert.deepEqual(new Map([...pk].sort()), new Map([...want].sort()));
    });
  }

  test('dnf: advisories (--security, --bugfix), groups, modules', () => {
    const dnf = new Dnf(`${server.url}/yumrepo`);
    assert.match(dnf.ok(['-q', 'repoquery', '--security']), /hello-0:1\.1-1\.noarch/);
    const bug = dnf.ok(['-q', 'repoquery', '--bugfix']);
    assert.match(bug, /world-0:1\.0-1\.noarch/);
    assert.doesNotMatch(bug, /hello/);
    assert.match(dnf.ok(['group', 'list', '--hidden']), /Greeters/);
    assert.match(dnf.ok(['group', 'info', 'greeters']), /hello/);
    const ml = dnf.ok(['module', 'list']);
    assert.match(ml, /greet\s+1 \[d\]/);
    assert.match(dnf.ok(['module', 'info', 'greet']), /hello-0:1\.1-1\.noarch/);
  });

  test('updateinfo lists only packages present in the repository', () => {
    const loc = repomdLocations(published).find((l) => l.includes('updateinfo'))!;
    const xml = gunzipSync(readFileSync(path.join(published, loc))).toString();
    assert.match(xml, /hello-1\.1-1\.noarch\.rpm/);
    assert.doesNotMatch(xml, /absent/);
    assert.match(xml, /<updated date="2024-01-03 03:04:05"/);
  });

  test('modulemd-validator accepts modules.yaml', () => {
    const loc = repomdLocations(published).find((l) => l.includes('modules'))!;
    const dir = tempDir();
    const f = path.join(dir, 'modules.yaml');
    require0(spawnSync('sh', ['-c', `gunzip -c '${path.join(published, loc)}' > '${f}'`]));
    const r = spawnSync('modulemd-validator', [f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('gpgcheck: a signed package installs, an unsigned one is refused', () => {
    const key = path.join(RPMS, 'keys', 'rsa.asc');
    const dnf = new Dnf(`${server.url}/yumrepo`, ['--setopt=ours.gpgcheck=1', `--setopt=ours.gpgkey=file://${key}`]);
    dnf.ok(['install', 'hello-1.1-1']);
    const q = spawnSync('rpm', ['--root', dnf.root, '-q', 'hello'], { encoding: 'utf8' });
    assert.equal(q.stdout.trim(), 'hello-1.1-1.noarch');
    const bad = dnf.run(['install', 'world']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout + bad.stderr, /not signed|GPG check FAILED/);
  });

  /** createrepo_c's repository of the same RPMs, laid out as ours (Packages/<l>/<file>), made once. */
  let crDir = '';
  const crRepo = (): string => {
    if (crDir) return crDir;
    const cr = path.join(tempDir(), 'cr');
    for (const f of uniqueRpms) {
      const href = packagesHref(path.basename(f));
      mkdirSync(path.join(cr, path.dirname(href)), { recursive: true });
      cpSync(f, path.join(cr, href));
    }
    require0(spawnSync('createrepo_c', ['--no-database', cr], { encoding: 'utf8' }));
    return (crDir = cr);
  };

  test('published primary/filelists/other equal createrepo_c\'s, field by field (location Packages/<l>/<file>, file mtime aside)', async () => {
    const read = async (dir: string) => {
      const md = parseRepomd(readFileSync(path.join(dir, 'repodata', 'repomd.xml')));
      const loc = (t: string) => path.join(dir, md.records.find((r) => r.type === t)!.location);
      const pk = await readRepodataPackages(loc('primary'), loc('filelists'), loc('other'));
      return new Map(pk.map((p) => [p.pkgid, comparable(p)]));
    };
    const theirs = await read(crRepo());
    const ours = await read(published);
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
    for (const [id, t] of theirs) {
      const o = ours.get(id)!;
      assert.match(String(o.locationHref), /^Packages\/[a-z0-9]\/[^/]+\.rpm$/);
      for (const k of Object.keys(t)) assert.deepEqual(o[k], t[k], `${String(t.nevra)}: ${k} differs from createrepo_c's`);
    }
  });

  test('same packages as createrepo_c: repodiff empty, repoclosure clean', () => {
    const cr = crRepo();
    const root = tempDir();
    const common = ['-q', ...DNF_LEAVE_HOST, `--installroot=${root}`, `--setopt=cachedir=${root}/cache`, '--setopt=reposdir=/nonexistent', '--releasever=1', '--disablerepo=*'];
    const diff = spawnSync('dnf', [...common, 'repodiff', `--repofrompath=old,file://${cr}`, `--repofrompath=new,file://${published}`, '--repo-old=old', '--repo-new=new', '--compare-arch'], { encoding: 'utf8' });
    assert.equal(diff.status, 0, diff.stderr);
    for (const what of ['Added', 'Removed', 'Modified']) assert.match(diff.stdout, new RegExp(`${what} packages: 0\\b`), diff.stdout);
    assert.doesNotMatch(diff.stdout, /^(Added|Removed) package:/m, diff.stdout);
    const cl = ['-q', ...DNF_LEAVE_HOST, `--installroot=${root}`, `--setopt=cachedir=${root}/cache2`, '--setopt=reposdir=/nonexistent', '--releasever=1'];
    const closure = spawnSync('dnf', [...cl, `--repofrompath=ours,file://${published}`, '--repo=ours', 'repoclosure'], { encoding: 'utf8' });
    const crClosure = spawnSync('dnf', [...cl, `--repofrompath=cr,file://${cr}`, '--repo=cr', 'repoclosure'], { encoding: 'utf8' });
    // The matrix has deliberately unresolvable deps: our closure report equals createrepo_c's on the same RPMs,
    // (dnf prints the unresolved deps of a package in no fixed order: compare the sorted lines)
    const lines = (t: string, repo: string) => t.replace(new RegExp(`\\b${repo}\\b`, 'g'), 'X').split('\n').filter(Boolean).sort();
    assert.deepEqual(lines(closure.stdout, 'ours'), lines(crClosure.stdout, 'cr'));
    assert.ok(closure.stdout.includes('unresolved deps'), 'the matrix closure report is not empty');
    // and the installable set is clean.
    const clean = spawnSync('dnf', [...cl, `--repofrompath=ours,file://${published}`, '--repo=ours', 'repoclosure', '--pkg', 'hello', '--pkg', 'world'], { encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.equal(closure.status, crClosure.status);
  });

  test('republish: every file the old repomd.xml names still answers 200; forced by a config change', async () => {
    const oldLocs = repomdLocations(published);
    const before = realpathSync(published);
    // Same version, same config: nothing to do.
    const again = eng.json(['repo', 'publish', 'yumrepo']);
    void again;
    assert.equal(realpathSync(published), before, 'no new tree when nothing changed');
    const fx = writeFixtures({ 'RHBA-2024:0003.yaml': erratumYaml({ id: 'RHBA-2024:0003', type: 'bugfix', packages: [{ name: 'hello', version: '1.0', release: '1' }] }) });
    eng.run(['content', 'upload', '--repo', 'yumrepo', fx['RHBA-2024:0003.yaml']!]);
    eng.run(['repo', 'publish', 'yumrepo']);
    const newLocs = repomdLocations(published);
    assert.notDeepEqual(newLocs, oldLocs);
    for (const loc of [...oldLocs, ...newLocs]) assert.equal(await status(`${server.url}/yumrepo/${loc}`), 200, loc);
    // A config change forces a republish even without new content.
    const mid = realpathSync(published);
    eng.run(['repo', 'distributor', 'update', 'yumrepo', 'yum', '--distributor-config', 'checksum_type=sha512']);
    eng.run(['repo', 'publish', 'yumrepo']);
    assert.notEqual(realpathSync(published), mid);
    assert.match(readFileSync(path.join(published, 'repodata', 'repomd.xml'), 'utf8'), /<checksum type="sha512">/);
    const dnf = new Dnf(`${server.url}/yumrepo`);
    assert.ok(dnf.packages().has('hello-0:1.1-1.noarch'));
  });
});

describe('yum_distributor options: kickstart trees, collisions, signed repomd.xml, hard links, payload', () => {
  const eng = new Engine();
  const m = matrix();
  const hello = path.join(RPMS, m.install['hello-1.1']!.file);

  test('a directory unit (kickstart tree) is laid out next to repodata/; a colliding one is refused naming both', async () => {
    // Through the plugin with the test conduit (the CLI path is in surface.test.ts).
    const fx = writeFixtures({ 'ks/.treeinfo': '[general]\nname = test\n', 'ks/images/pxeboot/vmlinuz': 'kernel', 'bad/repodata/evil.xml': '<x/>' });
    const store = new FakeStore();
    const imp = new YumImporter();
    const repoI = store.repo('ks', 'yum_importer');
    for (const [typeId, filePath] of [['rpm', hello], ['directory', path.dirname(fx['ks/.treeinfo']!)]] as const) {
      await imp.uploadUnit(repoI, { typeId, unitKey: {}, metadata: {}, filePath }, store.importer('ks'), fakeConfig());
    }
    const dist = new YumDistributor();
    await dist.publishRepo(store.repo('ks', 'yum_distributor'), withIdFilter(store.publisher('ks')), fakeConfig({ package_link: 'hardlink' }));
    const tree = path.join(store.publishRoot, 'http', 'ks');
    assert.equal(readFileSync(path.join(tree, '.treeinfo'), 'utf8'), '[general]\nname = test\n');
    assert.equal(readFileSync(path.join(tree, 'images', 'pxeboot', 'vmlinuz'), 'utf8'), 'kernel');
    const pkg = path.join(tree, 'Packages', 'h', 'hello-1.1-1.noarch.rpm');
    assert.ok(lstatSync(pkg).isFile() && statSync(pkg).nlink > 1, 'package_link=hardlink gives a hard link');
    assert.ok(new Dnf(`file://${tree}`).packages().has('hello-0:1.1-1.noarch'));
    await imp.uploadUnit(repoI, { typeId: 'directory', unitKey: { name: 'bad' }, metadata: {}, filePath: path.dirname(path.dirname(fx['bad/repodata/evil.xml']!)) }, store.importer('ks'), fakeConfig());
    await assert.rejects(
      () => new YumDistributor().publishRepo(store.repo('ks', 'yum_distributor'), withIdFilter(store.publisher('ks')), fakeConfig()),
      (e: any) => e.code === 'PUBLISH_PATH_COLLISION' && /repodata/.test(e.message) && /directory unit "bad"/.test(e.message),
    );
    assert.equal(readFileSync(path.join(tree, '.treeinfo'), 'utf8'), '[general]\nname = test\n', 'the published tree is unchanged');
  });

  test('gpg_sign_metadata: a detached armored repomd.xml.asc that gpg verifies', () => {
    const home = tempDir('stagepush-gpg-');
    const gpg = (args: string[]) => spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', ...args], { encoding: 'utf8' });
    require0(gpg(['--passphrase', '', '--quick-gen-key', 'Repo Signer <repo@example.invalid>', 'rsa2048', 'sign', 'never']));
    const keyId = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]+):/m.exec(gpg(['--with-colons', '--list-keys']).stdout)![1]!;
    eng.run(['repo', 'create', 'signed', '--importer', 'yum_importer']);
    const bad = eng.run(['repo', 'distributor', 'add', 'signed', 'yum_distributor', '--id', 'yum', '--distributor-config', 'gpg_sign_metadata=true'], { allowFail: true });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout + bad.stderr, /gpg_key_id/);
    eng.run(['repo', 'distributor', 'add', 'signed', 'yum_distributor', '--id', 'yum', '--distributor-config', 'gpg_sign_metadata=true', '--distributor-config', `gpg_key_id=${keyId}`, '--distributor-config', `gpg_home=${home}`]);
    eng.run(['content', 'upload', '--repo', 'signed', hello]);
    eng.run(['repo', 'publish', 'signed']);
    const rd = path.join(eng.publishRoot, 'http', 'signed', 'repodata');
    assert.match(readFileSync(path.join(rd, 'repomd.xml.asc'), 'utf8'), /BEGIN PGP SIGNATURE/);
    const v = gpg(['--verify', path.join(rd, 'repomd.xml.asc'), path.join(rd, 'repomd.xml')]);
    assert.equal(v.status, 0, v.stderr);
  });

  test('consumer payload and repo show', async () => {
    eng.run(['repo', 'create', 'pay', '--importer', 'yum_importer']);
    eng.run(['repo', 'distributor', 'add', 'pay', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=content/pay', '--distributor-config', 'http=false', '--distributor-config', 'https=true']);
    eng.run(['content', 'upload', '--repo', 'pay', hello]);
    eng.run(['repo', 'publish', 'pay']);
    assert.ok(existsSync(path.join(eng.publishRoot, 'https', 'content', 'pay', 'repodata', 'repomd.xml')));
    assert.ok(!existsSync(path.join(eng.publishRoot, 'http', 'content', 'pay')));
    const show = eng.json<any>(['repo', 'show', 'pay']);
    const text = JSON.stringify(show);
    assert.ok(text.includes(path.join(eng.publishRoot, 'https', 'content', 'pay')), text);
    const human = eng.run(['repo', 'show', 'pay']).stdout;
    assert.match(human, /\[pay\]/);
    assert.match(human, new RegExp(`baseurl=file://${path.join(eng.publishRoot, 'https', 'content', 'pay')}/`));
    // The payload the agent's yum bind handler gets (engine API, fresh engine on the same data dir).
    const { openEngine } = await import('../../../src/engine/index.js');
    const e2 = await openEngine({ dataDir: eng.dataDir });
    try {
      const payload = (await e2.createConsumerPayload('pay', 'yum')) as any;
      assert.deepEqual(payload, {
        repo_id: 'pay',
        repo_name: 'pay',
        server_name: 'localhost',
        relative_path: 'content/pay',
        protocols: ['https'],
        base_urls: { https: `file://${path.join(eng.publishRoot, 'https')}` },
        gpg_keys: {},
        ca_cert: null,
      });
    } finally {
      e2.close();
    }
  });
});

function require0(r: { status: number | null; stderr?: string | Buffer; stdout?: string | Buffer }): void {
  if (r.status !== 0) throw new Error(`command failed (${r.status}): ${String(r.stdout ?? '')}${String(r.stderr ?? '')}`);
}

void readdirSync;
