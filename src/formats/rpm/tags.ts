/** RPM tag numbers, tag types and limits used by the reader (values from rpm's rpmtag.h). */

export const TAG_TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;
export type TagType = (typeof TAG_TYPE)[keyof typeof TAG_TYPE];

export const TAG_TYPE_NAMES = ['NULL', 'CHAR', 'INT8', 'INT16', 'INT32', 'INT64', 'STRING', 'BIN', 'STRING_ARRAY', 'I18NSTRING'];

/** Byte size of one element of the fixed-size types (0: variable size). */
export const TAG_TYPE_SIZE = [0, 1, 1, 2, 4, 8, 0, 1, 0, 0];

/** Main header tags. */
export const TAG = {
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  ARCHIVESIZE: 1046,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  CHANGELOGTIME: 1080,
  CHANGELOGNAME: 1081,
  CHANGELOGTEXT: 1082,
  OBSOLETENAME: 1090,
  SOURCEPACKAGE: 1106,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  OLDSUGGESTSNAME: 1156,
  OLDSUGGESTSVERSION: 1157,
  OLDSUGGESTSFLAGS: 1158,
  OLDENHANCESNAME: 1159,
  OLDENHANCESVERSION: 1160,
  OLDENHANCESFLAGS: 1161,
  MODULARITYLABEL: 5096,
  PAYLOADCOMPRESSOR: 1125,
  LONGARCHIVESIZE: 271,
  LONGSIZE: 5009,
  RECOMMENDNAME: 5046,
  RECOMMENDVERSION: 5047,
  RECOMMENDFLAGS: 5048,
  SUGGESTNAME: 5049,
  SUGGESTVERSION: 5050,
  SUGGESTFLAGS: 5051,
  SUPPLEMENTNAME: 5052,
  SUPPLEMENTVERSION: 5053,
  SUPPLEMENTFLAGS: 5054,
  ENHANCENAME: 5055,
  ENHANCEVERSION: 5056,
  ENHANCEFLAGS: 5057,
} as const;

/** Signature header tags. */
export const SIGTAG = {
  SIZE: 1000,
  PGP: 1002,
  MD5: 1004,
  GPG: 1005,
  PAYLOADSIZE: 1007,
  SHA1: 269,
  DSAHEADER: 267,
  RSAHEADER: 268,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  SHA256: 273,
  /** rpm 6: OpenPGP signatures (base64 strings in a STRING_ARRAY). */
  OPENPGP: 278,
} as const;

/** RPMSENSE_* dependency flag bits. */
export const RPMSENSE = {
  LESS: 1 << 1,
  GREATER: 1 << 2,
  EQUAL: 1 << 3,
  PREREQ: 1 << 6,
  SCRIPT_PRE: 1 << 9,
  SCRIPT_POST: 1 << 10,
  SCRIPT_PREUN: 1 << 11,
  SCRIPT_POSTUN: 1 << 12,
  RPMLIB: 1 << 24,
  /** Legacy weak deps: set on OLDSUGGESTS = Recommends, on OLDENHANCES = Supplements. */
  STRONG: 1 << 27,
} as const;

/** RPMFILE_* file flag bits. */
export const RPMFILE = {
  CONFIG: 1 << 0,
  DOC: 1 << 1,
  MISSINGOK: 1 << 3,
  NOREPLACE: 1 << 4,
  GHOST: 1 << 6,
  LICENSE: 1 << 7,
  README: 1 << 8,
  ARTIFACT: 1 << 12,
} as const;

/** Limits, as rpm's (header_internal.h): entries per header and data store size. */
export const LIMITS = {
  /** Most index entries in one header (HEADER_TAGS_MAX). */
  maxEntries: 0xffff,
  /** Largest data store of the main header (HEADER_DATA_MAX, 256 MiB). */
  maxData: 256 * 1024 * 1024,
  /** Largest data store of the signature header (64 MiB, as rpm's hdrblobRead). */
  maxSigData: 64 * 1024 * 1024,
} as const;

export const LEAD_SIZE = 96;
export const LEAD_MAGIC = 0xedabeedb;
export const HEADER_MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);
/** Size of a header's intro: magic (3) + version (1) + reserved (4) + entry count (4) + data length (4). */
export const HEADER_INTRO = 16;
export const ENTRY_SIZE = 16;
