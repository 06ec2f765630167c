/**
 * Crash safety: SIGKILL upload, copy and publish at named checkpoints (STAGEPUSH_CRASH_AT) and
 * at 30 random moments (seeded); afterwards PRAGMA integrity_check is ok, `stagepush fsck` exits
 * 0, and the next command succeeds without flags (the dead owner's lock is released at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { engineEnv, finished, type EngineEnv } from '../helpers/engine.js';
import { RPMS } from '../helpers/push.js';

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

function integrity(e: EngineEnv): string {
  const db = new Database(path.join(e.dataDir, 'engine.db'), { readonly: true });
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

function setup(): EngineEnv {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'create', 'r2', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=r']));
  const a = path.join(e.root, 'a.txt');
  fs.writeFileSync(a, 'a');
  ok(e.cli(['content', 'upload', '--repo', 'r', a]));
  ok(e.cli(['repo', 'publish', 'r']));
  return e;
}

function files(e: EngineEnv, tag: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(e.root, `${tag}-${i}.txt`);
    fs.writeFileSync(f, `${tag} ${i} ${'x'.repeat(1000 * (i + 1))}`);
    out.push(f);
  }
  return out;
}

function checkAfterCrash(e: EngineEnv, what: string): void {
  assert.equal(integrity(e), 'ok', `${what}: integrity_check`);
  const f = e.cli(['fsck']);
  ok(f, `${what}: fsck`);
  assert.deepEqual(fs.readdirSync(path.join(e.dataDir, 'content', 'tmp')), [], `${what}: no temp files left`);
}

const OPS = {
  upload: (e: EngineEnv, tag: string) => ['content', 'upload', '--repo', 'r', '--override', 'slow_ms=15', ...files(e, tag, 3)],
  copy: () => ['content', 'copy', '--from', 'r', '--to', 'r2'],
  publish: () => ['repo', 'publish', 'r', '--force'],
} as const;

const NAMED: Array<[keyof typeof OPS, string, 'none' | 'all']> = [
  ['upload', 'file-written', 'none'],
  ['upload', 'in-transaction', 'none'],
  ['upload', 'after-commit', 'all'],
  ['copy', 'in-transaction', 'none'],
  ['copy', 'after-commit', 'all'],
  ['publish', 'publish-written', 'none'],
  ['publish', 'in-transaction', 'none'],
  ['publish', 'publish-recorded', 'all'],
];

for (const [op, point, committed] of NAMED) {
  test(`SIGKILL ${op} at ${point}: database ok, fsck clean, ${committed === 'all' ? 'committed' : 'nothing committed'}, next command succeeds`, () => {
    const e = setup();
    const unitsBefore = e.json(['content', 'list', '--repo', op === 'copy' ? 'r2' : 'r']).out.length;
    const pubBefore = e.json(['repo', 'distributor', 'list', 'r']).out[0].lastPublish;
    const args = OPS[op](e, 'named');
    const r = e.cli(args, { STAGEPUSH_CRASH_AT: `${op}:${point}` });
    assert.equal(r.signal, 'SIGKILL', `${op} should have been killed at ${point}: status ${r.status}\n${r.stderr}`);
    checkAfterCrash(e, `${op}@${point}`);
    if (op === 'publish') {
      const pub = e.json(['repo', 'distributor', 'list', 'r']).out[0].lastPublish;
      if (committed === 'all') assert.notEqual(pub.taskId, pubBefore.taskId, 'publish recorded');
      else assert.equal(pub.taskId, pubBefore.taskId, 'the last publish record is unchanged');
      // the next publish runs (not skipped) even without --force after an interrupted one
      const next = e.json(['repo', 'publish', 'r']);
      ok(next, 'next publish');
      assert.equal(next.out[0].status, committed === 'all' ? 'skipped' : 'published');
    } else {
      const after = e.json(['content', 'list', '--repo', op === 'copy' ? 'r2' : 'r']).out.length;
      if (committed === 'all') assert.ok(after > unitsBefore, `${op} committed`);
      else assert.equal(after, unitsBefore, `${op} committed nothing`);
      const tasks = e.json(['task', 'list', '--kind', op]).out;
      assert.equal(tasks[0].state, 'error');
      assert.equal(tasks[0].error.code, 'ENGINE_TASK_ABANDONED');
      ok(e.cli(OPS[op](e, 'next')), 'next command');
    }
    const f = e.json(['fsck']);
    ok(f, 'final fsck');
    assert.deepEqual(f.out.notices.filter((n: any) => n.code === 'ENGINE_PUBLISH_INTERRUPTED'), [], 'the next publish repaired the published tree');
  });
}

/** Small seeded PRNG (mulberry32) so the random moments are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('SIGKILL upload, copy and publish at 30 random moments (seeded)', async () => {
  const e = setup();
  const seed = Number(process.env.STAGEPUSH_CRASH_SEED ?? 20261124);
  const rand = prng(seed);
  const ops = ['upload', 'copy', 'publish'] as const;
  // How long each operation takes here, run to completion once: the random moments fall within
  // that (fixed delays missed every operation on a fast, idle machine).
  const took: Record<string, number> = {};
  for (const op of ops) {
    const t0 = Date.now();
    ok(await finished(e.spawn(OPS[op](e, `measure-${op}`))), `${op} run to completion`);
    took[op] = Date.now() - t0;
  }
  let killedMidway = 0;
  for (let i = 0; i < 30; i++) {
    const op = ops[i % 3]!;
    const delay = 20 + Math.floor(rand() * Math.max(1, took[op]! - 20));
    const child = e.spawn(OPS[op](e, `rnd${i}`));
    const done = finished(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    const r = await done;
    clearTimeout(timer);
    if (r.signal === 'SIGKILL') killedMidway++;
    else assert.equal(r.status, 0, `seed ${seed} #${i} ${op}: ${r.stderr}`);
    const what = `seed ${seed} #${i} ${op} killed after ${delay}ms`;
    checkAfterCrash(e, what);
    const next = e.cli(OPS[op](e, `rnd${i}-next`));
    ok(next, `${what}: next command`);
  }
  assert.ok(killedMidway > 0, `some runs were killed midway (runs took ${JSON.stringify(took)} ms)`);
  const f = e.json(['fsck']);
  ok(f, 'final fsck');
});

test('SIGKILL repo delete after its distributors unpublished, before the repository was deleted: the next publish (not forced) publishes the tree again', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'y', '--importer', 'yum_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'y', 'yum_distributor', '--distributor-config', 'relative_url=y']));
  ok(e.cli(['content', 'upload', '--repo', 'y', path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm')]));
  ok(e.cli(['repo', 'publish', 'y']));
  const repomd = path.join(e.dataDir, 'published', 'http', 'y', 'repodata', 'repomd.xml');
  assert.ok(fs.existsSync(repomd), 'published');
  const killed = e.cli(['repo', 'delete', 'y'], { STAGEPUSH_CRASH_AT: 'delete:unpublished' });
  assert.equal(killed.signal, 'SIGKILL', `repo delete should have been killed: status ${killed.status}\n${killed.stderr}`);
  assert.equal(e.json(['repo', 'show', 'y']).status, 0, 'the repository is still there');
  assert.ok(!fs.existsSync(repomd), 'its tree was unpublished');
  const next = e.json(['repo', 'publish', 'y']);
  ok(next, 'next publish');
  assert.equal(next.out[0].status, 'published', 'not skipped: the recorded tree is gone');
  assert.ok(fs.existsSync(repomd), 'published again');
  ok(e.cli(['fsck']), 'fsck');
  assert.equal(e.json(['repo', 'publish', 'y']).out[0].status, 'skipped', 'then skipped as before');
  ok(e.cli(['repo', 'delete', 'y']), 'the delete run again');
});
