/**
 * The versioned, JSON-stable record of one RPM package, produced by `readRpmFile` (this folder)
 * and stored by the engine on rpm/srpm units. Values are the header's own (what
 * `rpm -qp --qf` prints); mapping to repodata (EVR splitting, pre bits, rpmlib() filtering, primary
 * file selection, changelog limit) belongs to src/formats/repodata.
 *
 * Bump RPM_RECORD_VERSION when a field changes meaning; add fields freely.
 */
export const RPM_RECORD_VERSION = 1;

/** One dependency entry as stored in the header: name, RPMSENSE flags (raw int), EVR string. */
export interface RpmDep {
  name: string;
  /** Raw RPMSENSE_* flags (LESS=2, GREATER=4, EQUAL=8, PREREQ=64, SCRIPT_PRE=512, ...). */
  flags: number;
  /** The version string as in the header ("" when unversioned), e.g. "1:2.0-3". */
  version: string;
}

export interface RpmChangelog {
  /** CHANGELOGTIME (seconds since epoch). */
  time: number;
  /** CHANGELOGNAME. */
  author: string;
  /** CHANGELOGTEXT. */
  text: string;
}

export interface RpmSignatureInfo {
  /** Which signature header tag carried it. */
  tag: 'RSAHEADER' | 'DSAHEADER' | 'PGP' | 'GPG' | 'OPENPGP';
  /** OpenPGP signature packet version (3 or 4). */
  packetVersion: number;
  /** Public key algorithm id (1 RSA, 17 DSA, 22 EdDSA, ...). */
  pubkeyAlgo: number;
  /** Hash algorithm id (2 SHA1, 8 SHA256, 10 SHA512, ...). */
  hashAlgo: number;
  /** Upper-case 8-hex short key id (last 4 bytes of the issuer key id). */
  keyId: string;
  /** Upper-case 16-hex long key id when the packet carries it. */
  longKeyId?: string;
}

export interface RpmRecord {
  recordVersion: typeof RPM_RECORD_VERSION;
  name: string;
  /** EPOCH tag, null when absent. */
  epoch: number | null;
  version: string;
  release: string;
  /** ARCH tag for binary packages; "src" for source packages (no SOURCERPM tag / SOURCEPACKAGE set). */
  arch: string;
  /** The ARCH tag itself (for a source package: the arch it was built on, e.g. "noarch"). */
  headerArch: string;
  isSource: boolean;
  summary: string;
  description: string;
  packager: string | null;
  url: string | null;
  buildTime: number;
  license: string | null;
  vendor: string | null;
  group: string | null;
  buildHost: string | null;
  /** SOURCERPM tag (null for a source package). */
  sourceRpm: string | null;
  /** Byte offsets of the main header in the file, as createrepo_c's rpm:header-range start/end. */
  headerStart: number;
  headerEnd: number;
  /** Size of the .rpm file in bytes. */
  packageSize: number;
  /** Installed size (LONGSIZE or SIZE). */
  installedSize: number;
  /** Archive (payload) size as createrepo_c reports it (LONGARCHIVESIZE / ARCHIVESIZE / sig PAYLOADSIZE). */
  archiveSize: number;
  provides: RpmDep[];
  requires: RpmDep[];
  conflicts: RpmDep[];
  obsoletes: RpmDep[];
  recommends: RpmDep[];
  suggests: RpmDep[];
  supplements: RpmDep[];
  enhances: RpmDep[];
  /**
   * Legacy weak dependencies (SUSE-style OLDSUGGESTS* / OLDENHANCES* tags, before rpm 4.12): flags
   * with RPMSENSE_STRONG (1 << 27) mean Recommends / Supplements, without it Suggests / Enhances
   * (createrepo_c's LegacyWeakdeps feature maps them so). The reader always fills them (empty for
   * modern packages); optional only so that records built by hand stay valid.
   */
  oldSuggests?: RpmDep[];
  oldEnhances?: RpmDep[];
  /** MODULARITYLABEL tag (modular packages), null when absent. */
  modularityLabel?: string | null;
  /** File list, in header order: parallel arrays as in the header. */
  files: {
    basenames: string[];
    dirnames: string[];
    dirindexes: number[];
    /** FILEMODES (unsigned 16-bit). */
    modes: number[];
    /** FILEFLAGS (RPMFILE_GHOST = 64, RPMFILE_CONFIG = 1, ...). */
    flags: number[];
  };
  /** Changelog entries in header order (newest first). */
  changelogs: RpmChangelog[];
  /** Every signature found in the signature header. */
  signatures: RpmSignatureInfo[];
  /** Short key id of the signature (upper-case 8 hex), null when unsigned. */
  signingKey: string | null;
}
