/**
 * RPM fixtures for tests (built by fixtures/rpms/build.sh into FIXTURES_BUILD/rpms) and the
 * `rpm -qp --qf` oracle with the committed query format test/formats/rpm/record.qf.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES_BUILD, ROOT } from './cli.js';

export const RPM_FIXTURES = path.join(FIXTURES_BUILD, 'rpms');

export interface RpmFixtureKey {
  name: string;
  file: string;
  keyId: string;
  longKeyId: string;
  algorithm: string;
}

export interface RpmFixture {
  name: string;
  /** Absolute path. */
  file: string;
  /** Key name in `keys` (null: unsigned). */
  key: string | null;
  demonstrates?: string;
  nevra?: string;
}

export interface RpmFixtureMatrix {
  dir: string;
  keys: Record<string, RpmFixtureKey>;
  /** The named matrix (all in `dir/matrix`). */
  packages: RpmFixture[];
  /** hello-1.0-1.noarch, hello-1.1-1.noarch (signed by `rsa`), world-1.0-1.noarch (unsigned). */
  install: RpmFixture[];
}

/** The fixture matrix (paths made absolute). */
export function rpmFixtures(): RpmFixtureMatrix {
  const m = JSON.parse(readFileSync(path.join(RPM_FIXTURES, 'matrix.json'), 'utf8'));
  const fix = (name: string, v: any): RpmFixture => ({ ...v, name, file: path.join(RPM_FIXTURES, v.file) });
  const keys: Record<string, RpmFixtureKey> = {};
  for (const [k, v] of Object.entries<any>(m.keys)) keys[k] = { ...v, name: k, file: path.join(RPM_FIXTURES, v.file) };
  return {
    dir: RPM_FIXTURES,
    keys,
    packages: Object.entries<any>(m.packages).map(([k, v]) => fix(k, v)),
    install: Object.entries<any>(m.install).map(([k, v]) => fix(k, v)),
  };
}

export const RECORD_QF = path.join(ROOT, 'test', 'formats', 'rpm', 'record.qf');

/** One line of the query output: a key and its ⟦…⟧ fields. */
export interface QfLine {
  key: string;
  fields: string[];
}

/** Parse the output of record.qf: lines `KEY:⟦a⟧⟦b⟧…` (fields may span lines). */
export function parseQfOutput(out: string): QfLine[] {
  const lines: QfLine[] = [];
  let p = 0;
  while (p < out.length) {
    const colon = out.indexOf(':', p);
    if (colon < 0) throw new Error(`bad qf output at ${p}: ${JSON.stringify(out.slice(p, p + 80))}`);
    const key = out.slice(p, colon);
    if (!/^[A-Z]+$/.test(key)) throw new Error(`bad qf key ${JSON.stringify(key)} at ${p}`);
    p = colon + 1;
    const fields: string[] = [];
    while (out.startsWith('⟦', p)) {
      const end = out.indexOf('⟧', p);
      if (end < 0) throw new Error(`unterminated field at ${p}`);
      fields.push(out.slice(p + 1, end));
      p = end + 1;
    }
    if (out[p] !== '\n') throw new Error(`expected newline at ${p}: ${JSON.stringify(out.slice(p, p + 40))}`);
    p++;
    lines.push({ key, fields });
  }
  return lines;
}

/** `rpm -qp --qf record.qf FILE`, parsed (LC_ALL=C: the C locale of i18n strings). */
export function queryRpm(file: string): QfLine[] {
  // The file ends with a newline after the last array: not part of the format.
  const qf = readFileSync(RECORD_QF, 'utf8').replace(/\n$/, '');
  const r = spawnSync('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', qf, file], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`rpm -qp failed on ${file}: ${r.stderr}`);
  return parseQfOutput(r.stdout);
}

/** Scalar lines of a query as a map (value of the first field). */
export function qfScalars(lines: QfLine[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of lines) if (!m.has(l.key)) m.set(l.key, l.fields);
  return m;
}
