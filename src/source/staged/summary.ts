/** The header fields planning needs (name, EVR, arch, source or binary, signing key), sent with a record passed as JSON text. */
export interface RpmRecordSummary {
  name: string;
  epoch: number | string | null;
  version: string;
  release: string;
  arch: string;
  isSource: boolean;
  signingKey: string | null;
}

/** The summary of a parsed RPM header record. */
export function rpmRecordSummary(record: { name: string; epoch?: unknown; version: string; release: string; arch: string; isSource: boolean; signingKey?: string | null }): RpmRecordSummary {
  return {
    name: record.name,
    epoch: (record.epoch as number | string | null | undefined) ?? null,
    version: record.version,
    release: record.release,
    arch: record.arch,
    isSource: record.isSource,
    signingKey: record.signingKey ?? null,
  };
}
