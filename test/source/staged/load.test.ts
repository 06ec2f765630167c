import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadStaged, type LoadResult } from '../../../src/source/staged/index.js';
import { TYPE_DIRS } from '../../../src/source/staged/walk.js';
import { toPushsourceShape } from '../../../src/items/shape.js';
import { tempDir } from '../../helpers/cli.js';
import { AMI_ATTRS, ERRATUM, productCert, stage, stagedYaml } from '../../helpers/staged.js';
import { RPMS as RPMS_DIR } from '../../helpers/push.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function shapes(r: LoadResult) {
  return r.items.map(toPushsourceShape);
}


test('a full layout: every type, exact values, deterministic order, nothing written', async () => {
  const cwd = tempDir();
  const root = stage({
    'dest1/FILES/file1.txt': 'hello\n',
    'dest1/ISOS/boot.iso': 'iso',
    'dest1/COMPS/comps.xml': '<comps/>',
    'dest1/MODULEMD/modules.yaml': '---\n',
    'dest1/CGW/cgw.yaml': '- type: product\n',
    'dest1/ERRATA/advisory.json': JSON.stringify(ERRATUM),
    'dest1/AWS_IMAGES/fake-image.raw': 'snap',
    'dest1/RAW/tree/a': 'a',
    'dest1/UNKNOWN/x': 'ignored',
    'dest1/files/y': 'ignored lowercase',
    'dest1/loose.txt': 'ignored',
    'dest1/DOCKER/x.tar': 'docker',
    'dest1/CHANNEL_DUMPS/y.iso': 'dump',
    'dest1/FILES/subdir/z': 'subdirs in type dirs are ignored',
    'dest1/COMPS/broken.xml': { symlink: '/nonexistent/target' },
    'logs/x.log': 'ignored',
    'toplevel.txt': 'ignored',
    'staged.yaml': stagedYaml([
      { relative_path: 'dest1/FILES/file1.txt', filename: 'renamed.txt', sha256sum: sha256('hello\n').toUpperCase(), version: '1.0', order: 3.5, attributes: { description: 'My file' } },
      { relative_path: 'dest1/ISOS/boot.iso', attributes: { description: '' } },
      { relative_path: 'dest1/AWS_IMAGES/fake-image.raw', attributes: { ...AMI_ATTRS, marketplace_title_template: 'RHEL {version}' } },
      { relative_path: 'dest1/FILES/not-there.txt', attributes: { description: 'metadata for a missing file is ignored' } },
      { relative_path: 'dest1/DOCKER/x.tar', anything: ['goes'] },
    ]),
  });
  const prodDir = path.join(root, 'dest1', 'PRODUCTID');
  stage({ 'dest1/PRODUCTID': { dir: true } }, root);
  const cert = productCert(cwd, { '1.3.6.1.4.1.2312.9.1.69.1': 'Red Hat Enterprise Linux Server', '1.3.6.1.4.1.2312.9.1.69.2': '6.10', '1.3.6.1.4.1.2312.9.1.69.3': 'x86_64', '1.3.6.1.4.1.2312.9.1.69.4': 'rhel-6,rhel-6-server' });
  writeFileSync(path.join(prodDir, 'cert.pem'), readFileSync(cert));
  const before = readdirSync(cwd).sort();
  const prevCwd = process.cwd();
  process.chdir(cwd);
  let r: LoadResult;
  try {
    r = await loadStaged([`staged:${root}/`]);
  } finally {
    process.chdir(prevCwd);
  }
  assert.deepEqual(readdirSync(cwd).sort(), before, 'nothing written in the working directory (no artifacts/)');
  assert.deepEqual(r.problems, []);
  const top = `${root}/`;
  assert.deepEqual(
    r.warnings.map((w) => w.message),
    [
      // What pushsource skips silently is said, items unchanged (a misspelt type directory would leave its content out).
      `${top}dest1/UNKNOWN is ignored: not a type directory; type directories are ${TYPE_DIRS.join(', ')}`,
      `${top}dest1/files is ignored: not a type directory (did you mean FILES?); type directories are ${TYPE_DIRS.join(', ')}`,
      `${top}dest1/loose.txt is ignored: not a type directory; type directories are ${TYPE_DIRS.join(', ')}`,
      `${top}dest1/FILES/subdir is ignored: a subdirectory of ${top}dest1/FILES, which is not read recursively`,
      `${top}dest1/COMPS/broken.xml is ignored: a broken symbolic link`,
      `Unsupported content found: ${top}dest1/DOCKER/x.tar`,
      `Unsupported content found: ${top}dest1/CHANNEL_DUMPS/y.iso`,
      // pushsource ignores an entry naming no file silently; it is said (a warning, nothing refused).
      'staged.yaml lists dest1/FILES/not-there.txt, which does not exist (the entry is ignored)',
    ],
  );
  assert.deepEqual(
    r.items.map((i) => [i.kind, i.name]),
    [
      ['ErratumPushItem', 'RHSA-2020:0509'],
      ['FilePushItem', 'boot.iso'],
      ['FilePushItem', 'renamed.txt'],
      ['CompsXmlPushItem', 'comps.xml'],
      ['ModuleMdPushItem', 'modules.yaml'],
      ['ProductIdPushItem', 'cert.pem'],
      ['CGWPushItem', 'cgw.yaml'],
      ['AmiPushItem', 'fake-image.raw'],
      ['DirectoryPushItem', 'dest1'],
    ],
  );
  assert.deepEqual(r.sources, [{ url: `staged:${top}`, dirs: [top], metadataFiles: [`${top}staged.yaml`], metadataFile: `${top}staged.yaml` }]);
  const byName = new Map(r.items.map((i) => [i.name, i]));
  assert.deepEqual(toPushsourceShape(byName.get('renamed.txt')!), {
    FilePushItem: {
      name: 'renamed.txt',
      state: 'PENDING',
      src: `${top}dest1/FILES/file1.txt`,
      dest: ['dest1'],
      md5sum: null,
      sha256sum: sha256('hello\n'),
      origin: top,
      build: null,
      build_info: null,
      signing_key: null,
      description: 'My file',
      version: '1.0',
      display_order: 3.5,
    },
  });
  assert.equal(byName.get('boot.iso')!.src, `${top}dest1/ISOS/boot.iso`);
  assert.deepEqual(toPushsourceShape(byName.get('dest1')!).DirectoryPushItem, {
    name: 'dest1', state: 'PENDING', src: `${top}dest1/RAW`, dest: ['dest1'], md5sum: null, sha256sum: null, origin: null, build: null, build_info: null, signing_key: null,
  });
  const e = byName.get('RHSA-2020:0509')!;
  assert.equal(e.kind, 'ErratumPushItem');
  if (e.kind === 'ErratumPushItem') {
    assert.equal(e.type, 'security');
    assert.equal(e.release, '0');
    assert.equal(e.pushcount, '3');
    assert.equal(e.version, '3');
    assert.deepEqual(e.dest, ['dest1']);
    assert.equal(e.src, `${top}dest1/ERRATA/advisory.json`);
    assert.deepEqual(e.references[1], { href: 'https://bugzilla.redhat.com/show_bug.cgi?id=1796944', id: '1796944', title: 'CVE-2019-18634', type: 'bugzilla' });
    assert.equal(e.pkglist.length, 1, 'the empty collection is dropped');
    assert.equal(e.pkglist[0]!.packages[0]!.arch, 'SRPMS');
    assert.equal(e.pkglist[0]!.packages[0]!.md5sum, 'f94ab3724b498e3feab643fe2a67c9c0');
    assert.equal(e.pkglist[0]!.packages[0]!.sha256sum, '10d7724302a60d0d2ca890fc7834b8143df55ba1ce0176469ea634ac4ab7aa28');
    assert.equal(e.pkglist[0]!.packages[0]!.epoch, '0');
  }
  const ami = byName.get('fake-image.raw')!;
  if (ami.kind !== 'AmiPushItem') assert.fail('AMI');
  assert.deepEqual(ami.release, { product: 'Fake-Product', date: '2020-05-11', arch: 'x86_64', respin: 1, version: 'Fake-Version', base_product: null, base_version: null, variant: 'Fake-Variant', type: 'ga' });
  assert.deepEqual(ami.billing_codes, { name: 'FakeBcName', codes: ['bp-1234', 'bp-abcd'] });
  assert.equal(ami.type, 'access');
  assert.equal(ami.scanning_port, 1244);
  assert.equal(ami.sriov_net_support, 'simple');
  assert.equal(ami.marketplace_title_template, 'RHEL {version}');
  assert.equal(ami.sha256sum, null);
  assert.deepEqual(ami.security_groups, AMI_ATTRS.security_groups);
  const pid = byName.get('cert.pem')!;
  if (pid.kind !== 'ProductIdPushItem') assert.fail('productid');
  assert.deepEqual(pid.products, [{ id: 69, name: 'Red Hat Enterprise Linux Server', version: '6.10', architecture: ['x86_64'], provided_tags: ['rhel-6', 'rhel-6-server'] }]);
});

test('checksums: md5 and sha256 in one pass, events, and the checksum cache keyed by stat', async () => {
  const root = stage({ 'staged.yaml': stagedYaml([{ relative_path: 'd/FILES/a', attributes: { description: 'a' } }]), 'd/FILES/a': 'aaa', 'd/COMPS/c.xml': 'ccc', 'd/RAW/x': 'x' });
  const cache = new Map<string, { md5?: string; sha256?: string }>();
  const stats: Array<{ dev: number; ino: number; size: number; mtimeMs: number }> = [];
  const checksumCache = {
    get: (p: string, st: { dev: number; ino: number; size: number; mtimeMs: number }) => cache.get(`${p}:${st.ino}:${st.size}:${st.mtimeMs}`),
    set: (p: string, st: { dev: number; ino: number; size: number; mtimeMs: number }, sums: { md5?: string; sha256?: string }) => {
      stats.push(st);
      cache.set(`${p}:${st.ino}:${st.size}:${st.mtimeMs}`, sums);
    },
  };
  const events: string[] = [];
  const r1 = await loadStaged([`staged:${root}`], { checksums: ['md5', 'sha256'], checksumCache, events: (e) => events.push(`${e.type}:${'phase' in e ? e.phase : ''}`) });
  assert.deepEqual(r1.problems, []);
  assert.deepEqual(
    shapes(r1).map((s) => Object.values(s)[0]).map((f) => [f.name, f.md5sum, f.sha256sum]),
    [
      ['a', md5('aaa'), sha256('aaa')],
      ['c.xml', md5('ccc'), sha256('ccc')],
      ['d', null, null],
    ],
  );
  assert.equal(stats.length, 2);
  assert.equal(stats[0]!.size, 3);
  assert.ok(events.includes('phase-start:checksum') && events.includes('phase-end:checksum') && events.includes('phase-end:load'), events.join(' '));
  // a second run takes the sums from the cache (here: altered, to prove they were used)
  for (const [k, v] of cache) cache.set(k, { ...v, md5: 'f'.repeat(32) });
  const r2 = await loadStaged([`staged:${root}`], { checksums: ['md5'], checksumCache });
  assert.deepEqual(r2.items.map((i) => i.md5sum), ['f'.repeat(32), 'f'.repeat(32), null]);
  // the item without a staged sha256sum gets only the asked md5
  assert.equal(r2.items[1]!.sha256sum, null);
});

test('a cached sha256 that contradicts the staged sha256sum is not believed: the file is hashed again, and refused only when its content differs', async () => {
  const root = stage({
    'staged.yaml': stagedYaml([
      { relative_path: 'd/FILES/a', sha256sum: sha256('aaa'), attributes: { description: '' } },
      { relative_path: 'd/FILES/b', sha256sum: sha256('bbb'), attributes: { description: '' } },
    ]),
    'd/FILES/a': 'aaa',
    'd/FILES/b': 'not bbb',
  });
  // The cache holds a stale digest for both (a file replaced under the identity it was hashed with).
  const set = new Map<string, { md5?: string; sha256?: string }>();
  const checksumCache = { get: () => ({ sha256: 'e'.repeat(64), md5: 'f'.repeat(32) }), set: (p: string, _st: unknown, sums: { md5?: string; sha256?: string }) => void set.set(path.basename(p), sums) };
  const r = await loadStaged([`staged:${root}`], { checksums: ['md5'], checksumCache });
  // a: hashed again, it matches its staged sum; its md5 is its own, not the cached one.
  assert.deepEqual(r.items.map((i) => [i.name, i.sha256sum, i.md5sum]), [['a', sha256('aaa'), md5('aaa')]]);
  assert.deepEqual(set.get('a'), { sha256: sha256('aaa'), md5: md5('aaa') });
  // b: hashed again, its content does not match: refused, naming the digest of its content.
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.code, 'STAGED_CHECKSUM_MISMATCH');
  assert.equal(r.problems[0]!.entry, 'd/FILES/b');
  assert.equal(r.problems[0]!.file, `${root}/staged.yaml`);
  assert.match(r.problems[0]!.message, new RegExp(`does not match its content \\(${sha256('not bbb')}\\)`));
  assert.equal(set.has('b'), false, 'a refused file leaves the cache as it was');
});

test('a staged.yaml sha256sum is verified whatever the type it names: an RPM, an AWS image (refused on mismatch, kept when it matches)', async () => {
  const rpm = readFileSync(path.join(RPMS_DIR, 'demo-hello-1.0-1.noarch.rpm'));
  const root = stage({
    'staged.yaml': stagedYaml([
      { relative_path: 'd/RPMS/demo-hello-1.0-1.noarch.rpm', sha256sum: 'cd'.repeat(32) },
      { relative_path: 'd/RPMS/ok-1.0-1.noarch.rpm', sha256sum: createHash('sha256').update(rpm).digest('hex').toUpperCase() },
      { relative_path: 'd/AWS_IMAGES/x.raw', sha256sum: '0'.repeat(64), attributes: AMI_ATTRS },
    ]),
    'd/RPMS/demo-hello-1.0-1.noarch.rpm': rpm,
    'd/RPMS/ok-1.0-1.noarch.rpm': rpm,
    'd/AWS_IMAGES/x.raw': 'img\n',
  });
  const r = await loadStaged([`staged:${root}`], { checksums: ['sha256'] });
  assert.deepEqual(r.problems.map((p) => `${p.code} ${p.file} ${p.entry} ${p.field}`).sort(), [
    `STAGED_CHECKSUM_MISMATCH ${root}/staged.yaml d/AWS_IMAGES/x.raw sha256sum`,
    `STAGED_CHECKSUM_MISMATCH ${root}/staged.yaml d/RPMS/demo-hello-1.0-1.noarch.rpm sha256sum`,
  ]);
  assert.deepEqual(r.items.map((i) => i.name), ['ok-1.0-1.noarch.rpm']);
});

test('an AMI release type is any non-empty string or null, as pushsource accepts it (its schema\'s enum sits beside a $ref, which draft-07 ignores)', async () => {
  const root = stage({
    'staged.yaml': stagedYaml(
      ['rc', 'GA', null].map((type, i) => ({ relative_path: `d/AWS_IMAGES/x${i}.raw`, attributes: { ...AMI_ATTRS, release: { ...AMI_ATTRS.release, type } } })),
    ),
    'd/AWS_IMAGES/x0.raw': 'a\n',
    'd/AWS_IMAGES/x1.raw': 'b\n',
    'd/AWS_IMAGES/x2.raw': 'c\n',
  });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.items.map((i) => (i.kind === 'AmiPushItem' ? i.release?.type : 'not an AMI')), ['rc', 'GA', null]);
  // An empty string is still refused (optional_string: minLength 1).
  const bad = stage({ 'staged.yaml': stagedYaml([{ relative_path: 'd/AWS_IMAGES/x.raw', attributes: { ...AMI_ATTRS, release: { ...AMI_ATTRS.release, type: '' } } }]), 'd/AWS_IMAGES/x.raw': 'a\n' });
  assert.equal((await loadStaged([`staged:${bad}`])).problems.length, 1);
});

test('integers beyond 2^53 keep every digit, as Python keeps them (int2str fields), in YAML and JSON errata; one where an integer is required is refused, naming it', async () => {
  const yamlText = `${Object.entries({ ...ERRATUM, pushcount: undefined, references: undefined }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\npushcount: 12345678901234567891\nreferences:\n- {href: "https://i/1", id: 98765432109876543210, title: t, type: jira}\n`;
  const jsonText = JSON.stringify({ ...ERRATUM, pushcount: 0, references: [{ href: 'https://i/1', id: 0, title: 't', type: 'jira' }] }).replace('"pushcount":0', '"pushcount":12345678901234567891').replace('"id":0', '"id":98765432109876543210');
  const root = stage({ 'd/ERRATA/a.yaml': yamlText, 'e/ERRATA/b.json': jsonText });
  const r = await loadStaged([`staged:${root}`]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.items.length, 2);
  for (const e of r.items) {
    if (e.kind !== 'ErratumPushItem') assert.fail(e.kind);
    assert.equal(e.pushcount, '12345678901234567891', e.src ?? '');
    assert.equal(e.references[0]!.id, '98765432109876543210', e.src ?? '');
  }
  const bad = stage({
    'staged.yaml': stagedYaml([{ relative_path: 'd/AWS_IMAGES/x.raw', attributes: { ...AMI_ATTRS, release: { ...AMI_ATTRS.release, respin: 0 } } }]).replace('"respin": 0', '"respin": 12345678901234567891'),
    'd/AWS_IMAGES/x.raw': 'a\n',
  });
  const rb = await loadStaged([`staged:${bad}`]);
  const parse = rb.problems.find((p) => p.code === 'STAGED_METADATA_PARSE');
  assert.match(parse?.message ?? JSON.stringify(rb.problems), /12345678901234567891 at payload\.files\[0\]\.attributes\.release\.respin is beyond 2\^53/);
  // Where a string is required, staged.yaml's big integer is refused too (as pushsource's schema refuses a number there), not turned into digits.
  const str = stage({ 'staged.yaml': 'header: {version: "0.2"}\npayload:\n  files:\n  - relative_path: d/FILES/a.txt\n    version: 12345678901234567891\n    attributes: {description: x}\n', 'd/FILES/a.txt': 'a\n' });
  const rs = await loadStaged([`staged:${str}`]);
  assert.equal(rs.items.length, 0);
  assert.ok(rs.problems.some((p) => p.code === 'STAGED_METADATA_PARSE' && /version is beyond 2\^53/.test(p.message)), JSON.stringify(rs.problems));
});
