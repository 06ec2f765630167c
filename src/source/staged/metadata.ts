/**
 * The staging area's metadata file: the first existing of staged.yaml, staged.yml, staged.json,
 * pub-mapfile.json (the others are ignored, as pushsource does). Parsed (`.json` → JSON, else
 * YAML), validated entry by entry (linear), every problem collected.
 */
import { promises as fsp } from 'node:fs';
import type { Problem } from '../../errors.js';
import { ajvProblems, UNSUPPORTED_ENTRY_RE, validators } from './schemas.js';
import { ioReason, problem, pyJoin } from './common.js';
import { decodeStagedText, isPlainObject, parseData } from '../../formats/yaml/read.js';

export const METADATA_FILES = ['staged.yaml', 'staged.yml', 'staged.json', 'pub-mapfile.json'] as const;

export interface MetadataEntry {
  filename: string | null;
  relative_path: string;
  sha256sum: string | null;
  version: string | null;
  order: number | null;
  attributes: Record<string, unknown>;
  /** Index in payload.files (for messages). */
  index: number;
  /**
   * Null for a valid entry. Otherwise the entry was refused: the fields its problems already
   * name. The walk still builds its item (never pushed) to list the problems the schema cannot see.
   */
  refused: string[] | null;
}

export interface StagingMetadata {
  /** Path of the metadata file (topdir joined verbatim), or null when there is none. */
  file: string | null;
  basename: string | null;
  /** Valid entries by relative_path. */
  entries: Map<string, MetadataEntry>;
  /** Every relative_path mentioned, valid or not (to avoid reporting "no metadata" twice). */
  mentioned: Set<string>;
  problems: Problem[];
  /** True when the file could be parsed and its top level is valid. */
  ok: boolean;
}

/** Canonical JSON (sorted keys) to find identical entries in linear time. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
  }
  return JSON.stringify(v) ?? 'null';
}

export async function findMetadataFile(topdir: string): Promise<string | null> {
  for (const name of METADATA_FILES) {
    const p = pyJoin(topdir, name);
    try {
      await fsp.stat(p);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Validate parsed metadata content (exported for tests and the bench: parse apart from I/O). */
export function validateMetadata(data: unknown, file: string, basename: string): StagingMetadata {
  const v = validators();
  const md: StagingMetadata = { file, basename, entries: new Map(), mentioned: new Set(), problems: [], ok: false };
  if (!v.stagedTop(data)) {
    md.problems.push(...ajvProblems(v.stagedTop.errors, 'STAGED_METADATA_INVALID', { file }, '', data));
    // Entries can still be checked when payload.files is a list.
    if (!isPlainObject(data)) return md;
  } else md.ok = true;
  const payload = (data as Record<string, unknown>).payload;
  const files = isPlainObject(payload) ? payload.files : undefined;
  if (!Array.isArray(files)) return md;
  const seenContent = new Map<string, number>();
  const seenPath = new Map<string, number>();
  for (let i = 0; i < files.length; i++) {
    const raw: unknown = files[i];
    const where = `payload.files[${i}]`;
    if (!isPlainObject(raw)) {
      md.problems.push(problem('STAGED_METADATA_INVALID', `entry must be a mapping (got ${JSON.stringify(raw) ?? String(raw)})`, { file, entry: where }));
      continue;
    }
    const rel = raw.relative_path;
    const entryLabel = typeof rel === 'string' && rel !== '' ? rel : where;
    if (typeof rel === 'string') md.mentioned.add(rel);
    const key = canonical(raw);
    const firstSame = seenContent.get(key);
    if (firstSame !== undefined) {
      md.problems.push(problem('STAGED_METADATA_DUPLICATE_ENTRY', `identical to payload.files[${firstSame}] (entries must be unique)`, { file, entry: entryLabel }));
      if (typeof rel === 'string') md.entries.delete(rel);
      continue;
    }
    seenContent.set(key, i);
    const unsupported = typeof rel === 'string' && UNSUPPORTED_ENTRY_RE.test(rel);
    const problemsBefore = md.problems.length;
    let valid = true;
    if (!unsupported) {
      if (rel === undefined) {
        md.problems.push(problem('STAGED_METADATA_MISSING_FIELD', `entry has no relative_path (every entry needs one)`, { file, entry: where, field: 'relative_path' }));
        valid = false;
      }
      if (!v.stagedEntry(raw)) {
        const probs = ajvProblems(v.stagedEntry.errors, 'STAGED_METADATA_INVALID', { file, entry: entryLabel }, '', raw).filter(
          (p) => !(rel === undefined && p.field === 'relative_path'),
        );
        md.problems.push(...probs);
        valid = valid && probs.length === 0;
      }
      const attrs = raw.attributes;
      if (isPlainObject(attrs)) {
        const isFileShape = Object.keys(attrs).every((k) => k === 'description');
        const check = isFileShape ? v.fileAttributes : v.amiAttributes;
        if (!check(attrs)) {
          md.problems.push(...ajvProblems(check.errors, 'STAGED_METADATA_INVALID', { file, entry: entryLabel }, 'attributes', attrs));
          valid = false;
        }
      }
    }
    if (typeof rel === 'string') {
      const prev = seenPath.get(rel);
      if (prev !== undefined) {
        md.problems.push(problem('STAGED_METADATA_DUPLICATE_PATH', `File ${rel} listed twice in ${basename} (payload.files[${prev}] and payload.files[${i}])`, { file, entry: rel, field: 'relative_path' }));
        md.entries.delete(rel);
        continue;
      }
      seenPath.set(rel, i);
    }
    if (typeof rel !== 'string' || (!valid && unsupported)) continue;
    md.entries.set(rel, {
      filename: typeof raw.filename === 'string' ? raw.filename : null,
      relative_path: rel,
      sha256sum: typeof raw.sha256sum === 'string' ? raw.sha256sum : null,
      version: typeof raw.version === 'string' ? raw.version : null,
      order: typeof raw.order === 'number' ? raw.order : null,
      attributes: isPlainObject(raw.attributes) ? raw.attributes : {},
      index: i,
      refused: valid ? null : md.problems.slice(problemsBefore).map((p) => p.field ?? ''),
    });
  }
  return md;
}

/** Find, read, parse and validate the metadata file of `topdir`. */
export async function loadMetadata(topdir: string): Promise<StagingMetadata> {
  const file = await findMetadataFile(topdir);
  if (!file) return { file: null, basename: null, entries: new Map(), mentioned: new Set(), problems: [], ok: true };
  const basename = file.slice(file.lastIndexOf('/') + 1);
  let text: string;
  try {
    const st = await fsp.stat(file);
    // Never open a FIFO or device: reading it could block for ever.
    if (!st.isFile()) {
      return { file, basename, entries: new Map(), mentioned: new Set(), ok: false, problems: [problem('STAGED_NOT_REGULAR_FILE', `${file} is not a regular file`, { file })] };
    }
    const decoded = decodeStagedText(await fsp.readFile(file));
    if (decoded.error !== undefined) return { file, basename, entries: new Map(), mentioned: new Set(), ok: false, problems: [problem('STAGED_METADATA_PARSE', decoded.error, { file })] };
    text = decoded.text;
  } catch (e) {
    return { file, basename, entries: new Map(), mentioned: new Set(), ok: false, problems: [problem('STAGED_METADATA_UNREADABLE', `cannot read: ${ioReason(e)}`, { file })] };
  }
  const parsed = await parseData(text, basename.endsWith('.json'));
  if (parsed.error !== undefined) {
    return { file, basename, entries: new Map(), mentioned: new Set(), ok: false, problems: [problem('STAGED_METADATA_PARSE', parsed.error, { file })] };
  }
  return validateMetadata(parsed.value, file, basename);
}
