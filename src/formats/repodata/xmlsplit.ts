/**
 * Chunked reading of large XML metadata: yields the complete text of each `<tag …>…</tag>` (or
 * `<tag …/>`) element at the top level inside the root, from a stream of text, keeping only one
 * element in memory. Each element is then parsed on its own.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { StagepushError } from '../../errors.js';

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
 * What a document must look like around its elements, checked by `xmlElements`: only the XML
 * declaration, comments, whitespace, the root's start tag and end tag. A document that stops
 * inside an element or before the root's end tag (a truncated download) is refused, as is
 * anything else between the elements: without this, a cut or garbled file read as fewer elements
 * (or none) than it has.
 */
export interface XmlDocumentShape {
  /** The root element's name (`metadata`, `updates`). */
  root: string;
  /** Called with the root's start tag (`<metadata … packages="3">`) once it has been read. */
  onRoot?(startTag: string): void;
  /** For the error: the file's name and the code to throw. */
  file: string;
  code: string;
}

/** Text outside the elements larger than this is refused (it is kept in memory until checked). */
const MAX_GAP = 1 << 20;
const MISC = String.raw`(?:\s|<!--[\s\S]*?-->)`;

/** Checks the text around the elements as it comes (see XmlDocumentShape). */
class ShapeCheck {
  private gap = '';
  private seenRoot = false;
  private readonly prolog: RegExp;
  private readonly between = new RegExp(`^${MISC}*$`);
  private readonly tail: RegExp;

  constructor(private readonly shape: XmlDocumentShape) {
    const r = shape.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // BOM, declaration, comments/doctype, then the root's start tag (self-closing when empty).
    this.prolog = new RegExp(`^\uFEFF?${MISC}*(?:<\\?xml\\s[^>]*\\?>)?(?:${MISC}|<!DOCTYPE[^>]*>)*(<${r}(?:\\s[^>]*)?>)`);
    this.tail = new RegExp(`^${MISC}*</${r}\\s*>${MISC}*$`);
  }

  private fail(why: string): never {
    throw new StagepushError(this.shape.code, `${this.shape.file}: ${why}`, { file: this.shape.file });
  }

  /** Text outside the elements. */
  add(text: string): void {
    this.gap += text;
    if (this.gap.length > MAX_GAP) this.fail(`unexpected content in the <${this.shape.root}> document: ${JSON.stringify(this.gap.trim().slice(0, 60))}…`);
  }

  /** An element starts: what came before it must be the prolog (first) or blank. */
  element(tag: string): void {
    if (!this.seenRoot) {
      const m = this.prolog.exec(this.gap);
      if (!m || m[1]!.endsWith('/>')) this.fail(`<${tag}> element outside a <${this.shape.root}> root element`);
      this.seenRoot = true;
      this.shape.onRoot?.(m[1]!);
      this.gap = this.gap.slice(m[0].length);
    }
    if (!this.between.test(this.gap)) this.fail(`unexpected content before a <${tag}>: ${JSON.stringify(this.gap.trim().slice(0, 60))}`);
    this.gap = '';
  }

  /** The document ended; `inside` names the element it ended in, if any. */
  end(inside: string | null): void {
    if (inside) this.fail(`the document ends inside a <${inside}> element (truncated)`);
    if (!this.seenRoot) {
      const m = this.prolog.exec(this.gap);
      if (!m) this.fail(`no <${this.shape.root}> root element`);
      this.seenRoot = true;
      this.shape.onRoot?.(m[1]!);
      if (m[1]!.endsWith('/>')) {
        if (!this.between.test(this.gap.slice(m[0].length))) this.fail(`unexpected content after the <${this.shape.root}/> root element`);
        return;
      }
      this.gap = this.gap.slice(m[0].length);
    }
    if (!this.tail.test(this.gap)) this.fail(this.gap.trim() ? `unexpected content at the end: ${JSON.stringify(this.gap.trim().slice(0, 60))}` : `the document ends before </${this.shape.root}> (truncated)`);
  }
}

/**
 * Yield each `<tag>` element's text. Elements of the same name nested inside an element are not
 * split (their closing tags are counted), so `update` or `package` work on any of the repodata
 * files. With `shape`, the text around the elements is checked too (see XmlDocumentShape).
 */
export async function* xmlElements(src: XmlSource, tag: string, shape?: XmlDocumentShape): AsyncGenerator<string> {
  const open = `<${tag}`;
  const close = `</${tag}>`;
  const check = shape ? new ShapeCheck(shape) : null;
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
          const keep = Math.max(pos, buf.length - open.length);
          check?.add(buf.slice(pos, keep));
          buf = buf.slice(keep);
          pos = 0;
          break;
        }
        check?.add(buf.slice(pos, i));
        check?.element(tag);
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
  if (check) {
    // A "<tag" at the very end (no ">" yet) is an element that never ended, too.
    const inside = start >= 0 || findOpen(buf + ' ', open, pos) >= 0 ? tag : null;
    if (!inside) check.add(buf.slice(pos));
    check.end(inside);
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
