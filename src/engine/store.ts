/**
 * The content store: one copy of each file per sha256 under `<root>/sha256/<aa>/<rest>`.
 * Files are written to `<root>/tmp/<pid>-<random>` first, then hashed, synced and renamed into
 * place, so a half-written file is never visible under sha256/.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import { checkpoint } from './crash.js';

const CHUNK = 1024 * 1024;

export function hashFileSync(file: string): { sha256: string; size: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n <= 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
      size += n;
    }
    return { sha256: h.digest('hex'), size };
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncPath(p: string, dir = false): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, dir ? 'r' : 'r+');
    fs.fsyncSync(fd);
  } catch {
    // Directories cannot be fsynced on every platform; files opened read-only elsewhere.
    if (!dir && fd === undefined) {
      try {
        fd = fs.openSync(p, 'r');
        fs.fsyncSync(fd);
      } catch {
        /* best effort */
      }
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Published symlinks point into the store: its directories are searchable by the web server whatever the umask. */
function readableDir(d: string): void {
  const mode = fs.statSync(d).mode & 0o7777;
  if ((mode & 0o555) !== 0o555) fs.chmodSync(d, mode | 0o555);
}

export const SHA256_RE = /^[0-9a-f]{64}$/;

export class ContentStore {
  readonly root: string;
  readonly tmpDir: string;
  readonly shaDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
    this.shaDir = path.join(root, 'sha256');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(this.shaDir, { recursive: true });
    for (const d of [this.root, this.shaDir]) readableDir(d);
  }

  pathFor(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new StagepushError('ENGINE_BAD_SHA256', `not a sha256 digest: ${JSON.stringify(sha256)}`, { kind: 'invalid' });
    return path.join(this.shaDir, sha256.slice(0, 2), sha256.slice(2));
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathFor(sha256));
  }

  /** A fresh temporary path (not created) owned by this process. */
  tempPath(hint = ''): string {
    const safe = hint.replace(/[^A-Za-z0-9._-]/g, '_').slice(-60);
    return path.join(this.tmpDir, `${process.pid}-${randomBytes(6).toString('hex')}${safe ? '-' + safe : ''}`);
  }

  /** Hash, sync and rename a temp file into the store. The temp file is gone afterwards. */
  commitTemp(tmp: string, origin = tmp): { sha256: string; size: number; path: string } {
    let st: fs.Stats;
    try {
      st = fs.statSync(tmp);
    } catch {
      throw new StagepushError('ENGINE_UNIT_FILE_MISSING', `the unit's file was not written: ${origin}`, { kind: 'failed', file: origin, hint: 'write the file to unit.storagePath before saveUnit' });
    }
    if (!st.isFile()) throw new StagepushError('ENGINE_UNIT_FILE_MISSING', `not a regular file: ${origin}`, { kind: 'failed', file: origin });
    fsyncPath(tmp);
    const { sha256, size } = hashFileSync(tmp);
    const dest = this.pathFor(sha256);
    if (fs.existsSync(dest)) {
      fs.rmSync(tmp, { force: true });
    } else {
      // Stored files are published as symlink targets: readable by the web server whatever the
      // umask of the writer (a file with other links keeps its mode: it is someone else's too).
      if (st.nlink === 1 && (st.mode & 0o444) !== 0o444) fs.chmodSync(tmp, (st.mode & 0o7777) | 0o444);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      readableDir(path.dirname(dest));
      fs.renameSync(tmp, dest);
      fsyncPath(path.dirname(dest), true);
    }
    checkpoint('file-written');
    return { sha256, size, path: dest };
  }

  /** Store a copy of an existing file (hard link when possible, else copy). */
  ingestFile(src: string): { sha256: string; size: number; path: string; linked: boolean } {
    let st: fs.Stats;
    try {
      st = fs.statSync(src);
    } catch {
      throw new StagepushError('ENGINE_FILE_NOT_FOUND', `file not found: ${src}`, { kind: 'invalid', file: src });
    }
    if (!st.isFile()) throw new StagepushError('ENGINE_FILE_NOT_FOUND', `not a regular file: ${src}`, { kind: 'invalid', file: src });
    const { sha256, size } = hashFileSync(src);
    const dest = this.pathFor(sha256);
    if (fs.existsSync(dest)) return { sha256, size, path: dest, linked: false };
    const tmp = this.tempPath();
    let linked = false;
    try {
      // A source not readable by everyone is copied (and made readable), not linked: stored files
      // are published as symlink targets, and the source's mode is not ours to change.
      if ((st.mode & 0o444) !== 0o444) throw new Error('copy');
      fs.linkSync(src, tmp);
      linked = true;
    } catch {
      fs.copyFileSync(src, tmp);
      fs.chmodSync(tmp, 0o644);
    }
    if (!linked) fsyncPath(tmp);
    // Re-check the content: the source may have changed between hashing and linking.
    const again = hashFileSync(tmp);
    if (again.sha256 !== sha256) {
      fs.rmSync(tmp, { force: true });
      throw new StagepushError('ENGINE_FILE_CHANGED', `the file changed while it was being stored: ${src}`, { kind: 'failed', file: src });
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    readableDir(path.dirname(dest));
    fs.renameSync(tmp, dest);
    fsyncPath(path.dirname(dest), true);
    checkpoint('file-written');
    return { sha256, size, path: dest, linked };
  }

  remove(sha256: string): number {
    const p = this.pathFor(sha256);
    try {
      const st = fs.statSync(p);
      fs.rmSync(p, { force: true });
      return st.size;
    } catch {
      return 0;
    }
  }

  /** Every sha256 in the store. */
  *listAll(): Iterable<string> {
    let tops: string[];
    try {
      tops = fs.readdirSync(this.shaDir);
    } catch {
      return;
    }
    for (const a of tops.sort()) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const rest of fs.readdirSync(path.join(this.shaDir, a)).sort()) yield a + rest;
    }
  }

  /** Temp files whose writer process is gone (or all of them with `all`). */
  strayTemps(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.tmpDir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const n of names) {
      const m = /^(\d+)-/.exec(n);
      if (m && isPidAlive(Number(m[1]))) continue;
      out.push(path.join(this.tmpDir, n));
    }
    return out;
  }

  /** Remove temp files of dead writer processes (after a crash); `all` also removes unowned ones. */
  cleanStrayTemps(all = false): number {
    const stray = this.strayTemps().filter((f) => all || /^\d+-/.test(path.basename(f)));
    for (const f of stray) fs.rmSync(f, { force: true, recursive: true });
    return stray.length;
  }
}
