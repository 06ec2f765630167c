import { controlCharsChangelog, controlCharsField, jsonMayHoldControlChars } from '../../formats/repodata/package.js';
import type { RpmRecord } from '../../formats/rpm/types.js';

/**
 * The header fields planning needs (name, EVR, arch, source or binary, signing key), sent with a
 * record passed as JSON text; and the field holding a control character createrepo_c refuses
 * (such a package could never be published: the push refuses it before anything changes).
 */
export interface RpmRecordSummary {
  name: string;
  epoch: number | string | null;
  version: string;
  release: string;
  arch: string;
  isSource: boolean;
  signingKey: string | null;
  /** A field other than the changelog holding a control character; absent when none (summaries stored before it was checked lack it too). */
  controlChars?: string;
  /** The newest changelog entry holding one (0: the newest): it refuses the package where the repository publishes that many entries. */
  controlCharsChangelog?: number;
}

/** The summary of a parsed RPM header record (`json`: its JSON text, when made: a cheap first test for control characters). */
export function rpmRecordSummary(record: Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch' | 'isSource'> & { epoch?: unknown; signingKey?: string | null }, json?: string): RpmRecordSummary {
  const out: RpmRecordSummary = {
    name: record.name,
    epoch: (record.epoch as number | string | null | undefined) ?? null,
    version: record.version,
    release: record.release,
    arch: record.arch,
    isSource: record.isSource,
    signingKey: record.signingKey ?? null,
  };
  if (json === undefined || jsonMayHoldControlChars(json)) {
    const field = controlCharsField(record as RpmRecord, 0);
    if (field) out.controlChars = field;
    const entry = controlCharsChangelog(record as RpmRecord);
    if (entry !== null) out.controlCharsChangelog = entry;
  }
  return out;
}
