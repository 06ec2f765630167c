/**
 * Decompression of a feed's downloaded metadata files (primary, updateinfo, comps, modules,
 * productid) by their actual compression, told by their first bytes: createrepo_c and
 * modifyrepo_c write gzip, xz, bzip2 or zstd (`--general-compress-type`, `--compress-type`), and
 * dnf reads them all. gzip is read with node's zlib; node has no xz, bzip2 or zstd, so those are
 * read by the `xz`, `bzip2` and `zstd` commands (Debian's xz-utils, bzip2 and zstd packages,
 * installed by scripts/setup.sh). A file that cannot be read (a compression without its command,
 * zchunk, corrupt or truncated data, a name that says one compression over bytes of another)
 * fails the sync naming the file: it is never taken as an empty file, which would make an
 * empty repository of the feed (and, with remove_missing, remove every package).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { StagepushError } from '../../errors.js';

export type Compression = 'gzip' | 'xz' | 'bzip2' | 'zstd' | 'zchunk' | 'none';

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]], // "BZh"
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['zchunk', [0x00, 0x5a, 0x43, 0x4b, 0x31]], // "\0ZCK1"
];

/** The compression a file name's suffix says (null: the name says none). */
const SUFFIXES: Record<string, Compression> = { '.gz': 'gzip', '.xz': 'xz', '.bz2': 'bzip2', '.zst': 'zstd', '.zck': 'zchunk' };

/** Commands that decompress to stdout, and the Debian package of each. */
const TOOLS: Partial<Record<Compression, { cmd: string; args: string[]; pkg: string }>> = {
  xz: { cmd: 'xz', args: ['-dc'], pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', args: ['-dc'], pkg: 'bzip2' },
  zstd: { cmd: 'zstd', args: ['-dcq'], pkg: 'zstd' },
};

/** The compression of data starting with `head` (its first bytes). */
export function compressionOf(head: Buffer): Compression {
  for (const [c, m] of MAGIC) if (head.length >= m.length && m.every((b, i) => head[i] === b)) return c;
  return 'none';
}

function compressionOfName(name: string): Compression | null {
  const m = /\.[a-z0-9]+$/i.exec(name);
  return (m && SUFFIXES[m[0].toLowerCase()]) ?? null;
}

function bad(url: string, message: string, cause?: unknown): StagepushError {
  return new StagepushError('YUM_SYNC_BAD_METADATA', `${url}: ${message}`, { kind: 'failed', file: url, cause });
}

/**
 * The plain content of the downloaded metadata file `file` (fetched from `url`): `file` itself
 * when it is not compressed, else a file written beside it (the compressed one is removed).
 */
export async function decompressMetadata(file: string, url: string, signal?: AbortSignal): Promise<string> {
  const fh = await fsp.open(file, 'r');
  const head = Buffer.alloc(8);
  let n: number;
  try {
    n = (await fh.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await fh.close();
  }
  const kind = compressionOf(head.subarray(0, n));
  const named = compressionOfName(new URL(url).pathname);
  // A plain file named .gz is read as dnf reads it (zlib passes data that is not gzip through).
  if (named && named !== kind && !(named === 'gzip' && kind === 'none')) throw bad(url, `the name says ${named}, but the file is ${kind === 'none' ? 'not compressed' : `${kind}-compressed`}`);
  if (kind === 'none') return file;
  if (kind === 'zchunk') {
    throw new StagepushError('YUM_SYNC_UNSUPPORTED_COMPRESSION', `${url}: zchunk-compressed metadata cannot be read (use the gzip, xz, bzip2 or zstd record of the feed)`, { kind: 'failed', file: url });
  }
  const out = `${file}.plain`;
  try {
    if (kind === 'gzip') {
      try {
        await pipeline(createReadStream(file), createGunzip(), createWriteStream(out), { signal });
      } catch (e) {
        if (signal?.aborted) throw e;
        throw bad(url, `not a readable gzip file (${(e as Error).message})`, e);
      }
    } else {
      await runTool(kind, file, out, url, signal);
    }
  } catch (e) {
    await fsp.rm(out, { force: true });
    throw e;
  }
  await fsp.rm(file, { force: true });
  return out;
}

/** Decompress `file` into `out` with the command for `kind`. */
async function runTool(kind: Compression, file: string, out: string, url: string, signal?: AbortSignal): Promise<void> {
  const tool = TOOLS[kind]!;
  const input = await fsp.open(file, 'r');
  const output = await fsp.open(out, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(tool.cmd, tool.args, { stdio: [input.fd, output.fd, 'pipe'], signal });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 4000) stderr += d.toString();
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (signal?.aborted) return reject(e);
        if (e.code === 'ENOENT') {
          return reject(
            new StagepushError('YUM_SYNC_UNSUPPORTED_COMPRESSION', `${url}: ${kind}-compressed, and the "${tool.cmd}" command that reads it is not installed`, {
              kind: 'failed',
              file: url,
              hint: `install Debian's ${tool.pkg} package (scripts/setup.sh does)`,
              cause: e,
            }),
          );
        }
        reject(bad(url, `${tool.cmd} could not be run (${e.message})`, e));
      });
      child.on('close', (code, sig) => {
        if (code === 0) resolve();
        else if (signal?.aborted) reject(signal.reason);
        else reject(bad(url, `not a readable ${kind} file (${tool.cmd} ${tool.args.join(' ')} exited ${code ?? sig}: ${stderr.trim().split('\n')[0] ?? ''})`));
      });
    });
  } finally {
    await input.close();
    await output.close();
  }
}
