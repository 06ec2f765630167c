/**
 * `path.resolve` for the hot paths (a push resolves each staged file's path several times: stat
 * cache, file facts, store events). An absolute path already in normal form is its own result and
 * is returned as it is; path.resolve rebuilds it segment by segment (~0.5 KB of short-lived
 * strings per call, 100 MiB over a 20,000-package push).
 */
import path from 'node:path';

/** Not normal: a doubled slash, a `.` or `..` segment, or a trailing slash. */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)|.\/$/;

export function resolvePath(p: string): string {
  return p.charCodeAt(0) === 47 /* / */ && !NOT_NORMAL.test(p) ? p : path.resolve(p);
}

/** A file name's bytes for a message (a name that is not UTF-8): printable ASCII as is, every other byte as \xNN. */
export function renderNameBytes(b: Uint8Array): string {
  let out = '';
  for (const c of b) out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * A path-valued setting made absolute against `dir` (the directory of the file that writes it),
 * when it is a relative path: anything else (an absolute path, a blank value the caller refuses,
 * PEM or key text, which some path keys take too) is returned as it is.
 */
export function resolveSettingPath(v: unknown, dir: string): unknown {
  return typeof v === 'string' && v.trim() && !path.isAbsolute(v) && !v.includes('-----BEGIN') && !v.includes('\n') ? path.resolve(dir, v) : v;
}
