/**
 * Product certificates (Satellite 6 / RHSM "productid"): PEM → DER → X.509, and the product
 * extensions under OID 1.3.6.1.4.1.2312.9.1.<id>.<attr> (attr 1 name, 2 version,
 * 3 architecture (comma-separated), 4 provided tags (comma-separated)). A small DER reader of our
 * own: node's X509Certificate does not expose custom extensions. Pure: imports nothing of ours.
 */

export const PRODUCT_OID_PREFIX = '1.3.6.1.4.1.2312.9.1.';

export class ProductIdError extends Error {
  readonly code: 'PRODUCTID_PEM_INVALID' | 'PRODUCTID_NOT_PRODUCT_CERT' | 'PRODUCTID_BAD_EXTENSION';
  constructor(code: ProductIdError['code'], message: string) {
    super(message);
    this.name = 'ProductIdError';
    this.code = code;
  }
}

export interface ProductInfo {
  id: number;
  name: string | null;
  version: string | null;
  architecture: string[] | null;
  provided_tags: string[] | null;
}

export interface Tlv {
  /** First identifier octet (class | constructed | tag number < 31). */
  tag: number;
  /** Tag number (long form decoded). */
  tagNumber: number;
  cls: number;
  constructed: boolean;
  /** Offset of the content octets. */
  start: number;
  /** Offset just past the content octets. */
  end: number;
}

class DerError extends Error {}

/** Read one DER TLV at `off` within [off, limit). Throws DerError on malformed input. */
export function readTlv(buf: Uint8Array, off: number, limit = buf.length): Tlv {
  if (off + 2 > limit) throw new DerError(`truncated TLV at offset ${off}`);
  const tag = buf[off]!;
  let p = off + 1;
  let tagNumber = tag & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let i = 0; ; i++) {
      if (p >= limit || i > 4) throw new DerError(`bad long-form tag at offset ${off}`);
      const b = buf[p++]!;
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if (!(b & 0x80)) break;
    }
  }
  if (p >= limit) throw new DerError(`truncated length at offset ${off}`);
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at offset ${off} (not DER)`);
    if (n > 4) throw new DerError(`length too long at offset ${off}`);
    if (p + n > limit) throw new DerError(`truncated length at offset ${off}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > limit) throw new DerError(`content of TLV at offset ${off} runs past its container (${len} bytes)`);
  return { tag, tagNumber, cls: tag >> 6, constructed: (tag & 0x20) !== 0, start: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.start;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new DerError('OBJECT IDENTIFIER arc too large');
    if (!(b & 0x80)) {
      if (arcs.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(first, v - first * 40);
      } else arcs.push(v);
      v = 0;
    } else if (i === bytes.length - 1) throw new DerError('truncated OBJECT IDENTIFIER');
  }
  return arcs.join('.');
}

/** A DER-encoded value (an extension's extnValue content) as text, as pyasn1's str() gives it. */
function decodeValue(der: Uint8Array): string {
  const t = readTlv(der, 0, der.length);
  const content = der.subarray(t.start, t.end);
  if (t.cls !== 0 || t.constructed) throw new DerError(`unsupported value tag 0x${t.tag.toString(16)}`);
  switch (t.tagNumber) {
    case 12: // UTF8String
      return new TextDecoder('utf-8', { fatal: true }).decode(content);
    case 19: // PrintableString
    case 22: // IA5String
    case 26: // VisibleString
    case 18: // NumericString
      return new TextDecoder('ascii').decode(content);
    case 20: // T61String
      return new TextDecoder('latin1').decode(content);
    case 30: // BMPString
      return new TextDecoder('utf-16be').decode(content);
    case 4: // OCTET STRING
      return new TextDecoder('utf-8', { fatal: true }).decode(content);
    case 2: {
      // INTEGER
      let n = 0n;
      for (const b of content) n = (n << 8n) | BigInt(b);
      if (content.length && content[0]! & 0x80) n -= 1n << BigInt(content.length * 8);
      return n.toString();
    }
    default:
      throw new DerError(`unsupported value type (universal tag ${t.tagNumber})`);
  }
}

/** The DER bytes of the first PEM CERTIFICATE block, or null. */
export function pemToDer(pem: string): Uint8Array | null {
  const m = /-----BEGIN CERTIFICATE-----\r?\n([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return null;
  const body = m[1]!.replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0 || body.length === 0) return null;
  return new Uint8Array(Buffer.from(body, 'base64'));
}

/** Every extension of an X.509 certificate: [oid, extnValue content bytes]. */
export function certificateExtensions(der: Uint8Array): Array<[string, Uint8Array]> {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new DerError('certificate is not a SEQUENCE');
  const [tbs] = children(der, cert);
  if (!tbs || tbs.tag !== 0x30) throw new DerError('tbsCertificate is not a SEQUENCE');
  const fields = children(der, tbs);
  const ext = fields.find((f) => f.tag === 0xa3);
  const out: Array<[string, Uint8Array]> = [];
  if (!ext) return out;
  const [seq] = children(der, ext);
  if (!seq || seq.tag !== 0x30) throw new DerError('extensions are not a SEQUENCE');
  for (const e of children(der, seq)) {
    if (e.tag !== 0x30) throw new DerError('extension is not a SEQUENCE');
    const parts = children(der, e);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (!oid || oid.tag !== 0x06 || !value || value.tag !== 0x04 || parts.length > 3) throw new DerError('malformed extension');
    out.push([decodeOid(der.subarray(oid.start, oid.end)), der.subarray(value.start, value.end)]);
  }
  return out;
}

/**
 * Parse a PEM product certificate into its products, in the order their first extension appears.
 * `label` names the file in messages.
 */
export function parseProductCertificate(pem: string | Uint8Array, label: string): ProductInfo[] {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
  const der = pemToDer(text);
  if (!der) throw new ProductIdError('PRODUCTID_PEM_INVALID', `Unable to load PEM file '${label}': no PEM CERTIFICATE block found`);
  let exts: Array<[string, Uint8Array]>;
  try {
    exts = certificateExtensions(der);
  } catch (e) {
    throw new ProductIdError('PRODUCTID_PEM_INVALID', `Unable to load PEM file '${label}': malformed certificate (${(e as Error).message})`);
  }
  const products = new Map<number, Map<number, string>>();
  for (const [oid, value] of exts) {
    if (!oid.startsWith(PRODUCT_OID_PREFIX)) continue;
    const arcs = oid.split('.');
    if (arcs.length < 11) throw new ProductIdError('PRODUCTID_BAD_EXTENSION', `File '${label}': product extension ${oid} lacks the product id or attribute number`);
    const engId = Number(arcs[9]);
    const attr = Number(arcs[10]);
    let text: string;
    try {
      text = decodeValue(value);
    } catch (e) {
      throw new ProductIdError('PRODUCTID_BAD_EXTENSION', `File '${label}': cannot decode product extension ${oid}: ${(e as Error).message}`);
    }
    let m = products.get(engId);
    if (!m) products.set(engId, (m = new Map()));
    m.set(attr, text);
  }
  if (!products.size) throw new ProductIdError('PRODUCTID_NOT_PRODUCT_CERT', `File '${label}' is not a ProductID certificate.`);
  const list = (s: string | undefined) => (s === undefined ? null : s.split(','));
  return [...products].map(([id, m]) => ({
    id,
    name: m.get(1) ?? null,
    version: m.get(2) ?? null,
    architecture: list(m.get(3)),
    provided_tags: list(m.get(4)),
  }));
}
