/**
 * yum_distributor config keys end to end through the engine (in-process) and Debian's dnf:
 * checksum_type sha1/sha512 (compared with createrepo_c --checksum), skip, http/https,
 * remove_old_repodata (+ _threshold), gpg_sign_metadata + gpg_key_id + gpgkey (dnf
 * repo_gpgcheck), and validateConfig refusing unknown keys and bad values naming the key.
 * The three install fixture RPMs and one erratum, comps and modules are shared by every test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { tempDir } from '../../helpers/cli.js';
import { COMPS_XML, Dnf, Engine as CliEngine, RPMS, erratumYaml, matrix, modulemdYaml, writeFixtures } from '../../helpers/yum.js';
import { openEngine, type Engine } from '../../../src/engine/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';

const digest = (algo: string, data: Buffer): string => createHash(algo).update(data).digest('hex');

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** type → { checksum type, checksum, href } of a published repomd.xml. */
function records(repoDir: string) {
  return parseRepomd(readFileSync(path.join(repoDir, 'repodata', 'repomd.xml'))).records;
}

/** name → [checksum type, pkgid] of the packages in a primary.xml(.gz). */
function primaryChecksums(repoDir: string): Map<string, [string, string]> {
  const rec = records(repoDir).find((r) => r.type === 'primary')!;
  const xml = gunzipSync(readFileSync(path.join(repoDir, rec.location))).toString();
  const out = new Map<string, [string, string]>();
  for (const m of xml.matchAll(/<package type="rpm">[\s\S]*?<name>([^<]+)<\/name>[\s\S]*?<version epoch="\d+" ver="([^"]+)"[\s\S]*?<checksum type="([^"]+)" pkgid="YES">([0-9a-f]+)<\/checksum>/g)) out.set(`${m[1]}-${m[2]}`, [m[3]!, m[4]!]);
  return out;
}

/**
 * Every primary in a published tree (the current one and those kept for clients holding an old
 * repomd.xml): each location it names exists and holds the content its checksum says. Returns
 * sha256 → location.
 */
function servesWhatEveryPrimaryNames(dir: string): Map<string, string> {
  const repodata = path.join(dir, 'repodata');
  const seen = new Map<string, string>();
  for (const f of readdirSync(repodata).filter((x) => x.endsWith('primary.xml.gz'))) {
    const xml = gunzipSync(readFileSync(path.join(repodata, f))).toString();
    for (const m of xml.matchAll(/<checksum type="sha256" pkgid="YES">([0-9a-f]+)<\/checksum>[\s\S]*?<location href="([^"]+)"/g)) {
      assert.ok(existsSync(path.join(dir, m[2]!)), `${f} names ${m[2]}, which is missing`);
      assert.equal(digest('sha256', readFileSync(path.join(dir, m[2]!))), m[1], `${f} names ${m[2]} with ${m[1]}`);
      seen.set(m[1]!, m[2]!);
    }
  }
  return seen;
}

describe('yum_distributor config keys', () => {
  const m = matrix();
  const files = Object.values(m.install).map((x) => path.join(RPMS, x.file));
  let eng: Engine;
  let fx: Record<string, string>;
  let n = 0;

  /** A repository with the three packages (+ erratum, comps, modules unless `bare`) and one yum_distributor. */
  async function repo(config: Record<string, unknown>, opts: { bare?: boolean; files?: string[] } = {}): Promise<{ id: string; http: string; https: string }> {
    const id = `d${++n}`;
    await eng.createRepo({ id, importer: { typeId: 'yum_importer' }, distributors: [{ id: 'yum', typeId: 'yum_distributor', config }] });
    for (const f of opts.files ?? files) await eng.upload(id, { filePath: f });
    if (!opts.bare) for (const f of ['erratum.yaml', 'comps.xml', 'modules.yaml']) await eng.upload(id, { filePath: fx[f]! });
    const rel = typeof config.relative_url === 'string' ? config.relative_url : id;
    return { id, http: path.join(eng.publishRoot, 'http', rel), https: path.join(eng.publishRoot, 'https', rel) };
  }

  before(async () => {
    eng = await openEngine({ dataDir: tempDir('stagepush-yumdist-') });
    fx = writeFixtures({
      'erratum.yaml': erratumYaml({ id: 'RHBA-2024:0300', type: 'bugfix', packages: [{ name: 'world', version: '1.0', release: '1' }] }),
      'erratum2.yaml': erratumYaml({ id: 'RHBA-2024:0301', type: 'bugfix', packages: [{ name: 'hello', version: '1.0', release: '1' }] }),
      'comps.xml': COMPS_XML,
      'modules.yaml': modulemdYaml(),
    });
  });
  after(() => eng?.close());

  for (const algo of ['sha1', 'sha512'] as const) {
    test(`checksum_type ${algo}: repomd and primary name the type, files are ${algo}-named, dnf reads it as it reads createrepo_c --checksum ${algo}`, async () => {
      const r = await repo({ checksum_type: algo });
      await eng.publish(r.id);
      const recs = records(r.http);
      assert.deepEqual(recs.map((x) => x.type), ['primary', 'filelists', 'other', 'group', 'updateinfo', 'modules']);
      for (const rec of recs) {
        const data = readFileSync(path.join(r.http, rec.location));
        assert.equal(rec.checksumType, algo, rec.type);
        assert.equal(rec.checksum, digest(algo, data), `${rec.type} checksum`);
        if (rec.location.endsWith('.gz')) {
          assert.equal(rec.openChecksumType, algo);
          assert.equal(rec.openChecksum, digest(algo, gunzipSync(data)), `${rec.type} open-checksum`);
        }
        assert.ok(path.basename(rec.location).startsWith(`${rec.checksum}-`), `${rec.location}: named by its ${algo}`);
      }
      // createrepo_c on the same RPMs with the same checksum type: same package checksums.
      const cr = path.join(tempDir(), 'cr');
      mkdirSync(cr);
      for (const f of files) cpSync(f, path.join(cr, path.basename(f)));
      sh('createrepo_c', ['--no-database', '--checksum', algo, cr]);
      assert.deepEqual(primaryChecksums(r.http), primaryChecksums(cr));
      const pkgids = (type: string): string[] => {
        const rec = records(r.http).find((x) => x.type === type)!;
        return [...gunzipSync(readFileSync(path.join(r.http, rec.location))).toString().matchAll(/pkgid="([0-9a-f]+)"/g)].map((x) => x[1]!).sort();
      };
      const want = [...primaryChecksums(r.http).values()].map(([, c]) => c).sort();
      assert.deepEqual(pkgids('filelists'), want, 'filelists pkgid');
      assert.deepEqual(pkgids('other'), want, 'other pkgid');
      assert.ok([...primaryChecksums(r.http).values()].every(([t]) => t === algo));
      const ours = new Dnf(`file://${r.http}`).packages();
      const theirs = new Dnf(`file://${cr}`).packages();
      assert.deepEqual(new Map([...ours].sort()), new Map([...theirs].sort()));
      assert.deepEqual([...ours.values()].sort(), files.map((f) => digest(algo, readFileSync(f))).sort(), `dnf sees the ${algo} of every file`);
      assert.match(new Dnf(`file://${r.http}`).ok(['-q', 'repoquery', '--bugfix']), /world-0:1\.0-1\.noarch/);
    });
  }

  test('skip: skipped types are not published', async () => {
    const r = await repo({ skip: ['erratum', 'modules'] });
    await eng.publish(r.id);
    assert.deepEqual(records(r.http).map((x) => x.type), ['primary', 'filelists', 'other', 'group']);
    const dnf = new Dnf(`file://${r.http}`);
    assert.equal(dnf.packages().size, files.length);
    assert.doesNotMatch(dnf.ok(['module', 'list']), /greet/);
    const noPkgs = await repo({ skip: 'rpm,srpm,comps' });
    await eng.publish(noPkgs.id);
    assert.deepEqual(records(noPkgs.http).map((x) => x.type), ['primary', 'filelists', 'other', 'updateinfo', 'modules']);
    assert.ok(!existsSync(path.join(noPkgs.http, 'Packages')), 'no Packages/ tree');
    assert.deepEqual(primaryChecksums(noPkgs.http), new Map());
    assert.equal(new Dnf(`file://${noPkgs.http}`).packages().size, 0);
  });

  test('http / https: the tree under published/http and/or published/https; turning one off removes it', async () => {
    const r = await repo({ http: true, https: true, relative_url: 'both/repo' }, { bare: true });
    await eng.publish(r.id);
    for (const dir of [r.http, r.https]) assert.ok(lstatSync(dir).isSymbolicLink() && existsSync(path.join(dir, 'repodata', 'repomd.xml')), dir);
    assert.equal(realpathSync(r.http), realpathSync(r.https), 'one tree, two links');
    await eng.updateDistributor(r.id, 'yum', { config: { http: false } });
    await eng.publish(r.id);
    assert.ok(!existsSync(r.http), 'http tree removed');
    assert.equal(new Dnf(`file://${r.https}`).packages().size, files.length);
    const httpOnly = await repo({}, { bare: true });
    await eng.publish(httpOnly.id);
    assert.ok(existsSync(path.join(httpOnly.http, 'repodata', 'repomd.xml')), 'http by default');
    assert.ok(!existsSync(httpOnly.https), 'https off by default');
  });

  /** Publish three times, adding one package each time: the repodata files of each publish. */
  async function threePublishes(config: Record<string, unknown>, pauseMs = 0): Promise<{ dir: string; sets: string[][] }> {
    const r = await repo(config, { bare: true, files: [files[0]!] });
    const sets: string[][] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await eng.upload(r.id, { filePath: files[i]! });
      if (i === 2 && pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
      await eng.publish(r.id);
      sets.push(records(r.http).map((x) => x.location));
    }
    return { dir: r.http, sets };
  }
  const present = (dir: string): Set<string> => new Set(readdirSync(path.join(dir, 'repodata')).map((f) => `repodata/${f}`));

  test('remove_old_repodata: old repodata kept within the threshold (default), kept for ever when false', async () => {
    const def = await threePublishes({});
    const have = present(def.dir);
    for (const loc of def.sets.flat()) assert.ok(have.has(loc), `default threshold keeps ${loc}`);
    const off = await threePublishes({ remove_old_repodata: false, remove_old_repodata_threshold: 0 }, 1100);
    const kept = present(off.dir);
    for (const loc of off.sets.flat()) assert.ok(kept.has(loc), `remove_old_repodata=false keeps ${loc}`);
  });

  test('remove_old_repodata_threshold: repodata named by a repomd.xml replaced longer ago than the threshold is dropped', async () => {
    const { dir, sets } = await threePublishes({ remove_old_repodata_threshold: 0 }, 1100);
    const have = present(dir);
    for (const loc of [...sets[1]!, ...sets[2]!]) assert.ok(have.has(loc), `kept: ${loc} (current, or named by the repomd.xml just replaced)`);
    const gone = sets[0]!.filter((l) => !sets[1]!.includes(l) && !sets[2]!.includes(l));
    assert.ok(gone.length > 0);
    for (const loc of gone) assert.ok(!have.has(loc), `dropped: ${loc}`);
  });

  test('a rebuilt package (same NEVRA, other content) gets a file of its own: every location any kept metadata names serves what its checksum says; dnf with cached metadata still installs', async () => {
    const a = files[0]!;
    const b = path.join(tempDir('stagepush-rebuilt-'), path.basename(a));
    cpSync(a, b);
    sh('rpmsign', ['--delsign', b]);
    const shaA = digest('sha256', readFileSync(a));
    const shaB = digest('sha256', readFileSync(b));
    assert.notEqual(shaA, shaB);
    const r = await repo({}, { bare: true, files: [a] });
    await eng.publish(r.id);
    const dnf = new Dnf(`file://${r.http}`, ['--nogpgcheck']);
    dnf.ok(['makecache']);
    await eng.removeUnits(r.id, { typeIds: ['rpm'] });
    await eng.upload(r.id, { filePath: b });
    await eng.publish(r.id);
    const seen = servesWhatEveryPrimaryNames(r.http);
    assert.deepEqual([...seen.keys()].sort(), [shaA, shaB].sort(), 'the old and the new primary are both in the tree');
    assert.notEqual(seen.get(shaA), seen.get(shaB));
    assert.match(seen.get(shaB)!, new RegExp(`/${shaB.slice(0, 12)}-`));
    // A client that read the old metadata installs from it (the file it names is unchanged).
    dnf.ok(['-C', 'install', 'hello']);
    const fresh = new Dnf(`file://${r.http}`, ['--nogpgcheck']);
    assert.deepEqual([...fresh.packages().values()], [shaB], 'the current metadata lists the rebuilt package');
    fresh.ok(['install', 'hello']);
  });

  test('a package_link change keeps the packages that kept old metadata names (carried from the old pool)', async () => {
    const r = await repo({}, { bare: true, files: files.slice(0, 2) });
    await eng.publish(r.id);
    await eng.removeUnits(r.id, { typeIds: ['rpm'], filters: { version: '1.0' } });
    const p1 = (await eng.publish(r.id))[0]!;
    assert.equal((p1.report as Record<string, unknown>).packages_kept_for_old_metadata, 1);
    await eng.updateDistributor(r.id, 'yum', { config: { package_link: 'copy' } });
    const p2 = (await eng.publish(r.id))[0]!;
    assert.equal((p2.report as Record<string, unknown>).packages_kept_for_old_metadata, 1);
    assert.equal((p2.report as Record<string, unknown>).packages_carried_from_other_link_mode, 1);
    const seen = servesWhatEveryPrimaryNames(r.http);
    assert.equal(seen.size, 2, 'the old primary (1.0 and 1.1) and the new one (1.1)');
    assert.ok(realpathSync(path.join(r.http, 'Packages')).endsWith('packages-copy'));
  });

  test('a rebuilt package then a package_link change, then packages skipped: every location kept metadata names still serves what its checksum says', async () => {
    const a = files[0]!;
    const b = path.join(tempDir('stagepush-rebuilt2-'), path.basename(a));
    cpSync(a, b);
    sh('rpmsign', ['--delsign', b]);
    const r = await repo({}, { bare: true, files: [a] });
    await eng.publish(r.id);
    await eng.upload(r.id, { filePath: b });
    await eng.publish(r.id);
    servesWhatEveryPrimaryNames(r.http);
    await eng.updateDistributor(r.id, 'yum', { config: { package_link: 'symlink' } });
    await eng.publish(r.id);
    const seen = servesWhatEveryPrimaryNames(r.http);
    assert.deepEqual([...seen.keys()].sort(), [digest('sha256', readFileSync(a)), digest('sha256', readFileSync(b))].sort());
    await eng.updateDistributor(r.id, 'yum', { config: { skip: ['rpm', 'srpm'] } });
    await eng.publish(r.id);
    assert.equal(servesWhatEveryPrimaryNames(r.http).size, 2, 'the old primaries are kept, their packages too');
  });

  test('gpg_sign_metadata + gpg_key_id + gpgkey: repomd.xml.asc verified by gpg and by dnf repo_gpgcheck', async () => {
    const home = tempDir('stagepush-gnupg-');
    const gpg = (args: string[]) => sh('gpg', ['--batch', '--no-tty', ...args], { GNUPGHOME: home });
    gpg(['--passphrase', '', '--quick-gen-key', 'Repo Signer <repo@example.invalid>', 'rsa2048', 'sign', 'never']);
    const keyId = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]+):/m.exec(gpg(['--with-colons', '--list-keys']))![1]!;
    const pub = path.join(home, 'pub.asc');
    gpg(['--armor', '--output', pub, '--export', keyId]);
    const r = await repo({ gpg_sign_metadata: true, gpg_key_id: keyId, gpg_home: home, gpgkey: pub }, { bare: true });
    await eng.publish(r.id);
    const rd = path.join(r.http, 'repodata');
    assert.match(readFileSync(path.join(rd, 'repomd.xml.asc'), 'utf8'), /^-----BEGIN PGP SIGNATURE-----/);
    // Verified in a fresh GNUPGHOME holding only the published public key.
    const verifyHome = tempDir('stagepush-gnupg-v-');
    sh('gpg', ['--batch', '--import', path.join(rd, 'repomd.xml.key')], { GNUPGHOME: verifyHome });
    const v = spawnSync('gpg', ['--batch', '--status-fd', '1', '--verify', path.join(rd, 'repomd.xml.asc'), path.join(rd, 'repomd.xml')], { encoding: 'utf8', env: { ...process.env, GNUPGHOME: verifyHome } });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`VALIDSIG \\S*${keyId}`));
    assert.equal(readFileSync(path.join(rd, 'repomd.xml.key'), 'utf8'), readFileSync(pub, 'utf8'), 'gpgkey published as repodata/repomd.xml.key');
    // dnf checks the metadata signature with the published key.
    const dnf = new Dnf(`file://${r.http}`, ['--setopt=ours.repo_gpgcheck=1', '--setopt=ours.gpgcheck=0', `--setopt=ours.gpgkey=file://${path.join(rd, 'repomd.xml.key')}`]);
    assert.equal(dnf.packages().size, files.length);
    // A tampered repomd.xml no longer verifies.
    const bad = tempDir();
    cpSync(rd, path.join(bad, 'repodata'), { recursive: true, dereference: true });
    sh('sed', ['-i', 's/<revision>/<revision>1/', path.join(bad, 'repodata', 'repomd.xml')]);
    const v2 = spawnSync('gpg', ['--batch', '--verify', path.join(bad, 'repodata', 'repomd.xml.asc'), path.join(bad, 'repodata', 'repomd.xml')], { encoding: 'utf8', env: { ...process.env, GNUPGHOME: verifyHome } });
    assert.notEqual(v2.status, 0);

    // `repo publish` through the CLI with GNUPGHOME in the environment (no gpg_home key).
    const envSigned = await repo({ gpg_sign_metadata: true, gpg_key_id: keyId }, { bare: true, files: [files[0]!] });
    new CliEngine(eng.dataDir).run(['repo', 'publish', envSigned.id], { env: { GNUPGHOME: home } });
    const erd = path.join(envSigned.http, 'repodata');
    const v3 = spawnSync('gpg', ['--batch', '--verify', path.join(erd, 'repomd.xml.asc'), path.join(erd, 'repomd.xml')], { encoding: 'utf8', env: { ...process.env, GNUPGHOME: verifyHome } });
    assert.equal(v3.status, 0, v3.stderr);

    // A key gpg does not have: the publish fails naming gpg_key_id, the published tree stays.
    const before = readFileSync(path.join(rd, 'repomd.xml'), 'utf8');
    await eng.updateDistributor(r.id, 'yum', { config: { gpg_key_id: 'DEADBEEFDEADBEEF' } });
    const out = await eng.publish(r.id);
    assert.equal(out[0]!.status, 'failed');
    assert.equal(out[0]!.error?.code, 'YUM_GPG_SIGN');
    assert.match(out[0]!.error!.message, /DEADBEEFDEADBEEF/);
    assert.equal(readFileSync(path.join(rd, 'repomd.xml'), 'utf8'), before);
  });

  test('validateConfig refuses unknown keys and bad values, naming the key; nothing is changed', async () => {
    await eng.createRepo({ id: 'val', importer: { typeId: 'yum_importer' } });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ colour: 'blue' }, /"colour"/],
      [{ checksum_type: 'md5' }, /"checksum_type".*sha256/],
      [{ http: 'maybe' }, /"http"/],
      [{ http: false, https: false }, /"http" and "https"/],
      [{ skip: ['rpm', 'nope'] }, /"skip".*"nope"/],
      [{ remove_old_repodata: 'sometimes' }, /"remove_old_repodata"/],
      [{ remove_old_repodata_threshold: -5 }, /"remove_old_repodata_threshold"/],
      [{ remove_old_repodata_threshold: 'soon' }, /"remove_old_repodata_threshold"/],
      [{ gpg_sign_metadata: true }, /"gpg_sign_metadata" needs "gpg_key_id"/],
      [{ gpg_sign_metadata: 'yes please', gpg_key_id: 'ABCD1234' }, /"gpg_sign_metadata"/],
      [{ gpg_key_id: '' }, /"gpg_key_id"/],
      [{ gpgkey: '/nonexistent/key.asc' }, /"gpgkey"/],
      [{ relative_url: '../escape' }, /"relative_url"/],
      [{ package_link: 'teleport' }, /"package_link"/],
    ];
    for (const [config, re] of cases) {
      await assert.rejects(
        () => eng.addDistributor('val', { id: 'yum', typeId: 'yum_distributor', config }),
        (e: any) => {
          assert.match(e.message, re, JSON.stringify(config));
          assert.equal(e.kind, 'invalid');
          return true;
        },
      );
      assert.deepEqual(eng.listDistributors('val'), [], `nothing added for ${JSON.stringify(config)}`);
    }
    // An update with a bad value leaves the stored config as it was.
    await eng.addDistributor('val', { id: 'yum', typeId: 'yum_distributor', config: { checksum_type: 'sha1' } });
    await assert.rejects(() => eng.updateDistributor('val', 'yum', { config: { checksum_type: 'crc32' } }), /"checksum_type"/);
    assert.equal(eng.listDistributors('val')[0]!.config.checksum_type, 'sha1');
  });
});
