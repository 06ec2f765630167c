/**
 * Tasks, cross-process locks and cancel, with real concurrent processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { engineEnv, finished, waitFor } from '../helpers/engine.js';

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

function setup(files = 3) {
  const e = engineEnv();
  const feed = path.join(e.root, 'feed');
  fs.mkdirSync(feed);
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(feed, `f${i}.txt`), `file ${i}\n`);
  const gateFile = path.join(e.root, 'gate');
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--importer-config', `feed=${feed}`, '--importer-config', `gate_file=${gateFile}`]));
  const up = path.join(e.root, 'up.txt');
  fs.writeFileSync(up, 'uploaded');
  return { e, feed, gateFile, up };
}

/** The running task of this kind, once its first progress report is stored. */
async function runningTask(e: ReturnType<typeof engineEnv>, kind: string): Promise<any> {
  return waitFor(`a running ${kind} task`, () => e.json(['task', 'list', '--state', 'running']).out.find((t: any) => t.kind === kind && t.progress !== null));
}

test('one task per repository across processes: --no-wait exits 5, --wait-timeout gives up, a waiting command runs after', async () => {
  const { e, gateFile, up } = setup();
  const sync = e.spawn(['repo', 'sync', 'r', '--json']);
  const syncDone = finished(sync);
  const t = await runningTask(e, 'sync');
  assert.equal(t.pid, sync.pid);
  const nw = e.cli(['content', 'upload', '--repo', 'r', '--no-wait', up]);
  assert.equal(nw.status, 5, nw.stderr);
  assert.match(nw.stderr, new RegExp(`ENGINE_LOCKED.*repo:r is locked by another run \\(pid ${sync.pid} on .*task ${t.id}`));
  const wt = e.cli(['content', 'upload', '--repo', 'r', '--wait-timeout', '0.5', up]);
  assert.equal(wt.status, 5);
  assert.match(wt.stderr, /still locked by another run .* after waiting 0.5s/);
  for (const cmd of [['orphans', 'remove'], ['gc']]) {
    const m = e.cli([...cmd, '--no-wait']);
    assert.equal(m.status, 5, `${cmd.join(' ')} waits for every repository lock: ${m.stderr}`);
  }
  const waiter = e.spawn(['content', 'upload', '--repo', 'r', up, '--json']);
  const waiterDone = finished(waiter);
  const waiting = await waitFor('the upload to wait', () => e.json(['task', 'list', '--state', 'waiting']).out.find((x: any) => x.kind === 'upload'));
  assert.equal(waiting.pid, waiter.pid);
  fs.writeFileSync(gateFile, '');
  const s = await syncDone;
  assert.equal(s.status, 0, s.stderr);
  const w = await waiterDone;
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stderr, /waiting for repo:r \(held by pid \d+/);
  assert.equal(JSON.parse(s.stdout).version, 1);
  assert.equal(JSON.parse(w.stdout).version, 2);
  const tasks = e.json(['task', 'list', '--repo', 'r']).out;
  assert.deepEqual(tasks.map((x: any) => [x.kind, x.state]).sort(), [['sync', 'finished'], ['upload', 'error'], ['upload', 'error'], ['upload', 'finished']].sort());
  assert.deepEqual(e.json(['task', 'list', '--kind', 'gc']).out.map((x: any) => [x.state, x.error.code]), [['error', 'ENGINE_LOCKED']]);
});

test('a lock left by a killed process is released at once; its task is marked abandoned and nothing it staged is committed', async () => {
  const { e, up } = setup();
  const sync = e.spawn(['repo', 'sync', 'r']);
  const done = finished(sync);
  const t = await runningTask(e, 'sync');
  sync.kill('SIGKILL');
  await done;
  const r = e.json(['content', 'upload', '--repo', 'r', '--no-wait', up]);
  ok(r, 'upload after the owner died');
  assert.equal(r.out.version, 1);
  assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out.map((u: any) => u.unitKey.name), ['up.txt']);
  const dead = e.json(['task', 'show', t.id]).out;
  assert.equal(dead.state, 'error');
  assert.equal(dead.error.code, 'ENGINE_TASK_ABANDONED');
  const fsck = e.cli(['fsck']);
  ok(fsck, 'fsck');
});

test('task cancel from another terminal calls cancelSyncRepo on the same instance; the content stays as it was', async () => {
  const { e } = setup();
  const sync = e.spawn(['repo', 'sync', 'r']);
  const done = finished(sync);
  const t = await runningTask(e, 'sync');
  assert.deepEqual(t.progress, { done: 1, total: 3, current: 'f0.txt' }, 'progress visible from another process');
  const c = e.cli(['task', 'cancel', t.id]);
  ok(c, 'cancel');
  assert.match(c.stdout, new RegExp(`cancel requested for task ${t.id}`));
  const s = await done;
  assert.equal(s.status, 130, s.stderr);
  assert.match(s.stderr, new RegExp(`ENGINE_TASK_CANCELED.*task ${t.id} \\(sync r\\) was canceled`));
  const shown = e.json(['task', 'show', t.id]).out;
  assert.equal(shown.state, 'canceled');
  assert.equal(shown.cancelRequested, true);
  const wd = e.json(['repo', 'show', 'r']).out.importer.workingDir;
  assert.equal(fs.readFileSync(path.join(wd, 'stopped-by-cancel'), 'utf8'), 'sync', 'the instance running syncRepo saw the cancel');
  assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out, []);
  assert.equal(e.json(['repo', 'show', 'r']).out.version, 0);
  const again = e.cli(['task', 'cancel', t.id]);
  assert.equal(again.status, 3);
  assert.match(again.stderr, /ENGINE_TASK_NOT_RUNNING.*already canceled/);
  ok(e.cli(['fsck']), 'fsck');
});

test('cancel a publish from another terminal: cancelPublishRepo, the published tree and records stay as they were', async () => {
  const { e, up } = setup();
  const gate = path.join(e.root, 'pubgate');
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=p']));
  ok(e.cli(['content', 'upload', '--repo', 'r', up]));
  ok(e.cli(['repo', 'publish', 'r']));
  const before = fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'p', 'index.json'), 'utf8');
  ok(e.cli(['repo', 'distributor', 'update', 'r', 'test_distributor', '--distributor-config', `gate_file=${gate}`]));
  const pub = e.spawn(['repo', 'publish', 'r']);
  const done = finished(pub);
  const t = await runningTask(e, 'publish');
  ok(e.cli(['task', 'cancel', t.id]));
  const p = await done;
  assert.equal(p.status, 130, p.stderr);
  assert.equal(e.json(['task', 'show', t.id]).out.state, 'canceled');
  assert.equal(fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'p', 'index.json'), 'utf8'), before);
  const d = e.json(['repo', 'distributor', 'list', 'r']).out[0];
  assert.equal(fs.readFileSync(path.join(d.workingDir, 'stopped-by-cancel'), 'utf8'), 'publish');
  assert.equal(d.lastPublish.version, 1);
  ok(e.cli(['fsck']), 'fsck');
});

for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${sig} on the running command cancels the operation (exit ${status}); nothing is committed`, async () => {
    const { e } = setup();
    const sync = e.spawn(['repo', 'sync', 'r']);
    const done = finished(sync);
    const t = await runningTask(e, 'sync');
    sync.kill(sig);
    const s = await done;
    assert.equal(s.status, status, s.stderr);
    assert.match(s.stderr, new RegExp(`INTERRUPTED_${sig}`));
    assert.equal(e.json(['task', 'show', t.id]).out.state, 'canceled');
    assert.deepEqual(e.json(['content', 'list', '--repo', 'r']).out, []);
    const wd = e.json(['repo', 'show', 'r']).out.importer.workingDir;
    assert.ok(fs.existsSync(path.join(wd, 'stopped-by-cancel')));
  });
}
