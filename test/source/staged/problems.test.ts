import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadStaged } from '../../../src/source/staged/index.js';
import { tempDir } from '../../helpers/cli.js';
import { AMI_ATTRS, ERRATUM, hasProblem, stage, stagedYaml } from '../../helpers/staged.js';


test('staging directory missing, a file, or without destinations', async () => {
  const d = tempDir();
  let r = await loadStaged([`staged:${d}/nope`]);
  hasProblem(r.problems, { code: 'STAGED_DIR_NOT_FOUND', file: `${d}/nope`, message: /no such file or directory/ });
  writeFileSync(path.join(d, 'afile'), 'x');
  r = await loadStaged([`staged:${d}/afile`]);
  hasProblem(r.problems, { code: 'STAGED_NOT_A_DIRECTORY', file: `${d}/afile` });
  const empty = stage({ 'logs/x': 'y', 'top.txt': 'z' });
  r = await loadStaged([`staged:${empty}`]);
  hasProblem(r.warnings, { code: 'STAGED_NO_DESTINATIONS', message: `${empty} has no destination directories` });
  hasProblem(r.problems, { code: 'STAGED_NOT_STAGING_DIR', message: /does not appear to be a staging directory/ });
  const withMd = stage({ 'staged.yaml': stagedYaml([]) });
  r = await loadStaged([`staged:${withMd}`]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.items.length, 0);
  assert.equal(r.warnings.length, 1);
});

test('metadata file problems: syntax, shape, schema, missing relative_path, duplicates — all in one run', async () => {
  let root = stage({ 'staged.json': '{"header": ', 'd/FILES/a': 'a' });
  let r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_PARSE', file: `${root}/staged.json`, message: /invalid JSON/ });
  root = stage({ 'staged.yaml': 'header: [\n', 'd/RAW/x': '' });
  r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_PARSE', file: `${root}/staged.yaml`, message: /invalid YAML/ });
  root = stage({ 'staged.yaml': '', 'd/RAW/x': '' });
  r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', message: /must be object/ });
  root = stage({ 'staged.yaml': 'just a string\n', 'd/RAW/x': '' });
  r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', message: /"just a string" must be object/ });

  root = stage({
    'staged.yaml': [
      'header: {version: 0.2}',
      'extra: 1',
      'payload:',
      '  files:',
      '  - {filename: a, attributes: {description: x}}',
      '  - {relative_path: d/FILES/b, version: 1.2, attributes: {description: x}}',
      '  - {relative_path: d/FILES/c, attributes: {description: x}}',
      '  - {relative_path: d/FILES/c, attributes: {description: x}}',
      '  - {relative_path: d/FILES/e, attributes: {description: x}}',
      '  - {relative_path: d/FILES/e, attributes: {description: y}}',
      '  - {relative_path: d/FILES/f, sha256sum: abc, order: 100000, attributes: {}}',
      '  - {relative_path: d/AWS_IMAGES/g, attributes: {description: x, region: r}}',
      '',
    ].join('\n'),
    'd/FILES/b': 'b',
    'd/FILES/c': 'c',
    'd/FILES/e': 'e',
    'd/FILES/f': 'f',
    'd/FILES/.gitkeep': '',
    'd/AWS_IMAGES/g': 'g',
  });
  r = await loadStaged([`staged:${root}`]);
  const file = `${root}/staged.yaml`;
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', file, field: 'header.version', message: /0.2 must be "0.2"/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', file, field: 'extra', message: /not an allowed field/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_MISSING_FIELD', file, entry: 'payload.files[0]', field: 'relative_path' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', file, entry: 'd/FILES/b', field: 'version', message: /1.2 must be string/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_DUPLICATE_ENTRY', file, entry: 'd/FILES/c', message: /identical to payload.files\[2\]/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_DUPLICATE_PATH', file, entry: 'd/FILES/e', message: 'File d/FILES/e listed twice in staged.yaml (payload.files[4] and payload.files[5])' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', entry: 'd/FILES/f', field: 'sha256sum' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', entry: 'd/FILES/f', field: 'order' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', entry: 'd/FILES/f', field: 'attributes.description', message: 'is required' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', entry: 'd/AWS_IMAGES/g', field: 'attributes.release', message: 'is required' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_MISSING', file: `${root}/d/FILES/.gitkeep`, entry: 'd/FILES/.gitkeep', message: 'No metadata available for d/FILES/.gitkeep in staged.yaml' });
  // files whose entry is invalid are not reported a second time as "no metadata"
  assert.ok(!r.problems.some((p) => p.code === 'STAGED_METADATA_MISSING' && p.entry !== 'd/FILES/.gitkeep'), JSON.stringify(r.problems, null, 1));
  assert.equal(r.items.length, 0);
});

test('files needing metadata without any metadata file; type dirs that are files; RAW as a file; non-RPMs', async () => {
  const root = stage({ 'd/FILES/a.iso': 'a', 'd/AWS_IMAGES/x.raw': 'x', 'd/ERRATA': 'a file', 'd/RAW': 'raw file', 'd/RPMS/readme.txt': 'r', 'd/RPMS/UPPER.RPM': 'r' });
  const r = await loadStaged([root]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_MISSING', entry: 'd/FILES/a.iso', message: /^No metadata available for d\/FILES\/a.iso \(no staged.yaml/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_MISSING', entry: 'd/AWS_IMAGES/x.raw' });
  hasProblem(r.problems, { code: 'STAGED_NOT_A_DIRECTORY', file: `${root}/d/ERRATA` });
  hasProblem(r.warnings, { code: 'STAGED_NON_RPM', message: `Unexpected non-RPM ${root}/d/RPMS/readme.txt (ignored)` });
  hasProblem(r.warnings, { code: 'STAGED_NON_RPM', message: `Unexpected non-RPM ${root}/d/RPMS/UPPER.RPM (ignored)` });
  assert.deepEqual(r.items.map((i) => [i.kind, i.name, i.src]), [['DirectoryPushItem', 'd', `${root}/d/RAW`]]);
  assert.equal(r.problems.length, 3);
});

test('errata problems name the file, advisory or package, and field', async () => {
  const { severity: _s, ...noSeverity } = ERRATUM;
  const root = stage({
    'd/ERRATA/nosev.yaml': JSON.stringify({ ...noSeverity, id: 'RHBA-1' }),
    'd/ERRATA/badtype.json': JSON.stringify({ ...ERRATUM, id: 'RHBA-2', type: 'RHXA' }),
    'd/ERRATA/schema.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-3', pushcount: 'x1', references: [{ href: 'h' }] }),
    'd/ERRATA/pkg.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-4', pkglist: [{ name: 'c', short: '', packages: [{ name: 'n', filename: 'n-1-1.x86_64.rpm', bogus: 1 }] }] }),
    'd/ERRATA/broken.yaml': 'id: [\n',
    'd/ERRATA/scalar.txt': 'hello\n',
    'd/ERRATA/badsum.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-5', pkglist: [{ name: 'c', short: '', packages: [{ ...ERRATUM.pkglist[1]!.packages[0]!, sum: ['md5', 'xyz'] }] }] }),
  });
  const r = await loadStaged([`staged:${root}`]);
  const f = (n: string) => `${root}/d/ERRATA/${n}`;
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_MISSING_FIELD', file: f('nosev.yaml'), entry: 'RHBA-1', field: 'severity' });
  hasProblem(r.problems, { code: 'ITEM_FIELD_INVALID', file: f('badtype.json'), entry: 'RHBA-2', field: 'type', message: /RHXA/ });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_INVALID', file: f('schema.yaml'), entry: 'RHBA-3', field: 'pushcount' });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_INVALID', file: f('schema.yaml'), entry: 'RHBA-3', field: 'references[0].id', message: 'is required' });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_INVALID', file: f('pkg.yaml'), entry: 'n-1-1.x86_64.rpm', field: 'pkglist[0].packages[0].bogus' });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_MISSING_FIELD', file: f('pkg.yaml'), entry: 'n-1-1.x86_64.rpm', field: 'pkglist[0].packages[0].epoch' });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: f('broken.yaml') });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_INVALID', file: f('scalar.txt'), message: /must be a mapping/ });
  // A package's problem is labelled with the package's file name, the model's as the schema's.
  hasProblem(r.problems, { code: 'ITEM_FIELD_INVALID', file: f('badsum.yaml'), entry: ERRATUM.pkglist[1]!.packages[0]!.filename, field: 'pkglist[0].packages[0].md5sum' });
  assert.equal(r.items.length, 0);
});

test('AMI problems where pushsource crashes: no release, no description, access_endpoint_url, bad schema values', async () => {
  const { description: _d, ...noDesc } = AMI_ATTRS;
  const root = stage({
    'staged.yaml': stagedYaml([
      { relative_path: 'd/AWS_IMAGES/filelike.raw', attributes: { description: 'file-shaped' } },
      { relative_path: 'd/AWS_IMAGES/nodesc.raw', attributes: noDesc },
      { relative_path: 'd/AWS_IMAGES/endpoint.raw', attributes: { ...AMI_ATTRS, access_endpoint_url: { port: 443, protocol: 'https' } } },
      { relative_path: 'd/AWS_IMAGES/volume.raw', attributes: { ...AMI_ATTRS, volume: 'gp9', release: { ...AMI_ATTRS.release, date: '2020-05-11' } } },
      { relative_path: 'd/AWS_IMAGES/port.raw', attributes: { ...AMI_ATTRS, scanning_port: 22.5 } },
    ]),
    'd/AWS_IMAGES/filelike.raw': '',
    'd/AWS_IMAGES/nodesc.raw': '',
    'd/AWS_IMAGES/endpoint.raw': '',
    'd/AWS_IMAGES/volume.raw': '',
    'd/AWS_IMAGES/port.raw': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  const file = `${root}/staged.yaml`;
  hasProblem(r.problems, { code: 'STAGED_AMI_MISSING_FIELD', file, entry: 'd/AWS_IMAGES/filelike.raw', field: 'attributes.release' });
  hasProblem(r.problems, { code: 'STAGED_AMI_MISSING_FIELD', file, entry: 'd/AWS_IMAGES/nodesc.raw', field: 'attributes.description' });
  hasProblem(r.problems, { code: 'STAGED_AMI_UNSUPPORTED_FIELD', file, entry: 'd/AWS_IMAGES/endpoint.raw', field: 'attributes.access_endpoint_url' });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', file, entry: 'd/AWS_IMAGES/volume.raw', field: 'attributes.volume', message: /"gp9" is not one of/ });
  hasProblem(r.problems, { code: 'STAGED_METADATA_INVALID', file, entry: 'd/AWS_IMAGES/volume.raw', field: 'attributes.release.date' });
  hasProblem(r.problems, { code: 'STAGED_AMI_INVALID_FIELD', file, entry: 'd/AWS_IMAGES/port.raw', field: 'attributes.scanning_port' });
  assert.equal(r.items.length, 0);
});

test('PRODUCTID problems', async () => {
  const root = stage({ 'd/PRODUCTID/garbage.pem': 'not a cert' });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'PRODUCTID_PEM_INVALID', file: `${root}/d/PRODUCTID/garbage.pem`, message: /Unable to load PEM file/ });
});

test('metadata precedence: staged.yaml, staged.yml, staged.json, pub-mapfile.json (first wins)', async () => {
  const entry = (desc: string) => stagedYaml([{ relative_path: 'd/FILES/a', attributes: { description: desc } }]);
  const files = { 'staged.yml': entry('yml'), 'staged.json': entry('json'), 'pub-mapfile.json': entry('pub'), 'd/FILES/a': 'a' };
  const both = stage(files);
  let r = await loadStaged([`staged:${both}`]);
  assert.equal((r.items[0] as { description: string }).description, 'yml');
  // The files not read are said (one left over would give the staged files stale entries unseen).
  assert.deepEqual(
    r.warnings.map((w) => [w.code, w.file, w.message]),
    ['staged.json', 'pub-mapfile.json'].map((n) => ['STAGED_ENTRY_IGNORED', `${both}/${n}`, `${both}/${n} is ignored: staged.yml is read (the first of staged.yaml, staged.yml, staged.json, pub-mapfile.json)`]),
  );
  r = await loadStaged([`staged:${stage({ ...files, 'staged.yaml': entry('yaml') })}`]);
  assert.equal((r.items[0] as { description: string }).description, 'yaml');
  const { 'staged.yml': _y, ...noYml } = files;
  r = await loadStaged([`staged:${stage(noYml)}`]);
  assert.equal((r.items[0] as { description: string }).description, 'json');
  const { 'staged.json': _j, ...pubOnly } = noYml;
  const root = stage(pubOnly);
  r = await loadStaged([`staged:${root}`]);
  assert.equal((r.items[0] as { description: string }).description, 'pub');
  assert.equal(r.sources[0]!.metadataFile, `${root}/pub-mapfile.json`);
  assert.deepEqual(r.warnings, []);
  // an invalid lower-precedence file is ignored
  r = await loadStaged([`staged:${stage({ ...files, 'staged.json': '{{{' })}`]);
  assert.deepEqual(r.problems, []);
});

test('symlinked destinations give separate items, each with its own dest and src; several dirs and URLs', async () => {
  const root = stage({ 'real/RPMS': { dir: true }, 'real/COMPS/c.xml': 'c', 'alias': { symlink: 'real' }, 'zz/MODULEMD/m.yaml': 'm' });
  const other = stage({ 'o/CGW/g.yaml': 'g' });
  const r = await loadStaged([`staged:${root},${other}`, other]);
  assert.deepEqual(
    r.items.map((i) => [i.kind, i.dest, i.src, i.origin]),
    [
      ['CompsXmlPushItem', ['alias'], `${root}/alias/COMPS/c.xml`, root],
      ['CGWPushItem', ['o'], `${other}/o/CGW/g.yaml`, other],
      ['CompsXmlPushItem', ['real'], `${root}/real/COMPS/c.xml`, root],
      ['ModuleMdPushItem', ['zz'], `${root}/zz/MODULEMD/m.yaml`, root],
      ['CGWPushItem', ['o'], `${other}/o/CGW/g.yaml`, other],
    ],
  );
  assert.equal(r.sources.length, 2);
  assert.deepEqual(r.itemsBySource.map((l) => l.length), [4, 1]);
});

test('a URL of several directories names each directory\'s metadata file (none for a directory without one)', async () => {
  const a = stage({ 'da/COMPS/c.xml': 'c' });
  const b = stage({ 'db/FILES/two': '2', 'pub-mapfile.json': JSON.stringify({ header: { version: '0.2' }, payload: { files: [{ relative_path: 'db/FILES/two', attributes: { description: 'two' } }] } }) });
  const r = await loadStaged([`staged:${a},${b}`]);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.sources, [{ url: `staged:${a},${b}`, dirs: [a, b], metadataFiles: [null, `${b}/pub-mapfile.json`], metadataFile: null }]);
});

test('relative staging paths stay relative in src and origin', async () => {
  const root = stage({ 'd/COMPS/c.xml': 'c' });
  const prev = process.cwd();
  process.chdir(path.dirname(root));
  try {
    const rel = path.basename(root);
    const r = await loadStaged([`staged:${rel}`]);
    assert.equal(r.items[0]!.src, `${rel}/d/COMPS/c.xml`);
    assert.equal(r.items[0]!.origin, rel);
  } finally {
    process.chdir(prev);
  }
});

test('CLOUD_IMAGES: resources.yaml gives AMI and VHD items', async () => {
  const res = (type: string, extra = '') => `api: v1
resource: CloudImage
description: ${type} sample
type: ${type}
boot_mode: hybrid
build: {name: rhel-ec2, version: '9.4', respin: '1'}
release: {date: '20200511', type: ga, variant: Fake-Variant, product: ignored}
images:
- {path: something1.raw.xz, architecture: x86_64, sha256sum: 04DB0C39EFB31518FF79BF98D1C27256D46CDC72B967A5B2094A6EFEC3166DF2}
- {path: something2.raw.xz, architecture: arm64, sha256sum: 04db0c39efb31518ff79bf98d1c27256d46cdc72b967a5b2094a6efec3166df2}
${extra}`;
  const root = stage({
    'starmap/CLOUD_IMAGES/build1/resources.yaml': res('VHD'),
    'starmap/CLOUD_IMAGES/build3/resources.yaml': res('AMI', 'region: us-east-1\nbilling_codes: {name: Hourly, codes: [bp-1]}\n'),
    'starmap/CLOUD_IMAGES/empty/resources.yaml': '',
    'starmap/CLOUD_IMAGES/slash/resources.yaml': res('AMI').replace('something1.raw.xz', 'sub/something1.raw.xz'),
    'starmap/CLOUD_IMAGES/other/resources.yaml': res('OVA'),
    'starmap/CLOUD_IMAGES/noresources/x': 'x',
    'starmap/CLOUD_IMAGES/loose.yaml': 'x',
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  hasProblem(r.warnings, { code: 'STAGED_CLOUD_EMPTY', message: `Resources.yaml file at ${root}/starmap/CLOUD_IMAGES/empty/resources.yaml is empty (ignored)` });
  hasProblem(r.warnings, { code: 'STAGED_CLOUD_SLASH', message: `Unexpected '/' in sub/something1.raw.xz (ignored)` });
  assert.deepEqual(r.items.map((i) => [i.kind, i.name]), [
    ['AmiPushItem', 'something1.raw.xz'],
    ['AmiPushItem', 'something2.raw.xz'],
    ['VHDPushItem', 'something1.raw.xz'],
    ['VHDPushItem', 'something2.raw.xz'],
  ]);
  const [ami1, , vhd1] = r.items;
  if (ami1!.kind !== 'AmiPushItem' || vhd1!.kind !== 'VHDPushItem') assert.fail('kinds');
  const origin = `${root}/starmap/CLOUD_IMAGES/build3`;
  assert.equal(ami1.src, `${origin}/something1.raw.xz`);
  assert.equal(ami1.origin, origin);
  assert.equal(ami1.sha256sum, '04db0c39efb31518ff79bf98d1c27256d46cdc72b967a5b2094a6efec3166df2');
  assert.deepEqual(ami1.build_info, { name: 'rhel-ec2', version: '9.4', release: '1', id: null });
  assert.deepEqual(ami1.release, { product: 'rhel', date: '2020-05-11', arch: 'x86_64', respin: 1, version: '9.4', base_product: null, base_version: null, variant: 'Fake-Variant', type: 'ga' });
  assert.equal(ami1.type, 'AMI');
  assert.equal(ami1.boot_mode, 'hybrid');
  assert.equal(ami1.region, 'us-east-1');
  assert.equal(ami1.billing_codes, null, "pushsource's CLOUD_IMAGES loader does not read billing_codes");
  assert.equal(ami1.description, 'AMI sample');
  assert.deepEqual(vhd1.release, { product: 'rhel', date: '2020-05-11', arch: 'x86_64', respin: 1, version: '9.4', base_product: null, base_version: null, variant: null, type: null });
  assert.equal(vhd1.boot_mode, null);
  assert.equal(vhd1.generation, 'V2');
  assert.equal(vhd1.description, 'VHD sample');
});

test('CLOUD_IMAGES problems where pushsource crashes', async () => {
  const root = stage({ 'd/CLOUD_IMAGES/b/resources.yaml': 'type: AMI\nimages: [{path: a.raw}]\nbuild: {name: x, version: 1}\n' });
  const r = await loadStaged([`staged:${root}`]);
  const file = `${root}/d/CLOUD_IMAGES/b/resources.yaml`;
  hasProblem(r.problems, { code: 'STAGED_CLOUD_MISSING_FIELD', file, field: 'build.version' });
  hasProblem(r.problems, { code: 'STAGED_CLOUD_MISSING_FIELD', file, field: 'build.respin' });
  hasProblem(r.problems, { code: 'STAGED_CLOUD_MISSING_FIELD', file, field: 'release' });
  hasProblem(r.problems, { code: 'STAGED_CLOUD_MISSING_FIELD', file, field: 'description' });
});

test('10,000 FILES entries load (linear validation, hashed duplicate checks)', async () => {
  const n = 10_000;
  const files: Record<string, string> = {};
  const entries = [];
  for (let i = 0; i < n; i++) {
    entries.push({ relative_path: `d/FILES/f${i}`, filename: `file-${i}.bin`, version: '1', attributes: { description: `file ${i}` } });
  }
  const root = stage({ 'staged.yaml': stagedYaml(entries), 'd/FILES': { dir: true } });
  for (let i = 0; i < n; i++) files[`f${i}`] = '';
  for (const name of Object.keys(files)) writeFileSync(path.join(root, 'd', 'FILES', name), '');
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.items.length, n);
  assert.equal(r.items[0]!.name, 'file-0.bin');
});

test('polling waits for item files (absolute src) to appear, then warns about those still missing', async () => {
  const res = (paths: string[]) => `type: VHD
description: d
build: {name: rhel, version: '9.4', respin: '1'}
release: {date: '20200511'}
images:
${paths.map((p) => `- {path: ${p}, architecture: x86_64}`).join('\n')}
`;
  const root = stage({ 'd/CLOUD_IMAGES/b/resources.yaml': res(['late.vhd', 'never.vhd']) });
  const late = path.join(root, 'd/CLOUD_IMAGES/b/late.vhd');
  setTimeout(() => writeFileSync(late, 'x'), 300);
  const r = await loadStaged([`staged:${root}?poll_timeout=1.5&poll_rate=0.1`]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.items.length, 2);
  assert.deepEqual(r.warnings.map((w) => w.message), [`File ${root}/d/CLOUD_IMAGES/b/never.vhd is missing after 1.5 seconds`]);
});

test('FIFOs are never opened: metadata, errata, product certs, resources.yaml, RPMs', async () => {
  const root = stage({
    'staged.yaml': { fifo: true },
    'd/ERRATA/e.yaml': { fifo: true },
    'd/PRODUCTID/p.pem': { fifo: true },
    'd/RPMS/x.rpm': { fifo: true },
    'd/CLOUD_IMAGES/b/resources.yaml': { fifo: true },
    'd/DOCKER/pipe': { fifo: true },
  });
  const r = await loadStaged([`staged:${root}?timeout=1`]);
  for (const f of ['staged.yaml', 'd/ERRATA/e.yaml', 'd/PRODUCTID/p.pem', 'd/RPMS/x.rpm', 'd/CLOUD_IMAGES/b/resources.yaml']) {
    hasProblem(r.problems, { code: 'STAGED_NOT_REGULAR_FILE', file: `${root}/${f}` });
  }
  assert.equal(r.problems.length, 5);
});

test('an erratum collection with an empty module mapping has no module (Python truth value), as pushsource gives', async () => {
  const e = { ...ERRATUM, pkglist: [{ ...(ERRATUM.pkglist as Array<Record<string, unknown>>)[1], module: {} }] };
  const root = stage({ 'd/ERRATA/m.json': JSON.stringify(e) });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  const item = r.items[0]!;
  if (item.kind !== 'ErratumPushItem') assert.fail('erratum');
  assert.equal(item.pkglist[0]!.module, null);
});

test('every problem of one advisory or one image is listed: schema and model problems together, several model problems at once', async () => {
  const root = stage({
    'd/ERRATA/many.yaml': JSON.stringify({
      ...ERRATUM,
      id: 'RHBA-9',
      type: 'RHXA',
      pushcount: 'x1',
      pkglist: [{ name: 'c', short: '', packages: [{ ...ERRATUM.pkglist[1]!.packages[0]!, sum: ['md5', 'xyz'] }] }],
    }),
    'staged.yaml': stagedYaml([{ relative_path: 'd/AWS_IMAGES/many.raw', attributes: { ...AMI_ATTRS, volume: 'gp9', scanning_port: 22.5, boot_mode: 'bios', release: { ...AMI_ATTRS.release, date: '2020-13-45' } } }]),
    'd/AWS_IMAGES/many.raw': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  const e = r.problems.filter((p) => p.file === `${root}/d/ERRATA/many.yaml`).map((p) => `${p.code} ${p.field}`);
  assert.deepEqual(e.sort(), ['ITEM_FIELD_INVALID pkglist[0].packages[0].md5sum', 'ITEM_FIELD_INVALID type', 'STAGED_ERRATUM_INVALID pushcount'], JSON.stringify(r.problems, null, 1));
  const a = r.problems.filter((p) => p.entry === 'd/AWS_IMAGES/many.raw').map((p) => p.field);
  for (const f of ['attributes.volume', 'attributes.scanning_port', 'attributes.boot_mode', 'attributes.release.date']) assert.ok(a.includes(f), `${f} in ${JSON.stringify(r.problems, null, 1)}`);
  assert.equal(r.items.length, 0);
});

test('text PyYAML refuses is refused: a control character anywhere in YAML, bytes that are not UTF-8 (never replaced by U+FFFD)', async () => {
  const root = stage({
    'd/ERRATA/bell.yaml': Buffer.from(JSON.stringify({ ...ERRATUM, id: 'RHBA-7', title: 'bell\u0007 update' }).replace('\\u0007', '\u0007')),
    'd/ERRATA/latin1.yaml': Buffer.concat([Buffer.from(JSON.stringify({ ...ERRATUM, id: 'RHBA-8' }).slice(0, -1) + ', "title": "Caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
    'd/ERRATA/ok.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-9', title: 'Café 😀' }),
  });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/bell.yaml`, message: /unacceptable character #x0007 at line 1, column \d+/ });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/latin1.yaml`, message: /not valid UTF-8 \(byte 0xe9 at line 1, column \d+\)/ });
  assert.equal(r.problems.length, 2, JSON.stringify(r.problems));
  assert.deepEqual(r.items.map((i) => i.name), ['RHBA-9']);
});

test('errata: duplicate references, collections or packages are refused (deep equality), found in linear time', async () => {
  const pkg = ERRATUM.pkglist[1]!.packages[0]!;
  const many = Array.from({ length: 20000 }, (_, i) => ({ ...pkg, name: `p${i}`, filename: `p${i}-1-1.x86_64.rpm` }));
  const refs = Array.from({ length: 20000 }, (_, i) => ({ href: `https://x/${i}`, id: String(i), title: 't', type: 'bugzilla' }));
  const root = stage({
    'd/ERRATA/big.json': JSON.stringify({ ...ERRATUM, id: 'RHBA-10', references: refs, pkglist: [{ name: 'c', short: '', packages: many }] }),
    'd/ERRATA/dup.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-11', references: [refs[0], { type: 'bugzilla', title: 't', id: '0', href: 'https://x/0' }], pkglist: [{ name: 'c', short: '', packages: [pkg, { ...pkg }] }] }),
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems.map((p) => `${p.entry} ${p.field} ${p.message}`).sort(), [
    'RHBA-11 pkglist[0].packages has non-unique elements (must NOT have duplicate items (items ## 1 and 0 are identical))',
    'RHBA-11 references has non-unique elements (must NOT have duplicate items (items ## 1 and 0 are identical))',
  ]);
  assert.deepEqual(r.items.map((i) => i.name), ['RHBA-10']);
});

test('CLOUD_IMAGES: every problem of resources.yaml at once (the model\'s too), each field of the file once, each image\'s with its index', async () => {
  const root = stage({
    'd/CLOUD_IMAGES/b1/resources.yaml': [
      'type: AMI',
      'description: my image',
      'boot_mode: bios',
      'ena_support: "maybe"',
      'build: {name: rhel-ec2, version: "9.4", respin: "1"}',
      'release: {date: "2024-13-99"}',
      'images:',
      '- {path: a.raw, architecture: x86_64, sha256sum: abc}',
      '- {path: b.raw, architecture: 5, sha256sum: zz}',
      '',
    ].join('\n'),
    'd/CLOUD_IMAGES/b2/resources.yaml': ['type: VHD', 'images: {path: a.raw}', 'build: {name: x}', 'release: {}', ''].join('\n'),
  });
  const r = await loadStaged([`staged:${root}`]);
  const of = (sub: string) => r.problems.filter((p) => p.file === `${root}/d/CLOUD_IMAGES/${sub}/resources.yaml`).map((p) => p.field).sort();
  assert.deepEqual(of('b1'), ['boot_mode', 'ena_support', 'images[0].sha256sum', 'images[1].architecture', 'images[1].sha256sum', 'release.date']);
  assert.deepEqual(of('b2'), ['build.respin', 'build.version', 'description', 'images', 'release.date']);
  assert.equal(r.items.length, 0);
});

test('names that are not UTF-8 are refused, shown with \\xNN, never turned into paths that do not exist', async () => {
  const root = stage({ 'd/COMPS/ok.xml': '<comps/>\n' });
  const bad = (rel: string) => Buffer.concat([Buffer.from(`${root}/`), Buffer.from(rel, 'latin1')]);
  mkdirSync(bad('de\xffst/COMPS'), { recursive: true });
  writeFileSync(bad('de\xffst/COMPS/c.xml'), '<comps/>\n');
  writeFileSync(bad('d/COMPS/c\xff.xml'), '<comps/>\n');
  // What pushsource skips is skipped whatever its name: a loose file at the top, a subdirectory of
  // a type directory, a non-RPM in RPMS (warned, as any), a CLOUD_IMAGES subdirectory without resources.yaml.
  writeFileSync(bad('notes-\xe9.txt'), 'n\n');
  mkdirSync(bad('d/RPMS/old-\xe9'), { recursive: true });
  writeFileSync(bad('d/RPMS/readme-\xe9.txt'), 'r\n');
  mkdirSync(bad('d/CLOUD_IMAGES/scratch-\xe9'), { recursive: true });
  mkdirSync(bad('d/CLOUD_IMAGES/img-\xe9'), { recursive: true });
  writeFileSync(Buffer.concat([bad('d/CLOUD_IMAGES/img-\xe9'), Buffer.from('/resources.yaml')]), 'type: VHD\n');
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems.map((p) => `${p.code} ${p.file}`).sort(), [
    `STAGED_BAD_FILE_NAME ${root}/d/CLOUD_IMAGES/img-\\xe9`,
    `STAGED_BAD_FILE_NAME ${root}/d/COMPS/c\\xff.xml`,
    `STAGED_BAD_FILE_NAME ${root}/de\\xffst`,
  ]);
  assert.deepEqual(r.warnings.filter((w) => w.code === 'STAGED_NON_RPM').map((w) => w.file), [`${root}/d/RPMS/readme-\\xe9.txt`]);
  assert.deepEqual(r.items.map((i) => i.name), ['ok.xml']);
});

test('values in problem messages as YAML wrote them: .nan, a date as a date', async () => {
  const root = stage({
    'staged.yaml': 'header: {version: "0.2"}\npayload:\n  files:\n  - {relative_path: d/FILES/a, order: .nan, attributes: {description: 2024-01-02}}\n',
    'd/FILES/a': 'a\n',
  });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { field: 'attributes.description', message: '2024-01-02 must be string' });
  hasProblem(r.problems, { field: 'order', message: /^\.nan must be/ });
});

test('errata: problems keep the file\'s place: a package that is not a mapping shifts no index, duplicates hide no element\'s problem, pulp_user_metadata fields named as such', async () => {
  const pkg = ERRATUM.pkglist[1]!.packages[0]!;
  const bad = { ...pkg, name: 'b', filename: 'b-1-1.x86_64.rpm', sum: ['sha256', 'zz'] };
  const root = stage({
    'd/ERRATA/junk.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-20', pkglist: [{ name: 'c', short: '', packages: ['junk', bad] }] }),
    'd/ERRATA/dups.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-21', pkglist: [{ name: 'c', short: '', packages: [pkg, pkg, bad] }] }),
    'd/ERRATA/pum.yaml': JSON.stringify({ ...ERRATUM, id: 'RHBA-22', pulp_user_metadata: { content_types: 5 } }),
  });
  const r = await loadStaged([`staged:${root}`]);
  const of = (f: string) => r.problems.filter((p) => p.file === `${root}/d/ERRATA/${f}`).map((p) => p.field).sort();
  assert.deepEqual(of('junk.yaml'), ['pkglist[0].packages[0]', 'pkglist[0].packages[1].sha256sum']);
  assert.deepEqual(of('dups.yaml'), ['pkglist[0].packages', 'pkglist[0].packages[2].sha256sum']);
  assert.deepEqual(of('pum.yaml'), ['pulp_user_metadata.content_types']);
});

test('YAML read as PyYAML reads it: a recursive alias is refused (no crash), a shared one is fine; a time out of range is refused; a byte order mark is skipped in YAML, refused in JSON', async () => {
  const head = Object.entries({ ...ERRATUM, pkglist: undefined, references: undefined })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  const root = stage({
    'd/ERRATA/loop.yaml': `${head}\nid: RHBA-30\nreferences: &r [ *r ]\n`,
    'd/ERRATA/shared.yaml': `${head}\nid: RHBA-31\nreferences: []\nx: &a {k: 1}\ny: *a\n`,
    'd/ERRATA/bom.yaml': `\ufeff${head}\nid: RHBA-32\nreferences: []\n`,
    'd/ERRATA/bom.json': `\ufeff${JSON.stringify({ ...ERRATUM, id: 'RHBA-33' })}`,
    'd/CLOUD_IMAGES/b/resources.yaml': 'type: VHD\ndescription: v\nbuild: {name: rhel-azure, version: "9", respin: "1"}\nrelease: {date: 2024-01-31 24:00:00}\nimages:\n  - {path: a.vhd, architecture: x86_64}\n',
    'd/CLOUD_IMAGES/b/a.vhd': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/loop.yaml`, message: /references\[0\] contains itself/ });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/bom.json`, message: /byte order mark/ });
  hasProblem(r.problems, { code: 'STAGED_CLOUD_PARSE', file: `${root}/d/CLOUD_IMAGES/b/resources.yaml`, message: /hour must be in 0\.\.23/ });
  assert.equal(r.problems.length, 3, JSON.stringify(r.problems, null, 1));
  assert.deepEqual(r.items.map((i) => i.name).sort(), ['RHBA-31', 'RHBA-32']);
});

test('staged YAML: an anchor is shared by any number of aliases (1,000 uses were refused as an attack); an alias bomb is refused', async () => {
  const head = Object.entries({ ...ERRATUM, pkglist: undefined, references: undefined })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  const uses = Array.from({ length: 1200 }, (_, i) => `y${i}: *a`).join('\n');
  const bomb = ['b0: &b0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++) bomb.push(`b${i}: &b${i} [${Array(10).fill(`*b${i - 1}`).join(', ')}]`);
  const root = stage({
    'd/ERRATA/shared.yaml': `${head}\nid: RHBA-41\nreferences: []\nx: &a {k: 1}\n${uses}\n`,
    'd/ERRATA/bomb.yaml': `${head}\nid: RHBA-42\nreferences: []\n${bomb.join('\n')}\n`,
  });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/bomb.yaml`, message: /expand the document to more than/ });
  assert.equal(r.problems.length, 1, JSON.stringify(r.problems, null, 1));
  assert.deepEqual(r.items.map((i) => i.name), ['RHBA-41']);
});

test('staged YAML: an anchor set twice, a merge key as a value and a %TAG handle declared twice are parse problems naming the file and line, as PyYAML refuses them', async () => {
  const root = stage({
    'd1/staged.yaml': ['header: {version: "0.2"}', 'payload:', '  files:', '  - {relative_path: d1/FILES/a.txt, attributes: &attr {description: a}}', '  - {relative_path: d1/FILES/b.txt, attributes: &attr {description: b}}', '  - {relative_path: d1/FILES/c.txt, attributes: *attr}', ''].join('\n'),
    'd1/FILES/a.txt': 'a',
    'd1/FILES/b.txt': 'b',
    'd1/FILES/c.txt': 'c',
    'd2/staged.yaml': 'header: {version: "0.2"}\npayload:\n  files:\n  - {relative_path: d2/FILES/a.txt, attributes: {description: <<}}\n',
    'd2/FILES/a.txt': 'a',
    'd3/staged.yaml': '%TAG !e! tag:example.com,2000:\n%TAG !e! tag:example.org,2000:\n---\nheader: {version: "0.2"}\n',
  });
  for (const [d, message] of [['d1', /found duplicate anchor &attr .*line 5/], ['d2', /merge key \(<<\) is only a mapping's key.*line 4/], ['d3', /duplicate tag handle !e! at line 2/]] as const) {
    const r = await loadStaged([`staged:${path.join(root, d)}`]);
    hasProblem(r.problems, { code: 'STAGED_METADATA_PARSE', file: `${root}/${d}/staged.yaml`, message });
    assert.deepEqual(r.items, []);
  }
});

test('a YAML timestamp with an offset keeps its own day (PyYAML keeps the datetime\'s offset)', async () => {
  const root = stage({
    'd/CLOUD_IMAGES/s/resources.yaml': 'description: x\ntype: AMI\nbuild: {name: rhel-ec2, version: "9.4", respin: "2"}\nrelease: {date: 2024-05-01 23:30:00 -05:00}\nimages: [{path: a.raw, architecture: x86_64}]\n',
    'd/CLOUD_IMAGES/s/a.raw': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  assert.equal((r.items[0] as unknown as { release: { date: string } }).release.date, '2024-05-01');
});

test('CLOUD_IMAGES: an AMI description that is not a string is one problem, not two', async () => {
  const root = stage({
    'd/CLOUD_IMAGES/c1/resources.yaml': 'description: 5\ntype: AMI\nbuild: {name: rhel-ec2, version: "9.4", respin: "2"}\nrelease: {date: 2024-05-01}\nimages: [{path: a.raw, architecture: x86_64}]\n',
    'd/CLOUD_IMAGES/c1/a.raw': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems.filter((p) => p.field === 'description').map((p) => p.code), ['STAGED_CLOUD_MISSING_FIELD']);
});

test('keys the schema allows in a reference, a module, billing_codes or an AMI release, which pushsource drops, are dropped with a warning (not refused); a package keeps refusing them', async () => {
  const pkgs = (ERRATUM.pkglist as Array<Record<string, unknown>>)[1]!;
  const root = stage({
    'd/ERRATA/extra.json': JSON.stringify({
      ...ERRATUM,
      references: [{ href: 'https://x/CVE-2024-1', id: 'CVE-2024-1', title: 'CVE-2024-1', type: 'cve', cvss3_score: '7.5' }],
      pkglist: [{ ...pkgs, module: { name: 'm', stream: 's', version: '1', context: 'c', arch: 'x86_64', id: 7 } }],
    }),
    'staged.yaml': stagedYaml([
      { relative_path: 'd/AWS_IMAGES/ami.raw', attributes: { ...AMI_ATTRS, billing_codes: { name: 'Hourly2', codes: ['bp-6fa54006'], note: 'x' }, release: { ...AMI_ATTRS.release, varient: 'Server' } } },
    ]),
    'd/AWS_IMAGES/ami.raw': '',
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  const e = r.items.find((i) => i.kind === 'ErratumPushItem');
  const a = r.items.find((i) => i.kind === 'AmiPushItem');
  if (e?.kind !== 'ErratumPushItem' || a?.kind !== 'AmiPushItem') return assert.fail(JSON.stringify(r.items));
  assert.deepEqual(e.references, [{ href: 'https://x/CVE-2024-1', id: 'CVE-2024-1', title: 'CVE-2024-1', type: 'cve' }]);
  assert.deepEqual(e.pkglist[0]!.module, { name: 'm', stream: 's', version: '1', context: 'c', arch: 'x86_64' });
  assert.deepEqual(a.billing_codes, { name: 'Hourly2', codes: ['bp-6fa54006'] });
  assert.equal(a.release?.variant, AMI_ATTRS.release.variant);
  const file = `${root}/d/ERRATA/extra.json`;
  hasProblem(r.warnings, { code: 'STAGED_FIELD_IGNORED', file, entry: ERRATUM.id, field: 'references[0].cvss3_score', message: new RegExp(`^${file}: .*references\\[0\\]\\.cvss3_score is ignored \\(ErratumReference has no such field`) });
  hasProblem(r.warnings, { code: 'STAGED_FIELD_IGNORED', file, entry: ERRATUM.id, field: 'pkglist[0].module.id', message: /ErratumModule has no such field/ });
  hasProblem(r.warnings, { code: 'STAGED_FIELD_IGNORED', file: `${root}/staged.yaml`, entry: 'd/AWS_IMAGES/ami.raw', field: 'attributes.billing_codes.note', message: /AmiBillingCodes has no such field/ });
  hasProblem(r.warnings, { code: 'STAGED_FIELD_IGNORED', file: `${root}/staged.yaml`, entry: 'd/AWS_IMAGES/ami.raw', field: 'attributes.release.varient', message: /AmiRelease has no such field/ });
  assert.equal(r.warnings.filter((w) => w.code === 'STAGED_FIELD_IGNORED').length, 4);
  // The schema's additionalProperties: false still refuses a package's unknown key, and an AMI attribute's.
  const bad = stage({
    'd/ERRATA/pkg.json': JSON.stringify({ ...ERRATUM, pkglist: [{ ...pkgs, packages: [{ ...(pkgs.packages as object[])[0], cvss3_score: '7.5' }] }] }),
    'staged.yaml': stagedYaml([{ relative_path: 'd/AWS_IMAGES/ami.raw', attributes: { ...AMI_ATTRS, note: 'x' } }]),
    'd/AWS_IMAGES/ami.raw': '',
  });
  const rb = await loadStaged([`staged:${bad}`]);
  hasProblem(rb.problems, { code: 'STAGED_ERRATUM_INVALID', field: 'pkglist[0].packages[0].cvss3_score' });
  hasProblem(rb.problems, { code: 'STAGED_METADATA_INVALID', entry: 'd/AWS_IMAGES/ami.raw' });
  assert.equal(rb.items.length, 0);
});

test('a %YAML 1.2 directive in an advisory, staged.yaml or resources.yaml keeps YAML 1.1 booleans (yes, on), as PyYAML reads them', async () => {
  const directive = '%YAML 1.2\n---\n';
  const amiAttrs = { ...AMI_ATTRS, ena_support: 'ON', public_image: 'OFF' };
  const root = stage({
    'd/ERRATA/e.yaml': directive + JSON.stringify({ ...ERRATUM, reboot_suggested: 'YES' }).replace('"YES"', 'yes'),
    'staged.yaml': directive + stagedYaml([{ relative_path: 'd/AWS_IMAGES/a.raw', attributes: amiAttrs }]).replace('"ON"', 'on').replace('"OFF"', 'no'),
    'd/AWS_IMAGES/a.raw': '',
    'd/CLOUD_IMAGES/b/resources.yaml': `${directive}type: AMI\ndescription: d\nena_support: Yes\nuefi_support: off\nbuild: {name: rhel-ec2, version: '9.4', respin: '1'}\nrelease: {date: '20200511'}\nimages:\n- {path: x.raw, architecture: x86_64}\n`,
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  const got = r.items.map((i) => (i.kind === 'ErratumPushItem' ? [i.kind, i.reboot_suggested] : i.kind === 'AmiPushItem' ? [i.kind, i.ena_support, i.public_image ?? i.uefi_support] : [i.kind]));
  assert.deepEqual(got.sort(), [['AmiPushItem', true, false], ['AmiPushItem', true, false], ['ErratumPushItem', true]]);
});

test('a staged.yaml, advisory or resources.yaml nested thousands of levels deep is a parse problem naming the file (it overflowed the stack)', async () => {
  const deep = (n: number) => Array.from({ length: n }, (_, i) => ' '.repeat(i + 1) + `k${i}:`).join('\n') + ' 1\n';
  const root = stage({
    // Block YAML, 5,000 levels under a key the schema refuses (the parser meets it first).
    'staged.yaml': `header:\n  version: "0.2"\npayload:\n  files:\n  - relative_path: d/FILES/a\n    attributes:\n      description: x\nx:\n${deep(5000)}`,
    'd/FILES/a': 'a',
    'd/ERRATA/e.json': JSON.stringify({ ...ERRATUM, container_list: [{ x: 'DEEP' }] }).replace('"DEEP"', '['.repeat(5000) + ']'.repeat(5000)),
    'd/CLOUD_IMAGES/b/resources.yaml': 'type: AMI\nx:\n' + deep(5000),
  });
  const r = await loadStaged([`staged:${root}`]);
  hasProblem(r.problems, { code: 'STAGED_METADATA_PARSE', file: `${root}/staged.yaml`, message: /nested more than 500 levels deep/ });
  hasProblem(r.problems, { code: 'STAGED_ERRATUM_PARSE', file: `${root}/d/ERRATA/e.json`, message: /nested more than 1000 levels deep .*\(line 1, column \d+\)$/ });
  hasProblem(r.problems, { code: 'STAGED_CLOUD_PARSE', file: `${root}/d/CLOUD_IMAGES/b/resources.yaml`, message: /nested more than 500 levels deep/ });
});

test('an advisory whose last field is a block scalar without a final line break keeps no trailing line break (as PyYAML reads it)', async () => {
  const { solution: _s, ...rest } = ERRATUM;
  const root = stage({ 'd/ERRATA/e.yaml': `${Object.entries(rest).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\nsolution: |\n  Apply it.\n  Then reboot.` });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  const e = r.items[0]!;
  if (e.kind !== 'ErratumPushItem') return assert.fail(e.kind);
  assert.equal(e.solution, 'Apply it.\nThen reboot.');
});

test('CLOUD_IMAGES: an unquoted release.date (YAML reads 20240115 as an integer) is the day its eight digits spell, as the quoted form; an integer no reading makes a date is refused, naming the field', async () => {
  const res = (type: string, date: string) => `description: d\ntype: ${type}\nregion: us-east-1\nbuild: {name: rhel-ec2, version: '9.4', respin: '1'}\nrelease: {date: ${date}}\nimages:\n- {path: x.raw, architecture: x86_64}\n`;
  const root = stage({ 'd/CLOUD_IMAGES/ami/resources.yaml': res('AMI', '20240115'), 'd/CLOUD_IMAGES/vhd/resources.yaml': res('VHD', '20240229'), 'd/CLOUD_IMAGES/quoted/resources.yaml': res('VHD', "'20240115'") });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.items.map((i) => (i.kind === 'AmiPushItem' || i.kind === 'VHDPushItem' ? [i.kind, i.origin?.split('/').pop(), i.release?.date] : [])).sort(), [
    ['AmiPushItem', 'ami', '2024-01-15'],
    ['VHDPushItem', 'quoted', '2024-01-15'],
    ['VHDPushItem', 'vhd', '2024-02-29'],
  ]);
  for (const date of ['20230229', '2024115', '202401150', '-2024011', '2024011.5', 'true']) {
    const bad = stage({ 'd/CLOUD_IMAGES/b/resources.yaml': res('VHD', date) });
    const rb = await loadStaged([`staged:${bad}`]);
    hasProblem(rb.problems, { code: 'ITEM_FIELD_INVALID', file: `${bad}/d/CLOUD_IMAGES/b/resources.yaml`, field: 'release.date', message: /can't parse .* as a date/ });
    assert.equal(rb.items.length, 0, date);
  }
});

test('what the walk skips is said: a misspelt type directory, a subdirectory of one, a broken link, a cloud image directory it cannot read', async () => {
  const resources = (type: string) => `type: ${type}\ndescription: d\nbuild: {name: rhel-ec2, version: '9', respin: '1'}\nrelease: {date: '20240115'}\nimages: [{path: a.raw, architecture: x86_64}]\n`;
  const root = stage({
    'd/RPM/a.rpm': 'rpm',
    'd/errata/e.yaml': 'e',
    'd/ERRATUM/e.yaml': 'e',
    'd/notes.txt': 'n',
    'd/RPMS/x86_64/b.rpm': 'rpm',
    'd/CGW/gone.yaml': { symlink: '/nonexistent/gone.yaml' },
    'd/CLOUD_IMAGES/lower/resources.yaml': resources('ami'),
    'd/CLOUD_IMAGES/noresources/a.raw': 'a',
    'd/CLOUD_IMAGES/loose.raw': 'a',
    'd/CLOUD_IMAGES/good/resources.yaml': resources('AMI'),
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  // The items are pushsource's: only the well-formed cloud image.
  assert.deepEqual(r.items.map((i) => [i.kind, i.name]), [['AmiPushItem', 'a.raw']]);
  const ignored = r.warnings.filter((w) => w.code === 'STAGED_ENTRY_IGNORED');
  assert.deepEqual(ignored.map((w) => w.file).sort(), [
    `${root}/d/CGW/gone.yaml`,
    `${root}/d/CLOUD_IMAGES/loose.raw`,
    `${root}/d/CLOUD_IMAGES/lower/resources.yaml`,
    `${root}/d/CLOUD_IMAGES/noresources`,
    `${root}/d/ERRATUM`,
    `${root}/d/RPM`,
    `${root}/d/RPMS/x86_64`,
    `${root}/d/errata`,
    `${root}/d/notes.txt`,
  ]);
  hasProblem(ignored, { file: `${root}/d/RPM`, message: /not a type directory \(did you mean RPMS\?\)/ });
  hasProblem(ignored, { file: `${root}/d/errata`, message: /did you mean ERRATA\?/ });
  hasProblem(ignored, { file: `${root}/d/ERRATUM`, message: /did you mean ERRATA\?/ });
  hasProblem(ignored, { file: `${root}/d/RPMS/x86_64`, message: /not read recursively/ });
  hasProblem(ignored, { file: `${root}/d/CLOUD_IMAGES/lower/resources.yaml`, field: 'type', message: /type "ami" is neither AMI nor VHD/ });
});

test('a JSON metadata file that does not parse: the line and column of the fault, the message on one line', async () => {
  // A trailing comma in a pretty-printed pub-mapfile.json: json.loads says line 11 column 9 (char 188).
  const pretty = JSON.stringify({ header: { version: '0.2' }, payload: { files: [{ relative_path: 'd/FILES/a', attributes: { description: 'x' } }] } }, null, 2).replace('"x"', '"x",');
  let root = stage({ 'pub-mapfile.json': pretty, 'd/FILES/a': 'a' });
  let r = await loadStaged([`staged:${root}`]);
  const parse = (list: typeof r.problems) => list.filter((p) => p.code === 'STAGED_METADATA_PARSE');
  assert.deepEqual(parse(r.problems).map((p) => [p.file, p.message]), [[`${root}/pub-mapfile.json`, 'invalid JSON: Expected double-quoted property name in JSON at line 11, column 9']]);
  // YAML written into pub-mapfile.json: the quoted text's line breaks are escaped.
  root = stage({ 'pub-mapfile.json': 'header:\n  version: "0.2"\n', 'd/FILES/a': 'a' });
  r = await loadStaged([`staged:${root}`]);
  const [p] = parse(r.problems);
  assert.match(p!.message, /^invalid JSON: Unexpected token 'h', "header:\\n {2}"\.\.\. is not valid JSON$/);
  assert.ok(!p!.message.includes('\n'));
});
