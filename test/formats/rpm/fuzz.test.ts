/**
 * Seeded fuzz test of the RPM reader. Every case is a mutation of a real matrix package aimed at
 * index counts, data lengths, offsets, tag types/counts (fuzz-lib.ts); each runs in a worker
 * thread with a 64 MB heap under a 1 s budget (fuzz-harness.ts). Every case must end as a parsed
 * record or a StagepushError whose code starts with RPM_.
 *
 * Replay: STAGEPUSH_FUZZ_SEED=<seed> (printed), STAGEPUSH_FUZZ_CASES=<n> (default 12000),
 * STAGEPUSH_FUZZ_CASE=<i> to run one case only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { rpmFixtures } from '../../helpers/rpm.js';
import { runFuzz, type FuzzRunOptions } from './fuzz-harness.js';

const SEED = process.env.STAGEPUSH_FUZZ_SEED !== undefined ? Number(process.env.STAGEPUSH_FUZZ_SEED) >>> 0 : randomInt(2 ** 32 - 1);
const ONLY = process.env.STAGEPUSH_FUZZ_CASE !== undefined ? Number(process.env.STAGEPUSH_FUZZ_CASE) : undefined;
const FROM = ONLY ?? 0;
const TO = ONLY !== undefined ? ONLY + 1 : Number(process.env.STAGEPUSH_FUZZ_CASES ?? 12000);

function options(extra: Partial<FuzzRunOptions> = {}): FuzzRunOptions {
  const fx = rpmFixtures();
  return {
    seed: SEED,
    from: FROM,
    to: TO,
    files: [...fx.packages, ...fx.install].map((p) => ({ name: p.name, path: p.file })),
    workers: Math.max(1, Math.min(2, os.availableParallelism())),
    batch: 250,
    budgetMs: 1000,
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    ...extra,
  };
}

test(`fuzz: ${TO - FROM} mutated packages end as a record or an RPM_* error (seed ${SEED})`, async (t) => {
  const replay = `STAGEPUSH_FUZZ_SEED=${SEED}`;
  console.error(`rpm fuzz seed: ${SEED} (replay with ${replay})`);
  t.diagnostic(`seed ${SEED}; replay with ${replay} [STAGEPUSH_FUZZ_CASE=i]`);
  const r = await runFuzz(options());
  const c = r.counts;
  const total = c.record + c['rpm-error'] + c.bad + c.timeout + c.crash;
  t.diagnostic(`${total} cases in ${r.ms} ms: ${JSON.stringify(c)}; codes ${JSON.stringify(Object.fromEntries(r.codes))}`);
  assert.equal(total, TO - FROM, 'every case ran');
  assert.deepEqual(
    r.failures.slice(0, 10).map((f) => `case ${f.index} (${replay} STAGEPUSH_FUZZ_CASE=${f.index}) ${f.kind}: ${f.detail}`),
    [],
    `${r.failures.length} failing cases`,
  );
  if (ONLY === undefined) {
    assert.ok(total >= 10_000 || process.env.STAGEPUSH_FUZZ_CASES !== undefined, 'at least 10,000 cases');
    // The mutations reach deep into the parser: both outcomes, several codes.
    assert.ok(c.record > 0 && c['rpm-error'] > 0);
    assert.ok(r.codes.size >= 4, `codes seen: ${[...r.codes.keys()].join(', ')}`);
  }
});

test('fuzz harness: the watchdog fails a hanging case and an out-of-memory case, and the run goes on', async () => {
  const hang = await runFuzz(options({ seed: 7, from: 0, to: 60, batch: 30, workers: 1, budgetMs: 300, inject: { index: 12, kind: 'hang' } }));
  assert.deepEqual(hang.failures.map((f) => [f.index, f.kind]), [[12, 'timeout']]);
  assert.equal(hang.counts.record + hang.counts['rpm-error'], 59);
  const oom = await runFuzz(options({ seed: 7, from: 0, to: 40, batch: 40, workers: 1, budgetMs: 5000, inject: { index: 5, kind: 'oom' } }));
  assert.deepEqual(oom.failures.map((f) => [f.index, f.kind]), [[5, 'crash']]);
  assert.equal(oom.counts.record + oom.counts['rpm-error'], 39);
});
