/**
 * OpenPGP signature packets as stored in RPM signature tags: just enough to find the issuer key
 * id, the key and hash algorithms (RFC 4880 / RFC 9580 packet framing, v3, v4 and v6 signatures).
 */

export interface PgpSignatureInfo {
  packetVersion: number;
  pubkeyAlgo: number;
  hashAlgo: number;
  /** Upper-case 16-hex issuer key id, when the packet names one. */
  longKeyId?: string;
  /** Upper-case 8-hex short key id (last 4 bytes of the key id). */
  keyId?: string;
}

export class PgpError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface Packet {
  tag: number;
  /** Offset of the body within the input. */
  bodyStart: number;
  bodyEnd: number;
}

/** Split `buf` into OpenPGP packets (old and new formats). */
export function readPackets(buf: Buffer): Packet[] {
  const out: Packet[] = [];
  let p = 0;
  while (p < buf.length) {
    const start = p;
    const ctb = buf[p++];
    if ((ctb & 0x80) === 0) throw new PgpError(`invalid packet header byte 0x${ctb.toString(16)}`, start);
    let tag: number;
    let len: number;
    if (ctb & 0x40) {
      // New format.
      tag = ctb & 0x3f;
      if (p >= buf.length) throw new PgpError('truncated packet length', start);
      const o1 = buf[p++];
      if (o1 < 192) len = o1;
      else if (o1 < 224) {
        if (p >= buf.length) throw new PgpError('truncated packet length', start);
        len = ((o1 - 192) << 8) + buf[p++] + 192;
      } else if (o1 === 255) {
        if (p + 4 > buf.length) throw new PgpError('truncated packet length', start);
        len = buf.readUInt32BE(p);
        p += 4;
      } else throw new PgpError('partial body lengths are not allowed in a signature packet', start);
    } else {
      // Old format.
      tag = (ctb >> 2) & 0x0f;
      const lt = ctb & 3;
      if (lt === 3) len = buf.length - p;
      else {
        const n = 1 << lt;
        if (p + n > buf.length) throw new PgpError('truncated packet length', start);
        len = n === 1 ? buf[p] : n === 2 ? buf.readUInt16BE(p) : buf.readUInt32BE(p);
        p += n;
      }
    }
    if (len > buf.length - p) throw new PgpError(`packet of ${len} bytes runs past the end (${buf.length - p} bytes left)`, start);
    out.push({ tag, bodyStart: p, bodyEnd: p + len });
    p += len;
  }
  return out;
}

function hex(b: Buffer): string {
  return b.toString('hex').toUpperCase();
}

/** Parse one signature packet body (tag 2). */
export function parseSignatureBody(body: Buffer, base = 0): PgpSignatureInfo {
  if (body.length < 1) throw new PgpError('empty signature packet', base);
  const version = body[0];
  if (version === 2 || version === 3) {
    // v3: version, hashed length (5), type, time(4), key id(8), pubkey algo, hash algo, ...
    if (body.length < 17) throw new PgpError(`v3 signature packet too short (${body.length} bytes)`, base);
    if (body[1] !== 5) throw new PgpError(`v3 signature packet with hashed length ${body[1]} (must be 5)`, base + 1);
    const long = hex(body.subarray(7, 15));
    return { packetVersion: version, pubkeyAlgo: body[15], hashAlgo: body[16], longKeyId: long, keyId: long.slice(8) };
  }
  if (version === 4 || version === 5 || version === 6) {
    // v4: version, type, pubkey algo, hash algo, hashed len(2), hashed, unhashed len(2), unhashed.
    // v6 (RFC 9580): the two lengths are 4 bytes.
    const lenSize = version === 4 ? 2 : 4;
    if (body.length < 4 + lenSize) throw new PgpError(`v${version} signature packet too short`, base);
    const info: PgpSignatureInfo = { packetVersion: version, pubkeyAlgo: body[2], hashAlgo: body[3] };
    let p = 4;
    let issuer: Buffer | undefined;
    let fingerprint: { version: number; fp: Buffer } | undefined;
    for (let area = 0; area < 2; area++) {
      if (p + lenSize > body.length) throw new PgpError('truncated subpacket area length', base + p);
      const alen = lenSize === 2 ? body.readUInt16BE(p) : body.readUInt32BE(p);
      p += lenSize;
      const end = p + alen;
      if (end > body.length) throw new PgpError(`subpacket area of ${alen} bytes runs past the packet end`, base + p);
      while (p < end) {
        const sp = p;
        let slen = body[p++];
        if (slen >= 192 && slen < 255) {
          if (p >= end) throw new PgpError('truncated subpacket length', base + sp);
          slen = ((slen - 192) << 8) + body[p++] + 192;
        } else if (slen === 255) {
          if (p + 4 > end) throw new PgpError('truncated subpacket length', base + sp);
          slen = body.readUInt32BE(p);
          p += 4;
        }
        if (slen < 1 || slen > end - p) throw new PgpError(`subpacket of length ${slen} does not fit its area`, base + sp);
        const type = body[p] & 0x7f;
        const data = body.subarray(p + 1, p + slen);
        if (type === 16 && data.length === 8 && !issuer) issuer = data;
        if (type === 33 && data.length >= 1 && !fingerprint) fingerprint = { version: data[0], fp: data.subarray(1) };
        p += slen;
      }
    }
    if (issuer) info.longKeyId = hex(issuer);
    else if (fingerprint && fingerprint.fp.length >= 8) {
      // v4 keys: the key id is the fingerprint's last 8 bytes; v5/v6 keys: its first 8 bytes.
      info.longKeyId = fingerprint.version === 4 ? hex(fingerprint.fp.subarray(fingerprint.fp.length - 8)) : hex(fingerprint.fp.subarray(0, 8));
    }
    if (info.longKeyId) info.keyId = info.longKeyId.slice(8);
    return info;
  }
  throw new PgpError(`unsupported signature packet version ${version}`, base);
}

/** Every signature packet in `buf` (other packet types are skipped). */
export function parseSignatures(buf: Buffer): PgpSignatureInfo[] {
  const out: PgpSignatureInfo[] = [];
  for (const pkt of readPackets(buf)) {
    if (pkt.tag !== 2) continue;
    out.push(parseSignatureBody(buf.subarray(pkt.bodyStart, pkt.bodyEnd), pkt.bodyStart));
  }
  return out;
}
