/**
 * RPM package reader: lead, signature header, main header, typed tag access, and the RpmRecord
 * the engine stores. Pure codec: no I/O beyond reading the given file.
 *
 *   readRpmFile(path, { checksums: ['md5', 'sha256'] }) → { record, checksums }
 *   readRpmFileSync(path, opts)                 (same, never yields: for worker threads)
 *   parseRpm(buf, fileSize?) → RpmRecord        (in memory: tests, fuzzing)
 *   parseHeaders(buf) → { lead, layout, signature, header }  (typed tag access)
 *
 * Errors: StagepushError, kind 'invalid', codes RPM_NOT_A_FILE, RPM_NOT_FOUND, RPM_READ,
 * RPM_TRUNCATED, RPM_TRAILING_DATA, RPM_BAD_MAGIC, RPM_BAD_LEAD, RPM_BAD_HEADER, RPM_LIMIT, RPM_BAD_SIGNATURE,
 * RPM_MULTIPLE_KEYS; `file` is the path.
 */
import { parseHeaders } from './header.js';
import { buildRecord } from './record.js';
import type { RpmRecord } from './types.js';

export { parseHeaders, requiredLength, RpmHeader } from './header.js';
export type { ParsedRpm, RpmLead, RpmLayout, RpmTagEntry } from './header.js';
export { readRpmFile, readRpmFileSync } from './read.js';
export type { ReadRpmOptions, ReadRpmResult, RpmChecksumAlgo } from './read.js';
export { buildRecord, readSignatures, signingKeyOf } from './record.js';
export { parseSignatures, readPackets } from './pgp.js';
export type { PgpSignatureInfo } from './pgp.js';
export { TAG, SIGTAG, TAG_TYPE, RPMSENSE, RPMFILE, LIMITS } from './tags.js';
export * from './types.js';
export { assembleRpm, buildRpm, digestSignatureEntries, encodeHeader, encodeLead, rawEntries, rawEntriesFrom } from './writer.js';
export type { HeaderEntryInput, HeaderValue, RawEntry, SimpleFile, SimpleRpmSpec } from './writer.js';

/**
 * Parse a package held in memory. `buf` holds the file from its start at least through the main
 * header; `fileSize` (default buf.length) is the package size, and bounds every header length.
 * `file` names the package in error messages.
 */
export function parseRpm(buf: Buffer, fileSize?: number, file?: string): RpmRecord {
  const parsed = parseHeaders(buf, { fileSize: fileSize ?? buf.length, file });
  return buildRecord(parsed, { file });
}
