/** Pure parts of the yum plugins: erratum normalisation and re-upload rule, config validation, type detection. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isNewer, mergePkglists, normalizeErratum, parseErratumText, resolveErratumUpload } from '../../../src/plugins/yum/erratum.js';
import { YumDistributor, YumImporter } from '../../../src/plugins/yum/index.js';
import { detectYumType } from '../../../src/plugins/yum/importer.js';
import { parseSkip } from '../../../src/plugins/yum/units.js';
import { parseData } from '../../../src/formats/yaml/read.js';
import { tempDir } from '../../helpers/cli.js';
import { pyyamlLoad } from '../../helpers/pyyaml.js';
import { fakeConfig } from '../../helpers/fakeconduit.js';
import { COMPS_XML, erratumYaml, modulemdYaml } from '../../helpers/yum.js';

const repo = { id: 'r1', displayName: 'r1', description: '', notes: {}, workingDir: '/nonexistent', version: 0 };
const pkgs = [{ name: 'hello', version: '1.1', release: '1' }];

test('erratum: pushsource shape normalised (RHSA → security, ints as strings, sum list, empty collections dropped)', () => {
  const e = normalizeErratum({
    id: 'RHSA-1',
    type: 'RHSA',
    version: 3,
    release: 0,
    pushcount: 2,
    updated: '2024-01-01',
    pkglist: [
      { name: 'a', short: 'a', packages: [] },
      { name: 'b', short: 'b', packages: [{ name: 'x', epoch: 0, version: '1', release: '1', arch: 'noarch', filename: 'x-1-1.noarch.rpm', src: 'x.src.rpm', sum: ['md5', 'AB', 'sha256', 'cd'] }] },
    ],
  });
  assert.equal(e.type, 'security');
  assert.equal(e.version, '3');
  assert.equal(e.pushcount, '2');
  assert.equal(e.pkglist.length, 1);
  assert.equal(e.pkglist[0]!.packages[0]!.md5sum, 'ab');
  assert.equal(e.pkglist[0]!.packages[0]!.sha256sum, 'cd');
  assert.equal(e.pkglist[0]!.packages[0]!.epoch, '0');
});

test('erratum: bad input names the file and field', async () => {
  await assert.rejects(parseErratumText('type: security\n', '/x/e.yaml'), (err: any) => err.code === 'YUM_ERRATUM_INVALID' && err.field === 'id' && /\/x\/e\.yaml/.test(err.message));
  await assert.rejects(parseErratumText('id: A\ntype: weird\n', '/x/e.yaml'), (err: any) => err.field === 'type');
  await assert.rejects(parseErratumText('id: A\nupdated: yesterday\n', '/x/e.yaml'), (err: any) => err.field === 'updated');
  await assert.rejects(parseErratumText('id: A\nissued: "2024-02-30"\n', '/x/e.yaml'), (err: any) => err.field === 'issued', 'a date updateinfo could not hold is refused at upload');
  await assert.rejects(parseErratumText('id: A\npkglist:\n - packages:\n   - name: x\n', '/x/e.yaml'), (err: any) => /pkglist\[0\]\.packages\[0\]\.version/.test(err.field));
});

test('erratum YAML: an anchor is shared by any number of aliases; an alias naming no anchor is YUM_ERRATUM_INVALID', async () => {
  // 150 packages sharing their arch (the yaml package's own limit is 100 uses of an anchor).
  const packages = Array.from({ length: 150 }, (_, i) => `   - {name: p${i}, version: "1", release: "1", epoch: "0", arch: ${i ? '*arch' : '&arch noarch'}, filename: p${i}-1-1.noarch.rpm}`);
  const e = await parseErratumText(`id: A\ntype: bugfix\npkglist:\n - name: c\n   short: c\n   packages:\n${packages.join('\n')}\n`, '/x/e.yaml');
  assert.equal(e.pkglist[0]!.packages.length, 150);
  assert.equal(e.pkglist[0]!.packages[149]!.arch, 'noarch');
  await assert.rejects(parseErratumText('id: *x\n', '/x/e.yaml'), (err: any) => err.code === 'YUM_ERRATUM_INVALID' && /alias \*x names no anchor/.test(err.message));
});

test('an uploaded YAML advisory is read as a staged one: YAML 1.1 booleans, merge keys, the same value as the staged reader and PyYAML', async () => {
  const text = ['common: &c', '  type: RHBA', '  severity: Low', '  from: re@x.invalid', '  rights: r', '  reboot_suggested: yes', 'id: ADV-1', '<<: *c', 'title: t', 'version: 2', ''].join('\n');
  const e = await parseErratumText(text, '/x/ADV-1.yaml');
  assert.deepEqual([e.type, e.severity, e.from, e.rights, e.reboot_suggested, e.version], ['bugfix', 'Low', 're@x.invalid', 'r', true, '2']);
  const staged = await parseData(text, false, { exactIntegers: true });
  assert.deepEqual(e, normalizeErratum(staged.value, '/x/ADV-1.yaml'), 'what the staged reader reads');
  const py = pyyamlLoad([text]) as Array<Record<string, unknown>> | null;
  if (py) assert.deepEqual([py[0]!.severity, py[0]!.from, py[0]!.rights, py[0]!.reboot_suggested], ['Low', 're@x.invalid', 'r', true]);
  assert.equal((await parseErratumText('id: A\nreboot_suggested: no\n', '/x/e.yaml')).reboot_suggested, false);
  // What the staged reader refuses is refused here too, naming the file.
  await assert.rejects(parseErratumText('id: A\n<<: [1]\n', '/x/e.yaml'), (err: any) => err.code === 'YUM_ERRATUM_INVALID' && /^\/x\/e\.yaml: not valid YAML: .*merge key/.test(err.message));
  await assert.rejects(parseErratumText('{"id": "A",}', '/x/e.json'), (err: any) => err.code === 'YUM_ERRATUM_INVALID' && /^\/x\/e\.json: not valid JSON/.test(err.message));
});

test('erratum re-upload: replaced only when updated is newer, or same date and higher version; package lists merged', async () => {
  const base = await parseErratumText(erratumYaml({ id: 'E', updated: '2024-01-03 00:00:00', version: '2', title: 'old', packages: pkgs }), 'a.yaml');
  const older = await parseErratumText(erratumYaml({ id: 'E', updated: '2024-01-02 00:00:00', version: '9', title: 'older', packages: [{ name: 'world', version: '1.0', release: '1' }] }), 'b.yaml');
  const sameLower = await parseErratumText(erratumYaml({ id: 'E', updated: '2024-01-03 00:00:00', version: '1', title: 'same-lower', packages: pkgs }), 'c.yaml');
  const sameHigher = await parseErratumText(erratumYaml({ id: 'E', updated: '2024-01-03T00:00:00Z', version: '3', title: 'same-higher', packages: pkgs }), 'd.yaml');
  const newer = await parseErratumText(erratumYaml({ id: 'E', updated: '2024-02-01 00:00:00', version: '1', title: 'newer', packages: [{ name: 'world', version: '1.0', release: '1' }] }), 'e.yaml');
  assert.equal(isNewer(older, base), false);
  assert.equal(isNewer(sameLower, base), false);
  assert.equal(isNewer(sameHigher, base), true);
  assert.equal(isNewer(newer, base), true);

  const r1 = resolveErratumUpload(older, base);
  assert.equal(r1.replaced, false);
  assert.equal(r1.erratum.title, 'old');
  assert.deepEqual(r1.erratum.pkglist[0]!.packages.map((p) => p.name).sort(), ['hello', 'world'], 'package lists kept and merged');
  const r2 = resolveErratumUpload(sameLower, base);
  assert.equal(r2.replaced, false);
  assert.equal(r2.changed, false);
  const r3 = resolveErratumUpload(newer, base);
  assert.equal(r3.replaced, true);
  assert.equal(r3.erratum.title, 'newer');
  assert.deepEqual(r3.erratum.pkglist[0]!.packages.map((p) => p.name).sort(), ['hello', 'world']);
  assert.equal(mergePkglists(base.pkglist, base.pkglist)[0]!.packages.length, 1);
  // Two collections of one name and short name are matched in order: each keeps its own packages.
  const pkg = (name: string) => ({ ...base.pkglist[0]!.packages[0]!, name, filename: `${name}-1.0-1.noarch.rpm` });
  const twice = [
    { ...base.pkglist[0]!, name: 'coll-one', short: 'c1', packages: [pkg('alpha')] },
    { ...base.pkglist[0]!, name: 'coll-one', short: 'c1', packages: [pkg('beta')] },
  ];
  assert.deepEqual(mergePkglists(twice, twice).map((c) => c.packages.map((p) => p.name)), [['alpha'], ['beta']]);
  const more = [twice[0]!, { ...twice[1]!, packages: [pkg('beta'), pkg('gamma')] }];
  assert.deepEqual(mergePkglists(twice, more).map((c) => c.packages.map((p) => p.name)), [['alpha'], ['beta', 'gamma']]);
  assert.deepEqual(mergePkglists(twice, [...twice, { ...twice[0]!, packages: [pkg('delta')] }]).map((c) => c.packages.map((p) => p.name)), [['alpha'], ['beta'], ['delta']]);
});

test('importer validateConfig: unknown keys and bad values refused, naming the key', () => {
  const imp = new YumImporter();
  const v = (c: Record<string, unknown>) => imp.validateConfig(repo, fakeConfig(c), { repos: [] });
  assert.deepEqual(v({ feed: 'https://example.com/repo/', max_downloads: 4, remove_missing: true, skip: ['erratum'] }), { valid: true });
  for (const [cfg, key] of [
    [{ feeed: 'x' }, 'feeed'],
    [{ feed: 'ftp://x/' }, 'feed'],
    [{ max_downloads: 0 }, 'max_downloads'],
    [{ skip: ['nonsense'] }, 'skip'],
    [{ allowed_keys: ['xyz'] }, 'allowed_keys'],
    [{ require_signature: 'maybe' }, 'require_signature'],
    [{ ssl_ca_cert: 'not pem' }, 'ssl_ca_cert'],
  ] as const) {
    const r = v(cfg as Record<string, unknown>);
    assert.equal(r.valid, false, JSON.stringify(cfg));
    assert.match((r as { message: string }).message, new RegExp(`"${key}"`));
  }
});

test('distributor validateConfig: keys, values, relative_url uniqueness', () => {
  const d = new YumDistributor();
  const v = (c: Record<string, unknown>, others: Array<{ id: string; config: Record<string, unknown> }> = []) =>
    d.validateConfig(repo, fakeConfig(c), { repos: others.map((o) => ({ ...o, pluginId: 'yum_distributor' })) });
  assert.deepEqual(v({ relative_url: 'a/b', checksum_type: 'sha512', package_link: 'hardlink', remove_old_repodata_threshold: 60 }), { valid: true });
  for (const [cfg, key] of [
    [{ relative_ur: 'x' }, 'relative_ur'],
    [{ checksum_type: 'md4' }, 'checksum_type'],
    [{ package_link: 'move' }, 'package_link'],
    [{ remove_old_repodata_threshold: -1 }, 'remove_old_repodata_threshold'],
    [{ gpg_sign_metadata: true }, 'gpg_sign_metadata'],
    [{ gpgkey: 'abc' }, 'gpgkey'],
    [{ relative_url: '../x' }, 'relative_url'],
    [{ http: false }, 'http'],
  ] as const) {
    const r = v(cfg as Record<string, unknown>);
    assert.equal(r.valid, false, JSON.stringify(cfg));
    assert.match((r as { message: string }).message, new RegExp(`"${key}"`));
  }
  const clash = v({ relative_url: 'shared' }, [{ id: 'r2', config: { relative_url: 'shared' } }]);
  assert.equal(clash.valid, false);
  assert.match((clash as { message: string }).message, /relative_url.*r2/);
});

test('skip accepts type ids and Pulp aliases', () => {
  const r = parseSkip(['errata', 'comps']);
  assert.ok('types' in r);
  assert.deepEqual([...r.types].sort(), ['erratum', 'package_category', 'package_environment', 'package_group', 'package_langpacks']);
  assert.ok('problem' in parseSkip('rpm,bogus'));
});

test('detectType: rpm, srpm, erratum, comps, modulemd, productid, directory', async () => {
  const dir = tempDir();
  const f = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  assert.equal(await detectYumType(f('a-1-1.noarch.rpm', 'x')), 'rpm');
  assert.equal(await detectYumType(f('a-1-1.src.rpm', 'x')), 'srpm');
  assert.equal(await detectYumType(f('RHSA-1.yaml', erratumYaml({ id: 'RHSA-1', packages: pkgs }))), 'erratum');
  assert.equal(await detectYumType(f('RHSA-2.json', JSON.stringify({ id: 'RHSA-2' }))), 'erratum');
  assert.equal(await detectYumType(f('comps.xml', COMPS_XML)), 'package_group');
  assert.equal(await detectYumType(f('modules.yaml', modulemdYaml())), 'modulemd');
  assert.equal(await detectYumType(f('69.pem', '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n')), 'yum_repo_metadata_file');
  assert.equal(await detectYumType(dir), 'directory');
  assert.equal(await detectYumType(f('random.bin', '\u0000\u0001')), null);
});

test('an advisory holding a character XML 1.0 cannot carry is refused, every such field named (updateinfo.xml would not parse)', () => {
  const base = { id: 'RHBA-1', type: 'bugfix', updated: '2024-01-01', pkglist: [{ name: 'c', short: '', packages: [{ name: 'p', version: '1', release: '1', arch: 'noarch', filename: 'p-1-1.noarch.rpm' }] }] };
  assert.doesNotThrow(() => normalizeErratum({ ...base, title: 'tab\tand newline\nfine, é and 😀 too' }));
  assert.throws(
    () => normalizeErratum({ ...base, title: 'bell\u0007', pkglist: [{ ...base.pkglist[0]!, packages: [{ ...base.pkglist[0]!.packages[0]!, src: 'x\uffffy' }] }] }, 'e.json'),
    (e: any) => {
      assert.equal(e.code, 'YUM_ERRATUM_INVALID');
      assert.deepEqual(e.problems.map((p: any) => p.field), ['title', 'pkglist[0].packages[0].src']);
      assert.match(e.message, /"title" holds the character U\+0007/);
      return true;
    },
  );
});
