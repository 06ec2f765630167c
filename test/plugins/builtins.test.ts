import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_PLUGINS, BUILTIN_TYPES } from '../../src/plugins/builtins.js';
import { StagepushError } from '../../src/errors.js';

test('built-in plugins are loaded lazily: create() before load() is a coded error', () => {
  const f = BUILTIN_PLUGINS.find((p) => p.metadata.id === 'iso_distributor')!;
  assert.throws(() => f.create(), (e: unknown) => e instanceof StagepushError && e.code === 'PLUGIN_NOT_LOADED');
});

test('the metadata stated in builtins.ts is each plugin\'s own, and every type it handles is declared', async () => {
  const declared = new Set(BUILTIN_TYPES.map((t) => t.id));
  assert.equal(BUILTIN_PLUGINS.length, 7);
  for (const f of BUILTIN_PLUGINS) {
    assert.equal(typeof f.load, 'function', f.metadata.id);
    await f.load!();
    const inst = f.create();
    assert.deepEqual(inst.metadata(), f.metadata, f.metadata.id);
    assert.equal(typeof inst.validateConfig, 'function', f.metadata.id);
    for (const t of f.metadata.types) assert.ok(declared.has(t), `${f.metadata.id} handles undeclared ${t}`);
    assert.notEqual(f.create(), inst, 'a fresh instance per create()');
  }
});
