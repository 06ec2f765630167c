/**
 * The parsed-advisory cache (ParsedCache): an unchanged advisory comes from the cache as the item
 * it was built as; any change to its text, path, destinations or origin builds it again; an
 * advisory with problems is not kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadErratumFile, type ParsedCache } from '../../../src/source/staged/errata.js';
import { loadStaged } from '../../../src/source/staged/index.js';
import { ERRATUM, stage } from '../../helpers/staged.js';

function mapCache(): ParsedCache & { map: Map<string, string>; hits: number } {
  const map = new Map<string, string>();
  const c = {
    map,
    hits: 0,
    get: (k: string) => {
      const v = map.get(k);
      if (v !== undefined) c.hits++;
      return v;
    },
    set: (k: string, v: string) => void map.set(k, v),
  };
  return c;
}

test('an unchanged advisory is taken from the cache as the item it was built as; a changed text, path, destination or origin builds it again', async () => {
  const root = stage({ 'd/ERRATA/a.json': JSON.stringify(ERRATUM) });
  const file = path.join(root, 'd', 'ERRATA', 'a.json');
  const cache = mapCache();
  const opts = { dest: ['d'], origin: root, cache };
  const first = await loadErratumFile(file, opts);
  assert.deepEqual(first.problems, []);
  assert.equal(cache.map.size, 1);
  const again = await loadErratumFile(file, opts);
  assert.equal(cache.hits, 1);
  assert.deepEqual(again, first, 'the same item, JSON and back');
  // It really is the cached text that is used.
  const [key] = [...cache.map.keys()];
  cache.map.set(key!, JSON.stringify({ ...first.item, title: 'from the cache' }));
  assert.equal((await loadErratumFile(file, opts)).item?.title, 'from the cache');
  // Anything the item depends on is in the key.
  await loadErratumFile(file, { ...opts, dest: ['other'] });
  await loadErratumFile(file, { ...opts, origin: `${root}/` });
  writeFileSync(file, JSON.stringify({ ...ERRATUM, title: 'changed' }));
  const changed = await loadErratumFile(file, opts);
  assert.equal(changed.item?.title, 'changed');
  assert.equal(cache.hits, 2);
  assert.equal(cache.map.size, 4);
});

test('an advisory with problems is not kept; the loader passes its cache to every advisory', async () => {
  const root = stage({ 'd/ERRATA/bad.json': JSON.stringify({ ...ERRATUM, type: 'nonsense' }), 'd/ERRATA/good.json': JSON.stringify(ERRATUM) });
  const cache = mapCache();
  const r = await loadStaged([`staged:${root}`], { parsedCache: cache });
  assert.ok(r.problems.some((p) => p.file?.endsWith('bad.json')));
  assert.equal(cache.map.size, 1);
  assert.equal(JSON.parse([...cache.map.values()][0]!).src, path.join(root, 'd', 'ERRATA', 'good.json'));
  const again = await loadStaged([`staged:${root}`], { parsedCache: cache });
  assert.equal(cache.hits, 1);
  assert.deepEqual(again.items, r.items);
});
