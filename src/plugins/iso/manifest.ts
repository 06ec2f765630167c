/** PULP_MANIFEST: one CSV line `name,sha256,size` per file of a file (ISO) repository. */
import { StagepushError } from '../../errors.js';
import { checkEntryPath } from '../common/directory.js';

export const MANIFEST_NAME = 'PULP_MANIFEST';

export interface ManifestEntry {
  name: string;
  sha256: string;
  size: number;
}

/** A message when `name` cannot be a file repository entry, else null. */
export function checkIsoName(name: unknown): string | null {
  if (typeof name !== 'string' || !name) return 'must be a non-empty file name';
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x1f\x7f",]/.test(name)) return `"${name}" must not contain commas, quotes or control characters`;
  // checkEntryPath refuses a backslash too; said apart here, because the message about "." and ".."
  // segments below left the operator looking for a segment the name does not have.
  if (name.includes('\\')) return `"${name}" must not contain backslashes`;
  if (checkEntryPath(name) === null) return `"${name}" must be a relative path without ".", ".." or empty segments`;
  if (name === MANIFEST_NAME) return `"${name}" is reserved for the manifest`;
  return null;
}

function splitCsv(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (true) {
    if (line[i] === '"') {
      let v = '';
      i++;
      while (true) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const j = line.indexOf(',', i);
      if (j < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, j));
      i = j + 1;
    }
  }
}

/** Parse a PULP_MANIFEST (errors name the source and line). Blank lines are skipped. */
export function parseManifest(text: string, source: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, idx) => {
    if (!line.trim()) return;
    const where = `${source}:${idx + 1}`;
    const f = splitCsv(line);
    if (!f || f.length !== 3) throw new StagepushError('FILE_MANIFEST_INVALID', `${where}: expected "name,sha256,size", got ${JSON.stringify(line.slice(0, 200))}`, { file: source, entry: `line ${idx + 1}` });
    const [name, sha, sizeText] = f as [string, string, string];
    const bad = checkIsoName(name);
    if (bad) throw new StagepushError('FILE_MANIFEST_INVALID', `${where}: name ${bad}`, { file: source, entry: `line ${idx + 1}`, field: 'name' });
    if (!/^[0-9a-fA-F]{64}$/.test(sha)) throw new StagepushError('FILE_MANIFEST_INVALID', `${where}: "${sha}" is not a sha256 checksum`, { file: source, entry: `line ${idx + 1}`, field: 'checksum' });
    if (!/^\d+$/.test(sizeText.trim()) || !Number.isSafeInteger(Number(sizeText.trim()))) throw new StagepushError('FILE_MANIFEST_INVALID', `${where}: size "${sizeText}" is not a number of bytes`, { file: source, entry: `line ${idx + 1}`, field: 'size' });
    if (seen.has(name)) throw new StagepushError('FILE_MANIFEST_INVALID', `${where}: "${name}" is listed twice (first on line ${seen.get(name)})`, { file: source, entry: `line ${idx + 1}`, field: 'name' });
    seen.set(name, idx + 1);
    out.push({ name, sha256: sha.toLowerCase(), size: Number(sizeText.trim()) });
  });
  return out;
}

/** Serialize entries sorted by name: `name,sha256,size\n` each. */
export function formatManifest(entries: ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    .map((e) => `${e.name},${e.sha256},${e.size}\n`)
    .join('');
}
