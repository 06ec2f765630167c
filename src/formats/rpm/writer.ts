/**
 * Encoding RPM headers and whole packages: the inverse of header.ts, used to build test and
 * benchmark packages quickly (bench/lib.ts) and to craft edge cases (tests). Packages written by
 * `buildRpm` are read by `rpm -qp` and createrepo_c like rpmbuild's (the tests check this).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { RpmHeader } from './header.js';
import { ENTRY_SIZE, HEADER_MAGIC, LEAD_MAGIC, LEAD_SIZE, SIGTAG, TAG, TAG_TYPE, TAG_TYPE_SIZE } from './tags.js';

export type HeaderValue =
  | { type: 'INT8' | 'CHAR'; value: number[] }
  | { type: 'INT16'; value: number[] }
  | { type: 'INT32'; value: number[] }
  | { type: 'INT64'; value: Array<number | bigint> }
  | { type: 'STRING'; value: string }
  | { type: 'BIN'; value: Buffer }
  | { type: 'STRING_ARRAY' | 'I18NSTRING'; value: string[] };

export interface HeaderEntryInput {
  tag: number;
  value: HeaderValue;
}

/** A raw entry: written as given (for crafting odd headers). */
export interface RawEntry {
  tag: number;
  type: number;
  count: number;
  data: Buffer;
}

function encodeValue(v: HeaderValue): RawEntry & { tag: 0 } {
  const type = TAG_TYPE[v.type];
  switch (v.type) {
    case 'INT8':
    case 'CHAR':
      return { tag: 0, type, count: v.value.length, data: Buffer.from(v.value) };
    case 'INT16': {
      const b = Buffer.alloc(2 * v.value.length);
      v.value.forEach((n, i) => b.writeUInt16BE(n, 2 * i));
      return { tag: 0, type, count: v.value.length, data: b };
    }
    case 'INT32': {
      const b = Buffer.alloc(4 * v.value.length);
      v.value.forEach((n, i) => b.writeUInt32BE(n >>> 0, 4 * i));
      return { tag: 0, type, count: v.value.length, data: b };
    }
    case 'INT64': {
      const b = Buffer.alloc(8 * v.value.length);
      v.value.forEach((n, i) => b.writeBigUInt64BE(BigInt(n), 8 * i));
      return { tag: 0, type, count: v.value.length, data: b };
    }
    case 'STRING':
      return { tag: 0, type, count: 1, data: Buffer.from(v.value + '\0') };
    case 'BIN':
      return { tag: 0, type, count: v.value.length, data: v.value };
    case 'STRING_ARRAY':
    case 'I18NSTRING':
      return { tag: 0, type, count: v.value.length, data: Buffer.from(v.value.map((s) => s + '\0').join('')) };
  }
}

/** The entries of a parsed header as raw entries (region tags left out). */
export function rawEntriesFrom(h: RpmHeader): RawEntry[] {
  const out: RawEntry[] = [];
  for (const e of h.entries.values()) {
    if (e.tag === TAG.HEADERSIGNATURES || e.tag === TAG.HEADERIMMUTABLE) continue;
    out.push({ tag: e.tag, type: e.type, count: e.count, data: Buffer.from(h.dataOf(e.tag)!) });
  }
  return out;
}

/** Convert typed entries to raw ones. */
export function rawEntries(entries: HeaderEntryInput[]): RawEntry[] {
  return entries.map((e) => ({ ...encodeValue(e.value), tag: e.tag }));
}

/**
 * Encode a header (magic, index, data store). With `regionTag` (62 signature, 63 immutable) the
 * first entry is the region tag pointing at a trailer at the end of the store, as rpm writes.
 * Entries are sorted by tag; data is aligned per type.
 */
export function encodeHeader(entries: RawEntry[], regionTag?: number): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const il = sorted.length + (regionTag !== undefined ? 1 : 0);
  const index: Buffer[] = [];
  const store: Buffer[] = [];
  let dl = 0;
  const entry = (tag: number, type: number, offset: number, count: number): Buffer => {
    const b = Buffer.alloc(ENTRY_SIZE);
    b.writeUInt32BE(tag, 0);
    b.writeUInt32BE(type, 4);
    b.writeInt32BE(offset, 8);
    b.writeUInt32BE(count, 12);
    return b;
  };
  for (const e of sorted) {
    const align = TAG_TYPE_SIZE[e.type] > 1 ? TAG_TYPE_SIZE[e.type] : 1;
    const pad = (align - (dl % align)) % align;
    if (pad) {
      store.push(Buffer.alloc(pad));
      dl += pad;
    }
    index.push(entry(e.tag, e.type, dl, e.count));
    store.push(e.data);
    dl += e.data.length;
  }
  if (regionTag !== undefined) {
    index.unshift(entry(regionTag, TAG_TYPE.BIN, dl, 16));
    store.push(entry(regionTag, TAG_TYPE.BIN, -(il * ENTRY_SIZE), 16));
    dl += 16;
  }
  const intro = Buffer.alloc(16);
  HEADER_MAGIC.copy(intro, 0);
  intro.writeUInt32BE(il, 8);
  intro.writeUInt32BE(dl, 12);
  return Buffer.concat([intro, ...index, ...store]);
}

/** A 96-byte lead. */
export function encodeLead(name: string, isSource: boolean): Buffer {
  const b = Buffer.alloc(LEAD_SIZE);
  b.writeUInt32BE(LEAD_MAGIC, 0);
  b[4] = 3;
  b[5] = 0;
  b.writeUInt16BE(isSource ? 1 : 0, 6);
  b.writeUInt16BE(isSource ? 0 : 1, 8);
  b.write(name.slice(0, 65), 10, 'latin1');
  b.writeUInt16BE(1, 76);
  b.writeUInt16BE(5, 78);
  return b;
}

/** Assemble lead + signature header (padded to 8 bytes) + main header + payload. */
export function assembleRpm(lead: Buffer, sigHeader: Buffer, mainHeader: Buffer, payload: Buffer): Buffer {
  const pad = (8 - (sigHeader.length % 8)) % 8;
  return Buffer.concat([lead, sigHeader, Buffer.alloc(pad), mainHeader, payload]);
}

/** The usual digests of a signature header (SHA256/SHA1 of the header, MD5 of header+payload, sizes). */
export function digestSignatureEntries(mainHeader: Buffer, payload: Buffer, payloadUncompressedSize: number): RawEntry[] {
  return rawEntries([
    { tag: SIGTAG.SHA1, value: { type: 'STRING', value: createHash('sha1').update(mainHeader).digest('hex') } },
    { tag: SIGTAG.SHA256, value: { type: 'STRING', value: createHash('sha256').update(mainHeader).digest('hex') } },
    { tag: SIGTAG.SIZE, value: { type: 'INT32', value: [mainHeader.length + payload.length] } },
    { tag: SIGTAG.MD5, value: { type: 'BIN', value: createHash('md5').update(mainHeader).update(payload).digest() } },
    { tag: SIGTAG.PAYLOADSIZE, value: { type: 'INT32', value: [payloadUncompressedSize] } },
  ]);
}

function cpioEntry(name: string, mode: number, data: Buffer, ino: number, mtime: number): Buffer {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const nameBuf = Buffer.from(name + '\0');
  const hdr = Buffer.from('070701' + hex(ino) + hex(mode) + hex(0) + hex(0) + hex(1) + hex(mtime) + hex(data.length) + hex(0) + hex(0) + hex(0) + hex(0) + hex(nameBuf.length) + hex(0), 'latin1');
  const pad1 = (4 - ((hdr.length + nameBuf.length) % 4)) % 4;
  const pad2 = (4 - (data.length % 4)) % 4;
  return Buffer.concat([hdr, nameBuf, Buffer.alloc(pad1), data, Buffer.alloc(pad2)]);
}

export interface SimpleFile {
  /** Absolute path, e.g. "/usr/share/foo/data.bin". */
  path: string;
  data: Buffer;
  /** File mode (default 0o100644). */
  mode?: number;
}

export interface SimpleRpmSpec {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  summary?: string;
  description?: string;
  license?: string;
  buildTime?: number;
  files?: SimpleFile[];
  /** Extra main header entries (override nothing: added as given). */
  extra?: HeaderEntryInput[];
  /** Extra signature header entries (e.g. a crafted RSAHEADER). */
  signature?: RawEntry[];
  /** gzip level of the payload (default 1). */
  compressionLevel?: number;
}

/**
 * Build a complete binary package: lead, signature header with digests, immutable main header with
 * the usual tags and a file list, gzip'd cpio payload.
 */
export function buildRpm(spec: SimpleRpmSpec): Buffer {
  const arch = spec.arch ?? 'noarch';
  const files = [...(spec.files ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const buildTime = spec.buildTime ?? 1700000000;
  const dirnames: string[] = [];
  const dirIdx = new Map<string, number>();
  const basenames: string[] = [];
  const dirindexes: number[] = [];
  for (const f of files) {
    const slash = f.path.lastIndexOf('/');
    const dir = f.path.slice(0, slash + 1);
    let di = dirIdx.get(dir);
    if (di === undefined) {
      di = dirnames.length;
      dirIdx.set(dir, di);
      dirnames.push(dir);
    }
    dirindexes.push(di);
    basenames.push(f.path.slice(slash + 1));
  }
  const cpio: Buffer[] = files.map((f, i) => cpioEntry('.' + f.path, f.mode ?? 0o100644, f.data, i + 1, buildTime));
  cpio.push(cpioEntry('TRAILER!!!', 0, Buffer.alloc(0), 0, 0));
  const archive = Buffer.concat(cpio);
  const payload = gzipSync(archive, { level: spec.compressionLevel ?? 1 });
  const installed = files.reduce((s, f) => s + f.data.length, 0);
  const evr = `${spec.epoch !== undefined ? spec.epoch + ':' : ''}${spec.version}-${spec.release}`;
  const n = files.length;
  const entries: HeaderEntryInput[] = [
    { tag: TAG.HEADERI18NTABLE, value: { type: 'STRING_ARRAY', value: ['C'] } },
    { tag: TAG.NAME, value: { type: 'STRING', value: spec.name } },
    { tag: TAG.VERSION, value: { type: 'STRING', value: spec.version } },
    { tag: TAG.RELEASE, value: { type: 'STRING', value: spec.release } },
    { tag: TAG.SUMMARY, value: { type: 'I18NSTRING', value: [spec.summary ?? `Generated package ${spec.name}`] } },
    { tag: TAG.DESCRIPTION, value: { type: 'I18NSTRING', value: [spec.description ?? `Generated package ${spec.name}.`] } },
    { tag: TAG.BUILDTIME, value: { type: 'INT32', value: [buildTime] } },
    { tag: TAG.BUILDHOST, value: { type: 'STRING', value: 'generated.stagepush.invalid' } },
    { tag: TAG.SIZE, value: { type: 'INT32', value: [installed] } },
    { tag: TAG.LICENSE, value: { type: 'STRING', value: spec.license ?? 'MIT' } },
    { tag: TAG.GROUP, value: { type: 'I18NSTRING', value: ['Unspecified'] } },
    { tag: TAG.OS, value: { type: 'STRING', value: 'linux' } },
    { tag: TAG.ARCH, value: { type: 'STRING', value: arch } },
    { tag: TAG.SOURCERPM, value: { type: 'STRING', value: `${spec.name}-${spec.version}-${spec.release}.src.rpm` } },
    { tag: TAG.PROVIDENAME, value: { type: 'STRING_ARRAY', value: [spec.name] } },
    { tag: TAG.PROVIDEFLAGS, value: { type: 'INT32', value: [8] } },
    { tag: TAG.PROVIDEVERSION, value: { type: 'STRING_ARRAY', value: [evr] } },
    { tag: TAG.REQUIRENAME, value: { type: 'STRING_ARRAY', value: ['rpmlib(CompressedFileNames)', 'rpmlib(PayloadFilesHavePrefix)'] } },
    { tag: TAG.REQUIREFLAGS, value: { type: 'INT32', value: [16777226, 16777226] } },
    { tag: TAG.REQUIREVERSION, value: { type: 'STRING_ARRAY', value: ['3.0.4-1', '4.0-1'] } },
    { tag: 1064 /* RPMVERSION */, value: { type: 'STRING', value: '4.18.0' } },
    { tag: TAG.PAYLOADFORMAT, value: { type: 'STRING', value: 'cpio' } },
    { tag: TAG.PAYLOADCOMPRESSOR, value: { type: 'STRING', value: 'gzip' } },
    { tag: 1126 /* PAYLOADFLAGS */, value: { type: 'STRING', value: String(spec.compressionLevel ?? 1) } },
  ];
  if (spec.epoch !== undefined) entries.push({ tag: TAG.EPOCH, value: { type: 'INT32', value: [spec.epoch] } });
  if (n) {
    entries.push(
      { tag: 1028 /* FILESIZES */, value: { type: 'INT32', value: files.map((f) => f.data.length) } },
      { tag: TAG.FILEMODES, value: { type: 'INT16', value: files.map((f) => f.mode ?? 0o100644) } },
      { tag: 1033 /* FILERDEVS */, value: { type: 'INT16', value: files.map(() => 0) } },
      { tag: 1034 /* FILEMTIMES */, value: { type: 'INT32', value: files.map(() => buildTime) } },
      { tag: 1035 /* FILEDIGESTS */, value: { type: 'STRING_ARRAY', value: files.map((f) => createHash('sha256').update(f.data).digest('hex')) } },
      { tag: 1036 /* FILELINKTOS */, value: { type: 'STRING_ARRAY', value: files.map(() => '') } },
      { tag: TAG.FILEFLAGS, value: { type: 'INT32', value: files.map(() => 0) } },
      { tag: 1039 /* FILEUSERNAME */, value: { type: 'STRING_ARRAY', value: files.map(() => 'root') } },
      { tag: 1040 /* FILEGROUPNAME */, value: { type: 'STRING_ARRAY', value: files.map(() => 'root') } },
      { tag: 1045 /* FILEVERIFYFLAGS */, value: { type: 'INT32', value: files.map(() => 0xffffffff) } },
      { tag: 1095 /* FILEDEVICES */, value: { type: 'INT32', value: files.map(() => 1) } },
      { tag: 1096 /* FILEINODES */, value: { type: 'INT32', value: files.map((_f, i) => i + 1) } },
      { tag: 1097 /* FILELANGS */, value: { type: 'STRING_ARRAY', value: files.map(() => '') } },
      { tag: TAG.DIRINDEXES, value: { type: 'INT32', value: dirindexes } },
      { tag: TAG.BASENAMES, value: { type: 'STRING_ARRAY', value: basenames } },
      { tag: TAG.DIRNAMES, value: { type: 'STRING_ARRAY', value: dirnames } },
      { tag: 5011 /* FILEDIGESTALGO */, value: { type: 'INT32', value: [8] } },
    );
  }
  for (const e of spec.extra ?? []) entries.push(e);
  const main = encodeHeader(rawEntries(entries), TAG.HEADERIMMUTABLE);
  const sig = encodeHeader([...digestSignatureEntries(main, payload, archive.length), ...(spec.signature ?? [])], TAG.HEADERSIGNATURES);
  return assembleRpm(encodeLead(`${spec.name}-${spec.version}-${spec.release}`, false), sig, main, payload);
}
