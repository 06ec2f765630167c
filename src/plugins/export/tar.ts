/**
 * A small POSIX ustar writer (pax extended headers for paths that do not fit ustar's 100+155
 * bytes and for sizes of 8 GiB and more). Entries: directories and regular files.
 */
import { createReadStream, promises as fsp } from 'node:fs';

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  buf.write(s + '\0', off, len, 'ascii');
}

/** Split a path into ustar (prefix, name), or null when it does not fit. */
export function splitUstarPath(p: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(p) <= 100) return { prefix: '', name: p };
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  return null;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function header(name: string, prefix: string, size: number, type: '0' | '5' | 'x', mode: number, mtime: number): Buffer {
  const b = Buffer.alloc(BLOCK, 0);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, Math.max(0, Math.floor(mtime)));
  b.fill(0x20, 148, 156);
  b.write(type, 156, 1, 'ascii');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  b.write('root', 265, 32, 'ascii');
  b.write('root', 297, 32, 'ascii');
  b.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

export class TarWriter {
  private pos = 0;
  private constructor(private readonly fh: fsp.FileHandle, private readonly mtime: number) {}

  /** Create (exclusively) a tar file; every entry gets `mtime` (seconds). */
  static async create(file: string, mtime = Math.floor(Date.now() / 1000)): Promise<TarWriter> {
    return new TarWriter(await fsp.open(file, 'wx', 0o644), mtime);
  }

  private async write(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.pos);
      off += bytesWritten;
      this.pos += bytesWritten;
    }
  }

  private async pad(size: number): Promise<void> {
    const rem = size % BLOCK;
    if (rem) await this.write(Buffer.alloc(BLOCK - rem, 0));
  }

  private async entryHeader(path: string, size: number, type: '0' | '5', mode: number): Promise<void> {
    const split = splitUstarPath(path);
    const records: string[] = [];
    if (!split) records.push(paxRecord('path', path));
    if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));
    if (records.length) {
      const body = Buffer.from(records.join(''), 'utf8');
      const base = path.replace(/\/$/, '').split('/').pop()!.slice(0, 80);
      await this.write(header(`PaxHeaders/${base}`, '', body.length, 'x', 0o644, this.mtime));
      await this.write(body);
      await this.pad(body.length);
    }
    const s = split ?? { prefix: '', name: Buffer.from(path).subarray(0, 100).toString('utf8').replace(/\uFFFD+$/, '') };
    await this.write(header(s.name, s.prefix, size > MAX_OCTAL_SIZE ? 0 : size, type, mode, this.mtime));
  }

  async addDirectory(path: string, mode = 0o755): Promise<void> {
    await this.entryHeader(path.endsWith('/') ? path : path + '/', 0, '5', mode);
  }

  async addBuffer(path: string, data: Buffer, mode = 0o644): Promise<void> {
    await this.entryHeader(path, data.length, '0', mode);
    await this.write(data);
    await this.pad(data.length);
  }

  /** Add a file's content (its size must not change while written). */
  async addFile(path: string, src: string, mode = 0o644, signal?: AbortSignal): Promise<void> {
    const { size } = await fsp.stat(src);
    await this.entryHeader(path, size, '0', mode);
    let written = 0;
    for await (const chunk of createReadStream(src, { signal }) as AsyncIterable<Buffer>) {
      const part = written + chunk.length > size ? chunk.subarray(0, size - written) : chunk;
      await this.write(part);
      written += part.length;
    }
    if (written !== size) throw new Error(`${src}: size changed while archiving (${written} of ${size} bytes)`);
    await this.pad(size);
  }

  /** End-of-archive marker, fsync, close. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2, 0));
    await this.fh.sync();
    await this.fh.close();
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
