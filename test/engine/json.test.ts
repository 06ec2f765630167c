import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertJson } from '../../src/engine/config.js';
import { cloneJson } from '../../src/engine/conduits.js';

const message = (v: unknown): string => {
  try {
    assertJson(v, 'the unit metadata');
    return 'ok';
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
};

test('assertJson: plain JSON passes as it is; anything else is refused with the path of the first offending value', () => {
  const ok = { a: [1, 'x', true, null, { b: [] }], c: Object.create(null) as object, d: -0 };
  assert.equal(assertJson(ok, 'x'), ok);
  // Sparse arrays are walked as before (holes skipped), deep nesting is fine.
  let deep: unknown = 'leaf';
  for (let i = 0; i < 300; i++) deep = [deep];
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  assert.equal(message({ sparse, deep }), 'ok');
  assert.equal(message({ a: { b: [1, 2, new Date(0)] } }), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at a.b[2]: a Date object is not JSON');
  assert.equal(message({ a: [1, NaN] }), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at a[1]: the number NaN is not JSON');
  assert.equal(message({ f: () => 1 }), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at f: a function is not JSON');
  assert.equal(message({ u: undefined }), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at u: a undefined is not JSON');
  assert.equal(message(1n), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: a bigint is not JSON');
  const circular: Record<string, unknown> = { x: 1 };
  circular.self = { back: circular };
  assert.equal(message(circular), 'ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at self.back: a circular reference is not JSON');
  const shared = { s: 1 };
  assert.equal(message({ a: shared, b: [shared, shared] }), 'ok');
  // Deep and wrong: the full walk finds it.
  let deepBad: unknown = new Map();
  for (let i = 0; i < 300; i++) deepBad = { n: deepBad };
  assert.match(message(deepBad), /^ENGINE_NOT_JSON: the unit metadata must be JSON-serialisable: at (n\.){299}n: a Map object is not JSON$/);
});

test('cloneJson copies as structuredClone does: plain trees directly, anything else through structuredClone', () => {
  const plain = { a: [1, 'x', true, null, { b: [] }], c: Object.create(null) as object, d: -0, e: { f: { g: [[1.5e300]] } } };
  const c = cloneJson(plain);
  assert.deepEqual(c, structuredClone(plain));
  assert.notEqual(c.a, plain.a);
  assert.equal(Object.is(c.d, -0), true);
  assert.equal(Object.getPrototypeOf(c.c), Object.prototype);
  // Shared references stay shared, circular ones are kept, holes stay holes, other objects are cloned as structuredClone clones them.
  const shared = { s: [1] };
  const dag = cloneJson({ x: shared, y: [shared] });
  assert.equal(dag.x, dag.y[0]);
  const circular: Record<string, unknown> = { n: 1 };
  circular.self = circular;
  const cc = cloneJson(circular);
  assert.equal(cc.self, cc);
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  const sc = cloneJson({ sparse });
  assert.equal(1 in sc.sparse, false);
  assert.equal(sc.sparse.length, 3);
  const when = new Date(5);
  assert.deepEqual(cloneJson({ when }).when, when);
  let deep: unknown = 'leaf';
  for (let i = 0; i < 300; i++) deep = [deep];
  assert.deepEqual(cloneJson(deep), deep);
});
