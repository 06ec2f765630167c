/**
 * Mapping a request path onto a published tree, safely: the path is percent-decoded exactly once;
 * NUL bytes, backslashes, "." and ".." segments (raw or decoded), and what looks double-encoded
 * after the decoding (%2e, %2f, %5c, %00, %25) are refused; the file found is served only when its
 * real path (symlinks resolved) lies under one of the allowed roots (the publish root and the
 * content store). Every refusal is a 404: nothing tells a client what exists outside.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export type Resolved =
  | { kind: 'file'; realPath: string; urlPath: string; segments: string[] }
  | { kind: 'dir'; realPath: string; urlPath: string; segments: string[] }
  | { kind: 'notfound'; reason: string };

const SUSPICIOUS = /%(2e|2f|5c|00|25)/i;

/** Decode and check the URL path; the safe segments, or a reason to refuse. */
export function decodeRequestPath(rawPath: string): { segments: string[]; trailingSlash: boolean } | { reason: string } {
  const q = rawPath.indexOf('?');
  const p = q >= 0 ? rawPath.slice(0, q) : rawPath;
  if (!p.startsWith('/')) return { reason: 'not an absolute path' };
  for (const s of p.split('/')) if (s === '.' || s === '..') return { reason: 'dot segment' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return { reason: 'bad percent-encoding' };
  }
  if (decoded.includes('\0')) return { reason: 'NUL byte' };
  if (decoded.includes('\\')) return { reason: 'backslash' };
  if (SUSPICIOUS.test(decoded)) return { reason: 'double-encoded' };
  const segs = decoded.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '.' || s === '..') return { reason: 'dot segment' };
    if (s === '') {
      if (i === segs.length - 1) break; // trailing slash
      return { reason: 'empty segment' };
    }
    out.push(s);
  }
  return { segments: out, trailingSlash: decoded.endsWith('/') };
}

export function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Resolve a request path under `treeRoot`; the real path must lie under one of `allowedRoots` (real paths). */
export async function resolveRequest(rawPath: string, treeRoot: string, allowedRoots: string[]): Promise<Resolved> {
  const d = decodeRequestPath(rawPath);
  if ('reason' in d) return { kind: 'notfound', reason: d.reason };
  const candidate = path.join(treeRoot, ...d.segments);
  if (!within(treeRoot, candidate)) return { kind: 'notfound', reason: 'outside the tree' };
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch {
    return { kind: 'notfound', reason: 'no such file' };
  }
  if (!allowedRoots.some((r) => within(r, real))) return { kind: 'notfound', reason: `symlink leaves the allowed roots (${real})` };
  let st;
  try {
    st = await fsp.stat(real);
  } catch {
    return { kind: 'notfound', reason: 'no such file' };
  }
  const urlPath = '/' + d.segments.join('/');
  if (st.isDirectory()) return { kind: 'dir', realPath: real, urlPath, segments: d.segments };
  if (st.isFile()) return { kind: 'file', realPath: real, urlPath, segments: d.segments };
  return { kind: 'notfound', reason: 'not a regular file' };
}
