/**
 * The Packages/ pool of a yum distributor: one directory, next to the distributor's versioned
 * trees (`<publish root>/.versions/<repo>/<key>/packages-<link mode>/<l>/<file>`), kept up to date
 * incrementally, that every published tree points at with a relative `Packages` symlink. A publish
 * only links the packages that are new and, after the switch, unlinks the ones no longer in the
 * repository: republishing 20,000 packages after adding 10 makes 10 links, not 20,000.
 *
 * `.pool.json` in the pool maps each entry to the sha256 it holds, so an entry whose name stays
 * but whose content changed (a re-signed package) is replaced.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyFileSync, linkSync } from 'node:fs';
import type { PackageLink } from './config.js';

const MANIFEST = '.pool.json';

export class PackagePool {
  readonly dir: string;
  private readonly have = new Map<string, string>();
  private readonly wanted = new Set<string>();
  private readonly madeDirs = new Set<string>();
  added = 0;
  replaced = 0;

  constructor(
    base: string,
    private readonly mode: PackageLink,
  ) {
    this.dir = path.join(base, `packages-${mode}`);
    mkdirSync(this.dir, { recursive: true });
    chmodSync(this.dir, 0o755);
    let manifest: Record<string, string> = {};
    try {
      manifest = JSON.parse(readFileSync(path.join(this.dir, MANIFEST), 'utf8')) as Record<string, string>;
    } catch {
      manifest = {};
    }
    // Trust the manifest only for entries that exist.
    for (const l of readdirSync(this.dir, { withFileTypes: true })) {
      if (!l.isDirectory()) continue;
      for (const f of readdirSync(path.join(this.dir, l.name))) {
        const rel = `${l.name}/${f}`;
        const sha = manifest[rel];
        if (sha) this.have.set(rel, sha);
        else unlinkSync(path.join(this.dir, l.name, f)); // unknown content: relinked below if wanted
      }
    }
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
    if (cur) this.replaced++;
    else this.added++;
    this.have.set(rel, sha);
  }

  /** Record the pool's content (call after the entries of a publish are in place). */
  save(): void {
    const manifest: Record<string, string> = {};
    for (const [k, v] of this.have) manifest[k] = v;
    const tmp = path.join(this.dir, `${MANIFEST}.tmp-${process.pid}`);
    writeFileSync(tmp, JSON.stringify(manifest));
    renameSync(tmp, path.join(this.dir, MANIFEST));
  }

  /** After the switch: drop the entries this publish did not want. Returns how many. */
  prune(): number {
    let n = 0;
    for (const rel of [...this.have.keys()]) {
      if (this.wanted.has(rel)) continue;
      rmSync(path.join(this.dir, ...rel.split('/')), { force: true });
      this.have.delete(rel);
      n++;
    }
    this.save();
    return n;
  }
}

/** Pools of other link modes (after a package_link change): removed once the new tree is live. */
export function removeOtherPools(base: string, mode: PackageLink): void {
  for (const name of existsSync(base) ? readdirSync(base) : []) {
    if (name.startsWith('packages-') && name !== `packages-${mode}`) rmSync(path.join(base, name), { recursive: true, force: true });
  }
}
