/**
 * File bind handler (distributor type iso_distributor). A file repository needs no client
 * configuration beyond knowing it is bound: bind records the distributor's consumer payload in
 * `<root>/<bindings_dir>/<repo_id>.json` (default /etc/stagepush/file-repos), where the file
 * content handler and operators can see it; unbind removes that file, clean every such file in
 * the directory. Only the binding files are removed, never the directory: bindings_dir may name a
 * directory the root holds anyway (/var, /etc), whose other files are not the handler's.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertInsideRoot } from './inside.js';
import { BindHandler, settingChecks, type Binding, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { BindReport, CleanReport } from '../reports.js';
import { StagepushError } from '../../errors.js';

const SAFE = /[^A-Za-z0-9._-]/g;

/**
 * `file` is a binding file as bind writes it (for `repoId` when given): a regular file named after
 * its repository holding the JSON object bind writes. A file of that name that is not one (the
 * directory's own files when bindings_dir names /etc or /var) is not the handler's to remove.
 */
function isBindingFile(file: string, repoId?: string): boolean {
  if (!lstatSync(file, { throwIfNoEntry: false })?.isFile()) return false;
  let o: unknown;
  try {
    o = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return false;
  const b = o as Record<string, unknown>;
  if (typeof b.repoId !== 'string' || typeof b.distributorId !== 'string' || typeof b.typeId !== 'string' || !('payload' in b)) return false;
  if (repoId !== undefined && b.repoId !== repoId) return false;
  return path.basename(file) === `${b.repoId.replace(SAFE, '_')}.json`;
}

export class FileBindHandler extends BindHandler {
  static override readonly settings = { bindings_dir: settingChecks.dirBelowRoot };

  dir(conduit: HandlerConduit): string {
    const rel = this.config.bindings_dir ?? '/etc/stagepush/file-repos';
    // Checked when the descriptor loaded; a configuration given otherwise (a subclass, a caller
    // making the handler) must not make clean remove the whole consumer root.
    const wrong = settingChecks.dirBelowRoot(rel);
    if (wrong) throw new StagepushError('AGENT_HANDLER_BAD_SETTING', `bindings_dir: ${wrong}`, { field: 'bindings_dir' });
    const dir = path.join(conduit.root, rel);
    assertInsideRoot(conduit.root, dir, 'bindings_dir');
    return dir;
  }

  bind(conduit: HandlerConduit, binding: Binding, _options: HandlerOptions): BindReport {
    const dir = this.dir(conduit);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${binding.repoId.replace(SAFE, '_')}.json`);
    const text = JSON.stringify({ repoId: binding.repoId, distributorId: binding.distributorId, typeId: binding.typeId, payload: binding.details }, null, 2) + '\n';
    // Bound already, exactly so: nothing is written (a re-bind is not a change).
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return new BindReport().setSucceeded({ repoId: binding.repoId, file }, 0);
    // A file of that name bind did not write for this repository (the directory's own file when
    // bindings_dir names /etc or /var; the binding of another repository whose id makes the same
    // file name) is not the handler's to replace.
    if (lstatSync(file, { throwIfNoEntry: false }) && !isBindingFile(file, binding.repoId)) {
      throw new StagepushError('AGENT_BIND_FILE_TAKEN', `${file} exists and is not the binding file of ${binding.repoId} (bindings_dir ${this.config.bindings_dir ?? '/etc/stagepush/file-repos'}): left as it is`, {
        kind: 'failed',
        file,
        field: 'bindings_dir',
        hint: 'move that file away, or give the handler another bindings_dir',
      });
    }
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
    return new BindReport().setSucceeded({ repoId: binding.repoId, file }, 1);
  }

  unbind(conduit: HandlerConduit, repoId: string, _options: HandlerOptions): BindReport {
    const file = path.join(this.dir(conduit), `${repoId.replace(SAFE, '_')}.json`);
    const existed = isBindingFile(file, repoId);
    if (existed) rmSync(file, { force: true });
    return new BindReport().setSucceeded({ repoId, file, removed: existed }, existed ? 1 : 0);
  }

  clean(conduit: HandlerConduit, _options: HandlerOptions): CleanReport {
    // A root that is gone holds nothing to clean (the consumer can still be unregistered).
    if (!existsSync(conduit.root)) return new CleanReport().setSucceeded({ removed: [], root_missing: conduit.root }, 0);
    const dir = this.dir(conduit);
    // The binding files alone: the directory is left (it may hold other files, see above).
    const files = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json') && isBindingFile(path.join(dir, n))) : [];
    for (const n of files) rmSync(path.join(dir, n), { force: true });
    return new CleanReport().setSucceeded({ dir, removed: files }, files.length);
  }
}
