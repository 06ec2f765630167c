import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ExportDistributor, SKIPPED_LISTED } from '../../../src/plugins/export/distributor.js';
import { TarWriter, splitUstarPath } from '../../../src/plugins/export/tar.js';
import { DirectoryDistributor } from '../../../src/plugins/directory/distributor.js';
import { GenericImporter } from '../../../src/plugins/generic/importer.js';
import { IsoImporter } from '../../../src/plugins/iso/importer.js';
import { StagepushError } from '../../../src/errors.js';
import { FakeStore, fakeConfig } from '../../helpers/fakeconduit.js';
import { runCli, tempDir } from '../../helpers/cli.js';
import { Engine, RPMS, matrix } from '../../helpers/yum.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

async function filled(): Promise<{ store: FakeStore; repo: ReturnType<FakeStore['repo']> }> {
  const store = new FakeStore();
  const repo = store.repo('deliver', 'export_distributor');
  const c = store.importer('deliver');
  const d = tempDir();
  writeFileSync(path.join(d, 'disk.vhd'), 'VHD');
  await new GenericImporter().uploadUnit(repo, { typeId: 'vhd', unitKey: {}, metadata: { name: 'disk', build: 'b1' }, filePath: path.join(d, 'disk.vhd') }, c, fakeConfig());
  await new GenericImporter().uploadUnit(repo, { typeId: 'cgw', unitKey: {}, metadata: { name: 'defs', items: [1, 2] }, filePath: null }, c, fakeConfig());
  writeFileSync(path.join(d, 'f.iso'), 'ISO');
  await new IsoImporter().uploadUnit(repo, { typeId: 'iso', unitKey: { name: 'iso/f.iso' }, metadata: {}, filePath: path.join(d, 'f.iso') }, c, fakeConfig());
  const t = path.join(d, 'tree');
  mkdirSync(path.join(t, 'sub'), { recursive: true });
  writeFileSync(path.join(t, 'sub/file.txt'), 'TXT');
  symlinkSync('sub/file.txt', path.join(t, 'alias.txt'));
  symlinkSync('sub', path.join(t, 'subalias'));
  symlinkSync('/etc/shadow', path.join(t, 'shadow'));
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'tree' }, metadata: {}, filePath: t }, c, fakeConfig());
  return { store, repo };
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(path.join(dir, r));
    assert.ok(!st.isSymbolicLink(), `no symlinks in an export: ${r}`);
    if (st.isDirectory()) out.push(r + '/', ...walk(dir, r));
    else out.push(r);
  }
  return out;
}

test('export tree: realised copies, internal symlinks resolved, escaping ones skipped; replaced on re-export', async () => {
  const { store, repo } = await filled();
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree' }));
  const out = path.join(store.publishRoot, 'export', 'deliver');
  assert.deepEqual(rep.publishedPaths, [out]);
  assert.deepEqual(walk(out), ['alias.txt', 'iso/', 'iso/f.iso', 'sub/', 'sub/file.txt', 'subalias/', 'subalias/file.txt', 'vhd/', 'vhd/disk.vhd']);
  assert.equal(readFileSync(path.join(out, 'alias.txt'), 'utf8'), 'TXT');
  assert.equal(readFileSync(path.join(out, 'vhd/disk.vhd'), 'utf8'), 'VHD');
  const details = rep.details as { skipped: Array<{ path: string }> };
  assert.deepEqual(details.skipped.map((s) => s.path), ['shadow']);
  // Re-export into its own previous export: replaced whole.
  await new ExportDistributor().publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree', skip: 'directory', https: true }));
  assert.equal(readFileSync(path.join(store.publishRoot, 'https/deliver/vhd/disk.vhd'), 'utf8'), 'VHD', 'served at the relative_url');
  assert.deepEqual(walk(out), ['iso/', 'iso/f.iso', 'vhd/', 'vhd/disk.vhd']);
  assert.deepEqual(readdirSync(path.dirname(out)), ['deliver'], 'no temporary directories left');
  // A non-empty directory that is not ours is never replaced.
  const foreign = tempDir();
  writeFileSync(path.join(foreign, 'precious'), 'p');
  await assert.rejects(new ExportDistributor().publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree', export_dir: foreign })), (e: StagepushError) => e.code === 'FILE_EXPORT_DIR_TAKEN');
  assert.equal(readFileSync(path.join(foreign, 'precious'), 'utf8'), 'p');
});

test('export manifest: every unit with its metadata and file path, plus the files', async () => {
  const { store, repo } = await filled();
  const dest = path.join(tempDir(), 'out');
  await new ExportDistributor().publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'manifest', export_dir: dest }));
  const m = JSON.parse(readFileSync(path.join(dest, 'manifest.json'), 'utf8'));
  assert.equal(m.repo.id, 'deliver');
  const byType = new Map<string, any>(m.units.map((u: any) => [u.type, u]));
  assert.deepEqual([...byType.keys()].sort(), ['cgw', 'directory', 'iso', 'vhd']);
  assert.deepEqual(byType.get('cgw').metadata, { name: 'defs', items: [1, 2] });
  assert.equal(byType.get('cgw').file, null);
  assert.equal(byType.get('vhd').file, 'vhd/disk.vhd');
  assert.equal(byType.get('vhd').metadata.build, 'b1');
  assert.equal(byType.get('iso').file, 'iso/f.iso');
  assert.equal(byType.get('directory').metadata.manifest.length, 5);
  for (const u of m.units) if (u.file) assert.equal(sha(readFileSync(path.join(dest, u.file))), u.sha256 ?? u.unit_key.checksum);
});

test('export tar: GNU tar lists and extracts it to the same tree; long paths via pax', async () => {
  const { store, repo } = await filled();
  const dest = path.join(tempDir(), 'tarred');
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('deliver'), fakeConfig({ tar: 'true', mode: 'manifest', export_dir: dest }));
  const tarFile = path.join(dest, 'deliver.tar');
  assert.deepEqual(rep.publishedPaths, [tarFile]);
  const x = tempDir();
  const r = spawnSync('tar', ['-xf', tarFile, '-C', x], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(walk(x), ['alias.txt', 'iso/', 'iso/f.iso', 'manifest.json', 'sub/', 'sub/file.txt', 'subalias/', 'subalias/file.txt', 'vhd/', 'vhd/disk.vhd']);
  assert.equal(readFileSync(path.join(x, 'subalias/file.txt'), 'utf8'), 'TXT');

  // The writer alone: long names (ustar prefix and pax), binary content, sizes not multiple of 512.
  const d = tempDir();
  const long = 'd'.repeat(120) + '/' + 'f'.repeat(90) + '.bin';
  const veryLong = Array.from({ length: 8 }, (_, i) => `segment-${i}-${'x'.repeat(40)}`).join('/') + '/end.txt';
  assert.ok(splitUstarPath(long));
  assert.equal(splitUstarPath(veryLong), null);
  const bin = Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 256));
  writeFileSync(path.join(d, 'src.bin'), bin);
  const tf = path.join(d, 't.tar');
  const w = await TarWriter.create(tf);
  await w.addDirectory('dir');
  await w.addFile(long, path.join(d, 'src.bin'));
  await w.addBuffer(veryLong, Buffer.from('deep'));
  await w.addBuffer('dir/empty', Buffer.alloc(0));
  await w.finish();
  const list = spawnSync('tar', ['-tvf', tf], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  const out = tempDir();
  assert.equal(spawnSync('tar', ['-xf', tf, '-C', out]).status, 0);
  assert.deepEqual(readFileSync(path.join(out, long)), bin);
  assert.equal(readFileSync(path.join(out, veryLong), 'utf8'), 'deep');
  assert.ok(existsSync(path.join(out, 'dir/empty')));
  assert.equal(lstatSync(path.join(out, long)).mode & 0o777, 0o644);
});

test('export config validation names the key', () => {
  const store = new FakeStore();
  const repo = store.repo('r');
  const d = new ExportDistributor();
  const none = { repos: [] };
  assert.deepEqual(d.validateConfig(repo, fakeConfig({ mode: 'manifest', tar: true, export_dir: '/srv/x', skip: ['rpm'] }), none), { valid: true });
  for (const [cfg, re] of [
    [{ mode: 'zip' }, /"mode"/],
    [{ export_dir: 'relative/dir' }, /"export_dir" must be an absolute/],
    [{ export_dir: '/' }, /"export_dir" must not be \//],
    [{ skip: ['nope'] }, /"skip": unknown type nope/],
    [{ tar: 'y' }, /"tar"/],
    [{ relative_url: '../x' }, /"relative_url"/],
    [{ colour: 'x' }, /unknown config key "colour"/],
  ] as const) {
    const r = d.validateConfig(repo, fakeConfig(cfg as Record<string, unknown>), none);
    assert.match((r as { message: string }).message ?? '', re, JSON.stringify(cfg));
  }
  assert.match((d.validateConfig(repo, fakeConfig({ export_dir: '/srv/x' }), { repos: [{ id: 'o', pluginId: 'export_distributor', config: { export_dir: '/srv/x/' } }] }) as { message: string }).message, /overlaps \/srv\/x\/, the export directory of o/);
  // One inside another's: the outer export would replace the inner one.
  assert.match((d.validateConfig(repo, fakeConfig({ export_dir: '/srv' }), { repos: [{ id: 'o', pluginId: 'export_distributor', config: { export_dir: '/srv/x' } }] }) as { message: string }).message, /overlaps \/srv\/x, the export directory of o/);
});

test('two builds of one NEVRA (same file name, other sha256) are exported in every mode, the second as <sha256 prefix>-<file> as the yum distributor publishes it', () => {
  const eng = new Engine();
  const signed = path.join(RPMS, matrix().install['hello-1.1']!.file);
  const unsigned = path.join(tempDir(), path.basename(signed));
  cpSync(signed, unsigned);
  assert.equal(spawnSync('rpmsign', ['--delsign', unsigned]).status, 0);
  const shas = [sha(readFileSync(signed)), sha(readFileSync(unsigned))];
  assert.notEqual(shas[0], shas[1]);
  eng.run(['repo', 'create', 'two', '--importer', 'yum_importer']);
  eng.run(['repo', 'distributor', 'add', 'two', 'yum_distributor', '--id', 'yum']);
  const out = tempDir();
  for (const [id, ...cfg] of [['tree', 'mode=tree'], ['manifest', 'mode=manifest'], ['tar', 'mode=manifest', 'tar=true']] as const) {
    eng.run(['repo', 'distributor', 'add', 'two', 'export_distributor', '--id', id, '--distributor-config', `export_dir=${path.join(out, id)}`, ...cfg.flatMap((c) => ['--distributor-config', c])]);
  }
  eng.run(['content', 'upload', '--repo', 'two', signed, unsigned]);
  eng.run(['repo', 'publish', 'two']);
  // The yum distributor's names: the plain file name, and <sha256 prefix>-<file> for the other build.
  const published = readdirSync(path.join(eng.publishRoot, 'http', 'two', 'Packages', 'h')).sort();
  assert.equal(published.length, 2);
  assert.ok(published.includes(path.basename(signed)));
  const bySha = (dir: string, names: string[]) => new Map(names.map((n) => [sha(readFileSync(path.join(dir, n))), n]));
  const yum = bySha(path.join(eng.publishRoot, 'http', 'two', 'Packages', 'h'), published);
  assert.deepEqual([...yum.keys()].sort(), [...shas].sort());
  const renamed = [...yum.values()].find((n) => n !== path.basename(signed))!;
  assert.match(renamed, /^[0-9a-f]{12}-hello-1\.1-1\.noarch\.rpm$/);
  // tree: the same two names, each holding the build the yum repository serves under it.
  assert.deepEqual(bySha(path.join(out, 'tree'), walk(path.join(out, 'tree'))), yum);
  // manifest: each unit's file is where its content is.
  const m = JSON.parse(readFileSync(path.join(out, 'manifest', 'manifest.json'), 'utf8'));
  const files = m.units.map((u: any) => u.file).sort();
  assert.deepEqual(files, published);
  for (const u of m.units) assert.equal(sha(readFileSync(path.join(out, 'manifest', u.file))), u.unit_key.checksum, u.file);
  // tar: the same files and manifest.
  const x = tempDir();
  assert.equal(spawnSync('tar', ['-xf', path.join(out, 'tar', 'two.tar'), '-C', x]).status, 0);
  assert.deepEqual(walk(x), ['manifest.json', ...published].sort());
  assert.deepEqual(bySha(x, published), yum);
});

test('an export served over http moved to another export_dir: its link switches to the new directory, also after a publish that failed once the new export was in place; removing the distributor removes the link', async () => {
  const { store, repo } = await filled();
  const d = tempDir();
  const [a, b] = [path.join(d, 'a'), path.join(d, 'b')];
  const link = path.join(store.publishRoot, 'http', 'deliver');
  const dist = new ExportDistributor();
  await dist.publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree', export_dir: a, http: true }));
  assert.equal(realpathSync(link), realpathSync(a));
  // The move fails after the new export is in place (another distributor took the relative_url meanwhile).
  store.otherUrls = { 'other/yum': 'deliver' };
  await assert.rejects(dist.publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree', export_dir: b, http: true })), (e: StagepushError) => e.code === 'PUBLISH_RELATIVE_URL_CONFLICT');
  assert.ok(existsSync(path.join(b, 'vhd/disk.vhd')));
  assert.equal(realpathSync(link), realpathSync(a), 'the link still leads to the old export');
  store.otherUrls = {};
  const rep = await dist.publishRepo(repo, store.publisher('deliver'), fakeConfig({ mode: 'tree', export_dir: b, http: true }));
  assert.deepEqual(rep.publishedPaths, [b, link]);
  assert.equal(realpathSync(link), realpathSync(b));
  assert.equal(readFileSync(path.join(link, 'vhd/disk.vhd'), 'utf8'), 'VHD');
  await dist.distributorRemoved(repo);
  assert.equal(lstatSync(link, { throwIfNoEntry: false }), undefined, 'the link removed');
  assert.ok(!existsSync(b), 'the export removed');
});

test('export tree of a RAW tree with symlink loops (a/x -> ../a, a link back to a directory being copied): each loop is skipped as dangling or looping, listed in the report; other links to directories are copied', async () => {
  const store = new FakeStore();
  const repo = store.repo('loops', 'export_distributor');
  const t = path.join(tempDir(), 'tree');
  mkdirSync(path.join(t, 'a'), { recursive: true });
  mkdirSync(path.join(t, 'b'));
  mkdirSync(path.join(t, 'c'));
  writeFileSync(path.join(t, 'a', 'f'), 'A');
  writeFileSync(path.join(t, 'b', 'g'), 'B');
  writeFileSync(path.join(t, 'c', 'h'), 'C');
  for (const n of ['x', 'y', 'z']) symlinkSync('../a', path.join(t, 'a', n));
  // b and c: each links to the other (a loop of two), and c is also reached from the top.
  symlinkSync('../c', path.join(t, 'b', 'toc'));
  symlinkSync('../b', path.join(t, 'c', 'tob'));
  symlinkSync('c', path.join(t, 'cc'));
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'tree' }, metadata: {}, filePath: t }, store.importer('loops'), fakeConfig());
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('loops'), fakeConfig({ mode: 'tree' }));
  const out = path.join(store.publishRoot, 'export', 'loops');
  assert.deepEqual(walk(out), ['a/', 'a/f', 'b/', 'b/g', 'b/toc/', 'b/toc/h', 'c/', 'c/h', 'c/tob/', 'c/tob/g', 'cc/', 'cc/h', 'cc/tob/', 'cc/tob/g']);
  const details = rep.details as { skipped: Array<{ path: string; target: string; reason: string }> };
  assert.deepEqual(details.skipped.map((s) => `${s.path} -> ${s.target}: ${s.reason}`).sort(), [
    'a/x -> ../a: dangling or looping',
    'a/y -> ../a: dangling or looping',
    'a/z -> ../a: dangling or looping',
    'b/toc/tob -> ../b: dangling or looping',
    'c/tob/toc -> ../c: dangling or looping',
    'cc/tob/toc -> ../c: dangling or looping',
  ]);
});

test('export tree: a link to a directory copies its whole tree however deep it is; links followed inside linked copies stop after 8, each stop listed in the report', async () => {
  const store = new FakeStore();
  const repo = store.repo('deep', 'export_distributor');
  const t = path.join(tempDir(), 'tree');
  // A tree 12 levels deep, reached through `latest`.
  const deep = ['real', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];
  mkdirSync(path.join(t, ...deep), { recursive: true });
  writeFileSync(path.join(t, ...deep, 'bottom'), 'deep');
  symlinkSync('real', path.join(t, 'latest'));
  // A chain of links to directories, each inside the one before: n0/next -> ../n1, n1/next -> ../n2, …
  for (let i = 0; i <= 10; i++) {
    mkdirSync(path.join(t, `n${i}`));
    writeFileSync(path.join(t, `n${i}`, 'f'), String(i));
    if (i < 10) symlinkSync(`../n${i + 1}`, path.join(t, `n${i}`, 'next'));
  }
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'tree' }, metadata: {}, filePath: t }, store.importer('deep'), fakeConfig());
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('deep'), fakeConfig({ mode: 'tree' }));
  const out = path.join(store.publishRoot, 'export', 'deep');
  assert.equal(readFileSync(path.join(out, 'latest', ...deep.slice(1), 'bottom'), 'utf8'), 'deep');
  // From n0: eight links followed (n0/next/…/next/f is n8's file), the ninth listed, not followed.
  const chain = (k: number) => ['n0', ...Array<string>(k).fill('next')];
  assert.equal(readFileSync(path.join(out, ...chain(8), 'f'), 'utf8'), '8');
  assert.equal(existsSync(path.join(out, ...chain(9))), false);
  const details = rep.details as { skipped: Array<{ path: string; target: string; reason: string }> };
  assert.ok(
    details.skipped.some((s) => s.path === chain(9).join('/') && s.reason === 'more than 8 links to directories nested'),
    JSON.stringify(details.skipped),
  );
  assert.ok(details.skipped.every((s) => s.reason === 'more than 8 links to directories nested'), JSON.stringify(details.skipped));
});

test('export tree and tar hold what the kernel reads through the published tree (find -L): a link through another in-tree link (images -> latest/images, latest -> 9.4) and one with a trailing slash (current -> 9.4/) are copied, not skipped', async () => {
  const store = new FakeStore();
  const t = path.join(tempDir(), 'ks');
  mkdirSync(path.join(t, '9.4', 'images', 'pxeboot'), { recursive: true });
  writeFileSync(path.join(t, '9.4', 'images', 'pxeboot', 'vmlinuz'), 'KERNEL');
  writeFileSync(path.join(t, '9.4', '.treeinfo'), 'TREEINFO');
  symlinkSync('9.4', path.join(t, 'latest'));
  symlinkSync('latest/images', path.join(t, 'images'));
  symlinkSync('latest/.treeinfo', path.join(t, 'treeinfo'));
  symlinkSync('9.4/', path.join(t, 'current'));
  const repo = store.repo('ks', 'export_distributor');
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'ks' }, metadata: {}, filePath: t }, store.importer('ks'), fakeConfig());
  // The kernel's view: the same tree published by the directory distributor, read with find -L.
  await new DirectoryDistributor().publishRepo(store.repo('ks', 'directory_distributor'), store.publisher('ks'), fakeConfig({ relative_url: 'ks' }));
  const published = path.join(store.publishRoot, 'http', 'ks');
  const found = spawnSync('find', ['-L', published, '-mindepth', '1', '-printf', '%P\\t%Y\\n'], { encoding: 'utf8' });
  assert.equal(found.status, 0, found.stderr);
  const kernel = found.stdout.trim().split('\n').map((l) => l.split('\t')).map(([p, y]) => (y === 'd' ? `${p}/` : p!)).sort();
  assert.ok(kernel.includes('images/pxeboot/vmlinuz') && kernel.includes('current/images/pxeboot/vmlinuz') && kernel.includes('treeinfo'), kernel.join(' '));
  const same = (dir: string) => {
    assert.deepEqual(walk(dir).sort(), kernel);
    for (const f of kernel.filter((p) => !p.endsWith('/'))) assert.equal(readFileSync(path.join(dir, f), 'utf8'), readFileSync(path.join(published, f), 'utf8'), f);
  };
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('ks'), fakeConfig({ mode: 'tree', relative_url: 'ks-export' }));
  assert.deepEqual((rep.details as { skipped: unknown[] }).skipped, []);
  same(path.join(store.publishRoot, 'export', 'ks-export'));
  const dest = path.join(tempDir(), 'tarred');
  const tarRep = await new ExportDistributor().publishRepo(repo, store.publisher('ks'), fakeConfig({ mode: 'tree', tar: true, export_dir: dest }));
  assert.deepEqual((tarRep.details as { skipped: unknown[] }).skipped, []);
  const x = tempDir();
  const r = spawnSync('tar', ['-xf', path.join(dest, 'ks.tar'), '-C', x], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  same(x);
});

test('the symlinks an export skips are listed in what the engine records and shows (repo publish --json, task show, the push report), the first 100 with the number of the others', () => {
  const work = tempDir();
  const t = path.join(work, 'area', 'raw', 'RAW');
  mkdirSync(t, { recursive: true });
  writeFileSync(path.join(t, 'ok.txt'), 'ok');
  const n = SKIPPED_LISTED + 3;
  for (let i = 0; i < n; i++) symlinkSync(`/etc/out-${String(i).padStart(3, '0')}`, path.join(t, `l${String(i).padStart(3, '0')}`));
  const check = (report: { skipped_symlinks: number; skipped: Array<{ path: string; target: string; reason: string }>; skipped_not_listed: number }, what: string) => {
    assert.equal(report.skipped_symlinks, n, what);
    assert.equal(report.skipped.length, SKIPPED_LISTED, what);
    assert.deepEqual(report.skipped[0], { path: 'l000', target: '/etc/out-000', reason: 'points outside the tree' }, what);
    assert.equal(report.skipped_not_listed, 3, what);
  };
  const eng = new Engine();
  eng.run(['repo', 'create', 'raw', '--importer', 'generic_importer']);
  eng.run(['repo', 'distributor', 'add', 'raw', 'export_distributor', '--id', 'ex', '--distributor-config', 'mode=tree']);
  eng.run(['content', 'upload', '--repo', 'raw', '--type', 'directory', t]);
  const out = eng.json<Array<{ taskId: string; report: Parameters<typeof check>[0] }>>(['repo', 'publish', 'raw']);
  check(out[0]!.report, 'repo publish --json');
  check(eng.json<{ result: { report: Parameters<typeof check>[0] } }>(['task', 'show', out[0]!.taskId]).result.report, 'task show');
  // A push publishing the same tree through its export distributor.
  const config = path.join(work, 'cfg.yaml');
  writeFileSync(config, `data_dir: ${path.join(work, 'data')}\nrepositories:\n  raw: {type: directory, destinations: [raw], distributors: [{type_id: export_distributor, config: {mode: tree}}]}\n`);
  const r = runCli(['--config', config, 'push', '--json', path.join(work, 'area')]);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { repositories: Array<{ distributors: Array<{ type_id: string; report: Parameters<typeof check>[0] }> }> };
  check(rep.repositories[0]!.distributors.find((d) => d.type_id === 'export_distributor')!.report, 'push report');
});

test('export tree: a link going on through a file (boot.img/.., boot.img/) leads nowhere, as the kernel says (ENOTDIR): skipped and listed, not copied as the directory above the file', async () => {
  const store = new FakeStore();
  const repo = store.repo('notdir', 'export_distributor');
  const t = path.join(tempDir(), 'tree');
  mkdirSync(path.join(t, '9.4', 'images'), { recursive: true });
  writeFileSync(path.join(t, '9.4', 'images', 'boot.img'), 'img');
  symlinkSync('9.4/images/boot.img/..', path.join(t, 'odd'));
  symlinkSync('9.4/images/boot.img/', path.join(t, 'slash'));
  symlinkSync('9.4/images/boot.img', path.join(t, 'fine'));
  for (const l of ['odd', 'slash']) assert.throws(() => readFileSync(path.join(t, l, 'boot.img')), /ENOTDIR/, `the kernel: ${l}`);
  await new GenericImporter().uploadUnit(repo, { typeId: 'directory', unitKey: { name: 'tree' }, metadata: {}, filePath: t }, store.importer('notdir'), fakeConfig());
  const rep = await new ExportDistributor().publishRepo(repo, store.publisher('notdir'), fakeConfig({ mode: 'tree' }));
  const out = path.join(store.publishRoot, 'export', 'notdir');
  assert.equal(readFileSync(path.join(out, 'fine'), 'utf8'), 'img');
  assert.equal(existsSync(path.join(out, 'odd')), false);
  assert.equal(existsSync(path.join(out, 'slash')), false);
  const details = rep.details as { skipped: Array<{ path: string; reason: string }> };
  assert.deepEqual(details.skipped.map((s) => `${s.path}: ${s.reason}`).sort(), ['odd: dangling or looping', 'slash: dangling or looping']);
});

test('the build directory and the moved-aside export a killed publish left beside export_dir are removed by the next publish; other names there stay', () => {
  const eng = new Engine();
  eng.run(['repo', 'create', 'ex', '--importer', 'yum_importer']);
  const out = tempDir();
  const exportDir = path.join(out, 'ex');
  eng.run(['repo', 'distributor', 'add', 'ex', 'export_distributor', '--id', 'tar', '--distributor-config', `export_dir=${exportDir}`, '--distributor-config', 'tar=true']);
  eng.run(['content', 'upload', '--repo', 'ex', path.join(RPMS, matrix().install['hello-1.1']!.file)]);
  eng.run(['repo', 'publish', 'ex']);
  // What a publish SIGKILLed while writing its tar (.ex.tmp-*), or between its two renames
  // (.ex.old-*), leaves; and names that are not such leftovers.
  const left = ['.ex.tmp-0a1b2c3d', '.ex.old-deadbeef'];
  const others = ['.ex.tmp-keep', '.exx.tmp-0a1b2c3d', 'ex.tmp-0a1b2c3d'];
  for (const n of [...left, ...others]) {
    mkdirSync(path.join(out, n));
    writeFileSync(path.join(out, n, 'ex.tar'), 'partial');
  }
  eng.run(['repo', 'publish', 'ex', '--force']);
  assert.deepEqual(readdirSync(out).sort(), ['ex', ...others].sort());
  assert.ok(existsSync(path.join(exportDir, 'ex.tar')));
});
