/**
 * RPM file structure: lead (96 bytes), signature header (padded to 8 bytes), main header.
 * Every count, length and offset is bounds-checked before use; errors are StagepushErrors with
 * RPM_* codes that say what is wrong and at which file offset.
 */
import { StagepushError } from '../../errors.js';
import { isUtf8 } from 'node:buffer';
import { decodeHeaderString } from './strings.js';
import {
  ENTRY_SIZE,
  HEADER_INTRO,
  HEADER_MAGIC,
  LEAD_MAGIC,
  LEAD_SIZE,
  LIMITS,
  TAG,
  TAG_TYPE,
  TAG_TYPE_NAMES,
  TAG_TYPE_SIZE,
} from './tags.js';

/** Where an error is reported (the file path, when known). */
export interface RpmSource {
  file?: string;
}

export function rpmError(code: string, message: string, src: RpmSource, cause?: unknown): StagepushError {
  const where = src.file !== undefined ? `${src.file}: ` : '';
  return new StagepushError(code, `${where}${message}`, { kind: 'invalid', file: src.file, cause });
}

export interface RpmLead {
  major: number;
  minor: number;
  /** 0 binary, 1 source. */
  type: number;
  archnum: number;
  name: string;
  osnum: number;
  signatureType: number;
}

export interface RpmTagEntry {
  tag: number;
  type: number;
  /** Offset in the data store. */
  offset: number;
  count: number;
}

/** The two-step layout of a package: computed from a prefix of the file. */
export interface RpmLayout {
  sigStart: number;
  sigEntries: number;
  sigData: number;
  /** First byte of the main header (createrepo_c's rpm:header-range start). */
  headerStart: number;
  headerEntries: number;
  headerData: number;
  /** First byte after the main header (createrepo_c's rpm:header-range end). */
  headerEnd: number;
}

function typeName(type: number): string {
  return TAG_TYPE_NAMES[type] ?? `type ${type}`;
}

/**
 * How many bytes of the file are needed to read both headers, computed from what `buf` holds.
 * Returns a number > buf.length when more bytes are needed (call again with a longer prefix);
 * when the result is ≤ buf.length the headers are complete. `fileSize` bounds every length.
 */
export function requiredLength(buf: Buffer, fileSize: number, src: RpmSource = {}): number {
  const need = (n: number, what: string): boolean => {
    if (n > fileSize) {
      throw rpmError('RPM_TRUNCATED', `truncated: the ${what} needs ${n} bytes but the file has ${fileSize}`, src);
    }
    return buf.length >= n;
  };
  if (!need(LEAD_SIZE, 'lead')) return LEAD_SIZE;
  if (buf.readUInt32BE(0) !== LEAD_MAGIC) {
    throw rpmError('RPM_BAD_MAGIC', `not an RPM package: bad lead magic ${buf.subarray(0, 4).toString('hex')} at offset 0 (expected edabeedb)`, src);
  }
  const major = buf[4];
  if (major !== 3 && major !== 4) {
    throw rpmError('RPM_BAD_LEAD', `unsupported RPM format version ${major} at offset 4 (expected 3 or 4)`, src);
  }
  const sigType = buf.readUInt16BE(78);
  if (sigType !== 5) {
    throw rpmError('RPM_BAD_LEAD', `unsupported signature type ${sigType} at offset 78 (expected 5, header-style signature)`, src);
  }
  const sig = headerIntro(buf, LEAD_SIZE, fileSize, true, src, need);
  if (sig === null) return LEAD_SIZE + HEADER_INTRO;
  const sigEnd = LEAD_SIZE + HEADER_INTRO + sig.il * ENTRY_SIZE + sig.dl;
  const headerStart = sigEnd + ((8 - (sigEnd % 8)) % 8);
  const main = headerIntro(buf, headerStart, fileSize, false, src, need);
  if (main === null) return headerStart + HEADER_INTRO;
  const headerEnd = headerStart + HEADER_INTRO + main.il * ENTRY_SIZE + main.dl;
  need(headerEnd, 'main header');
  return headerEnd;
}

function headerIntro(
  buf: Buffer,
  at: number,
  fileSize: number,
  isSig: boolean,
  src: RpmSource,
  need: (n: number, what: string) => boolean,
): { il: number; dl: number } | null {
  const what = isSig ? 'signature header' : 'main header';
  if (!need(at + HEADER_INTRO, what)) return null;
  if (!buf.subarray(at, at + 3).equals(HEADER_MAGIC.subarray(0, 3)) || buf[at + 3] !== 1) {
    throw rpmError('RPM_BAD_HEADER', `bad ${what} magic ${buf.subarray(at, at + 4).toString('hex')} at offset ${at} (expected 8eade801)`, src);
  }
  const il = buf.readUInt32BE(at + 8);
  const dl = buf.readUInt32BE(at + 12);
  if (il < 1 || il > LIMITS.maxEntries) {
    throw rpmError('RPM_LIMIT', `${what} at offset ${at} has ${il} index entries (allowed 1..${LIMITS.maxEntries})`, src);
  }
  const maxData = isSig ? LIMITS.maxSigData : LIMITS.maxData;
  if (dl > maxData) {
    throw rpmError('RPM_LIMIT', `${what} at offset ${at} has a data store of ${dl} bytes (allowed at most ${maxData})`, src);
  }
  const end = at + HEADER_INTRO + il * ENTRY_SIZE + dl;
  if (end > fileSize) {
    throw rpmError('RPM_TRUNCATED', `truncated: the ${what} at offset ${at} (${il} entries, ${dl} data bytes) ends at ${end} but the file has ${fileSize} bytes`, src);
  }
  return { il, dl };
}

/** One parsed header (signature or main) with typed, bounds-checked tag access. */
export class RpmHeader {
  /** Entries by tag (the first entry of a tag wins). */
  readonly entries = new Map<number, RpmTagEntry>();
  /** File offset of the header's first byte (its magic). */
  readonly start: number;
  /** File offset of the data store. */
  readonly storeStart: number;
  readonly dataLength: number;
  readonly entryCount: number;
  private readonly buf: Buffer;
  private readonly src: RpmSource;
  readonly label: string;

  constructor(buf: Buffer, start: number, label: string, src: RpmSource) {
    this.buf = buf;
    this.start = start;
    this.src = src;
    this.label = label;
    this.entryCount = buf.readUInt32BE(start + 8);
    this.dataLength = buf.readUInt32BE(start + 12);
    this.storeStart = start + HEADER_INTRO + this.entryCount * ENTRY_SIZE;
    for (let i = 0; i < this.entryCount; i++) {
      const at = start + HEADER_INTRO + i * ENTRY_SIZE;
      const e: RpmTagEntry = {
        tag: buf.readUInt32BE(at),
        type: buf.readUInt32BE(at + 4),
        offset: buf.readInt32BE(at + 8),
        count: buf.readUInt32BE(at + 12),
      };
      this.checkEntry(e, at);
      if (!this.entries.has(e.tag)) this.entries.set(e.tag, e);
    }
  }

  private fail(message: string, code = 'RPM_BAD_HEADER'): StagepushError {
    return rpmError(code, `${this.label} at offset ${this.start}: ${message}`, this.src);
  }

  private checkEntry(e: RpmTagEntry, at: number): void {
    const where = `index entry at offset ${at} (tag ${e.tag})`;
    if (e.type > TAG_TYPE.I18NSTRING) throw this.fail(`${where} has unknown type ${e.type}`);
    if (e.offset < 0 || e.offset > this.dataLength) {
      throw this.fail(`${where} points at data offset ${e.offset}, outside the ${this.dataLength}-byte data store`);
    }
    const size = TAG_TYPE_SIZE[e.type];
    if (size > 1 && e.offset % size !== 0) {
      throw this.fail(`${where} of type ${typeName(e.type)} is misaligned at data offset ${e.offset}`);
    }
    if (size > 0) {
      if (e.offset + e.count * size > this.dataLength) {
        throw this.fail(`${where} of type ${typeName(e.type)} with count ${e.count} runs past the end of the data store (offset ${e.offset}, store ${this.dataLength} bytes)`);
      }
    } else if (e.type !== TAG_TYPE.NULL) {
      // Strings take at least one byte each (their NUL).
      if (e.type === TAG_TYPE.STRING && e.count !== 1) throw this.fail(`${where} is a STRING with count ${e.count} (must be 1)`);
      if (e.count > this.dataLength - e.offset) {
        throw this.fail(`${where} claims ${e.count} strings at data offset ${e.offset} but only ${this.dataLength - e.offset} bytes remain`);
      }
    }
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  entry(tag: number): RpmTagEntry | undefined {
    return this.entries.get(tag);
  }

  /** Integer values of an INT8/INT16/INT32/INT64/CHAR tag (unsigned), or undefined when absent. */
  getNumbers(tag: number): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    const base = this.storeStart + e.offset;
    const out = new Array<number>(e.count);
    switch (e.type) {
      case TAG_TYPE.CHAR:
      case TAG_TYPE.INT8:
        for (let i = 0; i < e.count; i++) out[i] = this.buf[base + i];
        return out;
      case TAG_TYPE.INT16:
        for (let i = 0; i < e.count; i++) out[i] = this.buf.readUInt16BE(base + 2 * i);
        return out;
      case TAG_TYPE.INT32:
        for (let i = 0; i < e.count; i++) out[i] = this.buf.readUInt32BE(base + 4 * i);
        return out;
      case TAG_TYPE.INT64:
        for (let i = 0; i < e.count; i++) {
          const v = this.buf.readBigUInt64BE(base + 8 * i);
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`tag ${tag} holds the 64-bit value ${v}, too large to represent exactly`);
          out[i] = Number(v);
        }
        return out;
      default:
        throw this.fail(`tag ${tag} has type ${typeName(e.type)}, expected an integer type`);
    }
  }

  /** First integer value of a tag, or undefined when absent (or empty). */
  getNumber(tag: number): number | undefined {
    const v = this.getNumbers(tag);
    return v && v.length ? v[0] : undefined;
  }

  /** 64-bit values of an integer tag as bigints (exact). */
  getBigInts(tag: number): bigint[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TAG_TYPE.INT64) return this.getNumbers(tag)?.map((n) => BigInt(n));
    const base = this.storeStart + e.offset;
    const out: bigint[] = [];
    for (let i = 0; i < e.count; i++) out.push(this.buf.readBigUInt64BE(base + 8 * i));
    return out;
  }

  /** Strings of a STRING, STRING_ARRAY or I18NSTRING tag (every locale of an I18NSTRING). */
  getStrings(tag: number, limit = Infinity): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TAG_TYPE.STRING && e.type !== TAG_TYPE.STRING_ARRAY && e.type !== TAG_TYPE.I18NSTRING) {
      throw this.fail(`tag ${tag} has type ${typeName(e.type)}, expected a string type`);
    }
    const end = this.storeStart + this.dataLength;
    let p = this.storeStart + e.offset;
    const n = Math.min(e.count, limit);
    const start = p;
    // Find the n terminating NULs; a valid UTF-8 array (nearly always) is then decoded in one
    // call and split, instead of a view, a check and a decode per string (a package's file list
    // has thousands of strings). A NUL cannot sit inside a UTF-8 sequence, so the whole is valid
    // exactly when every string is.
    const nuls = n > 1 ? new Array<number>(n) : null;
    for (let i = 0; i < n; i++) {
      const nul = p < end ? this.buf.indexOf(0, p) : -1;
      if (nul < 0 || nul >= end) {
        throw this.fail(`string ${i + 1} of ${e.count} of tag ${tag} at file offset ${p} is not NUL-terminated inside the data store`);
      }
      if (nuls) nuls[i] = nul;
      else return [decodeHeaderString(this.buf.subarray(p, nul))];
      p = nul + 1;
    }
    if (!nuls) return [];
    const span = this.buf.subarray(start, p - 1);
    if (isUtf8(span)) return span.toString('utf8').split('\0');
    const out = new Array<string>(n);
    let q = start;
    for (let i = 0; i < n; i++) {
      out[i] = decodeHeaderString(this.buf.subarray(q, nuls[i]));
      q = nuls[i]! + 1;
    }
    return out;
  }

  /** A STRING tag's value (the first locale of an I18NSTRING, first element of a STRING_ARRAY). */
  getString(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.count === 0) return undefined;
    if (e.type === TAG_TYPE.STRING || e.type === TAG_TYPE.I18NSTRING || e.type === TAG_TYPE.STRING_ARRAY) {
      return this.getStrings(tag, 1)?.[0];
    }
    throw this.fail(`tag ${tag} has type ${typeName(e.type)}, expected STRING`);
  }

  /** Raw bytes of a BIN tag (a view into the parsed buffer). */
  getBin(tag: number): Buffer | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TAG_TYPE.BIN) throw this.fail(`tag ${tag} has type ${typeName(e.type)}, expected BIN`);
    const base = this.storeStart + e.offset;
    return this.buf.subarray(base, base + e.count);
  }

  /** The raw data bytes of an entry (validated: strings must be terminated). */
  dataOf(tag: number): Buffer | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    const base = this.storeStart + e.offset;
    const size = TAG_TYPE_SIZE[e.type];
    if (size > 0 || e.type === TAG_TYPE.NULL) return this.buf.subarray(base, base + size * e.count);
    this.getStrings(tag); // validates termination
    let p = base;
    for (let i = 0; i < e.count; i++) p = this.buf.indexOf(0, p) + 1;
    return this.buf.subarray(base, p);
  }

  /** Every tag with its type and decoded value (for debugging and tooling). */
  dump(): Array<{ tag: number; type: string; count: number; value: unknown }> {
    const out: Array<{ tag: number; type: string; count: number; value: unknown }> = [];
    for (const e of this.entries.values()) {
      let value: unknown;
      if (e.type === TAG_TYPE.BIN) value = this.getBin(e.tag)!.toString('hex');
      else if (e.type === TAG_TYPE.NULL) value = null;
      else if (TAG_TYPE_SIZE[e.type] > 0) value = this.getBigInts(e.tag)!.map((b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString()));
      else value = this.getStrings(e.tag);
      out.push({ tag: e.tag, type: typeName(e.type), count: e.count, value });
    }
    return out;
  }
}

export interface ParsedRpm {
  lead: RpmLead;
  layout: RpmLayout;
  signature: RpmHeader;
  header: RpmHeader;
  /** Size of the file (for in-memory parsing: the given size or the buffer's length). */
  fileSize: number;
}

/**
 * Parse lead, signature header and main header from `buf`, which holds the file from its first
 * byte at least up to the end of the main header. `fileSize` (default buf.length) bounds every
 * length: no header may claim bytes beyond it.
 */
export function parseHeaders(buf: Buffer, opts: { fileSize?: number; file?: string } = {}): ParsedRpm {
  const src: RpmSource = { file: opts.file };
  const fileSize = opts.fileSize ?? buf.length;
  const needed = requiredLength(buf, Math.min(fileSize, buf.length), src);
  if (needed > buf.length) throw rpmError('RPM_TRUNCATED', `truncated: headers need ${needed} bytes, only ${buf.length} available`, src);
  const lead: RpmLead = {
    major: buf[4],
    minor: buf[5],
    type: buf.readUInt16BE(6),
    archnum: buf.readUInt16BE(8),
    name: cString(buf, 10, 66),
    osnum: buf.readUInt16BE(76),
    signatureType: buf.readUInt16BE(78),
  };
  const signature = new RpmHeader(buf, LEAD_SIZE, 'signature header', src);
  const sigEnd = signature.storeStart + signature.dataLength;
  const headerStart = sigEnd + ((8 - (sigEnd % 8)) % 8);
  const header = new RpmHeader(buf, headerStart, 'main header', src);
  checkRegion(signature, [TAG.HEADERSIGNATURES], buf, src);
  checkRegion(header, [TAG.HEADERIMMUTABLE], buf, src);
  const layout: RpmLayout = {
    sigStart: LEAD_SIZE,
    sigEntries: signature.entryCount,
    sigData: signature.dataLength,
    headerStart,
    headerEntries: header.entryCount,
    headerData: header.dataLength,
    headerEnd: header.storeStart + header.dataLength,
  };
  return { lead, layout, signature, header, fileSize };
}

/** Light check of a region tag (first entry 62/63): BIN, 16 bytes, trailer inside the store. */
function checkRegion(h: RpmHeader, tags: number[], buf: Buffer, src: RpmSource): void {
  const first = buf.readUInt32BE(h.start + HEADER_INTRO);
  if (!tags.includes(first)) return;
  const e = h.entry(first)!;
  if (e.type !== TAG_TYPE.BIN || e.count !== 16 || e.offset + 16 > h.dataLength) {
    throw rpmError('RPM_BAD_HEADER', `${h.label} at offset ${h.start}: region tag ${first} is malformed (type ${typeName(e.type)}, count ${e.count}, offset ${e.offset})`, src);
  }
}

function cString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('latin1', start, end < 0 || end > start + len ? start + len : end);
}
