import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PushCache } from '../../src/push/cache.js';
import { tempDir } from '../helpers/cli.js';

const require_ = createRequire(import.meta.url);

const hex = (i: number) => i.toString(16).padStart(64, '0');
const record = (i: number) => ({ name: `p${i}`, version: '1', release: '1', arch: 'noarch', epoch: 0, isSource: false, signingKey: null, files: [`/usr/share/p${i}`] });

test('push cache: header records announced with expectRecords read back as stagedRecord gives them, in any order, any number of times', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  try {
    for (let i = 0; i < 600; i++) c.stageRecord(hex(i), record(i) as never);
    c.flush();
    const plain = (i: number) => JSON.stringify(c.stagedRecord(hex(i)));
    const want = Array.from({ length: 600 }, (_, i) => JSON.stringify(record(i)));
    assert.deepEqual(Array.from({ length: 600 }, (_, i) => plain(i)), want);
    // Announced (with duplicates and unknown digests), asked in order across chunk boundaries,
    // out of order, twice, and some never announced.
    const order = [...Array.from({ length: 600 }, (_, i) => hex(i)), hex(3), hex(999_999)];
    c.expectRecords(order);
    const asked = [0, 1, 2, 255, 256, 257, 599, 3, 3, 100, 700, 999_999, 511, 512, 4];
    assert.deepEqual(
      asked.map((i) => JSON.stringify(c.stagedRecord(hex(i)) ?? null)),
      asked.map((i) => (i < 600 ? want[i] : 'null')),
    );
    // Each read gives a fresh object.
    assert.notEqual(c.stagedRecord(hex(5)), c.stagedRecord(hex(5)));
  } finally {
    c.close();
  }
  // A read-only (dry run) cache sees the stored records too.
  const ro = PushCache.open(dataDir, { readOnly: true });
  try {
    ro.expectRecords([hex(1), hex(2)]);
    assert.deepEqual(ro.stagedRecord(hex(2)), record(2));
    assert.equal(ro.stagedRecord(hex(700)), undefined);
  } finally {
    ro.close();
  }
});

test('push cache: the checksum cache answers the same with and without prefetch (hits, identity misses, unknown paths, repeats, after a set)', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  try {
    const cc = c.checksumCache();
    const st = (i: number) => ({ dev: 1, ino: 100 + i, size: 1000 + i, mtimeMs: 5_000 + i, ctimeMs: 6_000 + i });
    for (let i = 0; i < 2500; i++) cc.set(`/area/f${i}.rpm`, st(i), { sha256: hex(i) });
    for (let i = 0; i < 10; i++) c.stageRecord(hex(i), record(i) as never);
    c.flush();
    const asked: Array<[string, ReturnType<typeof st>]> = [
      ...Array.from({ length: 2500 }, (_, i) => [`/area/f${i}.rpm`, st(i)] as [string, ReturnType<typeof st>]),
      ['/area/f7.rpm', { ...st(7), mtimeMs: 1 }], // changed since: a miss
      ['/area/unknown.rpm', st(1)],
      ['/area/f3.rpm', st(3)], // asked twice
    ];
    const plain = asked.map(([p, s]) => JSON.stringify(cc.get(p, s) ?? null));
    const cc2 = c.checksumCache();
    cc2.prefetch([...asked.map(([p]) => p), '/area/never-asked.rpm']);
    assert.deepEqual(
      asked.map(([p, s]) => JSON.stringify(cc2.get(p, s) ?? null)),
      plain,
    );
    assert.match(plain[0]!, /"rpm":\{"signingKey":null\}/); // a stored header is reported
    assert.equal(plain[2500], 'null');
    assert.equal(plain[2501], 'null');
    // A path prefetched as unknown, then set, then asked: the new row.
    const cc3 = c.checksumCache();
    cc3.prefetch(['/area/new.rpm']);
    cc3.set('/area/new.rpm', st(9), { sha256: hex(9) });
    assert.equal(cc3.get('/area/new.rpm', st(9))?.sha256, hex(9));
  } finally {
    c.close();
  }
});

test('push cache: a schema 1 push.sqlite gains stat_cache.ctime_ms; a row without the file\'s ctime is taken only for the store\'s own file (same inode), which adopts its ctime; a dry run reads the old file as it is', () => {
  const dataDir = tempDir();
  const store = path.join(dataDir, 'content', 'sha256');
  const storedPath = (sha: string) => path.join(store, sha.slice(0, 2), sha.slice(2));
  // held: hard-linked into the store under its digest; copied: the store holds a copy.
  const held = path.join(dataDir, 'held.rpm');
  const copied = path.join(dataDir, 'copied.rpm');
  writeFileSync(held, 'held');
  writeFileSync(copied, 'copied');
  mkdirSync(path.dirname(storedPath(hex(1))), { recursive: true });
  linkSync(held, storedPath(hex(1)));
  mkdirSync(path.dirname(storedPath(hex(2))), { recursive: true });
  copyFileSync(copied, storedPath(hex(2)));
  const key = (f: string) => {
    const st = statSync(f);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  };
  // The schema an older stagepush made, with its rows.
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const old = new Database(path.join(dataDir, 'push.sqlite'));
  old.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('schema', '1');
    CREATE TABLE stat_cache (path TEXT PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL, sha256 TEXT, md5 TEXT, seen INTEGER NOT NULL);
    CREATE TABLE pending_hooks (repo_id TEXT PRIMARY KEY, version INTEGER, since INTEGER NOT NULL);
    INSERT INTO pending_hooks (repo_id, version, since) VALUES ('r1', 3, 0)`);
  const row = old.prepare('INSERT INTO stat_cache (path, dev, ino, size, mtime_ms, sha256, md5, seen) VALUES (?, ?, ?, ?, ?, ?, NULL, 0)');
  for (const [f, i] of [[held, 1], [copied, 2]] as const) row.run(f, key(f).dev, key(f).ino, key(f).size, key(f).mtimeMs, hex(i));
  old.close();
  const columns = () => {
    const db = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
    try {
      return (db.prepare("SELECT name FROM pragma_table_info('stat_cache')").all() as Array<{ name: string }>).map((c) => c.name);
    } finally {
      db.close();
    }
  };

  const ro = PushCache.open(dataDir, { readOnly: true });
  try {
    const cc = ro.checksumCache({ storedPath });
    assert.equal(cc.get(held, key(held))?.sha256, hex(1));
    assert.equal(cc.get(copied, key(copied)), undefined);
  } finally {
    ro.close();
  }
  assert.ok(!columns().includes('ctime_ms'), 'the dry run left the file as it was');

  const c = PushCache.open(dataDir);
  try {
    assert.ok(columns().includes('ctime_ms'));
    const cc = c.checksumCache({ storedPath });
    assert.equal(cc.get(held, key(held))?.sha256, hex(1));
    assert.equal(cc.get(copied, key(copied)), undefined);
    // Without the store to ask, only the recorded ctime counts: the held file adopted its own.
    const plain = c.checksumCache();
    assert.equal(plain.get(held, key(held))?.sha256, hex(1));
    assert.equal(plain.get(copied, key(copied)), undefined);
    plain.set(copied, key(copied), { sha256: hex(3) });
    assert.equal(plain.get(copied, key(copied))?.sha256, hex(3));
    // A sum not computed again is not kept across a ctime change.
    plain.set(copied, { ...key(copied), ctimeMs: key(copied).ctimeMs + 1 }, { md5: 'f'.repeat(32) });
    assert.deepEqual(plain.get(copied, { ...key(copied), ctimeMs: key(copied).ctimeMs + 1 }), { md5: 'f'.repeat(32) });
  } finally {
    c.close();
  }
  const db = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
  assert.equal((db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value, '5');
  // Owed hooks can be claimed (schema 5): the old table gains the columns, its rows unclaimed.
  assert.deepEqual(db.prepare('SELECT repo_id, version, claim_host, claim_pid, claimed FROM pending_hooks').all(), [{ repo_id: 'r1', version: 3, claim_host: null, claim_pid: null, claimed: null }]);
  db.close();
});

test('push cache: a stat cache hit marks its row seen (at most once a day), so gc keeps the rows of files pushed unchanged every day', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  const st = { dev: 1, ino: 7, size: 10, mtimeMs: 5_000, ctimeMs: 6_000 };
  try {
    c.checksumCache().set('/area/daily.rpm', st, { sha256: hex(1) });
    c.checksumCache().set('/area/gone.rpm', { ...st, ino: 8 }, { sha256: hex(2) });
    c.flush();
  } finally {
    c.close();
  }
  // Both rows were written 10 days ago; the daily file has been pushed (a hit) every day since.
  const Database = require_('better-sqlite3') as new (f: string) => { prepare(s: string): { run(...a: unknown[]): unknown; get(...a: unknown[]): unknown }; close(): void };
  const db = new Database(path.join(dataDir, 'push.sqlite'));
  db.prepare('UPDATE stat_cache SET seen = ?').run(Date.now() - 10 * 86400_000);
  db.close();
  const c2 = PushCache.open(dataDir);
  try {
    assert.equal(c2.checksumCache().get('/area/daily.rpm', st)?.sha256, hex(1));
    c2.flush();
    assert.equal(c2.prune(7), 1); // the row not seen for 10 days
    assert.equal(c2.checksumCache().get('/area/daily.rpm', st)?.sha256, hex(1));
    assert.equal(c2.checksumCache().get('/area/gone.rpm', { ...st, ino: 8 }), undefined);
  } finally {
    c2.close();
  }
});

test('push cache: an owed publish keeps the repository\'s creation time; a push.sqlite whose pending_publishes has none gains the column, its rows read with none (dry run too)', () => {
  const dataDir = tempDir();
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const old = new Database(path.join(dataDir, 'push.sqlite'));
  old.exec('CREATE TABLE pending_publishes (repo_id TEXT PRIMARY KEY, version INTEGER, why TEXT NOT NULL, since INTEGER NOT NULL)');
  old.prepare('INSERT INTO pending_publishes VALUES (?, ?, ?, ?)').run('old', 2, '["shares advisory A updated by push P"]', 1);
  old.close();
  const dry = PushCache.open(dataDir, { readOnly: true });
  try {
    assert.deepEqual([...dry.pendingPublishes()], [['old', { version: 2, why: ['shares advisory A updated by push P'], created: null }]]);
  } finally {
    dry.close();
  }
  const c = PushCache.open(dataDir);
  try {
    c.owePublish('new', 3, ['shares advisory B updated by push Q'], '2026-01-01T00:00:00.000Z');
    assert.deepEqual([...c.pendingPublishes()], [
      ['new', { version: 3, why: ['shares advisory B updated by push Q'], created: '2026-01-01T00:00:00.000Z' }],
      ['old', { version: 2, why: ['shares advisory A updated by push P'], created: null }],
    ]);
  } finally {
    c.close();
  }
});

test('push cache: an owed publish is claimed by one live push at a time; a claim of a process gone (or of another host a day old) is taken over; released, it is free again', () => {
  const dataDir = tempDir();
  const c = PushCache.open(dataDir);
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const other = new Database(path.join(dataDir, 'push.sqlite'));
  const setClaim = (host: string, pid: number, claimed: number) => other.prepare('UPDATE pending_publishes SET claim_host = ?, claim_pid = ?, claimed = ? WHERE repo_id = ?').run(host, pid, claimed, 'yb');
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  try {
    assert.equal(c.claimPublish('yb'), false, 'nothing owed: nothing to claim');
    c.owePublish('yb', 2, ['shares advisory A updated by push P'], null);
    // Held by a live process on this host: left to it.
    setClaim(os.hostname(), live.pid!, Date.now());
    assert.equal(c.claimPublish('yb'), false);
    // Its process is gone: taken over; claimed again by the same push: still its own.
    setClaim(os.hostname(), Number(gone.stdout.trim()), Date.now());
    assert.equal(c.claimPublish('yb'), true);
    assert.equal(c.claimPublish('yb'), true);
    // Another host's claim holds a day.
    setClaim('elsewhere.invalid', 1, Date.now());
    assert.equal(c.claimPublish('yb'), false);
    setClaim('elsewhere.invalid', 1, Date.now() - 86400_000 - 1);
    assert.equal(c.claimPublish('yb'), true);
    // Released: another live push may claim it.
    c.releaseClaims();
    assert.deepEqual(other.prepare('SELECT claim_host, claim_pid, claimed FROM pending_publishes').all(), [{ claim_host: null, claim_pid: null, claimed: null }]);
    assert.deepEqual([...c.pendingPublishes().keys()], ['yb']);
  } finally {
    live.kill();
    other.close();
    c.close();
  }
});
