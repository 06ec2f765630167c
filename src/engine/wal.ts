/** SQLite's WAL mode, switched on safely when several processes open a database at once. */
import type Database from 'better-sqlite3';

/**
 * Put a database in WAL mode (it stays so: the mode is kept in the file). Switching needs a lock
 * that SQLite does not wait for (busy_timeout does not apply): two processes opening a new
 * database at once, one got "database is locked". Retried for up to `waitMs`.
 */
export function enableWal(db: Database.Database, waitMs = 30_000): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= until) throw e;
      Atomics.wait(sleeper, 0, 0, 20);
    }
  }
}
