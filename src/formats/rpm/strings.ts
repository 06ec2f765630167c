import { isUtf8 } from 'node:buffer';

/**
 * createrepo_c's conversion of a header string that is not valid UTF-8: each byte is taken as
 * Latin-1, continuation-range bytes (0x80–0xBF) and control bytes other than tab/LF/CR are dropped.
 */
export function latin1ToUtf8(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b < 0x80) {
      if (b < 32 && b !== 9 && b !== 10 && b !== 13) continue;
      out += String.fromCharCode(b);
    } else if (b >= 0xc0) {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

/** Decode a NUL-free header string as createrepo_c does: UTF-8 when valid, else latin1ToUtf8. */
export function decodeHeaderString(bytes: Uint8Array): string {
  return isUtf8(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') : latin1ToUtf8(bytes);
}
