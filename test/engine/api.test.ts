import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { engineEnv } from '../helpers/engine.js';

function sha(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

async function open(e: ReturnType<typeof engineEnv>, extra: Partial<Parameters<typeof openEngine>[0]> = {}): Promise<Engine> {
  return openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir, ...extra });
}

test('repos, upload through the conduit, versions, copy shares units, remove, rollback, publish', async () => {
  const e = engineEnv();
  const eng = await open(e, { baseUrls: { http: 'http://example.test/pub' } });
  try {
    assert.deepEqual(eng.pluginLoadErrors().map((x) => x.message), []);
    const plugins = eng.listPlugins().map((p) => p.id);
    assert.ok(plugins.includes('test_importer') && plugins.includes('test_distributor'), plugins.join(','));
    await eng.createRepo({ id: 'a', importer: { typeId: 'test_importer' }, distributors: [{ typeId: 'test_distributor', config: { relative_url: 'a' } }] });
    await eng.createRepo({ id: 'b', importer: { typeId: 'test_importer' } });
    const f1 = path.join(e.root, 'one.txt');
    fs.writeFileSync(f1, 'one\n');
    const r1 = await eng.upload('a', { filePath: f1 });
    assert.equal(r1.version, 1);
    assert.equal(r1.added, 1);
    assert.match(r1.outcomes[0]!.unit.id!, /^\d+$/);
    const units = eng.listUnits('a');
    assert.equal(units.length, 1);
    assert.equal(units[0]!.sha256, sha('one\n'));
    assert.equal(fs.readFileSync(units[0]!.storagePath!, 'utf8'), 'one\n');
    assert.equal(units[0]!.storagePath, path.join(e.dataDir, 'content', 'sha256', sha('one\n').slice(0, 2), sha('one\n').slice(2)));
    // same upload again: unchanged, no new version
    const r2 = await eng.upload('a', { filePath: f1 });
    assert.equal(r2.unchanged, 1);
    assert.equal(r2.newVersion, false);
    assert.equal(r2.version, 1);
    // note (metadata only)
    await eng.upload('a', { filePath: null, typeId: 'tnote', unitKey: { id: 'n1' }, metadata: { text: 'hello' } });
    assert.equal(eng.getRepo('a')!.version, 2);
    // copy shares units
    const c = await eng.copy('a', 'b', { criteria: { typeIds: ['tfile'] } });
    assert.equal(c.added, 1);
    const bu = eng.listUnits('b');
    assert.equal(bu.length, 1);
    assert.equal(bu[0]!.id, units[0]!.id);
    // publish
    const pub = await eng.publish('a');
    assert.equal(pub.length, 1);
    assert.equal(pub[0]!.status, 'published', JSON.stringify(pub));
    assert.equal(pub[0]!.version, 2);
    assert.deepEqual(pub[0]!.urls, ['http://example.test/pub/a/']);
    const index = JSON.parse(fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'a', 'index.json'), 'utf8'));
    assert.deepEqual(index.files, ['one.txt']);
    assert.deepEqual(index.notes, [{ id: 'n1', text: 'hello', keys: ['text'] }]);
    const again = await eng.publish('a');
    assert.equal(again[0]!.status, 'skipped');
    const forced = await eng.publish('a', { force: true });
    assert.equal(forced[0]!.status, 'published');
    // remove + rollback
    const rm = await eng.removeUnits('a', { typeIds: ['tnote'] });
    assert.equal(rm.removed, 1);
    assert.equal(rm.version, 3);
    const rb = await eng.rollback('a', 2);
    assert.equal(rb.version, 4);
    assert.equal(eng.listUnits('a').length, 2);
    assert.deepEqual(eng.versions('a').map((v) => v.number), [0, 1, 2, 3, 4]);
    // filters and fields
    const n = eng.listUnits('a', { filters: { id: 'n1' }, fields: [] });
    assert.equal(n.length, 1);
    assert.deepEqual(n[0]!.metadata, {});
    const rx = eng.listUnits('a', { filters: { name: { $regex: '^one' } } });
    assert.equal(rx.length, 1);
    // orphans: none (everything referenced)
    assert.equal(eng.orphans.list().length, 0);
    const fsck = await eng.fsck();
    assert.equal(fsck.ok, true, JSON.stringify(fsck.problems));
  } finally {
    eng.close();
  }
});

test('batch transaction commits every repository in one go and a throw commits nothing', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    await eng.createRepo({ id: 'x', importer: { typeId: 'test_importer' } });
    await eng.createRepo({ id: 'y', importer: { typeId: 'test_importer' } });
    const f = path.join(e.root, 'f.txt');
    fs.writeFileSync(f, 'f');
    await assert.rejects(
      eng.transaction(['x', 'y'], async (b) => {
        await b.upload('x', { filePath: f });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(eng.listUnits('x').length, 0);
    const out = await eng.transaction(['x', 'y'], async (b) => {
      const r = await b.upload('x', { filePath: f });
      assert.equal(b.listUnits('x').length, 1);
      await b.copy('x', 'y');
      assert.equal(b.listUnits('y').length, 1);
      return r;
    });
    assert.equal(out.outcomes[0]!.outcome, 'added');
    assert.match(out.outcomes[0]!.unit.id!, /^\d+$/);
    assert.equal(eng.getRepo('x')!.version, 1);
    assert.equal(eng.getRepo('y')!.version, 1);
  } finally {
    eng.close();
  }
});

test('deleteRepo ifUnused decides under the lock: a repository another transaction filled meanwhile stays; a transaction whose repository was deleted while it waited writes nothing', async () => {
  const e = engineEnv();
  // Two engines on one data dir: locks are re-entrant within one, exclusive between them (as between processes).
  const eng = await open(e);
  const other = await open(e);
  try {
    const f = path.join(e.root, 'f.txt');
    fs.writeFileSync(f, 'f');
    await eng.createRepo({ id: 'newx', importer: { typeId: 'test_importer' } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const filling = eng.transaction(['newx'], async (b) => {
      entered();
      await gate;
      await b.upload('newx', { filePath: f });
    });
    await inside;
    const deleting = other.deleteRepo('newx', { ifUnused: true }); // waits for the transaction's lock
    await new Promise((r) => setTimeout(r, 300));
    release();
    await filling;
    assert.equal(await deleting, false, 'it has content now: kept');
    assert.equal(eng.listUnits('newx').length, 1);

    // The other order: deleted while a transaction waits for its lock.
    await eng.createRepo({ id: 'gone', importer: { typeId: 'test_importer' } });
    let release2!: () => void;
    const gate2 = new Promise<void>((r) => (release2 = r));
    let entered2!: () => void;
    const inside2 = new Promise<void>((r) => (entered2 = r));
    const deleting2 = other.deleteRepo('gone', { ifUnused: true });
    const holder = eng.transaction(['gone'], async () => {
      entered2();
      await gate2;
    });
    void holder.catch(() => undefined);
    // Whichever takes the lock first: the delete (then the transaction finds nothing and writes
    // nothing) or the transaction (empty: then the delete goes ahead after it).
    await Promise.race([inside2, deleting2]);
    release2();
    assert.equal(await deleting2, true);
    await holder.catch((err: { code?: string }) => assert.equal(err.code, 'ENGINE_REPO_NOT_FOUND'));
    await assert.rejects(
      eng.transaction(['gone'], async (b) => {
        await b.upload('gone', { filePath: f });
      }),
      (err: { code?: string }) => err.code === 'ENGINE_REPO_NOT_FOUND',
    );
    assert.equal(eng.getRepo('gone'), null);
  } finally {
    other.close();
    eng.close();
  }
});

test('a file pinned for a running operation survives orphan clean-up (an orphaned unit\'s file too); unpinned it goes', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    const f = path.join(e.root, 'kept.txt');
    fs.writeFileSync(f, 'kept');
    await eng.createRepo({ id: 'r', importer: { typeId: 'test_importer' } });
    await eng.upload('r', { filePath: f });
    await eng.deleteRepo('r');
    const stored = path.join(eng.contentRoot, 'sha256', sha('kept').slice(0, 2), sha('kept').slice(2));
    assert.ok(fs.existsSync(stored));
    // A push about to import the same content pins it: a clean-up meanwhile leaves it.
    await eng.pinForOperation('push-x', [sha('kept')], Date.now() + 60_000);
    const r1 = await eng.removeOrphans();
    assert.equal(r1.files, 0);
    assert.ok(fs.existsSync(stored), 'pinned: kept');
    eng.unpin('push-x');
    const r2 = await eng.removeOrphans();
    assert.equal(r2.files, 1);
    assert.ok(!fs.existsSync(stored));
  } finally {
    eng.close();
  }
});

test('orphan clean-up deletes only units still in no repository when it deletes them (one associated since it listed them stays, with its file)', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    const f = path.join(e.root, 'again.txt');
    fs.writeFileSync(f, 'again');
    await eng.createRepo({ id: 'r', importer: { typeId: 'test_importer' } });
    await eng.upload('r', { filePath: f });
    await eng.deleteRepo('r');
    const st = (eng as unknown as { st: { orphanUnits(now: number): Array<{ id: number }>; deleteUnits(ids: number[]): void; addContent(repo: string, id: number, v: number): void } }).st;
    const listed = st.orphanUnits(Date.now()).map((u) => u.id);
    assert.equal(listed.length, 1);
    // Meanwhile a push creates a repository and associates the unit again.
    await eng.createRepo({ id: 'n', importer: { typeId: 'test_importer' } });
    st.addContent('n', listed[0]!, 1);
    st.deleteUnits(listed);
    assert.equal(eng.listUnits('n').length, 1, 'the unit associated meanwhile stays');
    const r = await eng.removeOrphans();
    assert.deepEqual([r.units, r.files], [0, 0]);
  } finally {
    eng.close();
  }
});

test('conduits expire with their operation; a failed operation commits nothing; scratchpads take JSON only', async () => {
  const e = engineEnv();
  const eng = await open(e);
  const f = path.join(e.root, 'f.txt');
  fs.writeFileSync(f, 'f');
  try {
    await eng.createRepo({ id: 'r', importer: { typeId: 'test_importer' } });
    await eng.upload('r', { filePath: f, override: { keep_conduit: true } });
    const kept = (globalThis as any).__keptConduit;
    assert.ok(kept);
    assert.throws(() => kept.getUnits(), (err: any) => err.code === 'ENGINE_CONDUIT_EXPIRED' && /expired when its operation returned/.test(err.message));
    assert.throws(() => kept.setScratchpad({ a: 1 }), (err: any) => err.code === 'ENGINE_CONDUIT_EXPIRED');
    const g = path.join(e.root, 'g.txt');
    fs.writeFileSync(g, 'g');
    await assert.rejects(eng.upload('r', { filePath: g, override: { fail_after_save: true } }), (err: any) => err.code === 'ENGINE_UPLOAD_FAILED' && err.kind === 'failed' && /failing after save on purpose/.test(err.message));
    await assert.rejects(eng.upload('r', { filePath: g, override: { bad_scratchpad: true } }), (err: any) => err.code === 'ENGINE_NOT_JSON' && /scratchpad must be JSON-serialisable: at when: a Date object is not JSON/.test(err.message));
    await assert.rejects(eng.upload('r', { filePath: g, typeId: 'nosuch' }), (err: any) => err.code === 'ENGINE_UNKNOWN_TYPE');
    // A report that is not JSON (a BigInt in the summary) fails the operation before its commit.
    await assert.rejects(eng.upload('r', { filePath: g, override: { bad_summary: true } }), (err: any) => err.code === 'ENGINE_UPLOAD_FAILED' && /returned a report that is not JSON/.test(err.message));
    // detectType throwing is the plugin's failure, coded (not an internal error).
    const boom = path.join(e.root, 'x.boom');
    fs.writeFileSync(boom, 'x');
    await assert.rejects(eng.upload('r', { filePath: boom }), (err: any) => err.code === 'ENGINE_UPLOAD_FAILED' && /detectType exploded/.test(err.message));
    await assert.rejects(eng.upload('r', { filePath: g, typeId: 'rpm' }), (err: any) => err.code === 'ENGINE_TYPE_NOT_SUPPORTED' && /importer test_importer of repository r does not handle content type rpm/.test(err.message));
  } finally {
    eng.close();
  }
  // from a fresh process: only the first upload is there, no temp files, the task rows say why
  assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out.map((u: any) => u.unitKey.name), ['f.txt']);
  assert.deepEqual(fs.readdirSync(path.join(e.dataDir, 'content', 'tmp')), []);
  const errs = e.json(['task', 'list', '--state', 'error']).out.map((t: any) => t.error.code).sort();
  assert.deepEqual(errs, ['ENGINE_NOT_JSON', 'ENGINE_TYPE_NOT_SUPPORTED', 'ENGINE_UNKNOWN_TYPE', 'ENGINE_UPLOAD_FAILED', 'ENGINE_UPLOAD_FAILED', 'ENGINE_UPLOAD_FAILED']);
  assert.match(e.json(['task', 'list', '--state', 'error']).out.find((t: any) => t.error.code === 'ENGINE_UPLOAD_FAILED').error.trace, /at /, 'error with trace');
  assert.equal(e.json(['repo', 'show', 'r']).out.version, 1);
});

test('published tree behind a symlink: fsck walks through the link', async () => {
  const { buildManifest } = await import('../../src/engine/index.js');
  const e = engineEnv({ plugin: false });
  const real = path.join(e.root, 'v1');
  fs.mkdirSync(path.join(real, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(real, 'sub', 'x'), 'x');
  const link = path.join(e.root, 'current');
  fs.symlinkSync(real, link);
  const m = buildManifest(link);
  assert.deepEqual(Object.keys(m).sort(), ['.', 'sub', 'sub/x']);
  assert.equal(m['.']!.t, 'l');
  assert.equal(m['sub/x']!.v, sha('x'));
});

test('a repository whose plugin is no longer loaded is not deleted silently: its removal hook cannot run (PLUGIN_NOT_LOADED), --force goes on with a warning', async () => {
  const e = engineEnv();
  const eng = await open(e);
  await eng.createRepo({ id: 'a', importer: { typeId: 'test_importer' }, distributors: [{ id: 'a_iso', typeId: 'iso_distributor', config: { relative_url: 'a-iso' } }, { id: 'd', typeId: 'test_distributor', config: { relative_url: 'a' } }] });
  await eng.publish('a');
  const isoTree = path.join(e.dataDir, 'published', 'http', 'a-iso');
  assert.ok(fs.existsSync(isoTree));
  eng.close();
  const events: Array<{ type: string; code?: string }> = [];
  // Opened without the directory plugins: test_importer / test_distributor are not loaded.
  const bare = await openEngine({ dataDir: e.dataDir, pluginsDir: path.join(e.root, 'no-plugins'), configDir: e.configDir, events: (ev) => events.push(ev as { type: string; code?: string }) });
  try {
    await assert.rejects(() => bare.removeDistributor('a', 'd'), (err: any) => err.code === 'PLUGIN_NOT_LOADED' && /test_distributor/.test(err.message));
    await assert.rejects(() => bare.deleteRepo('a'), (err: any) => err.code === 'PLUGIN_NOT_LOADED');
    assert.ok(bare.getRepo('a'), 'refused: nothing deleted');
    assert.ok(fs.existsSync(isoTree), 'refused before any hook ran: the iso tree is still published');
    // A publish goes on for the distributors whose plugin is there; the missing one fails alone.
    const outcomes = await bare.publish('a', { force: true });
    assert.deepEqual(outcomes.map((o) => `${o.distributorId}:${o.status}`), ['a_iso:published', 'd:failed']);
    assert.equal(await bare.deleteRepo('a', { force: true }), true);
    assert.equal(bare.getRepo('a'), null);
    assert.ok(events.some((ev) => ev.type === 'warning' && ev.code === 'PLUGIN_NOT_LOADED'));
  } finally {
    bare.close();
  }
});

test('a publish with a call override is for that run only: the next publish without it is due and puts the configured tree back', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    await eng.createRepo({ id: 'o', importer: { typeId: 'iso_importer' }, distributors: [{ typeId: 'iso_distributor', config: { relative_url: 'content/o' } }] });
    const f = path.join(e.root, 'a.iso');
    fs.writeFileSync(f, 'a\n');
    await eng.upload('o', { filePath: f, typeId: 'iso' });
    const http = path.join(e.dataDir, 'published', 'http');
    assert.equal((await eng.publish('o'))[0]!.status, 'published');
    const preview = await eng.publish('o', { override: { relative_url: 'preview/o' } });
    assert.equal(preview[0]!.status, 'published');
    assert.ok(fs.existsSync(path.join(http, 'preview', 'o', 'PULP_MANIFEST')));
    const plain = await eng.publish('o');
    assert.equal(plain[0]!.status, 'published', 'the stored configuration was not the last one published');
    assert.deepEqual(plain[0]!.publishedPaths, [path.join(http, 'content', 'o')]);
    assert.ok(fs.existsSync(path.join(http, 'content', 'o', 'a.iso')));
    assert.equal((await eng.publish('o'))[0]!.status, 'skipped');
    // An override is checked as the operation will see it: a key set to null is null there.
    await assert.rejects(eng.publish('o', { override: { relative_url: null } }), (err: any) => err.code === 'PLUGIN_CONFIG_INVALID' && /relative_url/.test(err.message));
    await assert.rejects(eng.upload('o', { filePath: f, typeId: 'iso', override: { remove_missing: null } }), (err: any) => err.code === 'PLUGIN_CONFIG_INVALID');
  } finally {
    eng.close();
  }
});

test('what a plugin returns is checked before it is recorded: publishedPaths/urls not lists of strings fail the publish (nothing recorded), importUnits not a list fails the copy, verifyPublished throwing or not a list is one fsck problem and the other checks still run', async () => {
  const e = engineEnv();
  const eng = await open(e, { baseUrls: { http: 'http://example.test/pub' } });
  try {
    await eng.createRepo({ id: 'p', importer: { typeId: 'test_importer' }, distributors: [{ typeId: 'test_distributor', config: { relative_url: 'p' } }] });
    await eng.createRepo({ id: 'q', importer: { typeId: 'test_importer' } });
    const f = path.join(e.root, 'one.txt');
    fs.writeFileSync(f, 'one\n');
    await eng.upload('p', { filePath: f });
    for (const key of ['urls_as_string', 'paths_as_string']) {
      const [out] = await eng.publish('p', { override: { [key]: true } });
      assert.equal(out!.status, 'failed', key);
      assert.equal(out!.error?.code, 'ENGINE_PUBLISH_FAILED', key);
      assert.match(out!.error?.message ?? '', /not a list of strings/, key);
    }
    assert.equal(eng.listDistributors('p')[0]!.lastPublish, null, 'no bad publish recorded');
    assert.equal((await eng.publish('p'))[0]!.status, 'published');
    await assert.rejects(eng.copy('p', 'q', { override: { import_returns_string: true } }), (err: any) => err.code === 'ENGINE_COPY_FAILED' || err.code === 'ENGINE_BAD_RESULT');
    assert.equal(eng.listUnits('q').length, 0);
    // A stored file damaged meanwhile is still found when a plugin's own check fails.
    fs.chmodSync(eng.listUnits('p')[0]!.storagePath!, 0o644);
    fs.writeFileSync(eng.listUnits('p')[0]!.storagePath!, 'damaged\n');
    for (const mode of ['throw', 'string']) {
      await eng.updateDistributor('p', 'test_distributor', { config: { verify_mode: mode } });
      const r = await eng.fsck();
      const codes = r.problems.map((x) => x.code);
      assert.ok(codes.includes('ENGINE_FSCK_FAILED'), `${mode}: ${JSON.stringify(r.problems)}`);
      assert.ok(codes.some((c) => c !== 'ENGINE_FSCK_FAILED'), `${mode}: the stored file's damage is reported too: ${JSON.stringify(r.problems)}`);
      assert.ok(!r.problems.some((x) => /"a"|; a;/.test(x.message)), 'a string is not split into characters');
    }
  } finally {
    eng.close();
  }
});

test('iterUnits pages by key across page boundaries: the same units, in the same order, as listUnits, with skip and limit', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    await eng.createRepo({ id: 'n', importer: { typeId: 'test_importer' } });
    await eng.transaction(['n'], async (b) => {
      const specs = function* () {
        for (let i = 0; i < 2300; i++) yield { filePath: null, typeId: 'tnote', unitKey: { id: `n${String(i).padStart(4, '0')}` }, metadata: { text: String(i) } };
      };
      await b.uploadMany('n', specs());
    });
    const all = eng.listUnits('n').map((u) => u.id);
    assert.equal(all.length, 2300);
    assert.deepEqual([...eng.iterUnits('n')].map((u) => u.id), all);
    assert.deepEqual([...eng.iterUnits('n', { skip: 995, limit: 1010 })].map((u) => u.id), all.slice(995, 2005));
    assert.deepEqual([...eng.iterUnits('n', { skip: 2290 })].map((u) => u.id), all.slice(2290));
    assert.deepEqual([...eng.iterUnits('n', { filters: { id: { $regex: '5$' } }, fields: [] })].map((u) => u.id), eng.listUnits('n', { filters: { id: { $regex: '5$' } } }).map((u) => u.id));
    // An importer walking the source repository of a copy page by page (iterSourceUnits) sees every unit once.
    await eng.createRepo({ id: 'm', importer: { typeId: 'test_importer' } });
    const c = await eng.copy('n', 'm', { override: { copy_via_iter: true, iter_skip: 3 } });
    assert.equal(c.added, 2297);
    assert.deepEqual(eng.listUnits('m').map((u) => u.id), all.slice(3));
  } finally {
    eng.close();
  }
});

test("the importer's removeUnits hook gets whole units (their metadata), staged or committed, a page of at most 500 per call, each removed unit once; the result's units keep only the fields asked for", async () => {
  const e = engineEnv();
  const dir = path.join(e.pluginsDir, 'rmplug');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  fs.writeFileSync(path.join(dir, 'types.json'), JSON.stringify([{ id: 'rnote', unitKey: ['id'] }]));
  // The engine runs in this process: the hook records what it gets in globalThis.
  fs.writeFileSync(
    path.join(dir, 'importer.js'),
    `export default class R {
      metadata() { return { id: 'rm_importer', displayName: 'r', types: ['rnote'] }; }
      validateConfig() { return { valid: true }; }
      uploadUnit(repo, up, conduit) { conduit.saveUnit(conduit.initUnit('rnote', up.unitKey, up.metadata, null)); return { success: true, summary: null }; }
      removeUnits(repo, units) { globalThis.__stagepushRemoved.push(units.map((u) => ({ id: u.unitKey.id, metadata: u.metadata }))); }
    }\n`,
  );
  const g = globalThis as { __stagepushRemoved?: Array<Array<{ id: string; metadata: Record<string, unknown> }>> };
  const eng = await open(e);
  // Long text: past 500 staged units, metadata this long is spilled to disk (read back for the hook).
  const md = (i: number) => ({ text: `${i}:${'x'.repeat(600)}`, nested: { n: i } });
  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `r${String(from + k).padStart(4, '0')}`);
  try {
    await eng.createRepo({ id: 'r', importer: { typeId: 'rm_importer' } });
    await eng.transaction(['r'], async (b) => {
      await b.uploadMany('r', ids(0, 1201).map((id) => ({ filePath: null, typeId: 'rnote', unitKey: { id }, metadata: md(Number(id.slice(1))) })));
    });
    const check = (calls: NonNullable<typeof g.__stagepushRemoved>, want: string[]) => {
      assert.ok(calls.length >= Math.ceil(want.length / 500) && calls.every((c) => c.length >= 1 && c.length <= 500), calls.map((c) => c.length).join(','));
      const got = calls.flat();
      assert.deepEqual(got.map((u) => u.id).sort(), want);
      for (const u of got) assert.deepEqual(u.metadata, md(Number(u.id.slice(1))), u.id);
    };

    // Committed units, every one, with fields asked for the result.
    g.__stagepushRemoved = [];
    const some = await eng.removeUnits('r', { typeIds: ['rnote'], filters: { id: { $regex: '^r0' } }, fields: ['nested'] });
    assert.equal(some.removed, 1000);
    check(g.__stagepushRemoved, ids(0, 1000));
    assert.deepEqual(some.outcomes[0]!.unit.metadata, { nested: { n: 0 } }, 'the result keeps the fields asked for');

    // Units staged in the same transaction (spilled, past 500), removed there: whole too.
    g.__stagepushRemoved = [];
    const r = await eng.transaction(['r'], async (b) => {
      await b.uploadMany('r', ids(2000, 2700).map((id) => ({ filePath: null, typeId: 'rnote', unitKey: { id }, metadata: md(Number(id.slice(1))) })));
      return b.removeUnits('r', { typeIds: ['rnote'] });
    });
    check(g.__stagepushRemoved, [...ids(1000, 1201), ...ids(2000, 2700)]);
    assert.equal(r.outcomes.length, 901);
    assert.ok(r.outcomes.every((o) => Object.keys(o.unit.metadata).length === 0), 'the result keeps no metadata by default');
    assert.deepEqual(eng.listUnits('r'), []);
  } finally {
    g.__stagepushRemoved = undefined;
    eng.close();
  }
});

test('tasks.list({repoId}) lists a transaction over that repository and others (the task that made its version); only whole ids match', async () => {
  const e = engineEnv();
  const eng = await open(e);
  try {
    for (const id of ['x', 'y', 'xy', 'x_y']) await eng.createRepo({ id, importer: { typeId: 'test_importer' } });
    const f = path.join(e.root, 'f.txt');
    fs.writeFileSync(f, 'f');
    await eng.transaction(['x', 'y'], async (b) => {
      await b.upload('x', { filePath: f });
      await b.copy('x', 'y');
    });
    const tx = eng.tasks.list({ kind: 'transaction' });
    assert.equal(tx.length, 1);
    for (const id of ['x', 'y']) {
      assert.deepEqual(eng.tasks.list({ repoId: id }).map((t) => t.id), [tx[0]!.id], id);
      // repo versions names it as the task of the repository's new version.
      assert.equal(eng.versions(id).find((v) => v.current)!.taskId, tx[0]!.id);
    }
    // "x_y" is not a pattern matching "x,y"; "xy" is not a part of "x,y".
    assert.deepEqual(eng.tasks.list({ repoId: 'xy' }), []);
    assert.deepEqual(eng.tasks.list({ repoId: 'x_y' }), []);
    assert.deepEqual(eng.tasks.list({ repoId: 'x', kind: 'upload' }), []);
  } finally {
    eng.close();
  }
});
