/**
 * Listing a repository through a conduit while units are staged: committed and staged units merged
 * in one order, paged by key (each staged unit made into a unit once per listing, its metadata
 * read only when asked for), and units handed out for staged ones get their stored ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SqliteStorage } from '../../src/engine/sqlite.js';
import { ContentStore } from '../../src/engine/store.js';
import { ImporterConduitImpl, SPILL_AFTER_UNITS, SPILL_MIN_BYTES, Staging, compareSortKeys, keyCanon, type ConduitHost } from '../../src/engine/conduits.js';
import { projectUnit } from '../../src/engine/criteria.js';
import { openEngine } from '../../src/engine/index.js';
import type { TypeDefinition, Unit } from '../../src/engine/contract.js';
import { engineEnv } from '../helpers/engine.js';
import { tempDir } from '../helpers/cli.js';

const TYPES: Record<string, TypeDefinition> = {
  tfile: { id: 'tfile', displayName: 'file', unitKey: ['name'] },
  tnote: { id: 'tnote', displayName: 'note', unitKey: ['id'] },
};
/** Only in the metadata of staged units: a JSON.parse of a text holding it is a metadata read. */
const MARK = 'staged-metadata-mark';

function setup(): { st: SqliteStorage; staging: Staging; conduit: ImporterConduitImpl } {
  const dir = tempDir();
  const st = new SqliteStorage(path.join(dir, 'engine.db'));
  const store = new ContentStore(path.join(dir, 'content'));
  const host: ConduitHost = { st, store, typeDef: (t) => TYPES[t]! };
  const staging = new Staging(host);
  const conduit = new ImporterConduitImpl(host, staging, { repoId: 'r', pluginId: 'p', pluginTypes: ['tfile', 'tnote'], owner: 'importer', signal: new AbortController().signal, setProgress: () => {} });
  return { st, staging, conduit };
}

function commit(st: SqliteStorage, typeId: string, unitKey: Record<string, string>, md: Record<string, unknown>): void {
  const id = st.upsertUnit({ type_id: typeId, key_canon: keyCanon(TYPES[typeId]!, unitKey), unit_key: JSON.stringify(unitKey), metadata: JSON.stringify(md), sha256: null, size: null, relative_path: null, blobs: [] });
  st.addContent('r', id, 1);
}

const ident = (u: Unit) => `${u.typeId}\0${keyCanon(TYPES[u.typeId]!, u.unitKey)}`;

/** Calls of Staging.stagedToUnit (a staged unit made into a unit) and JSON.parse of staged metadata during `fn`. */
function counting<T>(fn: () => T): { value: T; made: number; reads: number } {
  const made0 = Staging.prototype.stagedToUnit;
  const parse0 = JSON.parse;
  let made = 0;
  let reads = 0;
  Staging.prototype.stagedToUnit = function (this: Staging, ...args: Parameters<Staging['stagedToUnit']>) {
    made++;
    return made0.apply(this, args);
  };
  JSON.parse = function (text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) {
    if (typeof text === 'string' && text.includes(MARK)) reads++;
    return parse0(text, reviver);
  };
  try {
    return { value: fn(), made, reads };
  } finally {
    Staging.prototype.stagedToUnit = made0;
    JSON.parse = parse0;
  }
}

test('listing staged units by pages makes each into a unit once, reads no metadata for fields: [], and keeps the merged order, skip and limit', () => {
  const { st, conduit } = setup();
  try {
    const name = (i: number) => `n-${String(i).padStart(5, '0')}`;
    const total = 4 * (SPILL_AFTER_UNITS + 100);
    // A quarter committed, the rest staged (large metadata: spilled past SPILL_AFTER_UNITS), interleaved in key order.
    for (let i = 0; i < total; i += 4) commit(st, 'tnote', { id: name(i) }, { n: i });
    for (const f of ['a', 'm']) commit(st, 'tfile', { name: f }, {});
    const staged = new Set<string>();
    for (let i = 0; i < total; i++) {
      if (i % 4 === 0 && i % 40 !== 0) continue;
      // Every tenth committed one is staged again (changed in place).
      conduit.saveUnit(conduit.initUnit('tnote', { id: name(i) }, { n: i, pad: MARK.padEnd(SPILL_MIN_BYTES + 100, 'x') }, null));
      staged.add(name(i));
    }
    for (const f of ['b', 'z']) conduit.saveUnit(conduit.initUnit('tfile', { name: f }, {}, null));
    // Some committed ones removed by the operation.
    for (let i = 4; i < total; i += 40) conduit.removeUnit({ typeId: 'tnote', unitKey: { id: name(i) }, metadata: {}, storagePath: null, relativePath: null });
    const expected: string[] = ['a', 'b', 'm', 'z'].map((f) => `tfile\0${JSON.stringify([f])}`);
    for (let i = 0; i < total; i++) if (!(i % 40 === 4)) expected.push(`tnote\0${JSON.stringify([name(i)])}`);
    const stagedInRepo = staged.size + 2;

    assert.deepEqual(conduit.getUnits({ fields: [] }).map(ident), expected, 'one query: committed and staged merged by type, then key');
    const all = counting(() => [...conduit.iterUnits({ fields: [] })]);
    assert.deepEqual(all.value.map(ident), expected, 'by pages: the same units in the same order');
    assert.equal(all.made, stagedInRepo, 'each staged unit made into a unit once, not once per page');
    assert.equal(all.reads, 0, 'no metadata read back for fields: []');
    assert.ok(all.value.every((u) => Object.keys(u.metadata).length === 0));

    const some = counting(() => [...conduit.iterUnits({ typeIds: ['tnote'], skip: 7, limit: 1001, fields: ['n'] })]);
    const tnotes = expected.filter((k) => k.startsWith('tnote\0'));
    assert.deepEqual(some.value.map(ident), tnotes.slice(7, 1008));
    assert.deepEqual(conduit.getUnits({ typeIds: ['tnote'], skip: 7, limit: 1001, fields: ['n'] }).map(ident), tnotes.slice(7, 1008));
    assert.deepEqual(some.value.map((u) => u.metadata), some.value.map((u) => ({ n: Number(String(u.unitKey.id).slice(2)) })), 'fields: only those');
    assert.ok(some.made <= 1001 && some.reads <= some.made, `staged units made (${some.made}) and their spilled metadata read (${some.reads}) once at most`);

    // A filter on a unit key field (the staged units indexed by that field).
    const wanted = [name(3), name(4), name(8), name(40), name(total - 1)];
    assert.deepEqual([...conduit.iterUnits({ typeIds: ['tnote'], filters: { id: { $in: wanted } } })].map((u) => u.unitKey.id), [name(3), name(8), name(40), name(total - 1)]);

    const counted = counting(() => conduit.countUnits());
    assert.deepEqual([counted.value, counted.made, counted.reads], [expected.length, 0, 0], 'counted without making units');

    // Removing each unit as it is listed removes them all (no page skipped).
    for (const u of conduit.iterUnits({ typeIds: ['tnote'], fields: [] })) conduit.removeUnit(u);
    assert.deepEqual(conduit.getUnits({ typeIds: ['tnote'] }), []);
  } finally {
    st.close();
  }
});

test('a listing of staged units reads its $in and $nin lists a few times, not once per candidate unit', () => {
  const { st, conduit } = setup();
  try {
    // An erratum listing every one of thousands of staged packages looks them up by name: each
    // candidate was compared with the whole list, quadratic in the number of packages.
    // Fewer units than a page (500): the SQL side of each page passes the list on again.
    const n = 450;
    const name = (i: number) => `p-${String(i).padStart(5, '0')}`;
    for (let i = 0; i < n; i++) conduit.saveUnit(conduit.initUnit('tnote', { id: name(i) }, { n: i }, null));
    let reads = 0;
    const counted = (values: string[]) =>
      new Proxy(values, {
        get(target, prop, receiver) {
          if (typeof prop === 'string' && /^\d+$/.test(prop)) reads++;
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
    const all = Array.from({ length: n }, (_, i) => name(i));
    const found = [...conduit.iterUnits({ typeIds: ['tnote'], filters: { id: { $in: counted(all) }, n: { $nin: counted(['x']) } }, fields: [] })];
    assert.equal(found.length, n, 'every listed unit found');
    assert.ok(reads <= 10 * (n + 1), `list elements read ${reads} times for ${n} units (each list read a few times at most, not once per unit)`);
    reads = 0;
    const some = [...conduit.iterUnits({ typeIds: ['tnote'], filters: { n: { $in: counted(['x', ...all.map((_, i) => String(i))]) } } })];
    assert.equal(some.length, 0, 'a metadata number is not its text');
    assert.ok(reads <= 10 * (n + 1), `a list on a metadata field read ${reads} times for ${n} units`);
  } finally {
    st.close();
  }
});

test('units listed with fields in a transaction get their stored ids at commit, as units listed whole do', async () => {
  const e = engineEnv();
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir });
  try {
    await eng.createRepo({ id: 'g', importer: { typeId: 'generic_importer' } });
    const kept: Unit[] = [];
    await eng.transaction(['g'], async (b) => {
      for (let i = 0; i < 3; i++) await b.upload('g', { filePath: null, typeId: 'cgw', unitKey: { name: `img-${i}` }, metadata: { name: `img-${i}`, i } });
      kept.push(...b.listUnits('g', { typeIds: ['cgw'], fields: [] }), ...b.listUnits('g', { typeIds: ['cgw'], fields: ['i'] }), ...b.listUnits('g', { typeIds: ['cgw'] }));
      assert.ok(kept.every((u) => String(u.id).startsWith('staged:')));
    });
    const stored = new Map(eng.listUnits('g', { typeIds: ['cgw'] }).map((u) => [u.unitKey.name, u.id]));
    assert.equal(stored.size, 3);
    assert.deepEqual(
      kept.map((u) => u.id),
      kept.map((u) => stored.get(u.unitKey.name)),
    );
    assert.deepEqual(kept[3]!.metadata, { i: 0 });
    assert.deepEqual(JSON.parse(JSON.stringify(kept[6])).id, stored.get('img-0'), 'the id serialises as the stored one');
  } finally {
    eng.close();
  }
});

test('projectUnit reads the metadata once, and not at all for no fields', () => {
  let reads = 0;
  const u = {
    id: '1',
    typeId: 't',
    unitKey: { name: 'a' },
    get metadata() {
      reads++;
      return { a: 1, b: [2], c: null };
    },
    storagePath: null,
    relativePath: 'a',
  } as Unit;
  const none = projectUnit(u, []);
  assert.equal(reads, 0);
  assert.deepEqual(Object.keys(none), Object.keys(u));
  assert.deepEqual({ ...none }, { id: '1', typeId: 't', unitKey: { name: 'a' }, metadata: {}, storagePath: null, relativePath: 'a' });
  assert.deepEqual(projectUnit(u, ['b', 'c', 'd']).metadata, { b: [2], c: null });
  assert.equal(reads, 1);
  assert.equal(projectUnit(u, undefined), u);
});

test('compareSortKeys orders as SQLite does (by UTF-8 bytes, so by code point), where JavaScript\'s < differs too', () => {
  const keys = ['a', 'ab', 'a\0b', 'b', '\u00e9', '\uffff', '\ue000x', '\u{1f600}', '\u{10000}', 'x\u{1f600}', 'x\uff21', 'x\uff21\u{1f600}', 'x\uff21\uff21', ''];
  const bytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual([...keys].sort(compareSortKeys), bytes);
  assert.notDeepEqual([...keys].sort(), bytes, 'the keys include pairs that code units order otherwise');
});
