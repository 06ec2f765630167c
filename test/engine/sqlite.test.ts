/**
 * sqliteFailure: which coded error a SQLite failure becomes. A damaged database is the only one
 * with the restore-from-backup hint; the others (found by the file system's own checks, else by
 * the SQLite code) leave the database alone. The real places (full disk, read-only mount,
 * permissions) are in test/cli/engine-storage.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { StagepushError } from '../../src/errors.js';
import { SqliteStorage, sqliteFailure } from '../../src/engine/sqlite.js';
import { tempDir } from '../helpers/cli.js';

function sqliteError(code: string, message = 'something failed'): Error {
  return Object.assign(new Error(message), { code });
}

test('sqliteFailure: the code, kind and hint of each SQLite failure of a writable data directory', () => {
  const file = path.join(tempDir('stagepush-sqlite-'), 'engine.db');
  const as = (code: string, atOpen = false) => {
    const e = sqliteFailure(sqliteError(code), file, atOpen);
    assert.ok(e instanceof StagepushError, code);
    assert.equal(e.file, file);
    return { code: e.code, kind: e.kind, hint: e.hint ?? '' };
  };
  for (const c of ['SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_NOTADB']) {
    assert.deepEqual(as(c), { code: 'ENGINE_DB_UNREADABLE', kind: 'failed', hint: 'restore it from a backup, or move the data directory aside to start a new engine' });
  }
  // A full disk found as the engine opens is refused before anything is done (exit 4); later, the operation failed (exit 6).
  assert.deepEqual([as('SQLITE_FULL', true).code, as('SQLITE_FULL', true).kind], ['ENGINE_NO_SPACE', 'policy']);
  assert.deepEqual([as('SQLITE_FULL').code, as('SQLITE_FULL').kind], ['ENGINE_NO_SPACE', 'failed']);
  assert.equal(as('SQLITE_READONLY').code, 'ENGINE_DATA_DIR_READONLY');
  assert.equal(as('SQLITE_READONLY_DIRECTORY').code, 'ENGINE_DATA_DIR_DENIED');
  assert.equal(as('SQLITE_PERM').code, 'ENGINE_DATA_DIR_DENIED');
  assert.equal(as('SQLITE_CANTOPEN').code, 'ENGINE_DB_OPEN');
  assert.equal(as('SQLITE_IOERR_WRITE').code, 'ENGINE_DB_IO');
  for (const c of ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_WRITE']) {
    assert.match(as(c).hint, /the database itself is intact|fsck|check that/, c);
    assert.doesNotMatch(as(c).hint, /backup/, c);
  }
  // Not about the place or the file: left as they are (busy, constraint, a bug of ours).
  for (const c of ['SQLITE_BUSY', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_ERROR']) {
    const e = sqliteError(c);
    assert.equal(sqliteFailure(e, file, false), e);
  }
  assert.equal(sqliteFailure(new TypeError('x'), file, false) instanceof TypeError, true);
});

test('a SQLite failure inside a storage transaction comes out as its coded error, the transaction rolled back', () => {
  const file = path.join(tempDir('stagepush-sqlite-'), 'engine.db');
  const st = new SqliteStorage(file);
  try {
    const now = new Date().toISOString();
    const row = { id: 'r', display_name: 'r', description: '', notes: '{}', importer_type: null, importer_config: null, retain_versions: 0, version: 0, created: now, updated: now };
    assert.throws(
      () =>
        st.tx(() => {
          st.insertRepo(row);
          throw sqliteError('SQLITE_FULL', 'database or disk is full');
        }),
      (e: unknown) => e instanceof StagepushError && e.code === 'ENGINE_NO_SPACE' && e.kind === 'failed' && /cannot be written \(SQLITE_FULL\)$/.test(e.message),
    );
    assert.equal(st.getRepo('r'), undefined);
  } finally {
    st.close();
  }
});
