/** Small filesystem helpers shared by the built-in plugins. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

/** sha256 (hex) and size of a file, streamed. */
export async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const stream = createReadStream(file, { signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest('hex'), size };
}

/** mkdir -p with 0755 whatever the umask (only the directories it creates). */
export async function mkdirp(dir: string): Promise<void> {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (true) {
    try {
      const st = await fsp.stat(d);
      if (!st.isDirectory()) throw Object.assign(new Error(`not a directory: ${d}`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(d);
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  for (const m of missing.reverse()) {
    try {
      await fsp.mkdir(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    await fsp.chmod(m, DIR_MODE);
  }
}

/** Copy a file to dest (dest must not exist), 0644. */
export async function copyFile0644(src: string, dest: string): Promise<void> {
  await fsp.copyFile(src, dest, 1 /* COPYFILE_EXCL */);
  await fsp.chmod(dest, FILE_MODE);
}

/** Hard link src at dest, falling back to a copy across filesystems (or when links are refused). */
export async function linkOrCopy(src: string, dest: string): Promise<'link' | 'copy'> {
  return linkOr(src, dest, 'copy');
}

/** A hard link, or a symlink to `src` where the filesystem refuses one (`auto` link mode). */
export async function linkOrSymlink(src: string, dest: string): Promise<'link' | 'symlink'> {
  return linkOr(src, dest, 'symlink');
}

async function linkOr<F extends 'copy' | 'symlink'>(src: string, dest: string, fallback: F): Promise<'link' | F> {
  try {
    await fsp.link(src, dest);
    return 'link';
  } catch (e) {
    if (!linkRefused(e)) throw e;
    if (fallback === 'copy') await copyFile0644(src, dest);
    else await fsp.symlink(src, dest);
    return fallback;
  }
}

/**
 * link(2) refused where a copy or a symlink works: another filesystem (EXDEV), a file another
 * user owns under protected_hardlinks or a filesystem without hard links (EPERM, ENOTSUP), too
 * many links to the file (EMLINK).
 */
export function linkRefused(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

/**
 * Set published permissions on a tree: directories 0755, regular files 0644 (symlinks untouched).
 * A file with several links (a hard link into the content store) only gets its read bits added,
 * so the store's own mode is not loosened.
 */
export async function fixTreeModes(root: string): Promise<void> {
  const st = await fsp.lstat(root);
  if (st.isDirectory()) {
    if ((st.mode & 0o7777) !== DIR_MODE) await fsp.chmod(root, DIR_MODE);
    const entries = await fsp.readdir(root, { withFileTypes: true });
    for (const e of entries) {
      const p = path.join(root, e.name);
      if (e.isDirectory()) await fixTreeModes(p);
      else if (e.isFile()) await fixFileMode(p);
    }
  } else if (st.isFile()) {
    await fixFileMode(root);
  }
}

async function fixFileMode(p: string): Promise<void> {
  const st = await fsp.lstat(p);
  const mode = st.mode & 0o7777;
  if (st.nlink > 1) {
    if ((mode & 0o444) !== 0o444) await fsp.chmod(p, mode | 0o444);
  } else {
    // Readable by everyone; an executable file stays executable (0755), any other is 0644.
    const want = mode & 0o111 ? 0o755 : FILE_MODE;
    if (mode !== want) await fsp.chmod(p, want);
  }
}

/** Copy a tree (symlinks kept as symlinks, files copied), used when a rename crosses filesystems. */
export async function copyTree(src: string, dest: string): Promise<void> {
  const st = await fsp.lstat(src);
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(src), dest);
  } else if (st.isDirectory()) {
    await fsp.mkdir(dest);
    await fsp.chmod(dest, DIR_MODE);
    for (const name of await fsp.readdir(src)) await copyTree(path.join(src, name), path.join(dest, name));
  } else {
    await fsp.copyFile(src, dest, 1);
    await fsp.chmod(dest, st.mode & 0o7777);
  }
}

/** rename, or copy + remove when src and dest are on different filesystems. */
export async function moveTree(src: string, dest: string): Promise<void> {
  try {
    await fsp.rename(src, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyTree(src, dest);
    await fsp.rm(src, { recursive: true, force: true });
  }
}

/**
 * Make every directory from `root` down to `dir` (both included, `dir` under `root`) readable and
 * searchable by everyone (adds r-x, never removes bits): the published trees are served by
 * another user (nginx, httpd), whatever the umask of the process that created the directories.
 */
export async function openDirChain(root: string, dir: string): Promise<void> {
  const rel = path.relative(root, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is not under ${root}`);
  let d = root;
  for (const seg of ['', ...rel.split(path.sep).filter(Boolean)]) {
    d = path.join(d, seg);
    const mode = (await fsp.stat(d)).mode & 0o7777;
    if ((mode & 0o555) !== 0o555) await fsp.chmod(d, mode | 0o555);
  }
}

/** true when `child` is `parent` or lies under it (both absolute, resolved). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Copy src to dest (created, 0644) while hashing it: one read of the file. */
export async function copyAndHash(src: string, dest: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const { createHash: ch } = await import('node:crypto');
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const { Transform } = await import('node:stream');
  const h = ch('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(createReadStream(src, { signal }), tap, createWriteStream(dest, { mode: FILE_MODE }));
  return { sha256: h.digest('hex'), size };
}
