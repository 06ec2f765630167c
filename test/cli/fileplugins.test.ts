/**
 * File, RAW, generic and export plugins end to end through the CLI (each effect checked from a
 * fresh process or on disk), and `stagepush serve` over the published trees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { engineEnv, type EngineEnv } from '../helpers/engine.js';
import { rawRequest, startServeCli } from '../helpers/serve.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

function ok(r: { status: number | null; stderr: string; stdout?: string }, what: string): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

function files(dir: string, map: Record<string, string | Buffer>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(map).map(([n, t]) => {
    writeFileSync(path.join(dir, n), t);
    return path.join(dir, n);
  });
}

/** Parse PULP_MANIFEST and check every listed file of `dir` against it. */
function checkManifest(dir: string): Map<string, { sha256: string; size: number }> {
  const m = new Map<string, { sha256: string; size: number }>();
  for (const line of readFileSync(path.join(dir, 'PULP_MANIFEST'), 'utf8').split('\n').filter(Boolean)) {
    const [name, s, size] = line.split(',') as [string, string, string];
    const data = readFileSync(path.join(dir, name));
    assert.equal(sha(data), s, `${dir}/${name}: sha256`);
    assert.equal(data.length, Number(size), `${dir}/${name}: size`);
    m.set(name, { sha256: s, size: Number(size) });
  }
  return m;
}

function fileRepo(e: EngineEnv, id: string, distConfig: string[] = []): void {
  ok(e.cli(['repo', 'create', id, '--importer', 'iso_importer']), 'create');
  ok(e.cli(['repo', 'distributor', 'add', id, 'iso_distributor', ...distConfig.flatMap((c) => ['--distributor-config', c])]), 'distributor add');
}

test('file repository: upload, publish (PULP_MANIFEST, URLs), same-name replace, atomic republish, conflicts, serve', async () => {
  const e = engineEnv({ plugin: false });
  const env = { STAGEPUSH_BASE_URL_HTTP: 'http://pub.example.com/pub' };
  fileRepo(e, 'isos', ['relative_url=content/isos', 'https=true']);
  const src = path.join(e.root, 'src');
  const paths = files(src, { 'a.iso': 'alpha', 'b.iso': Buffer.alloc(70_000, 7), 'c.iso': '' });
  ok(e.cli(['content', 'upload', '--repo', 'isos', '--type', 'iso', ...paths]), 'upload');
  const pub = e.json(['repo', 'publish', 'isos'], env);
  ok(pub, 'publish');
  const httpDir = path.join(e.dataDir, 'published', 'http', 'content', 'isos');
  const httpsDir = path.join(e.dataDir, 'published', 'https', 'content', 'isos');
  assert.deepEqual(pub.out[0].publishedPaths, [httpDir, httpsDir]);
  assert.deepEqual(pub.out[0].urls, ['http://pub.example.com/pub/content/isos/']);
  const m1 = checkManifest(httpDir);
  assert.deepEqual([...m1.keys()], ['a.iso', 'b.iso', 'c.iso']);
  assert.deepEqual(m1.get('b.iso'), { sha256: sha(Buffer.alloc(70_000, 7)), size: 70_000 });
  assert.equal(realpathSync(httpDir), realpathSync(httpsDir), 'one tree for both protocols');
  assert.equal(statSync(path.join(httpDir, 'PULP_MANIFEST')).mode & 0o777, 0o644);
  const v1 = realpathSync(httpDir);

  // Same name uploaded again with other content: replaces it; republish switches the tree whole.
  files(src, { 'a.iso': 'alpha, second edition' });
  ok(e.cli(['content', 'upload', '--repo', 'isos', '--type', 'iso', path.join(src, 'a.iso')]), 'reupload');
  assert.deepEqual(e.json(['repo', 'show', 'isos']).out.unitCounts, { iso: 3 });
  ok(e.cli(['repo', 'publish', 'isos']), 'republish');
  const m2 = checkManifest(httpDir);
  assert.equal(m2.get('a.iso')!.sha256, sha('alpha, second edition'));
  assert.notEqual(realpathSync(httpDir), v1);
  assert.deepEqual(checkManifest(v1), m1, 'the previous tree is kept whole (keep_previous 1)');

  // Bad configs are refused with the key named; nothing saved.
  const bad = e.cli(['repo', 'distributor', 'add', 'isos', 'iso_distributor', '--id', 'second', '--distributor-config', 'file_link=teleport']);
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /"file_link"/);
  // A second distributor nested inside the first one's URL: refused when added.
  const nested = e.cli(['repo', 'distributor', 'add', 'isos', 'iso_distributor', '--id', 'second', '--distributor-config', 'relative_url=content/isos/sub']);
  assert.equal(nested.status, 3);
  assert.match(nested.stdout + nested.stderr, /lies inside "content\/isos", the relative_url of isos\/iso_distributor/);
  // Another type on the same URL: refused when added, the published tree untouched.
  ok(e.cli(['repo', 'create', 'raw', '--importer', 'generic_importer']), 'create raw');
  const conflict = e.cli(['repo', 'distributor', 'add', 'raw', 'directory_distributor', '--distributor-config', 'relative_url=content/isos']);
  assert.equal(conflict.status, 3);
  assert.match(conflict.stdout + conflict.stderr, /PLUGIN_CONFIG_INVALID.*"content\/isos" is already used by isos\/iso_distributor/);
  checkManifest(httpDir);

  // Served over HTTP.
  const s = await startServeCli(['--http', '0'], 1, e.env);
  try {
    const r = await rawRequest(s.urls.http!, '/content/isos/PULP_MANIFEST');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), readFileSync(path.join(httpDir, 'PULP_MANIFEST'), 'utf8'));
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    const b = await rawRequest(s.urls.http!, '/content/isos/b.iso', { headers: { Range: 'bytes=69998-' } });
    assert.equal(b.status, 206);
    assert.deepEqual(b.body, Buffer.from([7, 7]));
    assert.equal((await rawRequest(s.urls.http!, '/content/isos/../../../content')).status, 404);
  } finally {
    assert.equal(await s.stop(), 0);
  }

  // Removing the distributor removes what it published.
  ok(e.cli(['repo', 'distributor', 'remove', 'isos', 'iso_distributor']), 'remove distributor');
  assert.ok(!existsSync(httpDir) && !existsSync(httpsDir));
});

test('republish is atomic: readers always see one complete tree', async () => {
  const e = engineEnv({ plugin: false });
  fileRepo(e, 'big');
  const src = path.join(e.root, 'src');
  const names = Array.from({ length: 60 }, (_, i) => `f${String(i).padStart(3, '0')}.iso`);
  const gen = (round: number) => Object.fromEntries(names.map((n, i) => [n, `${n} round ${round} `.repeat(1 + ((i * 7 + round) % 40))]));
  ok(e.cli(['content', 'upload', '--repo', 'big', '--type', 'iso', ...files(src, gen(1))]), 'upload 1');
  ok(e.cli(['repo', 'publish', 'big']), 'publish 1');
  ok(e.cli(['content', 'upload', '--repo', 'big', '--type', 'iso', ...files(src, gen(2))]), 'upload 2');
  const link = path.join(e.dataDir, 'published', 'http', 'big');
  const child = e.spawn(['repo', 'publish', 'big']);
  let exited = false;
  const done = new Promise<number | null>((resolve) => child.on('exit', (c) => ((exited = true), resolve(c))));
  const seen = new Set<string>();
  let checks = 0;
  while (!exited || checks === 0) {
    const dir = realpathSync(link);
    const m = checkManifest(dir);
    assert.equal(m.size, names.length, `${dir}: complete`);
    seen.add(dir);
    checks++;
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(await done, 0);
  const final = checkManifest(realpathSync(link));
  assert.equal(final.get('f000.iso')!.sha256, sha(gen(2)['f000.iso']!));
  assert.ok(seen.size >= 1 && checks > 0);
});

test('RAW tree: uploaded as a directory unit, published byte for byte, symlinks kept, served safely', async (t) => {
  const e = engineEnv({ plugin: false });
  ok(e.cli(['repo', 'create', 'ks', '--importer', 'generic_importer']), 'create');
  ok(e.cli(['repo', 'distributor', 'add', 'ks', 'directory_distributor', '--distributor-config', 'relative_url=ks/tree', '--distributor-config', 'file_link=copy']), 'add');
  const tree = path.join(e.root, 'tree');
  files(path.join(tree, 'images', 'pxeboot'), { vmlinuz: Buffer.from([0, 1, 2, 3, 250]), 'initrd.img': 'initrd' });
  files(tree, { '.treeinfo': '[general]\nfamily = Test\n' });
  mkdirSync(path.join(tree, 'empty'));
  symlinkSync('pxeboot/vmlinuz', path.join(tree, 'images', 'vmlinuz'));
  symlinkSync('/etc/shadow', path.join(tree, 'shadow'));
  // As a tar archive (what `content upload` takes today), then as the directory itself.
  const archive = path.join(e.root, 'ks.tar');
  const tr = spawnSync('tar', ['-cf', archive, '-C', tree, '.'], { encoding: 'utf8' });
  assert.equal(tr.status, 0, tr.stderr);
  const up = e.json(['content', 'upload', '--repo', 'ks', '--type', 'directory', '--unit-key', 'name=ks', archive]);
  ok(up, 'upload tar');
  const asDir = e.cli(['content', 'upload', '--repo', 'ks', '--type', 'directory', '--unit-key', 'name=ks', tree]);
  if (asDir.status !== 0) {
    assert.match(asDir.stderr, /ENGINE_FILE_NOT_FOUND/);
    t.diagnostic('the engine refuses directory paths in content upload (ENGINE_FILE_NOT_FOUND): only the tar form was checked');
  }
  assert.deepEqual(e.json(['repo', 'show', 'ks']).out.unitCounts, { directory: 1 }, 'the same tree twice is one unit');
  ok(e.cli(['repo', 'publish', 'ks']), 'publish');
  const pub = realpathSync(path.join(e.dataDir, 'published', 'http', 'ks', 'tree'));
  const diff = spawnSync('diff', ['-r', '--no-dereference', tree, pub], { encoding: 'utf8' });
  assert.equal(diff.status, 0, diff.stdout + diff.stderr);
  assert.ok(lstatSync(path.join(pub, 'shadow')).isSymbolicLink());
  const s = await startServeCli(['--http', '0'], 1, e.env);
  try {
    assert.deepEqual((await rawRequest(s.urls.http!, '/ks/tree/images/vmlinuz')).body, Buffer.from([0, 1, 2, 3, 250]));
    assert.equal((await rawRequest(s.urls.http!, '/ks/tree/shadow')).status, 404);
  } finally {
    assert.equal(await s.stop('SIGINT'), 0, 'graceful stop on SIGINT');
  }
});

test('export: manifest and tree modes, tar, through the CLI', () => {
  const e = engineEnv({ plugin: false });
  ok(e.cli(['repo', 'create', 'cloud', '--importer', 'generic_importer']), 'create');
  const src = path.join(e.root, 'src');
  files(src, { 'disk.vhd': 'VHD IMAGE', 'defs.yaml': '- type: product\n' });
  ok(e.cli(['content', 'upload', '--repo', 'cloud', '--type', 'vhd', '--metadata', 'build=b42', '--unit-key', 'name=rhel-disk', path.join(src, 'disk.vhd')]), 'upload vhd');
  ok(e.cli(['content', 'upload', '--repo', 'cloud', '--type', 'cgw', path.join(src, 'defs.yaml')]), 'upload cgw');
  ok(e.cli(['repo', 'distributor', 'add', 'cloud', 'export_distributor', '--id', 'manifest']), 'add manifest export');
  const out = path.join(e.root, 'out-tree');
  ok(e.cli(['repo', 'distributor', 'add', 'cloud', 'export_distributor', '--id', 'tree', '--distributor-config', 'mode=tree', '--distributor-config', `export_dir=${out}`]), 'add tree export');
  const tarDir = path.join(e.root, 'out-tar');
  ok(e.cli(['repo', 'distributor', 'add', 'cloud', 'export_distributor', '--id', 'tar', '--distributor-config', 'mode=tree', '--distributor-config', 'tar=true', '--distributor-config', `export_dir=${tarDir}`]), 'add tar export');
  ok(e.cli(['repo', 'publish', 'cloud']), 'publish');

  const mdir = path.join(e.dataDir, 'published', 'export', 'cloud');
  const m = JSON.parse(readFileSync(path.join(mdir, 'manifest.json'), 'utf8'));
  const vhd = m.units.find((u: any) => u.type === 'vhd');
  assert.deepEqual(vhd.unit_key, { name: 'rhel-disk', checksum: sha('VHD IMAGE') });
  assert.equal(vhd.metadata.build, 'b42');
  assert.equal(readFileSync(path.join(mdir, vhd.file), 'utf8'), 'VHD IMAGE');
  const cgw = m.units.find((u: any) => u.type === 'cgw');
  assert.equal(readFileSync(path.join(mdir, cgw.file), 'utf8'), '- type: product\n');

  assert.deepEqual(readdirSync(out).sort(), ['cgw', 'vhd']);
  assert.equal(readFileSync(path.join(out, 'vhd', 'disk.vhd'), 'utf8'), 'VHD IMAGE');
  assert.ok(!lstatSync(path.join(out, 'vhd', 'disk.vhd')).isSymbolicLink());
  const x = path.join(e.root, 'x');
  mkdirSync(x);
  const tar = spawnSync('tar', ['-xf', path.join(tarDir, 'cloud.tar'), '-C', x], { encoding: 'utf8' });
  assert.equal(tar.status, 0, tar.stderr);
  assert.equal(readFileSync(path.join(x, 'cgw', 'defs.yaml'), 'utf8'), '- type: product\n');
});
