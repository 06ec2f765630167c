/**
 * The Packages/ pool of a yum distributor: one directory, next to the distributor's versioned
 * trees (`<publish root>/.versions/<repo>/<key>/packages-<link mode>/<l>/<file>`), kept up to date
 * incrementally, that every published tree points at with a relative `Packages` symlink. Its
 * entries are hard links or symlinks to the stored files (or copies), by `package_link` (see
 * PACKAGE_LINKS in config.ts). A publish only links the packages that are new and, after the
 * switch, unlinks the ones no longer in the repository: republishing 20,000 packages after adding
 * 10 makes 10 links, not 20,000.
 *
 * `packages-<link mode>.json` beside the pool (not in it: the pool is what `Packages/` serves) maps
 * each entry to the sha256 it holds. An entry's content never changes while metadata may name it:
 * a package whose file name stays but whose content changed (a re-signed package) gets an entry of
 * its own (`entryFor`), the old one goes as any entry the current metadata no longer names. For
 * those the manifest records since when (the publish that dropped them): the old repomd.xml files
 * kept in the published tree still name it, so it stays as long as they are kept
 * (remove_old_repodata_threshold) — a client holding an old repomd.xml never gets a 404. It also
 * records each letter directory's modification time: an unchanged directory is not listed again.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants, copyFileSync, linkSync } from 'node:fs';
import { linkRefused } from '../common/fsutil.js';
import type { PackageLink } from './config.js';
import { rebuiltPackageFilename } from './units.js';

/** The manifest's place in the pool of earlier versions, where Packages/ served it: read once, then removed. */
const OLD_MANIFEST = '.pool.json';

/** A manifest entry: the sha256, and when no longer named by the current metadata (seconds). */
type ManifestEntry = string | { s: string; g: number };

export class PackagePool {
  readonly dir: string;
  /** The pool's manifest (beside the pool directory). */
  private readonly manifestFile: string;
  private readonly have = new Map<string, string>();
  /** Entries the latest published metadata no longer names: since when (seconds since the epoch). */
  private readonly gone = new Map<string, number>();
  private readonly wanted = new Set<string>();
  private readonly madeDirs = new Set<string>();
  added = 0;
  /** The manifest on disk is out of date. */
  private dirty = false;

  constructor(
    base: string,
    private readonly mode: PackageLink,
  ) {
    this.dir = path.join(base, `packages-${mode}`);
    this.manifestFile = `${this.dir}.json`;
    mkdirSync(this.dir, { recursive: true });
    chmodSync(this.dir, 0o755);
    let manifest: Record<string, ManifestEntry> = {};
    let dirStamps: Record<string, string> = {};
    try {
      const read = readPoolManifest(this.dir);
      if (read) ({ entries: manifest, dirs: dirStamps } = read);
      if (read && read.file !== this.manifestFile) this.dirty = true; // moved out by save()
    } catch {
      manifest = {};
    }
    const byLetter = new Map<string, string[]>();
    for (const rel of Object.keys(manifest)) {
      const l = rel.slice(0, rel.indexOf('/'));
      let list = byLetter.get(l);
      if (!list) byLetter.set(l, (list = []));
      list.push(rel);
    }
    const take = (rel: string): boolean => {
      const e = manifest[rel];
      const sha = entrySha(e);
      if (!sha) return false;
      this.have.set(rel, sha);
      if (typeof e === 'object' && typeof e.g === 'number') this.gone.set(rel, e.g);
      return true;
    };
    // Trust the manifest only for entries that exist: a letter directory unchanged since the
    // manifest was saved (same modification time) holds exactly its entries; any other is listed.
    for (const l of readdirSync(this.dir, { withFileTypes: true })) {
      if (!l.isDirectory()) continue;
      const letterDir = path.join(this.dir, l.name);
      if (dirStamps[l.name] !== undefined && dirStamps[l.name] === dirStamp(letterDir)) {
        for (const rel of byLetter.get(l.name) ?? []) take(rel);
        continue;
      }
      this.dirty = true; // saved with this directory's stamp, to be trusted next time
      for (const f of readdirSync(letterDir)) {
        const rel = `${l.name}/${f}`;
        if (!take(rel)) {
          unlinkSync(path.join(letterDir, f)); // unknown content: relinked below if wanted
          this.dirty = true;
        }
      }
    }
    if (Object.keys(manifest).length !== this.have.size) this.dirty = true; // entries gone from disk
  }

  /**
   * The entry ("l/file") for a package of file name `name` and sha256 `sha`: its plain name, unless
   * the pool holds other content there (a rebuilt or re-signed package of the same NEVRA: metadata
   * still published or kept names that entry, whose content must not change under a client that
   * read it), then `<sha256 prefix>-<name>`. Where the pool already holds this content, it stays.
   */
  entryFor(letter: string, name: string, sha: string): string {
    const heldBy = (rel: string) => this.have.get(rel) ?? this.reserved.get(rel);
    const plain = `${letter}/${name}`;
    const held = heldBy(plain);
    if (held === undefined || held === sha) return plain;
    const prefixed = `${letter}/${rebuiltPackageFilename(name, sha)}`;
    const other = heldBy(prefixed);
    return other === undefined || other === sha ? prefixed : `${letter}/${sha}-${name}`;
  }

  /**
   * Make `rel` ("l/file", from `entryFor`) hold the stored file `storagePath` (sha256 `sha`; a
   * function is only called when the entry must be made). An entry holding other content is
   * never replaced (see entryFor): that is a bug, thrown.
   */
  ensure(rel: string, storagePath: string | (() => string), sha: string): void {
    const cur = this.have.get(rel);
    if (cur !== undefined && cur !== sha) throw new Error(`package pool: ${rel} holds ${cur}, not ${sha} (an entry's content must not change while metadata may name it)`);
    this.wanted.add(rel);
    if (cur === sha) return;
    if (typeof storagePath === 'function') storagePath = storagePath();
    const dest = path.join(this.dir, ...rel.split('/'));
    const letter = rel.slice(0, rel.indexOf('/'));
    if (!this.madeDirs.has(letter)) {
      mkdirSync(path.join(this.dir, letter), { recursive: true });
      chmodSync(path.join(this.dir, letter), 0o755);
      this.madeDirs.add(letter);
    }
    // Made in place: nothing is there (the constructor removed what the manifest does not know;
    // a leftover of a killed publish is made aside and renamed over).
    if (!this.make(storagePath, dest)) {
      const tmp = `${dest}.tmp-${process.pid}`;
      rmSync(tmp, { force: true });
      this.make(storagePath, tmp, true);
      renameSync(tmp, dest);
    }
    this.gone.delete(rel);
    this.dirty = true;
    this.added++;
    this.have.set(rel, sha);
  }

  /**
   * Entries of the pools of other link modes (after a package_link change): names old metadata
   * may still use, with their content. `entryFor` treats them as held, so a name is not given
   * to other content; those this publish does not make are adopted after it (adoptOtherPools).
   */
  private readonly reserved = new Map<string, string>();

  /** The pool holds entries (this mode's, or other modes' to adopt): old metadata may name them. */
  get holdsAny(): boolean {
    return this.have.size > 0 || this.reserved.size > 0;
  }

  /** Read the other pools' manifests (call before the publish's entries are made). */
  reserveOtherPools(base: string): void {
    for (const { entries } of this.otherPools(base)) {
      for (const [rel, e] of Object.entries(entries)) {
        const sha = entrySha(e);
        if (sha && !this.have.has(rel) && !this.reserved.has(rel)) this.reserved.set(rel, sha);
      }
    }
  }

  /** The pools of other link modes in `base`, with their manifests. */
  private otherPools(base: string): Array<{ dir: string; entries: Record<string, ManifestEntry> }> {
    const out: Array<{ dir: string; entries: Record<string, ManifestEntry> }> = [];
    for (const name of existsSync(base) ? readdirSync(base) : []) {
      if (!name.startsWith('packages-') || name.endsWith('.json') || path.join(base, name) === this.dir) continue;
      const dir = path.join(base, name);
      try {
        const f = existsSync(`${dir}.json`) ? `${dir}.json` : path.join(dir, OLD_MANIFEST);
        const raw = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
        out.push({ dir, entries: (raw.v === 2 && raw.entries && typeof raw.entries === 'object' ? raw.entries : raw) as Record<string, ManifestEntry> });
      } catch {
        // no manifest: nothing known to keep
      }
    }
    return out;
  }

  /** `auto`: hard links were refused once (another filesystem): the rest are symlinks without trying. */
  private linksRefused = false;

  /** Make `dest` hold `storagePath` by the pool's link mode; false when `dest` exists (unless `mustMake`, which throws then). */
  private make(storagePath: string, dest: string, mustMake = false): boolean {
    try {
      if (this.mode === 'auto' && !this.linksRefused) {
        try {
          linkSync(storagePath, dest);
          return true;
        } catch (e) {
          if (!linkRefused(e)) throw e;
          if ((e as NodeJS.ErrnoException).code === 'EXDEV') this.linksRefused = true; // EPERM/EMLINK are per file
        }
      }
      if (this.mode === 'symlink' || this.mode === 'auto') {
        symlinkSync(storagePath, dest);
        return true;
      }
      if (this.mode === 'hardlink') {
        try {
          linkSync(storagePath, dest);
          return true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e; // else another filesystem: copied
        }
      }
      copyFileSync(storagePath, dest, constants.COPYFILE_EXCL);
      chmodSync(dest, 0o644);
      return true;
    } catch (e) {
      if (!mustMake && (e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }

  /**
   * After a package_link change, the pools of other link modes still hold what old metadata
   * (kept in the published tree) names: their entries this publish did not make are carried
   * into this pool as entries no longer named (they go as prune decides), so a client holding an
   * old repomd.xml still finds them. Call after the publish's entries are made, before the switch.
   */
  adoptOtherPools(base: string, now: number): number {
    let adopted = 0;
    for (const { dir: otherDir, entries } of this.otherPools(base)) {
      for (const [rel, e] of Object.entries(entries)) {
        const sha = entrySha(e);
        if (!sha || this.have.has(rel) || !/^[^/]+\/[^/]+$/.test(rel)) continue;
        const src = path.join(otherDir, ...rel.split('/'));
        if (!existsSync(src)) continue;
        const letter = rel.slice(0, rel.indexOf('/'));
        if (!this.madeDirs.has(letter)) {
          mkdirSync(path.join(this.dir, letter), { recursive: true });
          chmodSync(path.join(this.dir, letter), 0o755);
          this.madeDirs.add(letter);
        }
        // The old entry itself, hard-linked (a symlink stays one), else copied: a symlink to it
        // would dangle once the old pool is removed, and the stored file may be gone (orphaned).
        const dest = path.join(this.dir, ...rel.split('/'));
        try {
          linkSync(src, dest);
        } catch {
          copyFileSync(src, dest, constants.COPYFILE_EXCL);
          chmodSync(dest, 0o644);
        }
        this.have.set(rel, sha);
        this.gone.set(rel, typeof e === 'object' && typeof e.g === 'number' ? e.g : now);
        this.dirty = true;
        adopted++;
      }
    }
    return adopted;
  }

  /** Record the pool's content (call after the entries of a publish are in place). */
  save(): void {
    if (!this.dirty) return;
    const manifest: Record<string, ManifestEntry> = {};
    const dirs: Record<string, string> = {};
    for (const [k, v] of this.have) {
      const g = this.gone.get(k);
      manifest[k] = g === undefined ? v : { s: v, g };
      const l = k.slice(0, k.indexOf('/'));
      dirs[l] ??= dirStamp(path.join(this.dir, l));
    }
    const tmp = `${this.manifestFile}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ v: 2, dirs, entries: manifest }));
    renameSync(tmp, this.manifestFile);
    rmSync(path.join(this.dir, OLD_MANIFEST), { force: true });
    this.dirty = false;
  }

  /**
   * After the switch: entries this publish did not want are kept while metadata kept in the
   * published tree may name them — `keepSeconds` after the first publish that dropped them
   * (remove_old_repodata_threshold; Infinity when old repodata is never removed) — then deleted.
   */
  prune(now: number, keepSeconds: number): { unlinked: number; kept: number; keptSha256: string[]; keptUntilMs: number } {
    let unlinked = 0;
    let kept = 0;
    const keptSha256: string[] = [];
    let keptUntilMs = 0;
    for (const rel of [...this.have.keys()]) {
      if (this.wanted.has(rel)) {
        if (this.gone.delete(rel)) this.dirty = true;
        continue;
      }
      const since = this.gone.get(rel) ?? now;
      if (now - since <= keepSeconds) {
        if (!this.gone.has(rel)) this.dirty = true;
        this.gone.set(rel, since);
        kept++;
        keptSha256.push(this.have.get(rel)!);
        keptUntilMs = Math.max(keptUntilMs, Number.isFinite(keepSeconds) ? (since + keepSeconds) * 1000 : Number.MAX_SAFE_INTEGER);
        continue;
      }
      rmSync(path.join(this.dir, ...rel.split('/')), { force: true });
      this.have.delete(rel);
      this.gone.delete(rel);
      this.dirty = true;
      unlinked++;
    }
    this.save();
    return { unlinked, kept, keptSha256, keptUntilMs };
  }
}

/** The sha256 a manifest entry holds (null for a malformed one). */
function entrySha(e: ManifestEntry | undefined): string | null {
  return typeof e === 'string' ? e : e && typeof e === 'object' && typeof e.s === 'string' ? e.s : null;
}

/** A directory's modification time (ns): changes whenever an entry is added, removed or renamed. */
function dirStamp(dir: string): string {
  return String(statSync(dir, { bigint: true }).mtimeNs);
}

/** Pools of other link modes (after a package_link change): removed once the new tree is live. */
export function removeOtherPools(base: string, mode: PackageLink): void {
  for (const name of existsSync(base) ? readdirSync(base) : []) {
    if (name.startsWith('packages-') && name !== `packages-${mode}` && name !== `packages-${mode}.json`) rmSync(path.join(base, name), { recursive: true, force: true });
  }
}

/**
 * A pool's manifest: `<pool>.json`, or inside the pool where an older version kept it (null: none).
 * Throws (with `file`) when it cannot be read or is not a JSON object.
 */
function readPoolManifest(dir: string): { file: string; entries: Record<string, ManifestEntry>; dirs: Record<string, string> } | null {
  const file = [`${dir}.json`, path.join(dir, OLD_MANIFEST)].find((f) => existsSync(f));
  if (!file) return null;
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
    if (raw.v === 2 && raw.entries && typeof raw.entries === 'object' && !Array.isArray(raw.entries)) {
      return { file, entries: raw.entries as Record<string, ManifestEntry>, dirs: raw.dirs && typeof raw.dirs === 'object' ? (raw.dirs as Record<string, string>) : {} };
    }
    return { file, entries: raw as Record<string, ManifestEntry>, dirs: {} }; // the first format: entries only
  } catch (e) {
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { file });
  }
}

/**
 * fsck of a pool (read-only): every entry its manifest records as named by the published
 * metadata, or by kept old metadata within `keepSeconds` (the files pinned for them: see prune),
 * is there and holds its package: a hard link or copy of the stored file's size, or a symlink
 * that resolves. An entry past that time is the next publish's to remove (its stored file may be
 * gone already). A missing entry is a 404 for dnf; the next publish of the repository puts it back.
 */
export function verifyPool(base: string, mode: PackageLink, keepSeconds: number, blobPath: (sha256: string) => string, nowMs = Date.now()): string[] {
  const dir = path.join(base, `packages-${mode}`);
  let entries: Record<string, ManifestEntry>;
  try {
    const read = readPoolManifest(dir);
    if (!read) return [];
    entries = read.entries;
  } catch (e) {
    return [`${(e as { file?: string }).file ?? dir}: the pool's manifest cannot be read (${(e as Error).message}); the next publish lists the pool again`];
  }
  const problems: string[] = [];
  for (const [rel, e] of Object.entries(entries)) {
    const sha = entrySha(e);
    if (!sha) continue;
    if (typeof e === 'object' && typeof e.g === 'number' && Number.isFinite(keepSeconds) && (e.g + keepSeconds) * 1000 <= nowMs) continue;
    const entry = path.join(dir, ...rel.split('/'));
    let st;
    try {
      st = lstatSync(entry);
    } catch {
      problems.push(`${entry} is missing (package sha256 ${sha})`);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (!existsSync(entry)) problems.push(`${entry} points to ${readlinkSync(entry)}, which does not exist`);
      continue;
    }
    let stored;
    try {
      stored = statSync(blobPath(sha));
    } catch {
      continue; // the stored file's absence is the store check's to say
    }
    if (!st.isFile()) problems.push(`${entry} is not a file`);
    else if (st.ino !== stored.ino && st.size !== stored.size) problems.push(`${entry} has ${st.size} bytes, the stored package (sha256 ${sha}) ${stored.size}`);
  }
  return problems;
}
