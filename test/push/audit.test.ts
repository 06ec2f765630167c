import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, existsSync, readFileSync, writeFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { PushCache } from '../../src/push/cache.js';
import { newPushId, pruneLogs, PUSH_ID_RE, logsDir, listPushes, PushLog, showPush } from '../../src/push/audit.js';
import type { PushReport } from '../../src/push/report.js';
import { tempDir } from '../helpers/cli.js';

test('stat cache: a hit only for the same device, inode, size, mtime and ctime; read-only when dry', () => {
  const dir = tempDir();
  const f = path.join(dir, 'f');
  writeFileSync(f, 'x');
  const st = statSync(f);
  const key = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  const c = PushCache.open(dir);
  c.checksumCache().set(f, key, { sha256: 'a'.repeat(64) });
  assert.deepEqual(c.checksumCache().get(f, key), { sha256: 'a'.repeat(64) });
  assert.equal(c.checksumCache().get(f, { ...key, mtimeMs: key.mtimeMs + 1 }), undefined);
  assert.equal(c.checksumCache().get(f, { ...key, size: 2 }), undefined);
  assert.equal(c.checksumCache().get(f, { ...key, ino: key.ino + 1 }), undefined);
  assert.equal(c.checksumCache().get(f, { ...key, ctimeMs: key.ctimeMs + 1 }), undefined);
  const sha = 'a'.repeat(64);
  const rec = { name: 'n', epoch: 0, version: '1', release: '2', arch: 'noarch', isSource: false, signingKey: 'ABCD1234', files: ['/x'] };
  c.stageRecord(sha, rec);
  assert.deepEqual(c.stagedRecord(sha), rec);
  assert.deepEqual(c.summary(sha), { name: 'n', epoch: 0, version: '1', release: '2', arch: 'noarch', isSource: false, signingKey: 'ABCD1234' });
  // A stat hit on a file whose header is stored says so (the loader then skips the file).
  assert.deepEqual(c.checksumCache().get(f, key), { sha256: sha, rpm: { signingKey: 'ABCD1234' } });
  c.close();
  const ro = PushCache.open(dir, { readOnly: true });
  ro.checksumCache().set(f, key, { sha256: 'b'.repeat(64) });
  assert.deepEqual(ro.checksumCache().get(f, key), { sha256: 'a'.repeat(64), rpm: { signingKey: 'ABCD1234' } });
  // A dry run stages new headers privately, and still reads the stored ones.
  ro.stageRecord('b'.repeat(64), { ...rec, name: 'm' });
  assert.equal(ro.summary('b'.repeat(64))?.name, 'm');
  assert.equal(ro.summary(sha)?.name, 'n');
  ro.close();
  const again = PushCache.open(dir);
  assert.equal(again.summary('b'.repeat(64)), undefined);
  again.close();
  const none = path.join(dir, 'none');
  PushCache.open(none, { readOnly: true }).close();
  assert.equal(existsSync(none), false);
});

test('push logs: sortable ids, retention by age', () => {
  const data = tempDir();
  const old = newPushId(new Date('2020-01-01T00:00:00Z'));
  const recent = newPushId();
  assert.match(old, PUSH_ID_RE);
  assert.ok(old < recent);
  for (const id of [old, recent]) mkdirSync(path.join(logsDir(data), id), { recursive: true });
  const past = new Date('2020-01-02T00:00:00Z');
  utimesSync(path.join(logsDir(data), old), past, past);
  assert.deepEqual(listPushes(data).map((p) => `${p.id}:${p.status}`), [`${old}:incomplete`, `${recent}:incomplete`]);
  assert.deepEqual(pruneLogs(data, 0), []);
  assert.deepEqual(pruneLogs(data, 30), [old]);
  assert.equal(existsSync(path.join(logsDir(data), recent)), true);
});

test('push logs: a log another process removed after this one listed it (two pushes ending at once prune the same logs) is passed over, not an error', () => {
  const data = tempDir();
  const old = newPushId(new Date('2020-01-01T00:00:00Z'));
  mkdirSync(path.join(logsDir(data), old), { recursive: true });
  const past = new Date('2020-01-02T00:00:00Z');
  utimesSync(path.join(logsDir(data), old), past, past);
  // Listed, then gone when stat'ed: what a name left by a removed directory looks like to stat (ENOENT).
  const gone = newPushId(new Date('2020-01-01T00:00:01Z'));
  symlinkSync(path.join(data, 'removed-meanwhile'), path.join(logsDir(data), gone));
  assert.deepEqual(pruneLogs(data, 30, Date.now(), { dryRun: true }), [old]);
  assert.deepEqual(pruneLogs(data, 30), [old]);
  assert.equal(existsSync(path.join(logsDir(data), old)), false);
});

test('push list / show tell a push still running (its process lives) from one that was killed: both have no report, the killed one is incomplete; one on another host cannot be asked', () => {
  const dataDir = tempDir();
  const log = new PushLog('20261207T070000Z-1-abcd', dataDir, null);
  log.begin('2026-12-07T07:00:00.000Z', ['staged:/area']);
  const row = () => listPushes(dataDir).find((r) => r.id === log.id)!;
  assert.deepEqual([row().status, row().started, row().sources], ['running', '2026-12-07T07:00:00.000Z', ['staged:/area']]);
  assert.equal(showPush(dataDir, log.id).running?.status, 'running');
  const file = path.join(log.dir!, 'running.json');
  const rec = JSON.parse(readFileSync(file, 'utf8')) as { host: string; pid: number };
  writeFileSync(file, JSON.stringify({ ...rec, pid: 2 ** 22 + 777 }));
  assert.deepEqual([row().status, row().started], ['incomplete', '2026-12-07T07:00:00.000Z']);
  writeFileSync(file, JSON.stringify({ ...rec, host: 'elsewhere.example' }));
  assert.equal(row().status, 'running on elsewhere.example?');
  // Its report written: the report's status.
  log.writeReport({ status: 'ok', exit_status: 0, started: '2026-12-07T07:00:00.000Z', finished: '2026-12-07T07:01:00.000Z', mode: 'push', sources: ['staged:/area'], summary: { items: 1, pushed: 1, replaced: 0, repositories_published: 1 }, warnings: [] } as unknown as PushReport);
  assert.deepEqual([row().status, row().exit_status], ['ok', 0]);
  assert.equal(showPush(dataDir, log.id).running, null);
});
