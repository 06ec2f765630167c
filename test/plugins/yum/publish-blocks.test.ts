/**
 * The streamed, block-cached yum publish (src/plugins/yum/packages.ts) end to end through the CLI:
 * - every package entry equals createrepo_c's for the same RPMs (field by field);
 * - a republish served from the block cache, and one after removing a package (some blocks
 *   cached, some computed), give exactly the XML a publish without cache gives; dnf reads it;
 * - a removed package stays downloadable while the old metadata that names it is kept (every file
 *   the old repomd.xml names and every package the old primary names answers 200 from `serve`),
 *   and goes once that metadata is dropped (remove_old_repodata_threshold);
 * - relative_url uniqueness across distributor types counts relative_urls defaulted to the repo id.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { openEngine } from '../../../src/engine/index.js';
import { packagesHref, readRepodataPackages } from '../../../src/formats/repodata/index.js';
import { parseRepomd } from '../../../src/formats/repomd/index.js';
import { buildRpm } from '../../../src/formats/rpm/writer.js';
import { tempDir } from '../../helpers/cli.js';
import { comparable, run } from '../../helpers/repodata.js';
import { Dnf, Engine, RPMS, matrix, serveEngine, status } from '../../helpers/yum.js';

const REPO = 'blocks';

/** The three package files of a published tree, uncompressed. */
function packageXml(tree: string): Record<'primary' | 'filelists' | 'other', string> {
  const md = parseRepomd(readFileSync(path.join(tree, 'repodata', 'repomd.xml')));
  const get = (t: string) => gunzipSync(readFileSync(path.join(tree, md.records.find((r) => r.type === t)!.location))).toString('utf8');
  return { primary: get('primary'), filelists: get('filelists'), other: get('other') };
}

/** HTTP status, retried when a kept-alive connection was closed by the server while idle (slow CLI runs in between). */
async function statusOf(url: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await status(url);
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

function locations(xml: string): string[] {
  return [...xml.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]!);
}

async function lastReport(eng: Engine): Promise<Record<string, any>> {
  const e = await openEngine({ dataDir: eng.dataDir, configDir: eng.dataDir });
  try {
    return e.lastPublish(REPO, 'yum')!.report as Record<string, any>;
  } finally {
    e.close();
  }
}

function dropCache(eng: Engine): void {
  rmSync(path.join(eng.dataDir, 'working', REPO, 'distributor', 'yum', 'repodata-blocks'), { recursive: true, force: true });
}

describe('yum publish: block cache, parity with createrepo_c, pool kept for old metadata', () => {
  const eng = new Engine();
  const tree = path.join(eng.publishRoot, 'http', REPO);
  const src = tempDir('stagepush-blocks-src-');
  const files: string[] = [];
  let server: Awaited<ReturnType<typeof serveEngine>>;

  before(async () => {
    process.env.STAGEPUSH_YUM_BLOCK_PACKAGES = '16'; // the CLI processes of this file: blocks of about 16 packages
    // Enough packages for several blocks (about 16 each here), with primary files, plus the real
    // rpmbuild matrix (dependencies, changelogs, scripts).
    for (let i = 0; i < 120; i++) {
      const name = `blk${String(i).padStart(3, '0')}`;
      const f = path.join(src, `${name}-1.0-1.noarch.rpm`);
      writeFileSync(f, buildRpm({ name, version: '1.0', release: '1', summary: `block test ${i} <&>`, files: [{ path: `/usr/bin/${name}`, data: Buffer.from(`#!/bin/sh\necho ${i}\n`), mode: 0o100755 }, { path: `/usr/share/${name}/data`, data: Buffer.from(String(i)) }] }));
      files.push(f);
    }
    const m = matrix();
    files.push(...new Set([...Object.values(m.install), ...Object.values(m.packages)].map((x) => path.join(RPMS, x.file))));
    eng.run(['repo', 'create', REPO, '--importer', 'yum_importer']);
    eng.run(['repo', 'distributor', 'add', REPO, 'yum_distributor', '--id', 'yum']);
    eng.run(['content', 'upload', '--repo', REPO, ...files]);
    eng.run(['repo', 'publish', REPO]);
    server = await serveEngine(eng);
  });
  after(async () => {
    await server?.close();
  });

  test('every package entry equals createrepo_c\'s for the same RPMs', async () => {
    const theirs = tempDir('stagepush-blocks-cr-');
    for (const f of new Set(files)) {
      const href = packagesHref(path.basename(f));
      mkdirSync(path.join(theirs, path.dirname(href)), { recursive: true });
      copyFileSync(f, path.join(theirs, href));
    }
    run('createrepo_c', ['--quiet', '--no-database', '--workers', '1', theirs]);
    const read = async (dir: string) => {
      const md = parseRepomd(readFileSync(path.join(dir, 'repodata', 'repomd.xml')));
      const loc = (t: string) => path.join(dir, md.records.find((r) => r.type === t)!.location);
      return new Map((await readRepodataPackages(loc('primary'), loc('filelists'), loc('other'))).map((p) => [p.pkgid, p]));
    };
    const t = await read(theirs);
    const o = await read(tree);
    assert.equal(o.size, t.size);
    assert.ok(t.size >= 130, `expected the generated and matrix RPMs, got ${t.size}`);
    for (const [id, tp] of t) {
      const op = o.get(id);
      assert.ok(op, `${tp.locationHref} missing from our primary`);
      const want = comparable(tp);
      const got = comparable(op);
      for (const k of Object.keys(want)) assert.deepEqual(got[k], want[k], `${tp.locationHref}: ${k} differs from createrepo_c's`);
    }
  });

  test('republish from the block cache and after a removal: the same XML as without cache; dnf reads it', async () => {
    const cold = packageXml(tree);
    const first = await lastReport(eng);
    assert.ok(first.metadata_blocks.computed >= 3, `several blocks: ${JSON.stringify(first.metadata_blocks)}`);

    assert.equal(first.package_files_reused, false);
    eng.run(['repo', 'publish', REPO, '--force']);
    const forced = await lastReport(eng);
    assert.deepEqual(forced.metadata_blocks, { cached: first.metadata_blocks.computed, computed: 0 });
    assert.equal(forced.package_files_reused, true, 'every block unchanged: the last files are taken as they are');
    assert.deepEqual(packageXml(tree), cold);
    // A kept file that changed is not taken: the blocks are written again, to the same bytes.
    const kept = path.join(eng.dataDir, 'working', REPO, 'distributor', 'yum', 'repodata-last');
    const keptPrimary = readdirSync(kept).find((f) => f.endsWith('-primary.xml.gz'))!;
    writeFileSync(path.join(kept, keptPrimary), 'not gzip');
    eng.run(['repo', 'publish', REPO, '--force']);
    const retaken = await lastReport(eng);
    assert.equal(retaken.package_files_reused, false);
    assert.deepEqual(retaken.metadata_blocks, { cached: first.metadata_blocks.computed, computed: 0 });
    assert.deepEqual(packageXml(tree), cold);

    // Remove one package from the middle: its block is computed again, the others come from the cache.
    const oldRepomd = readFileSync(path.join(tree, 'repodata', 'repomd.xml'), 'utf8');
    const oldFiles = [...oldRepomd.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]!);
    const oldPackages = locations(cold.primary);
    eng.run(['content', 'remove', '--repo', REPO, '--filter', 'name=blk060']);
    eng.run(['repo', 'publish', REPO]);
    const rep = await lastReport(eng);
    assert.ok(rep.metadata_blocks.computed >= 1 && rep.metadata_blocks.cached >= 1, JSON.stringify(rep.metadata_blocks));
    assert.equal(rep.package_files_reused, false);
    const warm = packageXml(tree);
    assert.ok(!warm.primary.includes('blk060'));
    assert.equal(locations(warm.primary).length, oldPackages.length - 1);
    dropCache(eng);
    eng.run(['repo', 'publish', REPO, '--force']);
    assert.deepEqual(packageXml(tree), warm, 'cached and computed publishes agree');

    const dnf = new Dnf(`${server.url}/${REPO}`);
    const listed = dnf.packages();
    assert.equal(listed.size, oldPackages.length - 1);
    assert.ok(!listed.has('blk060-0:1.0-1.noarch') && listed.has('blk061-0:1.0-1.noarch'));

    // A client holding the old repomd.xml: every file it names, and every package its primary names.
    assert.ok(oldPackages.includes('Packages/b/blk060-1.0-1.noarch.rpm'));
    for (const loc of [...oldFiles, ...oldPackages]) assert.equal(await statusOf(`${server.url}/${REPO}/${loc}`), 200, loc);

    // Once the old metadata is no longer kept, the package goes too.
    eng.run(['repo', 'distributor', 'update', REPO, 'yum', '--distributor-config', 'remove_old_repodata_threshold=0']);
    await new Promise((r) => setTimeout(r, 2100));
    eng.run(['repo', 'publish', REPO]);
    assert.equal(await statusOf(`${server.url}/${REPO}/Packages/b/blk060-1.0-1.noarch.rpm`), 404);
    assert.equal(await statusOf(`${server.url}/${REPO}/Packages/b/blk061-1.0-1.noarch.rpm`), 200);
    for (const loc of locations(packageXml(tree).primary)) assert.equal(await statusOf(`${server.url}/${REPO}/${loc}`), 200, loc);
  });
});

test('relative_url: a default (the repo id) and an explicit one colliding across distributor types are refused when the distributor is added, naming both', () => {
  const eng = new Engine();
  eng.run(['repo', 'create', 'alpha', '--importer', 'yum_importer']);
  eng.run(['repo', 'distributor', 'add', 'alpha', 'yum_distributor', '--id', 'yum']);
  eng.run(['repo', 'create', 'beta', '--importer', 'iso_importer']);
  // beta's explicit "alpha" against alpha's defaulted one (never published yet): refused at once,
  // not left to block alpha's next publish.
  const b = eng.run(['repo', 'distributor', 'add', 'beta', 'iso_distributor', '--id', 'iso', '--distributor-config', 'relative_url=alpha'], { allowFail: true });
  assert.equal(b.status, 3);
  assert.match(b.stdout + b.stderr, /distributor iso configuration of repository beta: config key "relative_url": "alpha" is already used by alpha\/yum/);
  // Nested in it, or the same repository's second distributor: refused too.
  const nested = eng.run(['repo', 'distributor', 'add', 'beta', 'iso_distributor', '--id', 'iso', '--distributor-config', 'relative_url=alpha/sub'], { allowFail: true });
  assert.equal(nested.status, 3);
  assert.match(nested.stdout + nested.stderr, /"alpha\/sub" lies inside "alpha", the relative_url of alpha\/yum/);
  const twice = eng.run(['repo', 'distributor', 'add', 'alpha', 'yum_distributor', '--id', 'yum2'], { allowFail: true });
  assert.equal(twice.status, 3);
  assert.match(twice.stdout + twice.stderr, /"alpha" is already used by alpha\/yum/);
  // And the other way round: alpha's default against beta's explicit one, on an update.
  eng.run(['repo', 'distributor', 'add', 'beta', 'iso_distributor', '--id', 'iso', '--distributor-config', 'relative_url=beta-files']);
  const u = eng.run(['repo', 'distributor', 'update', 'alpha', 'yum', '--distributor-config', 'relative_url=beta-files'], { allowFail: true });
  assert.equal(u.status, 3);
  assert.match(u.stdout + u.stderr, /"beta-files" is already used by beta\/iso/);
  // Both still publish.
  eng.run(['repo', 'publish', 'alpha']);
  eng.run(['repo', 'publish', 'beta']);
  assert.ok(existsSync(path.join(eng.publishRoot, 'http', 'alpha', 'repodata', 'repomd.xml')));
  assert.ok(existsSync(path.join(eng.publishRoot, 'http', 'beta-files', 'PULP_MANIFEST')));
});

