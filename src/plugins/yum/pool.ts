/**
 * The Packages/ pool of a yum distributor: one directory, next to the distributor's versioned
 * trees (`<publish root>/.versions/<repo>/<key>/packages-<link mode>/<l>/<file>`), kept up to date
 * incrementally, that every published tree points at with a relative `Packages` symlink. A publish
 * only links the packages that are new and, after the switch, unlinks the ones no longer in the
 * repository: republishing 20,000 packages after adding 10 makes 10 links, not 20,000.
 *
 * `.pool.json` in the pool maps each entry to the sha256 it holds, so an entry whose name stays
 * but whose content changed (a re-signed package) is replaced, and, for an entry the current
 * metadata no longer names, since when (the publish that dropped it): the old repomd.xml files
 * kept in the published tree still name it, so it stays as long as they are kept
 * (remove_old_repodata_threshold) — a client holding an old repomd.xml never gets a 404.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyFileSync, linkSync } from 'node:fs';
import type { PackageLink } from './config.js';

const MANIFEST = '.pool.json';

/** A manifest entry: the sha256, and when no longer named by the current metadata (seconds). */
type ManifestEntry = string | { s: string; g: number };

export class PackagePool {
  readonly dir: string;
  private readonly have = new Map<string, string>();
  /** Entries the latest published metadata no longer names: since when (seconds since the epoch). */
  private readonly gone = new Map<string, number>();
  private readonly wanted = new Set<string>();
  private readonly madeDirs = new Set<string>();
  added = 0;
  replaced = 0;
  /** The manifest on disk is out of date. */
  private dirty = false;

  constructor(
    base: string,
    private readonly mode: PackageLink,
  ) {
    this.dir = path.join(base, `packages-${mode}`);
    mkdirSync(this.dir, { recursive: true });
    chmodSync(this.dir, 0o755);
    let manifest: Record<string, ManifestEntry> = {};
    try {
      manifest = JSON.parse(readFileSync(path.join(this.dir, MANIFEST), 'utf8')) as Record<string, ManifestEntry>;
    } catch {
      manifest = {};
    }
    // Trust the manifest only for entries that exist.
    for (const l of readdirSync(this.dir, { withFileTypes: true })) {
      if (!l.isDirectory()) continue;
      for (const f of readdirSync(path.join(this.dir, l.name))) {
        const rel = `${l.name}/${f}`;
        const e = manifest[rel];
        const sha = typeof e === 'string' ? e : e && typeof e === 'object' && typeof e.s === 'string' ? e.s : null;
        if (sha) {
          this.have.set(rel, sha);
          if (typeof e === 'object' && typeof e.g === 'number') this.gone.set(rel, e.g);
        } else {
          unlinkSync(path.join(this.dir, l.name, f)); // unknown content: relinked below if wanted
          this.dirty = true;
        }
      }
    }
    if (Object.keys(manifest).length !== this.have.size) this.dirty = true; // entries gone from disk
  }

  /** Make `rel` ("l/file") hold the stored file `storagePath` (sha256 `sha`; a function is only called when the entry must be made). */
  ensure(rel: string, storagePath: string | (() => string), sha: string): void {
    this.wanted.add(rel);
    const cur = this.have.get(rel);
    if (cur === sha) return;
    if (typeof storagePath === 'function') storagePath = storagePath();
    const dest = path.join(this.dir, ...rel.split('/'));
    const letter = rel.slice(0, rel.indexOf('/'));
    if (!this.madeDirs.has(letter)) {
      mkdirSync(path.join(this.dir, letter), { recursive: true });
      chmodSync(path.join(this.dir, letter), 0o755);
      this.madeDirs.add(letter);
    }
    const tmp = `${dest}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    if (this.mode === 'symlink') symlinkSync(storagePath, tmp);
    else if (this.mode === 'hardlink') {
      try {
        linkSync(storagePath, tmp);
      } catch {
        copyFileSync(storagePath, tmp);
        chmodSync(tmp, 0o644);
      }
    } else {
      copyFileSync(storagePath, tmp);
      chmodSync(tmp, 0o644);
    }
    renameSync(tmp, dest);
    this.gone.delete(rel);
    this.dirty = true;
    if (cur) this.replaced++;
    else this.added++;
    this.have.set(rel, sha);
  }

  /** Record the pool's content (call after the entries of a publish are in place). */
  save(): void {
    if (!this.dirty) return;
    const manifest: Record<string, ManifestEntry> = {};
    for (const [k, v] of this.have) {
      const g = this.gone.get(k);
      manifest[k] = g === undefined ? v : { s: v, g };
    }
    const tmp = path.join(this.dir, `${MANIFEST}.tmp-${process.pid}`);
    writeFileSync(tmp, JSON.stringify(manifest));
    renameSync(tmp, path.join(this.dir, MANIFEST));
    this.dirty = false;
  }

  /**
   * After the switch: entries this publish did not want are kept while metadata kept in the
   * published tree may name them — `keepSeconds` after the first publish that dropped them
   * (remove_old_repodata_threshold; Infinity when old repodata is never removed) — then deleted.
   */
  prune(now: number, keepSeconds: number): { unlinked: number; kept: number } {
    let unlinked = 0;
    let kept = 0;
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
        continue;
      }
      rmSync(path.join(this.dir, ...rel.split('/')), { force: true });
      this.have.delete(rel);
      this.gone.delete(rel);
      this.dirty = true;
      unlinked++;
    }
    this.save();
    return { unlinked, kept };
  }
}

/** Pools of other link modes (after a package_link change): removed once the new tree is live. */
export function removeOtherPools(base: string, mode: PackageLink): void {
  for (const name of existsSync(base) ? readdirSync(base) : []) {
    if (name.startsWith('packages-') && name !== `packages-${mode}`) rmSync(path.join(base, name), { recursive: true, force: true });
  }
}
