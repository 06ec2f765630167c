import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openEngine } from '../../src/engine/index.js';
import { StagepushError } from '../../src/errors.js';
import { engineEnv } from '../helpers/engine.js';

test('batch uploadMany: one result per request in order, hooks around each, a failing item named and nothing committed', async () => {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await eng.createRepo({ id: 'x', importer: { typeId: 'test_importer' } });
    await eng.createRepo({ id: 'y', importer: { typeId: 'test_importer' } });
    const files = ['a.txt', 'b.txt', 'c.txt'].map((n) => {
      const f = path.join(e.root, n);
      fs.writeFileSync(f, `${n}\n`);
      return f;
    });
    const missing = path.join(e.root, 'missing.txt');
    const calls: string[] = [];
    const err = await eng
      .transaction(['x'], async (b) => {
        await b.uploadMany('x', [{ filePath: files[0]! }, { filePath: missing }, { filePath: files[1]! }], {
          before: (i) => calls.push(`before ${i}`),
          after: (i) => calls.push(`after ${i}`),
        });
      })
      .then(
        () => null,
        (x: unknown) => x,
      );
    assert.ok(err instanceof StagepushError);
    assert.equal(err.code, 'ENGINE_FILE_NOT_FOUND');
    assert.ok(err.message.includes(missing), err.message);
    assert.deepEqual(calls, ['before 0', 'after 0', 'before 1']);
    assert.equal(eng.listUnits('x').length, 0);
    assert.equal(eng.getRepo('x')!.version, 0);

    const results = await eng.transaction(['x'], async (b) => {
      const out = await b.uploadMany('x', files.map((f) => ({ filePath: f })));
      assert.equal(b.listUnits('x').length, 3);
      return out;
    });
    assert.equal(results.length, 3);
    for (const r of results) {
      assert.equal(r.repoId, 'x');
      assert.deepEqual(r.outcomes.map((o) => o.outcome), ['added']);
    }
    assert.equal(eng.listUnits('x').length, 3);
    assert.equal(eng.getRepo('x')!.version, 1);
    await assert.rejects(eng.transaction(['x'], (b) => b.uploadMany('y', [{ filePath: files[0]! }])), /ENGINE_NOT_LOCKED|not part of this transaction/);
  } finally {
    eng.close();
  }
});

test('batch queries of staged units: a unit key value or $in list pre-selects, and gives what matching every unit gives', async () => {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await eng.createRepo({ id: 'q', importer: { typeId: 'test_importer' } });
    const names = ['a.txt', 'b.txt', 'c.txt', 'd.txt'];
    // a.txt and b.txt stored first (committed units), c.txt and d.txt only staged in the batch.
    const files = names.map((n) => {
      const f = path.join(e.root, n);
      fs.writeFileSync(f, `${n}\n`);
      return f;
    });
    await eng.transaction(['q'], (b) => b.uploadMany('q', files.slice(0, 2).map((f) => ({ filePath: f }))));
    await eng.transaction(['q'], async (b) => {
      await b.uploadMany('q', files.slice(1).map((f) => ({ filePath: f }))); // b.txt again: staged over the stored unit
      const keys = (c: Parameters<typeof b.listUnits>[1]) => b.listUnits('q', c).map((u) => String(u.unitKey.name));
      assert.deepEqual(keys({ typeIds: ['tfile'] }), names);
      assert.deepEqual(keys({ typeIds: ['tfile'], filters: { name: 'c.txt' } }), ['c.txt']);
      assert.deepEqual(keys({ typeIds: ['tfile'], filters: { name: 'b.txt' } }), ['b.txt']);
      assert.deepEqual(keys({ typeIds: ['tfile'], filters: { name: { $in: ['d.txt', 'a.txt', 'd.txt', 'zz'] } } }), ['a.txt', 'd.txt']);
      assert.deepEqual(keys({ typeIds: ['tfile'], filters: { name: { $in: ['c.txt', 'd.txt'] }, checksum: { $ne: 'x' } } }), ['c.txt', 'd.txt']);
      assert.deepEqual(keys({ typeIds: ['tfile'], filters: { name: { $ne: 'c.txt' } } }), ['a.txt', 'b.txt', 'd.txt']);
      assert.deepEqual(keys({ typeIds: ['tnote'], filters: { name: 'c.txt' } }), []);
      assert.deepEqual(keys({ filters: { name: 'd.txt' } }), ['d.txt']);
    });
  } finally {
    eng.close();
  }
});

test('batch uploadMany with discardResults: each result goes to `after` only; units a caller kept get their ids at commit, the others are not held', async () => {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await eng.createRepo({ id: 'd', importer: { typeId: 'test_importer' } });
    const files = Array.from({ length: 5 }, (_, i) => {
      const f = path.join(e.root, `d${i}.txt`);
      fs.writeFileSync(f, `d${i}\n`);
      return f;
    });
    const kept: Array<import('../../src/engine/contract.js').Unit> = [];
    const seen: number[] = [];
    const out = await eng.transaction(['d'], (b) =>
      b.uploadMany('d', files.map((f) => ({ filePath: f })), {
        discardResults: true,
        after: (i, r) => {
          seen.push(i);
          assert.deepEqual(r.outcomes.map((o) => o.outcome), ['added']);
          if (i % 2 === 0) kept.push(r.outcomes[0]!.unit);
        },
      }),
    );
    assert.deepEqual(out, []);
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    const stored = new Map(eng.listUnits('d').map((u) => [JSON.stringify(u.unitKey), u.id]));
    assert.equal(stored.size, 5);
    for (const u of kept) assert.equal(u.id, stored.get(JSON.stringify(u.unitKey)), 'a kept unit has its real id after the commit');
    const task = eng.tasks.list({ kind: 'transaction' })[0];
    assert.deepEqual((task?.result as { operations?: number; units?: number } | null) ?? null, { repos: ['d'], operations: 5, units: 5 });
  } finally {
    eng.close();
  }
});
