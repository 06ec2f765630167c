/**
 * The content store: one copy of each file per sha256 under `<root>/sha256/<aa>/<rest>`.
 * Files are written to `<root>/tmp/<pid>-<random>` first, then hashed, synced and renamed into
 * place, so a half-written file is never visible under sha256/. A file on the same filesystem is
 * hard-linked straight into place (a link is atomic: there is no half-written state).
 *
 * Fast path for pushes: a caller that already hashed a file (the push's loader, with its stat
 * cache) installs a `FileFactsProvider`; `ingestFile` then trusts the known sha256 when the file's
 * identity (device, inode, size, mtime) is still the one that was hashed, and links it in without
 * reading it. A copy (other filesystem) is always hashed while copying and verified. Without a
 * provider (plain `content upload` of an unknown file) every file is hashed and verified.
 *
 * Batched durability: inside `deferDurability()` files and directories are not fsynced one at a
 * time; `flushDurability()` syncs every copied file and touched directory once (callers flush
 * before committing the database rows that reference the files).
 *
 * Pins (`<root>/pins/<name>.json`): sha256s kept by orphan clean-up until they expire or are
 * released (content stored by `push --pre-push` before any unit references it).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { resolvePath } from '../paths.js';
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

/** What a caller already knows about a file it hashed (identity at hashing time). */
export interface FileFacts {
  sha256: string;
  size: number;
  dev: number;
  ino: number;
  mtimeMs: number;
  /** Anything else the caller parsed from the file (e.g. an RPM header record). */
  extra?: unknown;
}

/** Looks up facts of an absolute path (undefined when unknown). */
export type FileFactsProvider = (absPath: string) => FileFacts | undefined;

let factsProvider: FileFactsProvider | null = null;

/** Install (or remove with null) the process-wide provider of known file facts. Returns the previous one. */
export function setFileFactsProvider(p: FileFactsProvider | null): FileFactsProvider | null {
  const prev = factsProvider;
  factsProvider = p;
  return prev;
}

/** Facts of a file, when known and its identity (device, inode, size, mtime) has not changed since. */
export function knownFileFacts(file: string, st?: fs.Stats): FileFacts | undefined {
  if (!factsProvider) return undefined;
  const f = factsProvider(resolvePath(file));
  if (!f || !SHA256_RE.test(f.sha256)) return undefined;
  let s = st;
  if (!s) {
    try {
      s = fs.statSync(file);
    } catch {
      return undefined;
    }
  }
  return sameIdentity(s, f) ? f : undefined;
}

/** How a file reached the store, as `ingestFile` and `commitTemp` tell it (src null: a temp file). */
export interface StoredEvent {
  src: string | null;
  sha256: string;
  size: number;
  how: 'linked' | 'copied' | 'existing';
}

const storedObservers = new Set<(e: StoredEvent) => void>();

/**
 * Listen (process-wide) to what the store is given: each `ingestFile` and `commitTemp` result.
 * The push learns from it how each item's file was stored without asking the filesystem again.
 * Returns the function that stops listening.
 */
export function onStored(o: (e: StoredEvent) => void): () => void {
  const own = (e: StoredEvent) => o(e);
  storedObservers.add(own);
  return () => {
    storedObservers.delete(own);
  };
}

function tellStored(e: StoredEvent): void {
  for (const o of storedObservers) o(e);
}

function sameIdentity(s: fs.Stats, f: { dev: number; ino: number; size: number; mtimeMs: number }): boolean {
  return s.dev === f.dev && s.ino === f.ino && s.size === f.size && s.mtimeMs === f.mtimeMs;
}

interface Durability {
  dirs: Set<string>;
}
let deferred: Durability | null = null;
let deferDepth = 0;

/** Start batching fsyncs (nestable); end it with `flushDurability()`. */
export function deferDurability(): void {
  deferDepth++;
  deferred ??= { dirs: new Set() };
}

/**
 * Sync every directory that got a new entry since `deferDurability()` (once each); with `end`,
 * stop batching (at depth 0). Copied files' data is always synced before they are renamed into place.
 */
export function flushDurability(end = true): { dirs: number } {
  const d = deferred;
  if (end && deferDepth > 0) deferDepth--;
  if (end && deferDepth === 0) deferred = null;
  else if (d) deferred = { dirs: new Set() };
  if (!d) return { dirs: 0 };
  for (const dir of d.dirs) fsyncPath(dir, true);
  return { dirs: d.dirs.size };
}

/**
 * The same as `flushDurability`, with the directory fsyncs issued in parallel (libuv's thread
 * pool): each directory fsync waits for a device cache flush, and concurrent ones are merged.
 */
export async function flushDurabilityAsync(end = true): Promise<{ dirs: number }> {
  const d = deferred;
  if (end && deferDepth > 0) deferDepth--;
  if (end && deferDepth === 0) deferred = null;
  else if (d) deferred = { dirs: new Set() };
  if (!d) return { dirs: 0 };
  const syncOne = async (dir: string): Promise<void> => {
    let h: fs.promises.FileHandle | undefined;
    try {
      h = await fs.promises.open(dir, 'r');
      await h.sync();
    } catch {
      // Directories cannot be fsynced on every platform.
    } finally {
      await h?.close();
    }
  };
  const list = [...d.dirs];
  // Shard directories first, then their parent (sha256/) when new shards were made.
  const parents = list.filter((x) => !/\/[0-9a-f]{2}$/.test(x));
  await Promise.all(list.filter((x) => !parents.includes(x)).map(syncOne));
  for (const x of parents) await syncOne(x);
  return { dirs: list.length };
}

function syncDir(p: string): void {
  if (deferred) deferred.dirs.add(p);
  else fsyncPath(p, true);
}

/** Copy src to dest (created exclusively) while hashing what was copied. */
function copyHashing(src: string, dest: string): { sha256: string; size: number; st: fs.Stats } {
  const inFd = fs.openSync(src, 'r');
  try {
    const st = fs.fstatSync(inFd);
    const outFd = fs.openSync(dest, 'wx');
    // A copy that fails midway (a full disk) leaves no partial file: its room is given back now,
    // not when gc finds it a stray temp file.
    let copied = false;
    try {
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(CHUNK);
      let size = 0;
      for (;;) {
        const n = fs.readSync(inFd, buf, 0, CHUNK, null);
        if (n <= 0) break;
        const chunk = n === CHUNK ? buf : buf.subarray(0, n);
        h.update(chunk);
        let off = 0;
        while (off < n) off += fs.writeSync(outFd, chunk, off, n - off);
        size += n;
      }
      copied = true;
      return { sha256: h.digest('hex'), size, st };
    } finally {
      fs.closeSync(outFd);
      if (!copied) fs.rmSync(dest, { force: true });
    }
  } finally {
    fs.closeSync(inFd);
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

const everyoneReads = (st: fs.Stats): boolean => (st.mode & 0o444) === 0o444;

export const SHA256_RE = /^[0-9a-f]{64}$/;

/** What `ingestFile` did with a file. */
export interface IngestResult {
  sha256: string;
  size: number;
  path: string;
  linked: boolean;
  how: 'linked' | 'copied' | 'existing';
  verified: boolean;
}

export class ContentStore {
  readonly root: string;
  readonly tmpDir: string;
  readonly shaDir: string;

  /**
   * Hard-link staged files in (the default), or always copy them: a hard link shares the staged
   * file's inode, so a staged file rewritten in place afterwards (`cp` over it) would change the
   * stored, published copy too.
   */
  private readonly linkFiles: boolean;

  constructor(root: string, opts: { linkFiles?: boolean } = {}) {
    this.linkFiles = opts.linkFiles ?? true;
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
    this.shaDir = path.join(root, 'sha256');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(this.shaDir, { recursive: true });
    for (const d of [this.root, this.shaDir]) readableDir(d);
  }

  /** Shard directories this store made or found (made once per store object, not once per file). */
  private readonly shards = new Set<string>();
  /** The shard directory of a digest exists (a new one is synced into sha256/ with the batch). */
  private ensureShard(dir: string): void {
    if (this.shards.has(dir)) return;
    if (fs.mkdirSync(dir, { recursive: true }) !== undefined) syncDir(this.shaDir);
    readableDir(dir);
    this.shards.add(dir);
  }

  /**
   * Run `op` (a link or rename to `dest`) with the shard directory of `dest` made. A shard
   * directory remembered as made but removed since (by hand, or by another process) is made
   * again and `op` retried once.
   */
  private intoShard<T>(dest: string, op: () => T): T {
    const dir = path.dirname(dest);
    this.ensureShard(dir);
    try {
      return op();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || fs.existsSync(dir)) throw e;
      this.shards.delete(dir);
      this.ensureShard(dir);
      return op();
    }
  }

  pathFor(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new StagepushError('ENGINE_BAD_SHA256', `not a sha256 digest: ${JSON.stringify(sha256)}`, { kind: 'invalid' });
    // shaDir is already normalised and a digest has no separators or dots: joined as path.join
    // would (into one flat string: staged units and handed-out units keep it).
    return [this.shaDir, path.sep, sha256.slice(0, 2), path.sep, sha256.slice(2)].join('');
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
    const existed = fs.existsSync(dest);
    if (existed) {
      fs.rmSync(tmp, { force: true });
    } else {
      // Stored files are published as symlink targets: readable by the web server whatever the
      // umask of the writer (a file with other links keeps its mode: it is someone else's too).
      if (st.nlink === 1 && (st.mode & 0o444) !== 0o444) fs.chmodSync(tmp, (st.mode & 0o7777) | 0o444);
      this.intoShard(dest, () => fs.renameSync(tmp, dest));
      syncDir(path.dirname(dest));
    }
    checkpoint('file-written');
    if (storedObservers.size) tellStored({ src: null, sha256, size, how: existed ? 'existing' : 'copied' });
    return { sha256, size, path: dest };
  }

  /**
   * Store a copy of an existing file: hard link when possible, else copy. `how` says which
   * ('existing' when the store already had it). When the file's facts are known (see
   * `setFileFactsProvider`) and its identity is unchanged, it is not read to be hashed again.
   * `opts.st`: the caller's stat of `src`, taken just before (not asked again).
   */
  ingestFile(src: string, opts: { st?: fs.Stats } = {}): IngestResult {
    const r = this.ingest(src, opts.st);
    if (storedObservers.size) tellStored({ src, sha256: r.sha256, size: r.size, how: r.how });
    return r;
  }

  private ingest(src: string, given?: fs.Stats): IngestResult {
    let st: fs.Stats;
    if (given) st = given;
    else {
      try {
        st = fs.statSync(src);
      } catch {
        throw new StagepushError('ENGINE_FILE_NOT_FOUND', `file not found: ${src}`, { kind: 'invalid', file: src });
      }
    }
    if (!st.isFile()) throw new StagepushError('ENGINE_FILE_NOT_FOUND', `not a regular file: ${src}`, { kind: 'invalid', file: src });
    const known = knownFileFacts(src, st);
    if (known) {
      const dest = this.pathFor(known.sha256);
      const existing = { sha256: known.sha256, size: known.size, path: dest, linked: false, how: 'existing', verified: false } as const;
      // A source not readable by everyone is copied (made readable), not linked (as below); a
      // readable one is linked straight away: the link failing with EEXIST says it is stored.
      const readable = everyoneReads(st);
      if (!readable && fs.existsSync(dest)) return existing;
      try {
        if (!readable || !this.linkFiles) throw Object.assign(new Error('copy'), { code: 'EPERM' });
        // Straight into place: a hard link is atomic. Then check that what was linked is the
        // inode that was hashed, unchanged (else undo: the file changed since it was hashed).
        this.intoShard(dest, () => fs.linkSync(src, dest));
        const after = fs.statSync(dest);
        if (!sameIdentity(after, known)) {
          fs.rmSync(dest, { force: true });
          throw new StagepushError('ENGINE_FILE_CHANGED', `the file changed while it was being stored: ${src}`, { kind: 'failed', file: src });
        }
        syncDir(path.dirname(dest));
        checkpoint('file-written');
        return { sha256: known.sha256, size: known.size, path: dest, linked: true, how: 'linked', verified: false };
      } catch (e) {
        if (e instanceof StagepushError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return existing;
        // Another filesystem (EXDEV) or no hard links: copy, hashing while copying.
      }
      const tmp = this.tempPath();
      const c = copyHashing(src, tmp);
      if (c.sha256 !== known.sha256) {
        fs.rmSync(tmp, { force: true });
        throw new StagepushError('ENGINE_FILE_CHANGED', `the file changed since it was hashed: ${src} (sha256 ${c.sha256}, expected ${known.sha256})`, { kind: 'failed', file: src });
      }
      return this.placeTemp(tmp, c.sha256, c.size, 'copied');
    }
    // Unknown file: hash it, link or copy it, verify what was stored.
    const dest0 = (() => {
      const { sha256 } = hashFileSync(src);
      return { sha256, dest: this.pathFor(sha256) };
    })();
    if (fs.existsSync(dest0.dest)) return { sha256: dest0.sha256, size: st.size, path: dest0.dest, linked: false, how: 'existing', verified: true };
    const tmp = this.tempPath();
    let linked = false;
    try {
      // A source not readable by everyone is copied (and made readable), not linked: stored files
      // are published as symlink targets, and the source's mode is not ours to change.
      if (!everyoneReads(st) || !this.linkFiles) throw new Error('copy');
      fs.linkSync(src, tmp);
      linked = true;
    } catch {
      // copied below, hashing while copying
    }
    let again: { sha256: string; size: number };
    if (linked) again = hashFileSync(tmp);
    else again = copyHashing(src, tmp);
    // Re-check the content: the source may have changed between hashing and storing.
    if (again.sha256 !== dest0.sha256) {
      fs.rmSync(tmp, { force: true });
      throw new StagepushError('ENGINE_FILE_CHANGED', `the file changed while it was being stored: ${src}`, { kind: 'failed', file: src });
    }
    const r = this.placeTemp(tmp, again.sha256, again.size, linked ? 'linked' : 'copied');
    return { ...r, verified: true };
  }

  /** Rename a complete temp file (hashed) into place (synced first when it is a copy). */
  private placeTemp(tmp: string, sha256: string, size: number, how: 'linked' | 'copied'): IngestResult {
    const dest = this.pathFor(sha256);
    if (fs.existsSync(dest)) {
      fs.rmSync(tmp, { force: true });
      return { sha256, size, path: dest, linked: false, how: 'existing', verified: true };
    }
    // A copy is readable by everyone (published as a symlink target), and its data is synced
    // before it gets its final name (never a short file under sha256/).
    if (how === 'copied') {
      fs.chmodSync(tmp, 0o644);
      fsyncPath(tmp);
    }
    this.intoShard(dest, () => fs.renameSync(tmp, dest));
    syncDir(path.dirname(dest));
    checkpoint('file-written');
    return { sha256, size, path: dest, linked: how === 'linked', how, verified: true };
  }

  /**
   * Delete a stored file (not a pinned one: 0 then). Returns the bytes freed. `pinned`: the pins
   * the caller has just read (spares reading every pin file once per removed file).
   */
  remove(sha256: string, pinned: ReadonlySet<string> = this.pinned()): number {
    if (pinned.has(sha256)) return 0;
    const p = this.pathFor(sha256);
    try {
      const st = fs.statSync(p);
      fs.rmSync(p, { force: true });
      return st.size;
    } catch {
      return 0;
    }
  }

  get pinDir(): string {
    return path.join(this.root, 'pins');
  }

  /**
   * Keep these stored files from orphan clean-up until `untilMs` (or until released): a pin
   * named `name` (one per pre-push), replacing a previous pin of that name.
   */
  pin(name: string, sha256s: Iterable<string>, untilMs: number, opts: { durable?: boolean } = {}): void {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new StagepushError('ENGINE_BAD_PIN', `pin name ${JSON.stringify(name)}: letters, digits, . _ - only`, { kind: 'internal' });
    const list = [...new Set(sha256s)].filter((x) => SHA256_RE.test(x)).sort();
    fs.mkdirSync(this.pinDir, { recursive: true });
    const file = path.join(this.pinDir, `${name}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ created: Date.now(), until: untilMs, sha256: list }) + '\n');
    // A pin that only guards a running operation need not survive a crash (the operation does not either).
    if (opts.durable !== false) fsyncPath(tmp);
    fs.renameSync(tmp, file);
    if (opts.durable !== false) fsyncPath(this.pinDir, true);
  }

  /** Remove the pin `name` (nothing when there is none). */
  unpin(name: string): void {
    fs.rmSync(path.join(this.pinDir, `${name}.json`), { force: true });
  }

  /**
   * Every pin in force: name, expiry and digests. Expired pins are deleted, unless `prune` is
   * false (a dry run reads them and changes nothing).
   */
  pins(now = Date.now(), prune = true): Array<{ name: string; until: number; sha256: string[] }> {
    let names: string[];
    try {
      names = fs.readdirSync(this.pinDir);
    } catch {
      return [];
    }
    const out: Array<{ name: string; until: number; sha256: string[] }> = [];
    for (const n of names.sort()) {
      if (!n.endsWith('.json')) continue;
      const file = path.join(this.pinDir, n);
      try {
        const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { until?: unknown; sha256?: unknown };
        const until = typeof v.until === 'number' ? v.until : 0;
        const list = Array.isArray(v.sha256) ? v.sha256.filter((x): x is string => typeof x === 'string') : [];
        if (until <= now || !list.length) {
          if (prune) fs.rmSync(file, { force: true });
          continue;
        }
        out.push({ name: n.slice(0, -5), until, sha256: list });
      } catch {
        // A pin being written by another process (or unreadable): not in force.
      }
    }
    return out;
  }

  /** Digests kept by a pin in force (`prune`: see pins). */
  pinned(now = Date.now(), prune = true): Set<string> {
    const out = new Set<string>();
    for (const p of this.pins(now, prune)) for (const x of p.sha256) out.add(x);
    return out;
  }

  /**
   * Release these digests from the pins whose name starts with `prefix` (a push imported what
   * pre-pushes stored); empty pins are deleted. Returns how many were released. Other pins keep
   * them: a distributor's (packages its kept old metadata names, which another repository's push
   * importing the same file does not make any less needed) or a running operation's.
   */
  release(sha256s: Iterable<string>, prefix: string): number {
    const pins = this.pins().filter((p) => p.name.startsWith(prefix));
    if (!pins.length) return 0;
    const drop = new Set(sha256s);
    let n = 0;
    for (const p of pins) {
      const keep = p.sha256.filter((x) => !drop.has(x));
      if (keep.length === p.sha256.length) continue;
      n += p.sha256.length - keep.length;
      if (keep.length) this.pin(p.name, keep, p.until);
      else fs.rmSync(path.join(this.pinDir, `${p.name}.json`), { force: true });
    }
    return n;
  }

  /**
   * Every sha256 in the store (`withPinned`: pinned ones too; by default they are left out; a set
   * of digests in place of the flag: those are left out).
   */
  *listAll(withPinned: boolean | ReadonlySet<string> = false): Iterable<string> {
    const pinned = typeof withPinned === 'object' ? withPinned : withPinned ? new Set<string>() : this.pinned();
    let tops: string[];
    try {
      tops = fs.readdirSync(this.shaDir);
    } catch {
      return;
    }
    for (const a of tops.sort()) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const rest of fs.readdirSync(path.join(this.shaDir, a)).sort()) if (!pinned.has(a + rest)) yield a + rest;
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
    // A pin being written by a process that died before it renamed it into place (`pin`).
    let pins: string[] = [];
    try {
      pins = fs.readdirSync(this.pinDir);
    } catch {
      pins = [];
    }
    for (const n of pins) {
      const m = /\.json\.(\d+)\.tmp$/.exec(n);
      if (m && !isPidAlive(Number(m[1]))) out.push(path.join(this.pinDir, n));
    }
    return out;
  }

  /** Remove temp files of dead writer processes (after a crash); `all` also removes unowned ones. */
  cleanStrayTemps(all = false): number {
    const stray = this.strayTemps().filter((f) => all || /^\d+-|\.json\.\d+\.tmp$/.test(path.basename(f)));
    for (const f of stray) fs.rmSync(f, { force: true, recursive: true });
    return stray.length;
  }
}
