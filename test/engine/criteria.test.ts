/**
 * Unit criteria: the SQL filters (committed units) and the JavaScript matcher (staged units) agree;
 * unit keys are checked against the type declaration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SqliteStorage } from '../../src/engine/sqlite.js';
import { ContentStore } from '../../src/engine/store.js';
import { keyCanon, rowToUnit } from '../../src/engine/conduits.js';
import { matchesFilters, validateCriteria } from '../../src/engine/criteria.js';
import { tempDir } from '../helpers/cli.js';

const UNITS = [
  { key: { name: 'alpha', arch: 'x86_64' }, md: { size: 10, tags: ['a', 'b'], signed: true, note: null } },
  { key: { name: 'beta', arch: 'noarch' }, md: { size: 200, tags: [], signed: false } },
  { key: { name: 'gamma', arch: 'x86_64' }, md: { size: 30, signed: true, extra: { k: 1 } } },
  { key: { name: 'delta', arch: 'aarch64' }, md: {} },
  // Values of other JSON types under the same fields: a filter never matches across types.
  { key: { name: 'epsilon', arch: 'x86_64' }, md: { size: 'abc', tags: '["a","b"]', signed: 1, extra: '{"k":1}' } },
  { key: { name: 'zeta', arch: 'x86_64' }, md: { size: '7', signed: 'true', note: 0 } },
];

const FILTERS: Array<Record<string, unknown>> = [
  { name: 'alpha' },
  { arch: 'x86_64' },
  { arch: { $ne: 'x86_64' } },
  { arch: { $in: ['noarch', 'aarch64'] } },
  { arch: { $nin: ['noarch'] } },
  { size: { $gt: 20 } },
  { size: { $gte: 30, $lt: 200 } },
  { size: { $lte: 10 } },
  { name: { $regex: '^[ab]' } },
  { signed: true },
  { signed: false },
  { note: null },
  { size: null },
  { size: { $exists: true } },
  { extra: { $exists: false } },
  { extra: { k: 1 } },
  { name: { $in: [] } },
  { size: { $nin: [10, null] } },
  { arch: 'x86_64', signed: true, name: { $ne: 'alpha' } },
  { size: { $gt: 5 } },
  { size: { $gte: 100000 } },
  { size: { $gt: 'a' } },
  { size: { $lt: '8' } },
  { size: 7 },
  { size: '7' },
  { tags: ['a', 'b'] },
  { tags: '["a","b"]' },
  { signed: 1 },
  { signed: { $in: [true, 'true'] } },
  { signed: { $nin: [true] } },
  { extra: '{"k":1}' },
  { note: 0 },
  { note: { $ne: null } },
  { tags: { $regex: 'a' } },
  { signed: { $regex: '^t' } },
  { size: { $gt: true } },
  { _size: '5' },
  { _typeId: 't' },
];

test('SQL filters and the JavaScript matcher select the same units', () => {
  const dir = tempDir();
  const st = new SqliteStorage(path.join(dir, 'engine.db'));
  const store = new ContentStore(path.join(dir, 'content'));
  const def = { id: 't', unitKey: ['name', 'arch'] };
  try {
    for (const u of UNITS) st.upsertUnit({ type_id: 't', key_canon: keyCanon(def, u.key), unit_key: JSON.stringify(u.key), metadata: JSON.stringify(u.md), sha256: null, size: null, relative_path: null, blobs: [] });
    const all = st.queryUnits({}).map((r) => rowToUnit(store, r));
    assert.equal(all.length, UNITS.length);
    for (const f of FILTERS) {
      validateCriteria({ filters: f });
      const sql = st.queryUnits({ criteria: { filters: f } }).map((r) => r.id).sort();
      const js = all.filter((u) => matchesFilters(u, f)).map((u) => Number(u.id)).sort();
      assert.deepEqual(sql, js, `filter ${JSON.stringify(f)}`);
    }
    // Long $in / $nin lists (the push removes thousands of units by id): neither a deep expression nor a parameter per value.
    const ids = Array.from({ length: 5000 }, (_, i) => i + 1);
    const names = [...Array.from({ length: 3000 }, (_, i) => `n${i}`), 'alpha', 'zeta', 7, true, null];
    for (const f of [{ _id: { $in: ids } }, { _id: { $nin: ids.slice(2) } }, { name: { $in: names } }, { name: { $nin: names } }, { size: { $in: [...ids, '7', 'abc'] } }]) {
      const sql = st.queryUnits({ criteria: { filters: f } }).map((r) => r.id).sort();
      const js = all.filter((u) => matchesFilters(u, f)).map((u) => Number(u.id)).sort();
      assert.deepEqual(sql, js, `filter with a long list on ${Object.keys(f)[0]}`);
    }
    assert.equal(st.queryUnits({ criteria: { filters: { _id: { $in: ids } } } }).length, UNITS.length);
    // _id addresses the engine id, compared as a number (given as text or not); fields project the metadata
    const first = all[0]!;
    assert.deepEqual(st.queryUnits({ criteria: { filters: { _id: first.id } } }).map((r) => String(r.id)), [first.id]);
    for (const f of [{ _id: { $gt: 2 } }, { _id: { $gt: '2' } }, { _id: { $in: ['1', 3] } }, { _id: { $lte: 5, $gte: '4' } }]) {
      const sql = st.queryUnits({ criteria: { filters: f } }).map((r) => r.id).sort();
      const js = all.filter((u) => matchesFilters(u, f)).map((u) => Number(u.id)).sort();
      assert.deepEqual(sql, js, `filter ${JSON.stringify(f)}`);
      assert.ok(sql.length > 0, `filter ${JSON.stringify(f)} selects something`);
    }
    const projected = st.queryUnits({ criteria: { filters: { name: 'alpha' }, fields: ['size', 'missing', 'tags'] } }).map((r) => rowToUnit(store, r));
    assert.deepEqual(projected[0]!.metadata, { size: 10, tags: ['a', 'b'] });
    assert.throws(() => validateCriteria({ filters: { x: { $bogus: 1 } } }), /unknown filter operator \$bogus on field x/);
    assert.throws(() => validateCriteria({ filters: { x: { $regex: '(' } } }), /bad \$regex on field x/);
  } finally {
    st.close();
  }
});

test('unit keys must have exactly the declared fields', () => {
  const def = { id: 'rpmish', unitKey: ['name', 'version'] };
  assert.equal(keyCanon(def, { version: '1', name: 'a' }), JSON.stringify(['a', '1']));
  assert.throws(() => keyCanon(def, { name: 'a' }), (e: any) => e.code === 'ENGINE_BAD_UNIT_KEY' && /lacks the field version \(the unit key of rpmish is name, version\)/.test(e.message));
  assert.throws(() => keyCanon(def, { name: 'a', version: '1', arch: 'x' }), (e: any) => e.code === 'ENGINE_BAD_UNIT_KEY' && /has the field arch, which is not part of the unit key/.test(e.message));
});

test('filters on unit key fields read the key alone, select the same units, and a lookup by name or id in a repository uses the key index (not every unit of the repository)', () => {
  const dir = tempDir();
  const st = new SqliteStorage(path.join(dir, 'engine.db'));
  const store = new ContentStore(path.join(dir, 'content'));
  const def = { id: 't', unitKey: ['name', 'arch'] };
  try {
    const now = new Date().toISOString();
    st.insertRepo({ id: 'r', display_name: 'r', description: '', notes: '{}', importer_type: null, importer_config: null, retain_versions: 0, version: 1, created: now, updated: now });
    for (const u of UNITS) {
      const id = st.upsertUnit({ type_id: 't', key_canon: keyCanon(def, u.key), unit_key: JSON.stringify(u.key), metadata: JSON.stringify(u.md), sha256: null, size: null, relative_path: null, blobs: [] });
      st.addContent('r', id, 1);
    }
    // Many more units of the type, most not in the repository: the lookup must not read them.
    for (let i = 0; i < 300; i++) {
      const key = { name: `other${i}`, arch: 'noarch' };
      const id = st.upsertUnit({ type_id: 't', key_canon: keyCanon(def, key), unit_key: JSON.stringify(key), metadata: '{}', sha256: null, size: null, relative_path: null, blobs: [] });
      if (i % 10 === 0) st.addContent('r', id, 1);
    }
    const all = st.queryUnits({ repoId: 'r' }).map((r) => rowToUnit(store, r));
    for (const f of [...FILTERS, { name: { $in: ['alpha', 'gamma', 'other10', 'other11'] } }, { name: 'other20' }, { arch: { $in: ['noarch'] } }]) {
      const keyed = st.queryUnits({ repoId: 'r', criteria: { typeIds: ['t'], filters: f }, keyFields: Object.keys(f).filter((k) => def.unitKey.includes(k)) }).map((r) => r.id).sort();
      const js = all.filter((u) => matchesFilters(u, f)).map((u) => Number(u.id)).sort();
      assert.deepEqual(keyed, js, `filter ${JSON.stringify(f)}`);
    }
    const plan = st.explainUnits({ repoId: 'r', criteria: { typeIds: ['t'], filters: { name: { $in: ['alpha', 'beta'] } } }, keyFields: ['name'] }).join(' | ');
    assert.match(plan, /units_key_name/, plan);
    assert.match(st.explainUnits({ repoId: 'r', criteria: { typeIds: ['t'], filters: { id: 'x' } }, keyFields: ['id'] }).join(' | '), /units_key_id/);
  } finally {
    st.close();
  }
});
