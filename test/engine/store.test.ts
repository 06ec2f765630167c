import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ContentStore, setFileFactsProvider, onStored, deferDurability, flushDurability, type FileFacts, type StoredEvent } from '../../src/engine/store.js';
import { openEngine } from '../../src/engine/index.js';
import { SPILL_AFTER_UNITS } from '../../src/engine/conduits.js';
import { engineEnv } from '../helpers/engine.js';
import { tempDir } from '../helpers/cli.js';
import { cannotMountTmpfs, mountTmpfs } from '../helpers/tmpfs.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function factsOf(file: string, sha256: string): FileFacts {
  const st = fs.statSync(file);
  return { sha256, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
}

test('ingestFile: known facts link without reading; a changed file is hashed and verified; unknown files are hashed', () => {
  const dir = tempDir();
  const store = new ContentStore(path.join(dir, 'content'));
  const a = path.join(dir, 'a.bin');
  fs.writeFileSync(a, 'aaaa');
  const known = new Map<string, FileFacts>([[a, factsOf(a, sha('aaaa'))]]);
  const prev = setFileFactsProvider((p) => known.get(p));
  try {
    deferDurability();
    const r = store.ingestFile(a);
    assert.equal(flushDurability().dirs >= 1, true, 'the shard directory is synced with the batch');
    assert.deepEqual([r.how, r.verified, r.sha256], ['linked', false, sha('aaaa')]);
    assert.equal(fs.statSync(r.path).ino, fs.statSync(a).ino);
    assert.equal(store.ingestFile(a).how, 'existing');

    // The facts are stale (the file was rewritten since it was hashed): hashed again, stored under its real digest.
    const b = path.join(dir, 'b.bin');
    fs.writeFileSync(b, 'bbbb');
    known.set(b, { ...factsOf(b, sha('bbbb')), mtimeMs: 1 });
    fs.writeFileSync(b, 'BBBB');
    const rb = store.ingestFile(b);
    assert.deepEqual([rb.how, rb.verified, rb.sha256], ['linked', true, sha('BBBB')]);
    assert.equal(store.has(sha('bbbb')), false);

    // No facts: verified.
    const c = path.join(dir, 'c.bin');
    fs.writeFileSync(c, 'cccc');
    const rc = store.ingestFile(c);
    assert.deepEqual([rc.verified, rc.sha256], [true, sha('cccc')]);
  } finally {
    setFileFactsProvider(prev);
  }
});

test('pins: pinned digests are left out of listAll and not removed until released or expired', () => {
  const dir = tempDir();
  const store = new ContentStore(path.join(dir, 'content'));
  const files = ['one', 'two', 'three'].map((t) => {
    const f = path.join(dir, t);
    fs.writeFileSync(f, t);
    return store.ingestFile(f).sha256;
  });
  store.pin('pre-push-x', [files[0]!, files[1]!], Date.now() + 3600_000);
  assert.deepEqual([...store.listAll()].sort(), [files[2]!]);
  assert.deepEqual([...store.listAll(true)].sort(), [...files].sort());
  assert.equal(store.remove(files[0]!), 0);
  assert.ok(store.has(files[0]!));
  // Only the pins named by the prefix release a digest: another pin of it keeps it.
  store.pin('publish-y', [files[0]!], Date.now() + 3600_000);
  assert.equal(store.release([files[0]!], 'pre-push-'), 1);
  assert.deepEqual([...store.pinned()].sort(), [files[0]!, files[1]!].sort());
  store.unpin('publish-y');
  assert.deepEqual([...store.pinned()], [files[1]!]);
  assert.ok(store.remove(files[0]!) > 0);
  // Expired: not in force (and its file is deleted).
  store.pin('pre-push-x', [files[1]!], Date.now() - 1);
  assert.deepEqual([...store.pinned()], []);
  assert.deepEqual(fs.readdirSync(store.pinDir), []);
  assert.ok(store.remove(files[1]!) > 0);
});

test('a copy into the store that fills the disk midway leaves no partial temp file (known facts or not)', (t) => {
  const skip = cannotMountTmpfs();
  if (skip) return t.skip(skip);
  const fs1 = mountTmpfs('1m');
  try {
    // The source on another filesystem: copied, and 2 MiB do not fit in 1 MiB.
    const src = path.join(tempDir(), 'big.bin');
    const data = Buffer.alloc(2 << 20, 9);
    fs.writeFileSync(src, data);
    const store = new ContentStore(path.join(fs1.dir, 'content'));
    const prev = setFileFactsProvider(null);
    try {
      assert.throws(() => store.ingestFile(src), { code: 'ENOSPC' });
      assert.deepEqual(fs.readdirSync(store.tmpDir), [], 'unknown file: no temp file left');
      setFileFactsProvider((p) => (p === src ? factsOf(src, sha(data)) : undefined));
      assert.throws(() => store.ingestFile(src), { code: 'ENOSPC' });
      assert.deepEqual(fs.readdirSync(store.tmpDir), [], 'known facts: no temp file left');
    } finally {
      setFileFactsProvider(prev);
    }
  } finally {
    fs1.unmount();
  }
});

test('a large transaction keeps big metadata out of memory and commits it intact', async () => {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await eng.createRepo({ id: 'g', importer: { typeId: 'generic_importer' } });
    const n = SPILL_AFTER_UNITS + 40;
    const big = (i: number) => ({ name: `img-${i}`, notes: `${i}:`.padEnd(2000, 'x'), list: [i, i + 1, { k: `v${i}` }] });
    await eng.transaction(['g'], async (b) => {
      for (let i = 0; i < n; i++) await b.upload('g', { filePath: null, typeId: 'cgw', unitKey: { name: `img-${i}` }, metadata: big(i) });
      // Re-saving a spilled unit writes its new metadata through.
      await b.upload('g', { filePath: null, typeId: 'cgw', unitKey: { name: `img-${n - 1}` }, metadata: { ...big(n - 1), notes: 'changed' } });
      const seen = b.listUnits('g', { typeIds: ['cgw'], filters: { name: `img-${n - 2}` } });
      assert.deepEqual(seen[0]?.metadata.list, big(n - 2).list);
    });
    const units = eng.listUnits('g', { typeIds: ['cgw'] });
    const byName = new Map(units.map((u) => [u.metadata.name, u]));
    assert.equal(units.length, n, 'the changed one replaced the unit of the same name');
    for (const i of [0, SPILL_AFTER_UNITS + 5, n - 2]) assert.deepEqual(byName.get(`img-${i}`)?.metadata, big(i));
    assert.equal(byName.get(`img-${n - 1}`)?.metadata.notes, 'changed');
  } finally {
    eng.close();
  }
});

test('ingestFile and commitTemp: a shard directory removed after the store made it is made again; a stored listener hears each result', () => {
  const dir = tempDir();
  const store = new ContentStore(path.join(dir, 'content'));
  const heard: StoredEvent[] = [];
  const stopListening = onStored((e) => heard.push(e));
  const files = ['one', 'two', 'three'].map((t) => {
    const f = path.join(dir, `${t}.bin`);
    fs.writeFileSync(f, t);
    return f;
  });
  const known = new Map<string, FileFacts>([[files[0]!, factsOf(files[0]!, sha('one'))]]);
  const prev = setFileFactsProvider((p) => known.get(p));
  try {
    // Known facts: linked straight into a shard the store made before and that was removed since.
    store.ingestFile(path.join(dir, 'one.bin'));
    fs.rmSync(path.dirname(store.pathFor(sha('one'))), { recursive: true });
    const r1 = store.ingestFile(files[0]!);
    assert.equal(r1.how, 'linked');
    assert.equal(fs.statSync(r1.path).ino, fs.statSync(files[0]!).ino);
    // A stat given by the caller is used as it is.
    assert.equal(store.ingestFile(files[0]!, { st: fs.statSync(files[0]!) }).how, 'existing');
    // Unknown file (hashed, then renamed into place).
    store.ingestFile(files[1]!);
    fs.rmSync(path.dirname(store.pathFor(sha('two'))), { recursive: true });
    assert.equal(store.ingestFile(files[1]!).how, 'linked');
    assert.equal(store.has(sha('two')), true);
    // A source not readable by everyone is copied.
    fs.chmodSync(files[2]!, 0o600);
    known.set(files[2]!, factsOf(files[2]!, sha('three')));
    const r3 = store.ingestFile(files[2]!);
    assert.equal(r3.how, 'copied');
    assert.notEqual(fs.statSync(r3.path).ino, fs.statSync(files[2]!).ino);
    assert.equal(store.ingestFile(files[2]!).how, 'existing');
    // A temp file committed into a removed shard.
    fs.rmSync(path.dirname(store.pathFor(sha('three'))), { recursive: true });
    const tmp = store.tempPath();
    fs.writeFileSync(tmp, 'three');
    assert.equal(store.commitTemp(tmp).sha256, sha('three'));
    assert.equal(store.has(sha('three')), true);
    const tmp2 = store.tempPath();
    fs.writeFileSync(tmp2, 'three');
    store.commitTemp(tmp2);
  } finally {
    setFileFactsProvider(prev);
    stopListening();
  }
  assert.deepEqual(
    heard.map((e) => `${e.src === null ? 'temp' : path.basename(e.src)} ${e.how} ${e.size}`),
    ['one.bin linked 3', 'one.bin linked 3', 'one.bin existing 3', 'two.bin linked 3', 'two.bin linked 3', 'three.bin copied 5', 'three.bin existing 5', 'temp copied 5', 'temp existing 5'],
  );
  assert.deepEqual(heard.map((e) => e.sha256), [sha('one'), sha('one'), sha('one'), sha('two'), sha('two'), sha('three'), sha('three'), sha('three'), sha('three')]);
});

test('pathFor: <root>/sha256/<aa>/<rest>, as path.join gives it, for any spelling of the root', () => {
  const digest = sha('x');
  for (const root of [path.join(tempDir(), 'content'), path.join(tempDir(), 'a', '..', 'content') + '/']) {
    const store = new ContentStore(root);
    assert.equal(store.pathFor(digest), path.join(root, 'sha256', digest.slice(0, 2), digest.slice(2)));
  }
  const store = new ContentStore(path.join(tempDir(), 'content'));
  assert.throws(() => store.pathFor('../x'), (e: { code?: string }) => e.code === 'ENGINE_BAD_SHA256');
});

/** An engine on a fresh data dir with the test plugin, closed after `fn`. */
async function withEngine(fn: (eng: Awaited<ReturnType<typeof openEngine>>) => Promise<void>): Promise<void> {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await fn(eng);
  } finally {
    eng.close();
  }
}

test('JsonText metadata values are stored as their text, spilled or not; re-saved unchanged or replaced; an empty one is refused', () =>
  withEngine(async (eng) => {
    await eng.createRepo({ id: 'n', importer: { typeId: 'test_importer' } });
    const record = (i: number) => ({ files: Array.from({ length: 40 }, (_, k) => `/usr/share/n${i}/file-${k}`), n: i, nested: { ok: true, none: null } });
    const n = SPILL_AFTER_UNITS + 20;
    const note = (i: number, rec = record(i)) => ({ filePath: null, typeId: 'tnote', unitKey: { id: `n-${i}` }, metadata: { before: i, as_text: { record: JSON.stringify(rec) }, after: 'x' } });
    await eng.transaction(['n'], async (b) => {
      for (let i = 0; i < n; i++) await b.upload('n', note(i));
      // Seen inside the transaction (staged, and spilled past SPILL_AFTER_UNITS): parsed.
      for (const i of [0, n - 1]) assert.deepEqual(b.listUnits('n', { typeIds: ['tnote'], filters: { id: `n-${i}` } })[0]?.metadata.record, record(i));
    });
    const byId = new Map(eng.listUnits('n', { typeIds: ['tnote'] }).map((u) => [u.unitKey.id, u]));
    assert.equal(byId.size, n);
    for (const i of [0, SPILL_AFTER_UNITS + 3, n - 1]) {
      assert.deepEqual(byId.get(`n-${i}`)?.metadata, { before: i, record: record(i), after: 'x', text: '' }, `n-${i}`);
    }
    const v = eng.getRepo('n')!.version;
    // The same text again: unchanged (no new version); another text: replaced.
    await eng.upload('n', note(0));
    assert.equal(eng.getRepo('n')!.version, v);
    await eng.upload('n', note(1, { ...record(1), n: -1 }));
    assert.equal(eng.getRepo('n')!.version, v + 1);
    assert.deepEqual(eng.listUnits('n', { typeIds: ['tnote'], filters: { id: 'n-1' } })[0]?.metadata.record, { ...record(1), n: -1 });
    await assert.rejects(() => eng.upload('n', { ...note(2), metadata: { as_text: { record: '' } } }), /empty JsonText/);
  }));

test('a JsonText anywhere but at the top level of unit metadata is refused, not stored as {}', () =>
  withEngine(async (eng) => {
    await eng.createRepo({ id: 'm', importer: { typeId: 'test_importer' } });
    const nested = { nested: { deeper: { [Symbol.for('stagepush.jsonText')]: '{"a":1}' } } };
    await assert.rejects(() => eng.upload('m', { filePath: null, typeId: 'tnote', unitKey: { id: 'x' }, metadata: nested as never }), /at nested\.deeper: a JsonText is only accepted as a top-level value/);
    assert.equal(eng.listUnits('m').length, 0);
  }));
