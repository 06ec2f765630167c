/**
 * XML text helpers that serialise exactly as libxml2 does in createrepo_c's dumps
 * (xmlNodeDump with no output encoding):
 * - element text: `&`, `<`, `>` escaped, `\r` as `&#13;`, everything else (UTF-8) literal;
 * - attribute values: `&`, `<`, `>`, `"` escaped, `\n` `\r` `\t` as `&#10;` `&#13;` `&#9;`, and every
 *   non-ASCII character as an upper-case hexadecimal character reference (`é` → `&#xE9;`).
 */

const TEXT_RE = /[&<>\r]/;
const ATTR_RE = /[&<>"\n\r\t\u0080-\uffff]/;

export function escapeText(s: string): string {
  if (!TEXT_RE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    switch (c) {
      case '&':
        out += '&amp;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      case '\r':
        out += '&#13;';
        break;
      default:
        out += c;
    }
  }
  return out;
}

export function escapeAttr(s: string): string {
  if (!ATTR_RE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x80) {
      switch (code) {
        case 0x26:
          out += '&amp;';
          break;
        case 0x3c:
          out += '&lt;';
          break;
        case 0x3e:
          out += '&gt;';
          break;
        case 0x22:
          out += '&quot;';
          break;
        case 0x0a:
          out += '&#10;';
          break;
        case 0x0d:
          out += '&#13;';
          break;
        case 0x09:
          out += '&#9;';
          break;
        default:
          out += s[i];
      }
    } else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out += `&#x${cp.toString(16).toUpperCase()};`;
    }
  }
  return out;
}

/** True when `s` holds a character below 0x20 other than tab, newline and carriage return. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

export function hasControlChars(s: string): boolean {
  return CONTROL_RE.test(s);
}

/**
 * createrepo_c's conversion of a header string that is not valid UTF-8 (taken as ISO-8859-1):
 * bytes 0x80-0xBF are dropped, control bytes (< 0x20 except 9, 10, 13) are dropped, bytes
 * 0xC0-0xFF become their Latin-1 character. For readers that meet a non-UTF-8 header string.
 */
export function latin1ToUtf8(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b < 0x80) {
      if (b < 32 && b !== 9 && b !== 10 && b !== 13) continue;
      out += String.fromCharCode(b);
    } else if (b < 0xc0) {
      continue;
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

/** Decode a NUL-free header string as createrepo_c would write it: UTF-8 when valid, else latin1ToUtf8. */
export function decodeHeaderString(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return latin1ToUtf8(bytes);
  }
}
