/**
 * Sync from a repository made by createrepo_c (+ modifyrepo_c updateinfo, comps, modules) served
 * over HTTP on 127.0.0.1: same packages, advisories, groups and modules; a second sync with no
 * change does no work (only repomd.xml fetched, same version number); copy with `recursive`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnCli, tempDir } from '../../helpers/cli.js';
import { COMPS_XML, Dnf, Engine, RPMS, matrix, modulemdYaml, serveDir, sha256File } from '../../helpers/yum.js';

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="release@example.com" status="final" type="security" version="2">
    <id>RHSA-2024:0100</id>
    <title>hello security update</title>
    <issued date="2024-03-01 00:00:00"/>
    <updated date="2024-03-02 00:00:00"/>
    <rights>Copyright 2024</rights>
    <release>0</release>
    <severity>Important</severity>
    <summary>hello update</summary>
    <description>fixes</description>
    <solution>update</solution>
    <references>
      <reference href="https://bugzilla.example.com/7" id="7" type="bugzilla" title="bug seven"/>
    </references>
    <pkglist>
      <collection short="c1">
        <name>col1</name>
        <package name="hello" version="1.1" release="1" epoch="0" arch="noarch" src="hello-1.1-1.src.rpm">
          <filename>hello-1.1-1.noarch.rpm</filename>
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

describe('yum_importer sync from a createrepo_c repository over HTTP', () => {
  const eng = new Engine();
  const m = matrix();
  const files = Object.values(m.install).map((x) => path.join(RPMS, x.file));
  const remote = path.join(tempDir(), 'remote');
  let server: Awaited<ReturnType<typeof serveDir>>;

  before(async () => {
    mkdirSync(path.join(remote, 'Packages'), { recursive: true });
    for (const f of files) cpSync(f, path.join(remote, 'Packages', path.basename(f)));
    const md = tempDir();
    writeFileSync(path.join(md, 'updateinfo.xml'), UPDATEINFO);
    writeFileSync(path.join(md, 'comps.xml'), COMPS_XML);
    writeFileSync(path.join(md, 'modules.yaml'), modulemdYaml());
    run('createrepo_c', ['--no-database', '-g', path.join(md, 'comps.xml'), remote]);
    run('modifyrepo_c', ['--mdtype=updateinfo', path.join(md, 'updateinfo.xml'), path.join(remote, 'repodata')]);
    run('modifyrepo_c', ['--mdtype=modules', path.join(md, 'modules.yaml'), path.join(remote, 'repodata')]);
    server = await serveDir(remote);
    eng.run(['repo', 'create', 'mirror', '--importer', 'yum_importer', '--importer-config', `feed=${server.url}/`]);
    eng.run(['repo', 'distributor', 'add', 'mirror', 'yum_distributor', '--id', 'yum']);
  });
  after(async () => {
    await server?.close();
  });

  test('first sync: packages (checksums verified), advisories, groups, modules', () => {
    eng.run(['repo', 'sync', 'mirror']);
    const units = eng.json<any[]>(['content', 'list', '--repo', 'mirror']);
    const list = Array.isArray(units) ? units : (units as any).units;
    const rpms = list.filter((u: any) => (u.typeId ?? u.type_id ?? u.type) === 'rpm');
    assert.deepEqual(rpms.map((u: any) => (u.unitKey ?? u.unit_key).checksum).sort(), files.map(sha256File).sort());
    const types = new Set(list.map((u: any) => u.typeId ?? u.type_id ?? u.type));
    for (const t of ['erratum', 'package_group', 'package_category', 'package_environment', 'modulemd', 'modulemd_defaults']) assert.ok(types.has(t), `${t} synced`);
    eng.run(['repo', 'publish', 'mirror']);
    const dnf = new Dnf(`file://${path.join(eng.publishRoot, 'http', 'mirror')}`);
    assert.equal(dnf.packages().size, files.length);
    assert.match(dnf.ok(['-q', 'repoquery', '--security']), /hello-0:1\.1-1\.noarch/);
    assert.match(dnf.ok(['group', 'info', 'greeters']), /hello/);
    assert.match(dnf.ok(['module', 'list']), /greet/);
  });

  test('second sync without a change does no work: only repomd.xml fetched, same version', () => {
    const v1 = eng.json<any>(['repo', 'show', 'mirror']);
    const before = server.requests().length;
    eng.run(['repo', 'sync', 'mirror']);
    const fetched = server.requests().slice(before);
    assert.deepEqual(fetched, ['/repodata/repomd.xml']);
    const v2 = eng.json<any>(['repo', 'show', 'mirror']);
    assert.equal(JSON.stringify(v2.version ?? v2.repo?.version), JSON.stringify(v1.version ?? v1.repo?.version));
  });

  test('copy: an erratum with recursive carries its packages', () => {
    eng.run(['repo', 'create', 'dest', '--importer', 'yum_importer']);
    eng.run(['content', 'copy', '--from', 'mirror', '--to', 'dest', '--type', 'erratum', '--override', 'recursive=true']);
    const list = eng.json<any>(['content', 'list', '--repo', 'dest']);
    const units = Array.isArray(list) ? list : list.units;
    const names = units.map((u: any) => `${u.typeId ?? u.type_id ?? u.type}:${(u.unitKey ?? u.unit_key).name ?? (u.unitKey ?? u.unit_key).id}`).sort();
    assert.deepEqual(names, ['erratum:RHSA-2024:0100', 'rpm:hello']);
  });

  test('require_signature / allowed_keys: unsigned or foreign-key packages are refused', () => {
    eng.run(['repo', 'create', 'signedonly', '--importer', 'yum_importer', '--importer-config', `feed=${server.url}/`, '--importer-config', 'require_signature=true', '--importer-config', 'skip=["erratum","comps","modules"]']);
    eng.run(['repo', 'sync', 'signedonly']);
    const names = (eng.json<any>(['content', 'list', '--repo', 'signedonly']) as any[]).map((u: any) => `${(u.unitKey ?? u.unit_key).name}-${(u.unitKey ?? u.unit_key).version}`).sort();
    assert.deepEqual(names, ['hello-1.0', 'hello-1.1'], 'world (unsigned) refused; errata, comps and modules skipped');
    eng.run(['repo', 'create', 'otherkey', '--importer', 'yum_importer', '--importer-config', `feed=${server.url}/`, '--importer-config', 'allowed_keys=["DEADBEEF"]', '--importer-config', 'skip=["erratum","comps","modules"]']);
    eng.run(['repo', 'sync', 'otherkey']);
    const left = (eng.json<any>(['content', 'list', '--repo', 'otherkey']) as any[]).map((u: any) => (u.unitKey ?? u.unit_key).name);
    assert.deepEqual(left, ['world'], 'only the unsigned package passes an allowed_keys list without require_signature');
  });

  test('copy into a repository with require_signature / allowed_keys: a package its policy refuses fails the copy, which changes nothing', () => {
    const rpmNames = (repo: string): string[] => (eng.json<any>(['content', 'list', '--repo', repo, '--type', 'rpm']) as any[]).map((u: any) => `${(u.unitKey ?? u.unit_key).name}-${(u.unitKey ?? u.unit_key).version}`).sort();
    eng.run(['repo', 'create', 'copysigned', '--importer', 'yum_importer', '--importer-config', 'require_signature=true']);
    const r = eng.run(['content', 'copy', '--from', 'mirror', '--to', 'copysigned', '--type', 'rpm'], { allowFail: true });
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /YUM_UNSIGNED.*world-1\.0-1\.noarch\.rpm.*require_signature/);
    assert.deepEqual(rpmNames('copysigned'), [], 'nothing copied');
    eng.run(['content', 'copy', '--from', 'mirror', '--to', 'copysigned', '--type', 'rpm', '--filter', 'name=hello']);
    assert.deepEqual(rpmNames('copysigned'), ['hello-1.0', 'hello-1.1'], 'signed packages are copied');
    // The packages an advisory carries (recursive) are held to the policy too.
    eng.run(['repo', 'create', 'copyotherkey', '--importer', 'yum_importer', '--importer-config', 'allowed_keys=["DEADBEEF"]']);
    const r2 = eng.run(['content', 'copy', '--from', 'mirror', '--to', 'copyotherkey', '--type', 'erratum', '--override', 'recursive=true'], { allowFail: true });
    assert.equal(r2.status, 4, r2.stderr);
    assert.match(r2.stderr, /YUM_KEY_NOT_ALLOWED.*hello-1\.1-1\.noarch\.rpm.*DEADBEEF/);
    assert.deepEqual(eng.json<any[]>(['content', 'list', '--repo', 'copyotherkey']), [], 'not even the advisory');
  });

  test('remove_missing: packages gone from the feed are removed', async () => {
    const remote2 = path.join(tempDir(), 'remote2');
    mkdirSync(path.join(remote2, 'Packages'), { recursive: true });
    for (const f of files.filter((f) => !path.basename(f).startsWith('world'))) cpSync(f, path.join(remote2, 'Packages', path.basename(f)));
    run('createrepo_c', ['--no-database', remote2]);
    const s2 = await serveDir(remote2);
    try {
      eng.run(['repo', 'create', 'rm', '--importer', 'yum_importer', '--importer-config', `feed=${server.url}/`]);
      eng.run(['repo', 'sync', 'rm']);
      eng.run(['repo', 'importer', 'update', 'rm', '--importer-config', `feed=${s2.url}/`, '--importer-config', 'remove_missing=true']);
      eng.run(['repo', 'sync', 'rm']);
      const units = eng.json<any[]>(['content', 'list', '--repo', 'rm']);
      const rpms = units.filter((u: any) => (u.typeId ?? u.type_id) === 'rpm').map((u: any) => (u.unitKey ?? u.unit_key).name).sort();
      assert.deepEqual(rpms, ['hello', 'hello']);
      assert.ok(!units.some((u: any) => (u.typeId ?? u.type_id) === 'erratum'), 'the erratum gone from the feed is removed too');
    } finally {
      await s2.close();
    }
  });

  test('cancel (SIGINT) stops the downloads and leaves the repository as it was', async () => {
    const slow = await serveDir(remote, { rpmDelayMs: 4000 });
    try {
      eng.run(['repo', 'create', 'slow', '--importer', 'yum_importer', '--importer-config', `feed=${slow.url}/`, '--importer-config', 'max_downloads=1']);
      const child = spawnCli(['--data-dir', eng.dataDir, 'repo', 'sync', 'slow'], { env: { STAGEPUSH_CONFIG: path.join(eng.dataDir, 'no-config.yaml') } });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
      const t0 = Date.now();
      while (!slow.requests().some((r) => r.endsWith('.rpm'))) {
        if (Date.now() - t0 > 120_000) throw new Error(`no package requested: ${slow.requests().join(' ')} ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, err);
      const show = eng.json<any>(['repo', 'show', 'slow']);
      assert.equal(show.version ?? show.repo?.version, 0);
      assert.deepEqual(eng.json<any[]>(['content', 'list', '--repo', 'slow']), []);
      assert.ok(slow.requests().filter((r) => r.endsWith('.rpm')).length < files.length, 'the remaining downloads were not made');
    } finally {
      await slow.close();
    }
  });
});
