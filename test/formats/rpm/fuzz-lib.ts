/**
 * Deterministic mutations of real RPM packages, aimed at the header structure: index counts, data
 * lengths, entry offsets, types, counts and tags, string terminators, signature packets,
 * truncation. Case `i` of seed `s` is always the same input (replayable).
 */
import { parseHeaders, type ParsedRpm } from '../../../src/formats/rpm/index.js';

/** splitmix32-style PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

export interface Seed {
  name: string;
  data: Buffer;
  parsed: ParsedRpm;
}

/** Corpus from package files: keep each up to its header end plus a little payload. */
export function loadSeeds(files: Array<{ name: string; data: Buffer }>): Seed[] {
  return files.map(({ name, data }) => {
    const parsed = parseHeaders(data);
    const cut = Math.min(data.length, parsed.layout.headerEnd + 64);
    const small = Buffer.from(data.subarray(0, cut));
    return { name, data: small, parsed: parseHeaders(small) };
  });
}

const U32 = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x10001, 0xffffff, 0x1000000, 0xfffffff, 0x10000000, 0x10000001, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffff0, 0xfffffffe, 0xffffffff];

export interface Mutation {
  input: Buffer;
  fileSize: number;
  description: string;
}

/** Build case `index` of `seed` from the corpus. */
export function mutate(seeds: Seed[], seed: number, index: number): Mutation {
  const rnd = prng((seed ^ Math.imul(index + 1, 0x2545f491)) >>> 0);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  const s = seeds[int(seeds.length)];
  const buf = Buffer.from(s.data);
  const { signature, header } = s.parsed;
  const steps: string[] = [`seed ${s.name}`];
  const interesting = (around: number[]): number => {
    const r = rnd();
    if (r < 0.5) return pick(U32);
    if (r < 0.8) return (pick(around) + int(33) - 16) >>> 0;
    return Math.floor(rnd() * 4294967296) >>> 0;
  };
  const hdr = () => (rnd() < 0.35 ? signature : header);
  const entryAt = (h: typeof header) => h.start + 16 + 16 * int(Math.max(1, h.entryCount));
  let fileSize = buf.length;
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const kind = int(12);
    switch (kind) {
      case 0: {
        const h = hdr();
        const v = interesting([h.entryCount, 0, 1]);
        buf.writeUInt32BE(v, h.start + 8);
        steps.push(`${h.label} index count = ${v}`);
        break;
      }
      case 1: {
        const h = hdr();
        const v = interesting([h.dataLength, 0, buf.length]);
        buf.writeUInt32BE(v, h.start + 12);
        steps.push(`${h.label} data length = ${v}`);
        break;
      }
      case 2:
      case 3: {
        const h = hdr();
        const at = entryAt(h);
        const v = interesting([h.dataLength, buf.readUInt32BE(at + 8), 0]);
        buf.writeUInt32BE(v, at + 8);
        steps.push(`${h.label} entry @${at} offset = ${v | 0}`);
        break;
      }
      case 4: {
        const h = hdr();
        const at = entryAt(h);
        const v = interesting([buf.readUInt32BE(at + 12), h.dataLength, 1]);
        buf.writeUInt32BE(v, at + 12);
        steps.push(`${h.label} entry @${at} count = ${v}`);
        break;
      }
      case 5: {
        const h = hdr();
        const at = entryAt(h);
        const v = rnd() < 0.8 ? int(12) : interesting([0]);
        buf.writeUInt32BE(v, at + 4);
        steps.push(`${h.label} entry @${at} type = ${v}`);
        break;
      }
      case 6: {
        const h = hdr();
        const at = entryAt(h);
        const tags = [62, 63, 100, 1000, 1001, 1002, 1003, 1004, 1006, 1022, 1030, 1037, 1044, 1047, 1048, 1049, 1050, 1080, 1081, 1082, 1106, 1116, 1117, 1118, 1027, 5009, 271, 267, 268, 1002, 1005, 278, 1007];
        const v = pick(tags);
        buf.writeUInt32BE(v, at);
        steps.push(`${h.label} entry @${at} tag = ${v}`);
        break;
      }
      case 7: {
        // Kill string terminators / flip bytes in a data store.
        const h = hdr();
        const n = 1 + int(16);
        for (let i = 0; i < n; i++) {
          const at = h.storeStart + int(Math.max(1, h.dataLength));
          if (at < buf.length) buf[at] = rnd() < 0.5 ? 0x41 : int(256);
        }
        steps.push(`${h.label} ${n} data bytes changed`);
        break;
      }
      case 8: {
        // Signature blobs: flip bytes inside RSAHEADER/DSAHEADER/PGP/GPG data.
        const e = [268, 267, 1002, 1005].map((t) => signature.entry(t)).find((x) => x);
        if (e) {
          const base = signature.storeStart + e.offset;
          const n = 1 + int(4);
          for (let i = 0; i < n; i++) {
            const at = base + int(Math.min(40, e.count));
            if (at < buf.length) buf[at] = int(256);
          }
          steps.push(`signature packet: ${n} bytes changed`);
        } else steps.push('no signature to mutate');
        break;
      }
      case 9: {
        const cut = int(buf.length + 1);
        fileSize = Math.min(fileSize, cut);
        steps.push(`truncated to ${cut}`);
        break;
      }
      case 10: {
        const n = 1 + int(8);
        for (let i = 0; i < n; i++) buf[int(Math.min(buf.length, header.start + 16 + 16 * header.entryCount))] = int(256);
        steps.push(`${n} random bytes in lead/index`);
        break;
      }
      default: {
        // Swap two index entries' tags (type mismatches, parallel array mismatches).
        const h = hdr();
        const a = entryAt(h);
        const b = entryAt(h);
        const ta = buf.readUInt32BE(a);
        buf.writeUInt32BE(buf.readUInt32BE(b), a);
        buf.writeUInt32BE(ta, b);
        steps.push(`${h.label} swapped tags of entries @${a} and @${b}`);
      }
    }
  }
  return { input: buf.subarray(0, fileSize), fileSize, description: steps.join('; ') };
}
