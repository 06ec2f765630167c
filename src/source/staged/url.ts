import { statSync } from 'node:fs';
import { StagepushError } from '../../errors.js';

/** A parsed `staged:` URL. Directory strings are kept verbatim (not normalised or resolved). */
export interface StagedUrl {
  url: string;
  dirs: string[];
  threads: number;
  /** Seconds without any job completing before the load fails. */
  timeout: number;
  /** Seconds to wait for staging directories and item files to appear (0 = no waiting). */
  pollTimeout: number;
  /** Seconds between two existence checks while polling. */
  pollRate: number;
}

export const STAGED_DEFAULTS = { threads: 4, timeout: 3600, pollTimeout: 0, pollRate: 30 } as const;

function usage(url: string, message: string, field?: string): StagepushError {
  return new StagepushError('STAGED_URL_INVALID', `source URL '${url}': ${message}`, { kind: 'usage', entry: url, field });
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function intParam(url: string, key: string, value: string, min: number): number {
  // pushsource casts with int(): an optional sign and decimal digits (surrounding blanks allowed).
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw usage(url, `${key}=${value} is not an integer`, key);
  const n = Number(value);
  if (n < min) throw usage(url, `${key}=${value} must be at least ${min}`, key);
  return n;
}

function numParam(url: string, key: string, value: string, min: number): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n)) throw usage(url, `${key}=${value} is not a number`, key);
  if (n < min) throw usage(url, `${key}=${value} must be at least ${min}`, key);
  return n;
}

/**
 * Parse one source argument: `staged:DIR[,DIR…][?threads=N&timeout=S&poll_timeout=S&poll_rate=S]`,
 * or a bare directory (same as `staged:DIR`, the path taken whole). Like pushsource: `#` starts a
 * fragment (dropped); a path containing `=` without `?` is a query string (refused: no directory).
 * Only what is wrong as a command line is refused here (an unknown scheme, no directory, a bad
 * parameter: usage); a staging directory that is missing or not a directory is the load's
 * problem (STAGED_DIR_NOT_FOUND, STAGED_NOT_A_DIRECTORY: invalid input), however it is written.
 */
export function parseStagedUrl(arg: string, defaults: Partial<Pick<StagedUrl, 'threads' | 'timeout'>> = {}): StagedUrl {
  let rest: string;
  if (arg.startsWith('staged:')) rest = arg.slice('staged:'.length);
  else {
    if (arg === '') throw usage(arg, 'no staging directory given (staged:DIR[,DIR…] or DIR)');
    // A scheme other than staged: is refused, unless a directory has that name ('a:b').
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(arg);
    if (scheme && !isDirectory(arg)) throw usage(arg, `unsupported source type '${scheme[1]}' (only staged: is supported)`);
    return { url: 'staged:' + arg, dirs: [arg], ...STAGED_DEFAULTS, ...defaults };
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  // staged:///DIR and staged://HOST/DIR: the path, as pushsource takes urlparse(url).path.
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash >= 0 ? rest.slice(slash) : '';
  }
  let pathPart = rest;
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    pathPart = rest.slice(0, q);
    query = rest.slice(q + 1);
  } else if (rest.includes('=')) {
    throw usage(arg, `'=' in a path is read as a query parameter; write the directory before a '?' (e.g. staged:DIR?threads=4)`);
  }
  const dirs = pathPart.split(',');
  if (pathPart === '' || dirs.some((d) => d === '')) throw usage(arg, 'no staging directory given (staged:DIR[,DIR…])');
  const out: StagedUrl = { url: arg, dirs, ...STAGED_DEFAULTS, ...defaults };
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(query)) {
    // A blank value is dropped, as parse_qs drops it (pushsource keeps the default).
    if (value === '') continue;
    if (seen.has(key)) throw usage(arg, `parameter '${key}' given twice`, key);
    seen.add(key);
    switch (key) {
      case 'threads':
        out.threads = intParam(arg, key, value, 1);
        break;
      case 'timeout':
        out.timeout = intParam(arg, key, value, 1);
        break;
      case 'poll_timeout':
        out.pollTimeout = numParam(arg, key, value, 0);
        break;
      case 'poll_rate':
        out.pollRate = numParam(arg, key, value, 0.001);
        break;
      default:
        throw usage(arg, `unknown parameter '${key}' (known: threads, timeout, poll_timeout, poll_rate)`, key);
    }
  }
  return out;
}
