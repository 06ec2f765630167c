/**
 * Chunked reading of large XML metadata: yields the complete text of each `<tag …>…</tag>` (or
 * `<tag …/>`) element at the top level inside the root, from a stream of text, keeping only one
 * element in memory. Each element is then parsed on its own.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';

export type XmlSource = string | Buffer | Readable | AsyncIterable<Buffer | string>;

function isGzipPath(p: string): boolean {
  return p.endsWith('.gz');
}

/** Open a path (gunzipped when it ends in .gz or starts with the gzip magic) or pass a stream/buffer through. */
export async function* textChunks(src: XmlSource): AsyncGenerator<string> {
  let input: AsyncIterable<Buffer | string>;
  if (typeof src === 'string') {
    const rs = createReadStream(src);
    input = isGzipPath(src) ? rs.pipe(createGunzip()) : rs;
  } else if (Buffer.isBuffer(src)) {
    input = src.length >= 2 && src[0] === 0x1f && src[1] === 0x8b ? Readable.from([src]).pipe(createGunzip()) : Readable.from([src]);
  } else {
    input = src;
  }
  const dec = new StringDecoder('utf8');
  for await (const c of input) yield typeof c === 'string' ? c : dec.write(c);
  const rest = dec.end();
  if (rest) yield rest;
}

/**
 * Yield each `<tag>` element's text. Elements of the same name nested inside an element are not
 * split (their closing tags are counted), so `update` or `package` work on any of the repodata files.
 */
export async function* xmlElements(src: XmlSource, tag: string): AsyncGenerator<string> {
  const open = `<${tag}`;
  const close = `</${tag}>`;
  let buf = '';
  let start = -1;
  let depth = 0;
  let pos = 0;
  for await (const chunk of textChunks(src)) {
    buf += chunk;
    for (;;) {
      if (start < 0) {
        const i = findOpen(buf, open, pos);
        if (i < 0) {
          // keep a tail that might hold a partial "<tag"
          const keep = Math.max(0, buf.length - open.length);
          buf = buf.slice(keep);
          pos = 0;
          break;
        }
        const gt = buf.indexOf('>', i);
        if (gt < 0) {
          buf = buf.slice(i);
          pos = 0;
          break;
        }
        if (buf[gt - 1] === '/') {
          yield buf.slice(i, gt + 1);
          pos = gt + 1;
          continue;
        }
        start = i;
        depth = 1;
        pos = gt + 1;
      }
      // inside an element: find the matching close
      let done = false;
      for (;;) {
        const c = buf.indexOf(close, pos);
        const o = findOpen(buf, open, pos);
        if (c < 0) break;
        if (o >= 0 && o < c) {
          const gt = buf.indexOf('>', o);
          if (gt < 0) break;
          if (buf[gt - 1] !== '/') depth++;
          pos = gt + 1;
          continue;
        }
        depth--;
        pos = c + close.length;
        if (depth === 0) {
          done = true;
          break;
        }
      }
      if (!done) {
        buf = buf.slice(start);
        pos -= start;
        start = 0;
        break;
      }
      yield buf.slice(start, pos);
      buf = buf.slice(pos);
      pos = 0;
      start = -1;
    }
  }
}

/** Index of `<tag` followed by whitespace, `>` or `/` at or after `from`; -1 when none (or not decidable yet). */
function findOpen(buf: string, open: string, from: number): number {
  let i = buf.indexOf(open, from);
  while (i >= 0) {
    const ch = buf[i + open.length];
    if (ch === undefined) return -1;
    if (ch === '>' || ch === '/' || ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') return i;
    i = buf.indexOf(open, i + 1);
  }
  return -1;
}
