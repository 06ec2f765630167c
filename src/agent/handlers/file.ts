/**
 * File content handler (content type iso, and any file-like type it is configured for).
 * Installs file units from the consumer's bound repositories into a target directory:
 *   target_dir  (configuration or option; relative to the consumer root; default
 *               /var/lib/stagepush/files)
 * A unit is looked up by name in the repository given by the `repo` option, else in each bound
 * repository in bind order; its stored file is copied
 * to `<root>/<target_dir>/<name>` through a temporary file whose sha256 must equal the unit's
 * checksum (else nothing is installed and the report fails). update replaces files whose
 * checksum changed (every installed file when no unit is given); uninstall removes the files;
 * the profile lists the files in the target directory with their sha256 and size.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import path from 'node:path';
import { assertInsideRoot } from './inside.js';
import { ContentHandler, settingChecks, type ContentUnitSpec, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { ContentReport, ProfileReport } from '../reports.js';
import type { UnitFile } from '../engine-api.js';

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

function checkName(name: string): string {
  const n = path.posix.normalize(name);
  if (!name || path.posix.isAbsolute(name) || n.startsWith('..') || n.split('/').includes('..') || name.includes('\0')) {
    throw new Error(`file unit name "${name}" must be a relative path inside the target directory`);
  }
  return n;
}

function expectedSha(u: UnitFile): string | null {
  const c = u.sha256 ?? (typeof u.unitKey.checksum === 'string' ? u.unitKey.checksum : null);
  return c ? c.toLowerCase() : null;
}

export class FileHandler extends ContentHandler {
  static override readonly settings = { target_dir: settingChecks.underRoot, repo: settingChecks.any };

  /** `<root>/<target_dir>`; a target_dir that leads out of the consumer root is refused. */
  targetDir(conduit: HandlerConduit, options: HandlerOptions): string {
    const rel = this.setting(options, 'target_dir', '/var/lib/stagepush/files')!;
    const dir = path.join(conduit.root, rel);
    const inside = path.relative(conduit.root, dir);
    if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside) || rel.includes('\0')) {
      throw new Error(`target_dir "${rel}" leads out of the consumer root ${conduit.root}`);
    }
    assertInsideRoot(conduit.root, dir, 'target_dir');
    return dir;
  }

  /** The unit named `name` in the consumer's bound repositories (first binding first). */
  private find(conduit: HandlerConduit, name: string, options: HandlerOptions): UnitFile | null {
    const repo = this.setting(options, 'repo');
    const repos = repo ? [repo] : conduit.bindings().map((b) => b.repoId);
    for (const repoId of repos) {
      let found: UnitFile[];
      try {
        found = conduit.engine.findUnits(repoId, this.typeId, { name });
      } catch (e) {
        // A binding left to a repository deleted since: it holds nothing (the unit is reported missing).
        if ((e as { code?: unknown }).code === 'ENGINE_REPO_NOT_FOUND') continue;
        throw e;
      }
      const withFile = found.find((u) => u.storagePath);
      if (withFile) return withFile;
    }
    return null;
  }

  private async put(conduit: HandlerConduit, target: string, name: string, unit: UnitFile): Promise<'installed' | 'unchanged'> {
    const dest = path.join(target, name);
    assertInsideRoot(conduit.root, dest, 'the file');
    const want = expectedSha(unit);
    if (!want) throw new Error(`${name}: the unit in ${unit.repoId} has no sha256 to verify against`);
    if (existsSync(dest) && (await sha256Of(dest)) === want) return 'unchanged';
    mkdirSync(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.stagepush-tmp-${process.pid}`;
    const h = createHash('sha256');
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(unit.storagePath!), hasher, createWriteStream(tmp, { mode: 0o644 }), { signal: conduit.signal });
      const got = h.digest('hex');
      if (got !== want) throw new Error(`${name}: sha256 mismatch: the unit says ${want}, the file copied from ${unit.storagePath} has ${got}`);
      renameSync(tmp, dest);
    } finally {
      rmSync(tmp, { force: true });
    }
    return 'installed';
  }

  private async installAll(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    const target = this.targetDir(conduit, options);
    const installed: string[] = [];
    const unchanged: string[] = [];
    const missing: string[] = [];
    const failed: Array<{ name: string; message: string }> = [];
    let done = 0;
    for (const u of units) {
      const name = checkName(u.name ?? '');
      const unit = this.find(conduit, name, options);
      if (!unit) missing.push(name);
      else {
        try {
          const r = await this.put(conduit, target, name, unit);
          (r === 'installed' ? installed : unchanged).push(name);
        } catch (err) {
          failed.push({ name, message: (err as Error).message });
        }
      }
      conduit.progress.report({ step: 'install', done: ++done, total: units.length });
    }
    const details = { targetDir: target, installed, unchanged, missing, failed };
    const report = new ContentReport();
    if (missing.length || failed.length) {
      const msg = [missing.length ? `not found in ${this.setting(options, 'repo') ?? 'the bound repositories'}: ${missing.join(', ')}` : '', ...failed.map((f) => f.message)].filter(Boolean).join('; ');
      report.setFailed({ ...details, message: msg });
      report.numChanges = installed.length;
      return report;
    }
    return report.setSucceeded(details, installed.length);
  }

  install(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    if (!units.length) throw new Error('install: no file given');
    return this.installAll(conduit, units, options);
  }

  update(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    const list = units.length ? units : this.installedNames(this.targetDir(conduit, options)).map((name) => ({ name }));
    return this.installAll(conduit, list, options);
  }

  uninstall(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): ContentReport {
    const target = this.targetDir(conduit, options);
    const removed: string[] = [];
    const absent: string[] = [];
    for (const u of units) {
      const name = checkName(u.name ?? '');
      const f = path.join(target, name);
      assertInsideRoot(conduit.root, f, 'the file');
      if (existsSync(f)) {
        rmSync(f, { force: true });
        removed.push(name);
      } else absent.push(name);
    }
    return new ContentReport().setSucceeded({ targetDir: target, removed, absent }, removed.length);
  }

  /** The files installed under `dir`: regular files, in real directories (a symlink, which install never makes, is not followed). */
  private installedNames(dir: string, prefix = ''): string[] {
    if (!existsSync(dir)) return [];
    const out: string[] = [];
    for (const n of readdirSync(dir).sort()) {
      const st = lstatSync(path.join(dir, n));
      if (st.isDirectory()) out.push(...this.installedNames(path.join(dir, n), `${prefix}${n}/`));
      else if (st.isFile() && !n.includes('.stagepush-tmp-')) out.push(`${prefix}${n}`);
    }
    return out;
  }

  async profile(conduit: HandlerConduit, options: HandlerOptions): Promise<ProfileReport> {
    const target = this.targetDir(conduit, options);
    const files = [];
    for (const name of this.installedNames(target)) {
      const p = path.join(target, name);
      files.push({ name, sha256: await sha256Of(p), size: statSync(p).size });
    }
    return new ProfileReport().setSucceeded({ targetDir: target, files, count: files.length }, 0);
  }
}
