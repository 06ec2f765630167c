/**
 * Engine through the CLI: every effect is checked from a fresh process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { engineEnv } from '../helpers/engine.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

test('lifecycle hooks get the repository with its working dir; working dirs go with the repository', () => {
  const e = engineEnv();
  const log = path.join(e.root, 'hooks.log');
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--importer-config', `hook_log=${log}`]), 'create');
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'd1', '--distributor-config', 'relative_url=r', '--distributor-config', `hook_log=${log}`]), 'dist add');
  const show = e.json(['repo', 'show', 'r']);
  ok(show);
  const iwd = show.out.importer.workingDir as string;
  const dwd = show.out.distributors[0].workingDir as string;
  assert.ok(iwd.startsWith(e.dataDir) && dwd.startsWith(e.dataDir) && iwd !== dwd);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(iwd, 'added.json'), 'utf8')), { repo: 'r', level: 'conf' });
  assert.ok(fs.existsSync(path.join(dwd, 'added.json')));
  ok(e.cli(['repo', 'distributor', 'remove', 'r', 'd1']), 'dist remove');
  assert.ok(!fs.existsSync(dwd), 'distributor working dir deleted');
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'd2', '--distributor-config', 'relative_url=r', '--distributor-config', `hook_log=${log}`]), 'dist add 2');
  ok(e.cli(['repo', 'delete', 'r']), 'delete');
  assert.ok(!fs.existsSync(path.join(e.dataDir, 'working', 'r')), 'working dirs deleted with the repository');
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
  assert.deepEqual(lines, ['importerAdded r', 'distributorAdded r', 'distributorRemoved r', 'distributorAdded r', 'distributorRemoved r', 'importerRemoved r']);
  const gone = e.cli(['repo', 'show', 'r']);
  assert.equal(gone.status, 3);
  assert.match(gone.stderr, /ENGINE_REPO_NOT_FOUND/);
});

test('validateConfig on add and on every update: an invalid config is not saved and the plugin message is shown', () => {
  const e = engineEnv();
  const bad = e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--importer-config', 'fail_validation="no way"']);
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /PLUGIN_CONFIG_INVALID.*fail_validation is set: no way/);
  assert.deepEqual(e.json(['repo', 'list']).out, []);
  assert.equal(fs.existsSync(path.join(e.dataDir, 'working', 'r')), false, 'a refused configuration leaves no working directory');
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--importer-config', 'feed=/x']));
  const upd = e.cli(['repo', 'importer', 'update', 'r', '--importer-config', 'feed=5']);
  assert.equal(upd.status, 3);
  assert.match(upd.stderr, /feed must be a directory path/);
  assert.deepEqual(e.json(['repo', 'show', 'r']).out.importer.config, { feed: '/x' });
  const set = e.cli(['repo', 'importer', 'set', 'r', 'test_importer', '--importer-config', 'fail_validation=1']);
  assert.equal(set.status, 3);
  assert.deepEqual(e.json(['repo', 'show', 'r']).out.importer.config, { feed: '/x' });
  // distributor: related repositories reach validateConfig
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=same']));
  ok(e.cli(['repo', 'create', 'r2']));
  const clash = e.cli(['repo', 'distributor', 'add', 'r2', 'test_distributor', '--distributor-config', 'relative_url=same']);
  assert.equal(clash.status, 3);
  assert.match(clash.stderr, /relative_url same is already used by repository r/);
  assert.deepEqual(e.json(['repo', 'distributor', 'list', 'r2']).out, []);
  assert.equal(fs.existsSync(path.join(e.dataDir, 'working', 'r2', 'distributor')), false);
  ok(e.cli(['repo', 'distributor', 'add', 'r2', 'test_distributor', '--distributor-config', '@' + writeJson(e.root, 'd.json', { relative_url: 'other' })]));
  const updd = e.cli(['repo', 'distributor', 'update', 'r2', 'test_distributor', '--distributor-config', 'relative_url=/abs']);
  assert.equal(updd.status, 3);
  assert.match(updd.stderr, /relative_url must be a relative path \(got "\/abs"\)/);
  assert.deepEqual(e.json(['repo', 'distributor', 'list', 'r2']).out[0].config, { relative_url: 'other' });
});

function writeJson(dir: string, name: string, v: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(v));
  return f;
}

test('config layering: override > repository > plugins.conf.d > *.conf > entry point > default', () => {
  const e = engineEnv();
  const f = path.join(e.root, 'f.txt');
  let n = 0;
  const seen = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    fs.writeFileSync(f, `content ${n++}`);
    const r = e.json(['content', 'upload', '--repo', 'r', f, ...extra], env);
    ok(r, 'upload');
    const u = e.json(['content', 'list', '--repo', 'r', '--filter', `checksum=${sha(fs.readFileSync(f))}`], env).out[0];
    return u.metadata.seen_level;
  };
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--importer-config', 'record_level=true']));
  assert.equal(seen(), 'conf', '*.conf beats the entry point');
  const confd = path.join(e.root, 'xdg', 'stagepush', 'plugins.conf.d');
  fs.mkdirSync(confd, { recursive: true });
  fs.writeFileSync(path.join(confd, 'test_importer.json'), JSON.stringify({ level: 'confd' }));
  assert.equal(seen(), 'confd', 'plugins.conf.d beats *.conf');
  // --config FILE: plugins.conf.d beside it
  const cdir = path.join(e.root, 'etc');
  fs.mkdirSync(path.join(cdir, 'plugins.conf.d'), { recursive: true });
  fs.writeFileSync(path.join(cdir, 'plugins.conf.d', 'test_importer.json'), JSON.stringify({ level: 'beside-config' }));
  assert.equal(seen([], { STAGEPUSH_CONFIG: path.join(cdir, 'config.yaml') }), 'beside-config');
  ok(e.cli(['repo', 'importer', 'update', 'r', '--importer-config', 'level=repo']));
  assert.equal(seen(), 'repo', 'repository beats plugin level');
  assert.equal(seen(['--override', 'level=ovr']), 'ovr', 'override beats repository');
  assert.deepEqual(e.json(['repo', 'show', 'r']).out.importer.config, { record_level: true, level: 'repo' }, 'overrides are never saved');
  ok(e.cli(['repo', 'importer', 'update', 'r', '--importer-config', 'level=null']));
  fs.rmSync(path.join(confd, 'test_importer.json'));
  fs.rmSync(path.join(e.pluginsDir, 'testplug', 'testplug.conf'));
  assert.equal(seen(), 'plugin', 'entry point config');
  const plugins = e.json(['plugins', 'list']).out.plugins;
  assert.deepEqual(plugins.find((p: any) => p.id === 'test_importer').config, { level: 'plugin', from_entry: true });
});

test('conduit calls: initUnit/saveUnit, metadata-only units, saveUnitFromFile, storeBlob, linkUnit, removeUnit, getUnits/iterUnits/countUnits, getSourceUnits, progress, scratchpads', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'a', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'a', 'test_distributor', '--distributor-config', 'relative_url=pub/a']));
  ok(e.cli(['repo', 'create', 'b', '--importer', 'test_importer', '--importer-config', 'copy_via_source=true']));
  ok(e.cli(['repo', 'distributor', 'add', 'b', 'test_distributor', '--distributor-config', 'relative_url=pub/b']));
  const feed = path.join(e.root, 'feed');
  fs.mkdirSync(feed);
  for (const n of ['x.txt', 'y.txt', 'z.txt']) fs.writeFileSync(path.join(feed, n), `file ${n}\n`);
  ok(e.cli(['repo', 'importer', 'update', 'a', '--importer-config', `feed=${feed}`]));
  // sync: initUnit + saveUnit for each file, setProgress, scratchpads
  const s1 = e.json(['repo', 'sync', 'a']);
  ok(s1, 'sync');
  assert.equal(s1.out.added, 3);
  assert.deepEqual(s1.out.report, { synced: 3, syncs: 1, units: 3, counted: 3 });
  const t = e.json(['task', 'show', s1.out.taskId]).out;
  assert.equal(t.state, 'finished');
  assert.deepEqual(t.progress, { done: 3, total: 3, current: 'z.txt' });
  // removeUnit via sync mirror + importer scratchpad persisted between runs
  fs.rmSync(path.join(feed, 'y.txt'));
  const s2 = e.json(['repo', 'sync', 'a']);
  assert.equal(s2.out.removed, 1);
  assert.equal(s2.out.unchanged, 2);
  assert.deepEqual(s2.out.report, { synced: 2, syncs: 2, units: 2, counted: 2 }, 'a unit the sync removed is not among its units any more');
  const units = e.json(['content', 'list', '--repo', 'a']).out;
  assert.deepEqual(units.map((u: any) => u.unitKey.name), ['x.txt', 'z.txt']);
  for (const u of units) {
    assert.equal(fs.readFileSync(u.storagePath, 'utf8'), `file ${u.unitKey.name}\n`);
    assert.equal(u.storagePath, path.join(e.dataDir, 'content', 'sha256', u.sha256.slice(0, 2), u.sha256.slice(2)));
  }
  assert.deepEqual(fs.readdirSync(path.join(e.dataDir, 'content', 'tmp')), [], 'no temp files left');
  // metadata-only unit + link (file -> note)
  ok(e.cli(['content', 'upload', '--repo', 'a', '--type', 'tnote', '--unit-key', 'id=n1', '--metadata', 'extra=1', writeText(e.root, 'n1.note', 'note one')]));
  const w = writeText(e.root, 'w.txt', 'www');
  const blob = writeText(e.root, 'blob.bin', 'blob data');
  ok(e.cli(['content', 'upload', '--repo', 'a', '--metadata', 'link_to=n1', '--metadata', `blob_file=${blob}`, w]));
  // saveUnitFromFile: hard link into the store
  const v = writeText(e.root, 'v.txt', 'vvv');
  ok(e.cli(['content', 'upload', '--repo', 'a', '--override', 'from_file=true', v]));
  const vu = e.json(['content', 'list', '--repo', 'a', '--filter', 'name=v.txt']).out[0];
  assert.equal(fs.statSync(vu.storagePath).ino, fs.statSync(v).ino, 'hard-linked from the source file');
  assert.equal(vu.relativePath, 'v.txt');
  // publish reads through the conduit (getUnits with fields, links, iterUnits, countUnits, scratchpads)
  ok(e.cli(['repo', 'publish', 'a']));
  const idx = JSON.parse(fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'pub', 'a', 'index.json'), 'utf8'));
  assert.deepEqual(idx.files, ['v.txt', 'w.txt', 'x.txt', 'z.txt']);
  assert.deepEqual(idx.iterated, idx.files);
  assert.equal(idx.count, 5);
  assert.equal(idx.countFiles, 4);
  assert.deepEqual(idx.notes, [{ id: 'n1', text: 'note one', keys: ['text'] }], 'only the asked-for fields are loaded');
  assert.deepEqual(idx.links, { 'w.txt': ['n1'] });
  assert.deepEqual(idx.repoPad, { last_sync_files: 2 });
  assert.equal(idx.publishes, 1);
  assert.deepEqual(idx.others, { 'b/test_distributor': 'pub/b' });
  assert.equal(idx.blobs.length, 1);
  assert.equal(fs.readFileSync(idx.blobs[0], 'utf8'), 'blob data');
  ok(e.cli(['repo', 'publish', 'a', '--force']));
  assert.equal(JSON.parse(fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'pub', 'a', 'index.json'), 'utf8')).publishes, 2, 'distributor scratchpad persists between runs');
  // copy through getSourceUnits: units are shared (same ids)
  const c = e.json(['content', 'copy', '--from', 'a', '--to', 'b']);
  ok(c, 'copy');
  assert.equal(c.out.added, 4);
  const ids = (repo: string) => e.json(['content', 'list', '--repo', repo, '--type', 'tfile']).out.map((u: any) => u.id);
  assert.deepEqual(ids('b'), ids('a'));
});

function writeText(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

test('versions, rollback, retention; copy with --filter/--fields; remove', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  for (const n of ['a', 'b', 'c']) ok(e.cli(['content', 'upload', '--repo', 'r', writeText(e.root, `${n}.txt`, n)]));
  ok(e.cli(['content', 'remove', '--repo', 'r', '--filter', 'name~=^[ab]\\.']));
  let vs = e.json(['repo', 'versions', 'r']).out;
  assert.deepEqual(vs.map((v: any) => [v.number, v.kind, v.unitCount, v.current]), [[0, 'create', 0, false], [1, 'upload', 1, false], [2, 'upload', 2, false], [3, 'upload', 3, false], [4, 'remove', 1, true]]);
  const rb = e.json(['repo', 'rollback', 'r', '--to', '3']);
  ok(rb, 'rollback');
  assert.equal(rb.out.version, 5);
  assert.equal(rb.out.added, 2);
  assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out.map((u: any) => u.unitKey.name), ['a.txt', 'b.txt', 'c.txt']);
  vs = e.json(['repo', 'versions', 'r']).out;
  assert.deepEqual(vs.at(-1), { ...vs.at(-1), number: 5, kind: 'rollback', basedOn: 3, unitCount: 3 });
  // retention
  ok(e.cli(['repo', 'update', 'r', '--retain-repo-versions', '2']));
  assert.deepEqual(e.json(['repo', 'versions', 'r']).out.map((v: any) => v.number), [4, 5]);
  const old = e.cli(['repo', 'rollback', 'r', '--to', '1']);
  assert.equal(old.status, 3);
  assert.match(old.stderr, /ENGINE_VERSION_NOT_FOUND.*no version 1 \(kept versions: 4, 5\)/);
  ok(e.cli(['repo', 'rollback', 'r', '--to', '4']));
  assert.deepEqual(e.json(['repo', 'versions', 'r']).out.map((v: any) => v.number), [5, 6]);
  assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out.map((u: any) => u.unitKey.name), ['c.txt']);
  // copy with filter + fields shares units without losing metadata
  ok(e.cli(['repo', 'rollback', 'r', '--to', '5']));
  ok(e.cli(['repo', 'create', 'd', '--importer', 'test_importer']));
  ok(e.cli(['content', 'upload', '--repo', 'r', '--metadata', 'keep=me', writeText(e.root, 'm.txt', 'm')]));
  const c = e.json(['content', 'copy', '--from', 'r', '--to', 'd', '--filter', '{"name":{"$in":["m.txt","a.txt"]}}', '--fields', 'nothing']);
  ok(c, 'copy');
  assert.equal(c.out.added, 2);
  const m = e.json(['content', 'list', '--repo', 'd', '--filter', 'name=m.txt']).out[0];
  assert.deepEqual(m.metadata, { keep: 'me' }, 'a partially loaded unit keeps its stored metadata when shared');
  const rm = e.cli(['content', 'remove', '--repo', 'd']);
  assert.equal(rm.status, 2, 'remove without criteria needs --all');
  ok(e.cli(['content', 'remove', '--repo', 'd', '--all']));
  assert.deepEqual(e.json(['content', 'list', '--repo', 'd']).out, []);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(e.json(['repo', 'show', 'd']).out.importer.workingDir, 'removed.json'), 'utf8')).map((k: any) => k.name).sort(), ['a.txt', 'm.txt'], 'removeUnits hook called');
});

test('publish: skipped when unchanged, --force, auto-publish after upload/copy, failure exits 6; NO_IMPORTER and not-supported errors', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'auto', '--auto-publish', '--distributor-config', 'relative_url=auto']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'manual', '--distributor-config', 'relative_url=manual']));
  const up = e.json(['content', 'upload', '--repo', 'r', writeText(e.root, 'a.txt', 'a')]);
  assert.deepEqual(up.out.publishes.map((p: any) => [p.distributorId, p.status, p.version]), [['auto', 'published', 1]]);
  assert.ok(fs.existsSync(path.join(e.dataDir, 'published', 'http', 'auto', 'a.txt')));
  const p1 = e.json(['repo', 'publish', 'r']);
  assert.deepEqual(p1.out.map((p: any) => [p.distributorId, p.status]), [['auto', 'skipped'], ['manual', 'published']]);
  const p2 = e.json(['repo', 'publish', 'r', '--distributor', 'manual', '--force']);
  assert.equal(p2.out[0].status, 'published');
  assert.equal(e.json(['repo', 'versions', 'r']).out[1].publishedBy.sort().join(','), 'auto,manual');
  // a config change makes the next publish run again
  ok(e.cli(['repo', 'distributor', 'update', 'r', 'manual', '--distributor-config', 'fail_publish=true']));
  const p3 = e.json(['repo', 'publish', 'r', '--distributor', 'manual']);
  assert.equal(p3.status, 6);
  assert.equal(p3.out[0].status, 'failed');
  assert.match(p3.out[0].error.message, /failing on purpose/);
  assert.equal(e.json(['task', 'show', p3.out[0].taskId]).out.state, 'error');
  // NO_IMPORTER
  ok(e.cli(['repo', 'create', 'bare']));
  const ni = e.cli(['content', 'upload', '--repo', 'bare', writeText(e.root, 'b.txt', 'b')]);
  assert.equal(ni.status, 3);
  assert.match(ni.stderr, /ENGINE_NO_IMPORTER/);
  // not supported: a minimal importer without sync
  const min = path.join(e.pluginsDir, 'minimal');
  fs.mkdirSync(min);
  fs.writeFileSync(path.join(min, 'importer.mjs'), `export default class Minimal { metadata() { return { id: 'minimal_importer', displayName: 'Minimal', types: ['tfile'] }; } validateConfig() { return { valid: true }; } }\n`);
  ok(e.cli(['repo', 'importer', 'set', 'bare', 'minimal_importer']));
  const ns = e.cli(['repo', 'sync', 'bare']);
  assert.equal(ns.status, 3);
  assert.match(ns.stderr, /ENGINE_NOT_SUPPORTED.*sync is not supported by minimal_importer/);
  const nu = e.cli(['content', 'upload', '--repo', 'bare', '--type', 'tfile', path.join(e.root, 'b.txt')]);
  assert.match(nu.stderr, /upload is not supported by minimal_importer/);
  const nc = e.cli(['content', 'copy', '--from', 'r', '--to', 'bare']);
  assert.match(nc.stderr, /copy is not supported by minimal_importer/);
  assert.deepEqual(e.json(['content', 'list', '--repo', 'bare']).out, []);
});

test('--filter field=value matches the value as text too: a name like 1.0 is found (as JSON it would be the number 1)', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'n', '--importer', 'test_importer']));
  for (const name of ['1.0', 'true', '2']) {
    const f = path.join(e.root, name);
    fs.writeFileSync(f, name);
    ok(e.cli(['content', 'upload', '--repo', 'n', f]));
  }
  const names = (args: string[]) => e.json(['content', 'list', '--repo', 'n', ...args]).out.map((u: any) => u.unitKey.name).sort();
  assert.deepEqual(names(['--filter', 'name=1.0']), ['1.0']);
  assert.deepEqual(names(['--filter', 'name=true']), ['true']);
  assert.deepEqual(names(['--filter', 'name!=1.0']), ['2', 'true']);
  assert.deepEqual(names(['--filter', '{"name":"2"}']), ['2']);
  assert.deepEqual(names(['--filter', '{"name":2}']), [], 'a JSON filter is taken as written');
  // Every --filter holds: conditions on one field are combined, never replaced.
  assert.deepEqual(names(['--filter', 'name!=1.0', '--filter', 'name!=true']), ['2']);
  assert.deepEqual(names(['--filter', 'name=true', '--filter', 'name~=ru']), ['true']);
  assert.deepEqual(names(['--filter', 'name~=r', '--filter', 'name=2']), []);
  assert.deepEqual(names(['--filter', 'name=2', '--filter', 'name=true']), [], 'two values asked at once: none has both');
  const twice = e.cli(['content', 'list', '--repo', 'n', '--filter', 'name~=a', '--filter', 'name~=b']);
  assert.equal(twice.status, 2, twice.stderr);
  assert.match(twice.stderr, /CLI_BAD_FILTER.*second ~=/);
  // content remove with two != removes what both allow.
  ok(e.cli(['content', 'remove', '--repo', 'n', '--filter', 'name!=1.0', '--filter', 'name!=true']));
  assert.deepEqual(names([]), ['1.0', 'true']);
});

test('repo delete: a failing removal hook stops it (exit 6, naming --force); --force deletes anyway with a warning', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'stuck', '--importer', 'test_importer', '--importer-config', 'fail_removed_hook=true']));
  ok(e.cli(['repo', 'distributor', 'add', 'stuck', 'test_distributor', '--distributor-config', 'relative_url=stuck']));
  fs.writeFileSync(path.join(e.root, 'a.txt'), 'a');
  ok(e.cli(['content', 'upload', '--repo', 'stuck', path.join(e.root, 'a.txt')]));
  ok(e.cli(['repo', 'publish', 'stuck']));
  const refused = e.cli(['repo', 'delete', 'stuck']);
  assert.equal(refused.status, 6);
  assert.match(refused.stderr, /PLUGIN_HOOK_FAILED.*test_importer\.importerRemoved failed on repository stuck: cannot clean up/);
  assert.match(refused.stderr, /repo delete stuck --force/);
  // The distributor was taken apart before the importer's hook failed: removed for good, said so.
  assert.match(refused.stderr, /distributor\(s\) test_distributor were already taken apart and are removed; repository stuck stays/);
  assert.deepEqual(e.json(['repo', 'list']).out.map((r: any) => r.id), ['stuck']);
  assert.deepEqual(e.json(['repo', 'distributor', 'list', 'stuck']).out, []);
  ok(e.cli(['fsck']), 'the database says what is on disk');
  const forced = e.cli(['repo', 'delete', 'stuck', '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stderr, /cannot clean up \(deleted anyway: --force\)/);
  assert.deepEqual(e.json(['repo', 'list']).out, []);
});

test('importer set: a new importer whose importerAdded fails is not set (the old one stays, untouched); distributor remove --force past a failing removal hook', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'h', '--importer', 'iso_importer']));
  const set = e.cli(['repo', 'importer', 'set', 'h', 'test_importer', '--importer-config', 'fail_added_hook=true']);
  assert.equal(set.status, 6, set.stderr);
  assert.match(set.stderr, /PLUGIN_HOOK_FAILED.*cannot set up/);
  assert.equal(e.json(['repo', 'show', 'h']).out.importer.typeId, 'iso_importer');
  assert.equal(fs.existsSync(path.join(e.dataDir, 'working', 'h', 'importer', 'test_importer')), false);

  ok(e.cli(['repo', 'distributor', 'add', 'h', 'test_distributor', '--id', 'x', '--distributor-config', 'relative_url=hx', '--distributor-config', 'fail_removed_hook=true']));
  const rm = e.cli(['repo', 'distributor', 'remove', 'h', 'x']);
  assert.equal(rm.status, 6);
  assert.match(rm.stderr, /repo distributor remove h x --force/);
  const forced = e.cli(['repo', 'distributor', 'remove', 'h', 'x', '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stderr, /cannot unpublish \(removed anyway: --force\)/);
  assert.deepEqual(e.json(['repo', 'distributor', 'list', 'h']).out, []);
});

test('importer set replacing an importer whose plugin is not loaded, or whose removal hook fails: refused (exit 6, naming --force), nothing changed; --force replaces it with a warning and removes its working dir', () => {
  const e = engineEnv();
  const wd = (repo: string, imp: string) => path.join(e.dataDir, 'working', repo, 'importer', imp);
  ok(e.cli(['repo', 'create', 'gone', '--importer', 'test_importer']));
  assert.ok(fs.existsSync(path.join(wd('gone', 'test_importer'), 'added.json')));
  // Run without the test plugin: test_importer is not loaded.
  const bare = { STAGEPUSH_PLUGINS_DIR: path.join(e.root, 'no-plugins') };
  const refused = e.cli(['repo', 'importer', 'set', 'gone', 'iso_importer'], bare);
  assert.equal(refused.status, 6, refused.stderr);
  assert.match(refused.stderr, /PLUGIN_NOT_LOADED.*repository gone: its importer plugin test_importer is not installed or failed to load, so its removal hook cannot run/);
  assert.match(refused.stderr, /repo importer set gone iso_importer --force/);
  assert.equal(e.json(['repo', 'show', 'gone'], bare).out.importer.typeId, 'test_importer');
  assert.ok(fs.existsSync(wd('gone', 'test_importer')), 'refused: the old working dir stays');
  assert.equal(fs.existsSync(wd('gone', 'iso_importer')), false, 'refused before the new importer was added');
  const forced = e.cli(['repo', 'importer', 'set', 'gone', 'iso_importer', '--force'], bare);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stderr, /warning \[PLUGIN_NOT_LOADED\].*\(replaced anyway: --force\)/);
  assert.equal(e.json(['repo', 'show', 'gone'], bare).out.importer.typeId, 'iso_importer');
  assert.equal(fs.existsSync(wd('gone', 'test_importer')), false, "the old importer's working dir is removed");

  // A removal hook that fails: the same (the new importer is taken off again when refused).
  ok(e.cli(['repo', 'create', 'stuck', '--importer', 'test_importer', '--importer-config', 'fail_removed_hook=true']));
  const stuck = e.cli(['repo', 'importer', 'set', 'stuck', 'iso_importer']);
  assert.equal(stuck.status, 6, stuck.stderr);
  assert.match(stuck.stderr, /PLUGIN_HOOK_FAILED.*test_importer\.importerRemoved failed on repository stuck: cannot clean up/);
  assert.match(stuck.stderr, /repo importer set stuck iso_importer --force/);
  assert.equal(e.json(['repo', 'show', 'stuck']).out.importer.typeId, 'test_importer');
  assert.equal(fs.existsSync(wd('stuck', 'iso_importer')), false);
  const past = e.cli(['repo', 'importer', 'set', 'stuck', 'iso_importer', '--force']);
  assert.equal(past.status, 0, past.stderr);
  assert.match(past.stderr, /cannot clean up \(replaced anyway: --force\)/);
  assert.equal(e.json(['repo', 'show', 'stuck']).out.importer.typeId, 'iso_importer');
  assert.equal(fs.existsSync(wd('stuck', 'test_importer')), false);
});

test('content copy / remove with a type nobody declares is refused naming the declared types (a typo did nothing and said "no change")', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'a', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'create', 'b', '--importer', 'test_importer']));
  for (const args of [['content', 'copy', '--from', 'a', '--to', 'b', '--type', 'no_such_type'], ['content', 'remove', '--repo', 'a', '--type', 'no_such_type'], ['content', 'list', '--repo', 'a', '--type', 'no_such_type']]) {
    const r = e.cli(args);
    assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /ENGINE_UNKNOWN_TYPE.*"no_such_type" \(declared types: /);
  }
  assert.equal(e.json(['task', 'list']).out.filter((t: { kind: string }) => t.kind === 'copy' || t.kind === 'remove').length, 0, 'no task ran');
});

test('content copy / remove / list with a --type naming no type (an unset "$TYPES") is a usage error: it matched nothing and said "no change"', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'a', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'create', 'b', '--importer', 'test_importer']));
  ok(e.cli(['content', 'upload', '--repo', 'a', writeText(e.root, 'x.txt', 'file x.txt\n')]));
  for (const t of ['', ',', ' , ']) {
    for (const args of [['content', 'copy', '--from', 'a', '--to', 'b', '--type', t], ['content', 'remove', '--repo', 'a', '--type', t], ['content', 'list', '--repo', 'a', '--type', t]]) {
      const r = e.cli(args);
      assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.match(r.stderr, /CLI_BAD_TYPE.*--type .*names no content type/);
    }
  }
  assert.equal(e.json(['task', 'list']).out.filter((t: { kind: string }) => t.kind === 'copy' || t.kind === 'remove').length, 0, 'no task ran');
  // A trailing comma still names a type.
  ok(e.cli(['content', 'copy', '--from', 'a', '--to', 'b', '--type', 'tfile,']));
  assert.equal(e.json(['content', 'list', '--repo', 'b']).out.length, 1);
});

test('an export distributor served over neither http nor https takes no relative_url (a served one is checked)', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'g', '--importer', 'generic_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'g', 'directory_distributor']));
  ok(e.cli(['repo', 'distributor', 'add', 'g', 'export_distributor', '--distributor-config', 'http=false']));
  const served = e.cli(['repo', 'distributor', 'add', 'g', 'export_distributor', '--id', 'e2', '--distributor-config', 'http=true']);
  assert.equal(served.status, 3, served.stderr);
  assert.match(served.stderr, /"g" is already used by g\/directory_distributor/);
  // Its export directory (export/<relative_url>) is still its own: another export there is refused.
  ok(e.cli(['repo', 'create', 'ra', '--importer', 'generic_importer']));
  ok(e.cli(['repo', 'create', 'rb', '--importer', 'generic_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'ra', 'export_distributor', '--distributor-config', 'relative_url=shared']));
  const twice = e.cli(['repo', 'distributor', 'add', 'rb', 'export_distributor', '--distributor-config', 'relative_url=shared']);
  assert.equal(twice.status, 3, twice.stderr);
  assert.match(twice.stderr, /the export directory export\/shared: .*ra/);
  // And a served tree may take the path an unserved export names (either order).
  ok(e.cli(['repo', 'distributor', 'add', 'rb', 'directory_distributor', '--distributor-config', 'relative_url=shared']));
});

test('an empty --distributor or --importer (an unset "$D") is a usage error: publish published every distributor, create made a repository without importer', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'd1', '--distributor-config', 'relative_url=r1']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--id', 'd2', '--distributor-config', 'relative_url=r2']));
  for (const v of ['', ' ']) {
    const pub = e.cli(['repo', 'publish', 'r', '--distributor', v]);
    assert.equal(pub.status, 2, pub.stderr);
    assert.match(pub.stderr, /CLI_BAD_OPTION.*--distributor: an empty value/);
    const made = e.cli(['repo', 'create', 'r2', '--importer', v]);
    assert.equal(made.status, 2, made.stderr);
    assert.match(made.stderr, /CLI_BAD_OPTION.*--importer: an empty value/);
  }
  assert.equal(e.json(['task', 'list', '--kind', 'publish']).out.length, 0, 'nothing published');
  assert.deepEqual(e.json(['repo', 'list']).out.map((r: { id: string }) => r.id), ['r']);
  ok(e.cli(['repo', 'publish', 'r', '--distributor', 'd2']));
  assert.deepEqual(e.json(['task', 'list', '--kind', 'publish']).out.length, 1);
});

test('task list --kind takes the kinds tasks are recorded with; a misspelt one is a usage error (it listed "no tasks")', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['content', 'upload', '--repo', 'r', writeText(e.root, 'x.txt', 'file x.txt\n')]));
  const bad = e.cli(['task', 'list', '--kind', 'uplaod']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /CLI_USAGE.*--kind uplaod: one of sync, upload, .*transaction/);
  assert.equal(e.json(['task', 'list', '--kind', 'upload']).out.length, 1);
  for (const k of ['sync', 'copy', 'remove', 'publish', 'rollback', 'delete', 'gc', 'orphans', 'transaction']) ok(e.cli(['task', 'list', '--kind', k]), k);
});

test('a number option given "" or " " (an unset "$V"), hex, exponent or decimal text is a usage error: rollback --to "" emptied the repository (version 0)', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['content', 'upload', '--repo', 'r', writeText(e.root, 'x.txt', 'file x.txt\n')]));
  const tasks = () => e.json(['task', 'list']).out.length;
  const before = tasks();
  for (const v of ['', ' ', '0x1', '1e0', '1.0', '-1']) {
    for (const args of [['repo', 'rollback', 'r', '--to', v], ['repo', 'update', 'r', '--retain-repo-versions', v], ['task', 'list', '--limit', v], ['content', 'list', '--repo', 'r', '--limit', v], ['gc', '--task-retention-days', v]]) {
      const r = e.cli(args);
      assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.match(r.stderr, /CLI_BAD_NUMBER.*must be a non-negative integer/);
    }
  }
  const shown = e.json(['repo', 'show', 'r']).out;
  assert.equal(shown.version, 1, 'no rollback');
  assert.equal(shown.unitCount, 1);
  assert.equal(shown.retainRepoVersions, 0);
  assert.equal(tasks(), before, 'no task ran, none pruned');
  ok(e.cli(['repo', 'rollback', 'r', '--to', ' 1 ']));
  assert.equal(e.json(['repo', 'show', 'r']).out.version, 2);
});
