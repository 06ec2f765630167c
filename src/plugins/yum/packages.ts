/**
 * The package part of a yum publish: Packages/ pool entries and primary/filelists/other, streamed.
 *
 * Units are read without their metadata, a keyset page at a time (PublishConduit.scanUnitStamps),
 * in unit key order, and cut into blocks of consecutive packages whose boundaries depend on the
 * packages themselves (a package ends a block when its checksum says so, on average every
 * BLOCK_AVG packages), so adding or removing one package changes only the block it falls in.
 * Each block's XML is taken from the block cache when its signature matches, else computed from
 * the units' stored header records (loaded for that block only) and compressed as one gzip member
 * per file on libuv's thread pool, several blocks in flight while the next ones are read. Memory
 * stays flat whatever the size of the repository: one page of unit keys, a few blocks, and the
 * set of published file names.
 *
 * When every block is the one the last publish made, in the same order (a republish with no
 * package change: --force, a config change that does not touch package XML, new errata or comps),
 * the three files that publish wrote are taken as they are from `<working dir>/repodata-last/`
 * (their checksums verified) instead of being written again from the blocks. Until a block
 * differs, matched blocks are only counted; on the first difference they are read from the cache
 * and written one by one, so memory stays flat on that path too.
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Json, PublishConduit, UnitStamp } from '../../engine/contract.js';
import { StagepushError } from '../../errors.js';
import {
  dumpFilelistsPackage,
  dumpOtherPackage,
  dumpPrimaryPackage,
  FILELISTS_FOOTER,
  filelistsHeader,
  OTHER_FOOTER,
  otherHeader,
  PRIMARY_FOOTER,
  primaryHeader,
  toRepodataPackage,
} from '../../formats/repodata/index.js';
import { GzipMembersFileWriter, gzipMember, type RepomdRecord } from '../../formats/repomd/index.js';
import type { RpmRecord } from '../../formats/rpm/types.js';
import { BlockCache, FORMAT, type CachedBlock, type LastFiles } from './blockcache.js';
import type { DistributorSettings } from './config.js';
import type { PackagePool } from './pool.js';
import { nevraFull, rebuiltPackageFilename, rpmFilename, str } from './units.js';
import { fileChecksum } from './util.js';

/**
 * Average packages per block (content-defined boundaries; $STAGEPUSH_YUM_BLOCK_PACKAGES, default
 * 128: each block is a gzip member, and smaller ones compress worse — 32 made primary.xml.gz 30%
 * larger, 128 about 9%), and the most in one block.
 */
function blockAverage(): number {
  const v = Number(process.env.STAGEPUSH_YUM_BLOCK_PACKAGES);
  return Number.isInteger(v) && v >= 1 && v <= 65536 ? v : 128;
}
/** Where the last publish's package files are kept (in the distributor's working directory). */
const LAST_DIR = 'repodata-last';
/** Unit keys read per page. */
const PAGE = 1000;
/** Blocks being compressed while the next ones are read. */
const IN_FLIGHT = 4;

/**
 * Collect garbage after this many bytes of block data (raw + compressed) went through. Blocks are
 * Buffers outside V8's heap: V8 lets such memory grow by up to 64 MiB before it collects, so
 * without this the peak memory of a publish grew with the repository up to that much.
 */
const GC_EVERY_BYTES = 8 * 1024 * 1024;
/** ... or when the V8 heap grew this much since the last collection (checked once per page of units). */
const GC_HEAP_GROWTH = 12 * 1024 * 1024;
let collectGarbage: (() => void) | null | undefined;
function collector(): (() => void) | null {
  if (collectGarbage === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collectGarbage = runInNewContext('gc') as () => void;
    } catch {
      collectGarbage = null;
    }
  }
  return collectGarbage;
}

/**
 * Keep V8's young generation at its initial size from now on. V8 doubles it (up to 2 x 16 MiB)
 * while a program allocates fast, and the walk over a large repository's units does: the peak
 * memory of a cold publish grew by ~13 MiB between 1,000 and 20,000 packages for that alone.
 * Objects that outlive a scavenge are promoted and collected with the rest (see GC_HEAP_GROWTH).
 */
let youngBounded = false;
function boundYoungGeneration(): void {
  if (youngBounded) return;
  youngBounded = true;
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    /* an engine without the flag: memory grows as V8 decides */
  }
}

interface Stub {
  id: string;
  sha: string;
  size: number | null;
  stamp: string;
  name: string;
  location: string;
}

export interface PackagesResult {
  entries: RepomdRecord[];
  packages: number;
  duplicates: string[];
  /** NEVRAs ("name-epoch:version-release.arch") present, when asked for. */
  present: Set<string> | null;
  blocks: { cached: number; computed: number };
  /** The last publish's files were taken as they are (every block unchanged). */
  filesReused: boolean;
}

export interface PackagesOptions {
  repodata: string;
  workingDir: string;
  now: number;
  pool: PackagePool | null;
  signal: AbortSignal;
  wantPresent: boolean;
}

function canceled(signal: AbortSignal): void {
  if (signal.aborted) throw new StagepushError('YUM_PUBLISH_CANCELED', 'publish canceled', { kind: 'interrupted' });
}

/** Pages of unit stubs: the conduit's keyset scan, or (another host's conduit) its iterUnits without metadata. */
function* stampPages(conduit: PublishConduit, typeIds: string[]): Iterable<UnitStamp[]> {
  if (conduit.scanUnitStamps) {
    yield* conduit.scanUnitStamps(typeIds, PAGE);
    return;
  }
  let page: UnitStamp[] = [];
  for (const u of conduit.iterUnits({ typeIds, fields: [] })) {
    page.push({ id: String(u.id), typeId: u.typeId, unitKey: u.unitKey, sha256: u.sha256 ?? null, size: u.size ?? null, stamp: '' });
    if (page.length >= PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length) yield page;
}

/** A block the last publish used is missing from the cache: publish again without reusing. */
class LastBlockMissing extends Error {}

/**
 * UTF-8 bytes appended string by string into one growing Buffer. A block's XML (MiBs for packages
 * with long file lists) never exists as one JS string: built with `+=` and then encoded, it was a
 * tree of pieces that V8 flattened into a large heap string before Buffer.from copied it again,
 * and those large strings drove most of a publish's garbage collections (2,000 packages of 400
 * files each: ~40% of the publish's time).
 */
class Utf8Builder {
  private buf: Buffer;
  private len = 0;
  /** Bytes of every buffer this builder allocated (outside V8's heap, freed by its collections). */
  allocated: number;
  /** `initial`: the expected size (the last block's): blocks of one repository are alike. */
  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64 * 1024, initial));
    this.allocated = this.buf.length;
  }
  append(s: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: room for that, so nothing is cut short.
    const room = this.len + 3 * s.length;
    if (room > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, this.buf.length * 2));
      this.allocated += bigger.length;
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.len += this.buf.write(s, this.len, 'utf8');
  }
  /**
   * The bytes written: a view of the builder's buffer, or a copy when a quarter or more of it is
   * unused (a block in flight or being written holds no slack, and the bytes counted between
   * garbage collections are the bytes held).
   */
  bytes(): Buffer {
    const used = this.buf.subarray(0, this.len);
    if (this.len * 4 > this.buf.length * 3) return used;
    this.allocated += this.len;
    return Buffer.from(used);
  }
}

export async function publishPackages(conduit: PublishConduit, s: DistributorSettings, typeIds: string[], o: PackagesOptions): Promise<PackagesResult> {
  try {
    return await publishPackagesOnce(conduit, s, typeIds, o, true);
  } catch (e) {
    if (!(e instanceof LastBlockMissing)) throw e;
    return publishPackagesOnce(conduit, s, typeIds, o, false);
  }
}

async function publishPackagesOnce(conduit: PublishConduit, s: DistributorSettings, typeIds: string[], o: PackagesOptions, mayReuse: boolean): Promise<PackagesResult> {
  boundYoungGeneration();
  const BLOCK_AVG = blockAverage();
  const BLOCK_MAX = 4 * BLOCK_AVG;
  const total = typeIds.length ? conduit.countUnits({ typeIds }) : 0;
  // Without stamps (another host's conduit) nothing can be trusted from the cache.
  const cache = conduit.scanUnitStamps ? BlockCache.open(o.workingDir) : null;
  const variant = `${FORMAT}\0${s.checksumType}\0${s.changelogLimit}`;
  const files = {
    primary: new GzipMembersFileWriter({ dir: o.repodata, type: 'primary', name: 'primary.xml', checksumType: s.checksumType, timestamp: o.now }),
    filelists: new GzipMembersFileWriter({ dir: o.repodata, type: 'filelists', name: 'filelists.xml', checksumType: s.checksumType, timestamp: o.now }),
    other: new GzipMembersFileWriter({ dir: o.repodata, type: 'other', name: 'other.xml', checksumType: s.checksumType, timestamp: o.now }),
  };
  const kinds = ['primary', 'filelists', 'other'] as const;
  let sinceGc = 0;
  // The heap in use (V8's own figure: process.memoryUsage() also reads the process's RSS).
  const heapUsed = (): number => getHeapStatistics().used_heap_size;
  let heapAfterGc = heapUsed();
  const collect = (): void => {
    sinceGc = 0;
    collector()?.();
    heapAfterGc = heapUsed();
  };
  const writeBlock = (b: CachedBlock): void => {
    for (const k of kinds) {
      files[k].writeMember(b[k].raw, b[k].gz);
      sinceGc += b[k].raw.length + b[k].gz.length;
    }
    if (sinceGc >= GC_EVERY_BYTES) collect();
  };
  const compress = async (xml: { primary: string | Buffer; filelists: string | Buffer; other: string | Buffer }): Promise<CachedBlock> => {
    const raws = kinds.map((k) => (typeof xml[k] === 'string' ? Buffer.from(xml[k], 'utf8') : xml[k]));
    const gzs = await Promise.all(raws.map((r) => gzipMember(r)));
    return { primary: { raw: raws[0]!, gz: gzs[0]! }, filelists: { raw: raws[1]!, gz: gzs[1]! }, other: { raw: raws[2]!, gz: gzs[2]! } };
  };

  const queue: Array<Promise<CachedBlock>> = [];
  const drain = async (keep: number): Promise<void> => {
    while (queue.length > keep) writeBlock(await queue.shift()!);
  };

  /** Bytes of the last computed block's XML, per file (with a margin): the next block's buffers start that big. */
  const blockBytes = { primary: 0, filelists: 0, other: 0 };
  /** The XML of one block (UTF-8), computed from the units' stored records. */
  const computeBlock = async (block: Stub[]): Promise<{ primary: Buffer; filelists: Buffer; other: Buffer }> => {
    const ids = block.map((b) => b.id);
    const units = conduit.getUnitsById ? conduit.getUnitsById(ids) : conduit.getUnits({ typeIds, filters: { _id: { $in: ids } } });
    const byId = new Map(units.map((u) => [String(u.id), u]));
    const primary = new Utf8Builder(blockBytes.primary);
    const filelists = new Utf8Builder(blockBytes.filelists);
    const other = new Utf8Builder(blockBytes.other);
    for (const b of block) {
      const u = byId.get(b.id);
      const record = u?.metadata.record as unknown as RpmRecord | undefined;
      if (!u || !record || typeof record !== 'object' || !u.storagePath) {
        throw new StagepushError('YUM_BAD_UNIT', `package unit ${b.id} (${b.name}) has no stored RPM record or file`, { kind: 'failed', entry: b.name });
      }
      const st = statSync(u.storagePath);
      const pkgid = s.checksumType === 'sha256' ? b.sha : await fileChecksum(u.storagePath, s.checksumType);
      const pkg = toRepodataPackage(record, { pkgid, checksumType: s.checksumType, mtime: Math.floor(st.mtimeMs / 1000), locationHref: b.location, size: u.size ?? st.size }, { changelogLimit: s.changelogLimit });
      primary.append(dumpPrimaryPackage(pkg));
      filelists.append(dumpFilelistsPackage(pkg));
      other.append(dumpOtherPackage(pkg));
    }
    const out = { primary: primary.bytes(), filelists: filelists.bytes(), other: other.bytes() };
    for (const k of kinds) blockBytes[k] = Math.ceil(out[k].length * 1.25);
    // What the builders allocated beyond the block's own bytes (counted when it is written) is
    // garbage outside V8's heap: counted towards the next collection too.
    sinceGc += primary.allocated + filelists.allocated + other.allocated - out.primary.length - out.filelists.length - out.other.length;
    return out;
  };

  let blocksCached = 0;
  let blocksComputed = 0;
  // The last publish's blocks: while this one's match them in order, nothing is read or written.
  const last = mayReuse && cache ? cache.last(variant) : null;
  let matching = last !== null && last.total === total && last.sigs.length > 0;
  let matched = 0;
  const sigs: string[] = [];
  let header: CachedBlock | null = null;
  let headerWritten = false;
  const writeHeader = (): void => {
    if (headerWritten) return;
    writeBlock(header!);
    headerWritten = true;
  };
  /** Stop matching: write the header and the matched blocks (from the cache, one at a time). */
  const unmatch = (): void => {
    matching = false;
    writeHeader();
    for (let i = 0; i < matched; i++) {
      const hit = cache!.get(last!.sigs[i]!);
      if (!hit) throw new LastBlockMissing();
      writeBlock(hit);
    }
    matched = 0;
  };
  const flushBlock = (block: Stub[]): void => {
    if (!block.length) return;
    let sig: string | null = null;
    if (cache) {
      const h = createHash('sha256').update(variant);
      for (const b of block) h.update(`\n${b.id}\0${b.stamp}\0${b.location}`);
      sig = h.digest('hex');
      sigs.push(sig);
      if (matching) {
        if (last!.sigs[matched] === sig) {
          matched++;
          blocksCached++;
          cache.touch(sig);
          return;
        }
        unmatch();
      }
      const hit = cache.get(sig);
      if (hit) {
        blocksCached++;
        queue.push(Promise.resolve(hit));
        return;
      }
    }
    blocksComputed++;
    const p = computeBlock(block)
      .then(compress)
      .then((b) => {
        if (cache && sig) cache.put(sig, b);
        return b;
      });
    p.catch(() => undefined); // awaited in order by drain(); never an unhandled rejection
    queue.push(p);
  };

  const names = new Set<string>();
  /** File names (NEVRAs) seen: a second build of one is reported. */
  const plains = new Set<string>();
  const duplicates: string[] = [];
  const present = o.wantPresent ? new Set<string>() : null;
  let done = 0;
  let ok = false;
  try {
    header = await compress({ primary: primaryHeader(total), filelists: filelistsHeader(total), other: otherHeader(total) });
    if (!matching) writeHeader();
    let block: Stub[] = [];
    for (const page of stampPages(conduit, typeIds)) {
      canceled(o.signal);
      for (const u of page) {
        const key = u.unitKey as { name: string; epoch: string; version: string; release: string; arch: string; checksum: string };
        const sha = str(key.checksum) || str(u.sha256);
        // Two builds of one NEVRA (e.g. unsigned and signed) share a file name: the first keeps
        // it, the others are published as <sha256 prefix>-<file> (and reported). A file name the
        // pool holds with other content (published or kept before) is not reused either.
        const letter = String(key.name)[0]!.toLowerCase();
        const plain = rpmFilename(key);
        let name = o.pool ? o.pool.entryFor(letter, plain, sha).slice(letter.length + 1) : plain;
        if (names.has(name)) name = rebuiltPackageFilename(plain, sha);
        if (plains.has(plain)) duplicates.push(name);
        plains.add(plain);
        names.add(name);
        const location = `Packages/${letter}/${name}`;
        if (o.pool) {
          const stored = u.sha256;
          if (!stored) throw new StagepushError('YUM_BAD_UNIT', `package unit ${u.id} (${name}) has no stored file`, { kind: 'failed', entry: name });
          o.pool.ensure(`${letter}/${name}`, () => conduit.blobPath(stored), sha);
        }
        present?.add(nevraFull(key));
        block.push({ id: u.id, sha, size: u.size, stamp: u.stamp, name, location });
        // Content-defined boundary: the last 16 bits of the package checksum.
        if (block.length >= BLOCK_MAX || parseInt(sha.slice(-4), 16) % BLOCK_AVG === 0) {
          flushBlock(block);
          block = [];
          await drain(IN_FLIGHT);
        }
      }
      done += page.length;
      conduit.setProgress({ step: 'packages', done, total } as Json);
      // The walk over unit stubs (and blocks taken from the cache) allocates short-lived objects
      // without writing block data: V8 would let its heap grow with the repository before it
      // collects them.
      if (heapUsed() - heapAfterGc > GC_HEAP_GROWTH) collect();
    }
    flushBlock(block);
    if (done !== total) throw new StagepushError('YUM_PUBLISH_CHANGED', `the repository changed during the publish (${done} packages read, ${total} counted)`, { kind: 'failed' });
    if (matching && matched === last!.sigs.length) {
      const reused = await reuseLast(last!, o, s.checksumType);
      if (reused) {
        await Promise.all(kinds.map((k) => files[k].abort()));
        ok = true;
        return { entries: reused, packages: done, duplicates, present, blocks: { cached: blocksCached, computed: blocksComputed }, filesReused: true };
      }
    }
    if (matching) unmatch();
    await drain(0);
    writeBlock(await compress({ primary: PRIMARY_FOOTER, filelists: FILELISTS_FOOTER, other: OTHER_FOOTER }));
    const entries: RepomdRecord[] = [];
    const written: Array<{ kind: string; path: string; record: RepomdRecord }> = [];
    for (const k of kinds) {
      const { path: p, ...rec } = await files[k].close();
      entries.push(rec);
      written.push({ kind: k, path: p, record: rec });
    }
    if (cache) keepLast(cache, variant, o, { total, sigs }, written);
    ok = true;
    return { entries, packages: done, duplicates, present, blocks: { cached: blocksCached, computed: blocksComputed }, filesReused: false };
  } finally {
    if (!ok) {
      await Promise.allSettled(queue);
      await Promise.all(kinds.map((k) => files[k].abort()));
      cache?.close();
    } else cache?.commit();
  }
}

/**
 * The last publish's files, copied into this publish's repodata/ when each is still what was
 * recorded (size and checksum); null (and nothing left behind) otherwise.
 */
async function reuseLast(last: LastFiles, o: PackagesOptions, checksumType: string): Promise<RepomdRecord[] | null> {
  const made: string[] = [];
  const out: RepomdRecord[] = [];
  try {
    for (const k of ['primary', 'filelists', 'other']) {
      const f = last.files[k];
      if (!f || typeof f.file !== 'string' || path.basename(f.file) !== f.file) throw new Error(`no kept ${k} file`);
      const rec = f.record as unknown as RepomdRecord;
      const dest = path.join(o.repodata, path.basename(String(rec.location)));
      copyFileSync(path.join(o.workingDir, LAST_DIR, f.file), dest);
      made.push(dest);
      if (statSync(dest).size !== rec.size || rec.checksumType !== checksumType || (await fileChecksum(dest, checksumType)) !== rec.checksum) throw new Error(`kept ${k} file changed`);
      out.push({ ...rec, timestamp: o.now });
    }
    return out;
  } catch {
    for (const m of made) rmSync(m, { force: true });
    return null;
  }
}

/** Keep copies of this publish's files and its block sequence for the next publish (a cache: a failure only loses the shortcut). */
function keepLast(cache: BlockCache, variant: string, o: PackagesOptions, seq: { total: number; sigs: string[] }, written: Array<{ kind: string; path: string; record: RepomdRecord }>): void {
  const dir = path.join(o.workingDir, LAST_DIR);
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files: LastFiles['files'] = {};
    for (const w of written) {
      const file = path.basename(w.path);
      copyFileSync(w.path, path.join(dir, file));
      const { timestamp: _t, ...record } = w.record;
      files[w.kind] = { record: record as unknown as Record<string, string | number>, file };
    }
    cache.setLast(variant, { total: seq.total, sigs: seq.sigs, files });
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}
