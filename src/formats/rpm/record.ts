/** Turn parsed headers into the JSON-stable RpmRecord. */
import { rpmError, type ParsedRpm, type RpmHeader, type RpmSource } from './header.js';
import { PgpError, parseSignatures } from './pgp.js';
import { SIGTAG, TAG, TAG_TYPE } from './tags.js';
import { RPM_RECORD_VERSION, type RpmDep, type RpmRecord, type RpmSignatureInfo } from './types.js';

const SIGNATURE_TAGS: Array<[number, RpmSignatureInfo['tag']]> = [
  [SIGTAG.RSAHEADER, 'RSAHEADER'],
  [SIGTAG.DSAHEADER, 'DSAHEADER'],
  [SIGTAG.PGP, 'PGP'],
  [SIGTAG.GPG, 'GPG'],
  [SIGTAG.OPENPGP, 'OPENPGP'],
];

/** Every OpenPGP signature in the signature header (RSAHEADER, DSAHEADER, PGP, GPG, OPENPGP). */
export function readSignatures(sig: RpmHeader, src: RpmSource): RpmSignatureInfo[] {
  const out: RpmSignatureInfo[] = [];
  for (const [tag, tagName] of SIGNATURE_TAGS) {
    const e = sig.entry(tag);
    if (!e) continue;
    const blobs: Array<{ data: Buffer; at: number }> = [];
    if (e.type === TAG_TYPE.BIN) {
      blobs.push({ data: sig.getBin(tag)!, at: sig.storeStart + e.offset });
    } else if (e.type === TAG_TYPE.STRING_ARRAY || e.type === TAG_TYPE.STRING) {
      // rpm 6 stores OpenPGP signatures base64-encoded.
      for (const s of sig.getStrings(tag)!) blobs.push({ data: Buffer.from(s, 'base64'), at: sig.storeStart + e.offset });
    } else {
      throw rpmError('RPM_BAD_SIGNATURE', `signature header tag ${tagName} (${tag}) has unexpected type ${e.type}`, src);
    }
    for (const { data, at } of blobs) {
      let infos;
      try {
        infos = parseSignatures(data);
      } catch (err) {
        if (err instanceof PgpError) {
          throw rpmError('RPM_BAD_SIGNATURE', `signature header tag ${tagName} (${tag}) at offset ${at}: ${err.message} (at byte ${err.offset} of the tag)`, src);
        }
        throw err;
      }
      if (!infos.length) throw rpmError('RPM_BAD_SIGNATURE', `signature header tag ${tagName} (${tag}) at offset ${at} holds no OpenPGP signature packet`, src);
      for (const i of infos) {
        if (!i.keyId) {
          throw rpmError('RPM_BAD_SIGNATURE', `signature header tag ${tagName} (${tag}) at offset ${at}: the v${i.packetVersion} signature names no issuer key`, src);
        }
        const s: RpmSignatureInfo = { tag: tagName, packetVersion: i.packetVersion, pubkeyAlgo: i.pubkeyAlgo, hashAlgo: i.hashAlgo, keyId: i.keyId };
        if (i.longKeyId) s.longKeyId = i.longKeyId;
        out.push(s);
      }
    }
  }
  return out;
}

/** The short key id of the package's signatures (null when unsigned); RPM_MULTIPLE_KEYS when several. */
export function signingKeyOf(signatures: RpmSignatureInfo[], src: RpmSource): string | null {
  const keys = [...new Set(signatures.map((s) => s.keyId))];
  if (keys.length > 1) {
    throw rpmError('RPM_MULTIPLE_KEYS', `signed with more than one key: ${keys.join(', ')} (${signatures.map((s) => `${s.tag}=${s.keyId}`).join(', ')})`, src);
  }
  return keys[0] ?? null;
}

function parallel<T>(label: string, arrays: Array<unknown[] | undefined>, src: RpmSource, h: RpmHeader): void {
  const lens = arrays.filter((a): a is T[] => a !== undefined).map((a) => a.length);
  if (lens.some((l) => l !== lens[0])) {
    throw rpmError('RPM_BAD_HEADER', `main header at offset ${h.start}: the ${label} arrays have different lengths (${lens.join(', ')})`, src);
  }
}

function deps(h: RpmHeader, nameTag: number, flagsTag: number, versionTag: number, label: string, src: RpmSource): RpmDep[] {
  const names = h.getStrings(nameTag);
  if (!names) return [];
  const flags = h.getNumbers(flagsTag);
  const versions = h.getStrings(versionTag);
  parallel(`${label} (name, flags, version)`, [names, flags, versions], src, h);
  return names.map((name, i) => ({ name, flags: flags ? flags[i] : 0, version: versions ? versions[i] : '' }));
}

function files(h: RpmHeader, src: RpmSource): RpmRecord['files'] {
  let basenames = h.getStrings(TAG.BASENAMES);
  let dirnames = h.getStrings(TAG.DIRNAMES);
  let dirindexes = h.getNumbers(TAG.DIRINDEXES);
  if (!basenames) {
    // Legacy packages: a flat OLDFILENAMES list, compressed as rpm does.
    const old = h.getStrings(TAG.OLDFILENAMES);
    basenames = [];
    dirnames = [];
    dirindexes = [];
    const dirIdx = new Map<string, number>();
    for (const f of old ?? []) {
      const slash = f.lastIndexOf('/');
      const dir = slash < 0 ? '' : f.slice(0, slash + 1);
      let di = dirIdx.get(dir);
      if (di === undefined) {
        di = dirnames.length;
        dirIdx.set(dir, di);
        dirnames.push(dir);
      }
      basenames.push(f.slice(slash + 1));
      dirindexes.push(di);
    }
  }
  dirnames ??= [];
  dirindexes ??= [];
  const modes = h.getNumbers(TAG.FILEMODES);
  const flags = h.getNumbers(TAG.FILEFLAGS);
  parallel('file (basenames, dirindexes, modes, flags)', [basenames, dirindexes, modes, flags], src, h);
  for (let i = 0; i < dirindexes.length; i++) {
    if (dirindexes[i] >= dirnames.length) {
      throw rpmError('RPM_BAD_HEADER', `main header at offset ${h.start}: file ${i} has dir index ${dirindexes[i]} but there are ${dirnames.length} dirnames`, src);
    }
  }
  return {
    basenames,
    dirnames,
    dirindexes,
    modes: modes ?? basenames.map(() => 0),
    flags: flags ?? basenames.map(() => 0),
  };
}

/** Build the record from parsed headers. */
export function buildRecord(parsed: ParsedRpm, src: RpmSource = {}): RpmRecord {
  const h = parsed.header;
  const sig = parsed.signature;
  const required = (tag: number, label: string): string => {
    const v = h.getString(tag);
    if (v === undefined) throw rpmError('RPM_BAD_HEADER', `main header at offset ${h.start} has no ${label} tag (${tag})`, src);
    return v;
  };
  const opt = (tag: number): string | null => h.getString(tag) ?? null;
  const name = required(TAG.NAME, 'NAME');
  const version = required(TAG.VERSION, 'VERSION');
  const release = required(TAG.RELEASE, 'RELEASE');
  const headerArch = h.getString(TAG.ARCH) ?? '';
  const sourceRpm = opt(TAG.SOURCERPM);
  const isSource = (h.getNumber(TAG.SOURCEPACKAGE) ?? 0) !== 0 || sourceRpm === null;

  const changelogTimes = h.getNumbers(TAG.CHANGELOGTIME) ?? [];
  const changelogNames = h.getStrings(TAG.CHANGELOGNAME) ?? [];
  const changelogTexts = h.getStrings(TAG.CHANGELOGTEXT) ?? [];
  parallel('changelog (time, name, text)', [changelogTimes, changelogNames, changelogTexts], src, h);

  const signatures = readSignatures(sig, src);
  const num = (hdr: RpmHeader, tag: number): number | undefined => hdr.getNumber(tag);

  return {
    recordVersion: RPM_RECORD_VERSION,
    name,
    epoch: h.getNumber(TAG.EPOCH) ?? null,
    version,
    release,
    arch: isSource ? 'src' : headerArch,
    headerArch,
    isSource,
    summary: h.getString(TAG.SUMMARY) ?? '',
    description: h.getString(TAG.DESCRIPTION) ?? '',
    packager: opt(TAG.PACKAGER),
    url: opt(TAG.URL),
    buildTime: h.getNumber(TAG.BUILDTIME) ?? 0,
    license: opt(TAG.LICENSE),
    vendor: opt(TAG.VENDOR),
    group: opt(TAG.GROUP),
    buildHost: opt(TAG.BUILDHOST),
    sourceRpm: isSource ? null : sourceRpm,
    headerStart: parsed.layout.headerStart,
    headerEnd: parsed.layout.headerEnd,
    packageSize: parsed.fileSize,
    installedSize: num(h, TAG.LONGSIZE) ?? num(h, TAG.SIZE) ?? 0,
    archiveSize: num(h, TAG.LONGARCHIVESIZE) ?? num(sig, SIGTAG.LONGARCHIVESIZE) ?? num(h, TAG.ARCHIVESIZE) ?? num(sig, SIGTAG.PAYLOADSIZE) ?? 0,
    provides: deps(h, TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION, 'provides', src),
    requires: deps(h, TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION, 'requires', src),
    conflicts: deps(h, TAG.CONFLICTNAME, TAG.CONFLICTFLAGS, TAG.CONFLICTVERSION, 'conflicts', src),
    obsoletes: deps(h, TAG.OBSOLETENAME, TAG.OBSOLETEFLAGS, TAG.OBSOLETEVERSION, 'obsoletes', src),
    recommends: deps(h, TAG.RECOMMENDNAME, TAG.RECOMMENDFLAGS, TAG.RECOMMENDVERSION, 'recommends', src),
    suggests: deps(h, TAG.SUGGESTNAME, TAG.SUGGESTFLAGS, TAG.SUGGESTVERSION, 'suggests', src),
    supplements: deps(h, TAG.SUPPLEMENTNAME, TAG.SUPPLEMENTFLAGS, TAG.SUPPLEMENTVERSION, 'supplements', src),
    enhances: deps(h, TAG.ENHANCENAME, TAG.ENHANCEFLAGS, TAG.ENHANCEVERSION, 'enhances', src),
    oldSuggests: deps(h, TAG.OLDSUGGESTSNAME, TAG.OLDSUGGESTSFLAGS, TAG.OLDSUGGESTSVERSION, 'old suggests', src),
    oldEnhances: deps(h, TAG.OLDENHANCESNAME, TAG.OLDENHANCESFLAGS, TAG.OLDENHANCESVERSION, 'old enhances', src),
    modularityLabel: opt(TAG.MODULARITYLABEL),
    files: files(h, src),
    changelogs: changelogTimes.map((time, i) => ({ time, author: changelogNames[i], text: changelogTexts[i] })),
    signatures,
    signingKey: signingKeyOf(signatures, src),
  };
}
