/**
 * Where the export distributor puts a unit's file, and which types its `skip` leaves out: pure, so
 * that the push can check an export's paths before anything changes without loading the
 * distributor (see push/run.ts, exportPathClashes).
 */
import path from 'node:path';
import type { Unit } from '../../engine/contract.js';
import { checkEntryPath } from '../common/directory.js';

/** The default file path of a unit in an export. */
export function exportPathOf(u: Pick<Unit, 'typeId' | 'unitKey' | 'storagePath' | 'relativePath'>): string | null {
  if (!u.storagePath) return null;
  if (u.relativePath && checkEntryPath(u.relativePath)) return u.relativePath;
  const name = typeof u.unitKey.name === 'string' && checkEntryPath(u.unitKey.name) ? u.unitKey.name : path.basename(u.storagePath);
  return `${u.typeId}/${name}`;
}

/** The type ids of a `skip` value: a list, or a comma-separated string. */
export function skippedTypes(s: unknown): string[] {
  if (Array.isArray(s)) return s.map(String);
  if (typeof s === 'string' && s.trim()) return s.split(',').map((x) => x.trim()).filter(Boolean);
  return [];
}
