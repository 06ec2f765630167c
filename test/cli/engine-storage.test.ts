/**
 * The engine database where it cannot be written — a full disk, a read-only mount, a data
 * directory or engine.db the user may not write — is reported with its own code naming the
 * directory and a hint that fits (the database is intact), not as a damaged database to restore
 * from a backup, and never as an internal error. Root only (mount, setpriv): skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { runCli, tempDir } from '../helpers/cli.js';
import { NOBODY_GID, NOBODY_UID, cannotRunAsNobody, runCliAsNobody, traversable } from '../helpers/nobody.js';
import { cannotMountTmpfs, mountTmpfs } from '../helpers/tmpfs.js';

const require_ = createRequire(import.meta.url);

/** The environment of a test's commands: no config file, no plugins but the built-ins. */
function env(): NodeJS.ProcessEnv {
  const home = tempDir('stagepush-storage-home-');
  return { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: home, STAGEPUSH_PLUGINS_DIR: '', STAGEPUSH_PLUGIN_PACKAGES: '', STAGEPUSH_PLUGIN_NODE_MODULES: '', STAGEPUSH_PUBLISH_ROOT: '' };
}

function cli(dataDir: string, args: string[], e: NodeJS.ProcessEnv) {
  return runCli(['--data-dir', dataDir, ...args], { env: e });
}

/** The error said on stderr: code, first line, hint; never an internal error, never the restore hint. */
function refused(r: { status: number | null; stderr: string }, status: number, code: string): { message: string; hint: string } {
  assert.equal(r.status, status, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|restore it from a backup/);
  const m = /^error \[([A-Z_]+)\]: (.*)\nhint: (.*)\n$/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.equal(m[1], code, r.stderr);
  return { message: m[2]!, hint: m[3]! };
}

function repoIds(dataDir: string, e: NodeJS.ProcessEnv): string[] {
  const r = cli(dataDir, ['repo', 'list', '--json'], e);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ id: string }>).map((x) => x.id);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a full disk: ENGINE_NO_SPACE naming the data directory; exit 4 when found as the engine opens, 6 when a write fails midway; the database is intact', (t) => {
  const skip = cannotMountTmpfs();
  if (skip) return t.skip(skip);
  const mnt = mountTmpfs('1m');
  try {
    const dataDir = path.join(mnt.dir, 'data');
    const db = path.join(dataDir, 'engine.db');
    const ev = env();
    assert.equal(cli(dataDir, ['repo', 'create', 'a'], ev).status, 0);
    mnt.fill();
    // Found as it opens (no room for its shared-memory file): nothing done, refused as a push's free-space check is.
    for (const args of [['repo', 'list'], ['repo', 'create', 'b'], ['gc']]) {
      const e = refused(cli(dataDir, args, ev), 4, 'ENGINE_NO_SPACE');
      assert.match(e.message, new RegExp(`^no space left on the file system of the data directory ${esc(dataDir)} \\(\\d+ bytes free\\): the engine database ${esc(db)} cannot be written \\(SQLITE_`));
      assert.match(e.hint, /^free space there \(stagepush gc then removes the content no repository holds\); the database itself is intact$/);
    }
    // Midway: another process has the database open (its shared memory is there), so it opens; the write fails.
    fs.rmSync(path.join(mnt.dir, '.filler'));
    const holder = new Database(db);
    try {
      holder.prepare('SELECT count(*) FROM repos').get();
      mnt.fill();
      const e = refused(cli(dataDir, ['repo', 'create', 'b'], ev), 6, 'ENGINE_NO_SPACE');
      assert.match(e.message, new RegExp(`^no space left on the file system of the data directory ${esc(dataDir)} \\(\\d+ bytes free\\): the engine database ${esc(db)} cannot be written \\(SQLITE_FULL\\)$`));
      assert.match(e.hint, /the database itself is intact \(the operation was rolled back\)$/);
    } finally {
      holder.close();
    }
    fs.rmSync(path.join(mnt.dir, '.filler'));
    assert.deepEqual(repoIds(dataDir, ev), ['a']);
    assert.equal(cli(dataDir, ['repo', 'create', 'b'], ev).status, 0);
    assert.deepEqual(repoIds(dataDir, ev), ['a', 'b']);
  } finally {
    mnt.unmount();
  }
});

test('a read-only mount: ENGINE_DATA_DIR_READONLY naming the data directory, exit 6, hint to remount', (t) => {
  const skip = cannotMountTmpfs();
  if (skip) return t.skip(skip);
  const mnt = mountTmpfs('4m');
  try {
    const dataDir = path.join(mnt.dir, 'data');
    const db = path.join(dataDir, 'engine.db');
    const e = env();
    assert.equal(cli(dataDir, ['repo', 'create', 'a'], e).status, 0);
    const expect = (r: ReturnType<typeof cli>, sqliteCode: string) => {
      const x = refused(r, 6, 'ENGINE_DATA_DIR_READONLY');
      assert.equal(x.message, `the data directory ${dataDir} is on a read-only file system: the engine database ${db} cannot be written (${sqliteCode})`);
      assert.equal(x.hint, 'remount it read-write (mount -o remount,rw), or give another --data-dir; the database itself is intact');
    };
    // SQLite cannot make its shared-memory file there, so it cannot open the database at all.
    mnt.remount('ro');
    for (const args of [['repo', 'list'], ['repo', 'create', 'b']]) expect(cli(dataDir, args, e), 'SQLITE_CANTOPEN');
    // With the shared-memory and log files left by a process killed with the database open, it
    // opens and reads; a write is refused.
    mnt.remount('rw');
    const killed = spawnSync(process.execPath, ['-e', `const D = require(${JSON.stringify(require_.resolve('better-sqlite3'))}); const db = new D(${JSON.stringify(db)}); db.prepare("UPDATE repos SET description = 'x'").run(); process.kill(process.pid, 'SIGKILL');`]);
    assert.equal(killed.signal, 'SIGKILL', killed.stderr?.toString());
    assert.ok(fs.existsSync(`${db}-shm`) && fs.existsSync(`${db}-wal`));
    mnt.remount('ro');
    assert.deepEqual(repoIds(dataDir, e), ['a']);
    expect(cli(dataDir, ['repo', 'create', 'b'], e), 'SQLITE_READONLY');
    mnt.remount('rw');
    assert.deepEqual(repoIds(dataDir, e), ['a']);
  } finally {
    mnt.unmount();
  }
});

test('a data directory or engine.db the user may not write (as nobody): ENGINE_DATA_DIR_DENIED naming it, exit 6', (t) => {
  const skip = cannotRunAsNobody();
  if (skip) return t.skip(skip);
  const root = tempDir('stagepush-storage-');
  traversable(root);
  const ev = env();
  const asNobody = (dataDir: string, args: string[]) => runCliAsNobody(['--data-dir', dataDir, ...args], ev);
  // root's data directory (0755): nobody may read it but not write it.
  const rootsDir = path.join(root, 'roots');
  assert.equal(cli(rootsDir, ['repo', 'create', 'a'], ev).status, 0);
  fs.chmodSync(rootsDir, 0o755);
  for (const args of [['repo', 'list'], ['repo', 'create', 'b']]) {
    const e = refused(asNobody(rootsDir, args), 6, 'ENGINE_DATA_DIR_DENIED');
    assert.match(e.message, new RegExp(`^permission denied: nobody cannot write the data directory ${esc(rootsDir)} \\(owned by uid 0\\), so the engine database ${esc(path.join(rootsDir, 'engine.db'))} cannot be used \\(SQLITE_[A-Z_]+\\)$`));
    assert.match(e.hint, new RegExp(`^run stagepush as the user owning the data directory, or let this user write ${esc(rootsDir)} and its engine.db, engine.db-wal and engine.db-shm; the database itself is intact$`));
  }
  // nobody's directory, root's engine.db (0644).
  const mixed = path.join(root, 'mixed');
  assert.equal(cli(mixed, ['repo', 'create', 'a'], ev).status, 0);
  fs.chownSync(mixed, NOBODY_UID, NOBODY_GID);
  const e = refused(asNobody(mixed, ['repo', 'create', 'b']), 6, 'ENGINE_DATA_DIR_DENIED');
  assert.equal(e.message, `permission denied: nobody cannot write the engine database ${path.join(mixed, 'engine.db')} (owned by uid 0) (SQLITE_READONLY)`);
  assert.deepEqual(repoIds(rootsDir, ev), ['a']);
  assert.deepEqual(repoIds(mixed, ev), ['a']);
});
