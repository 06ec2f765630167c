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

export { latin1ToUtf8, decodeHeaderString } from '../rpm/strings.js';
