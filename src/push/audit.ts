/**
 * The audit trail for cron: each push keeps `<data-dir>/logs/<push id>/` with `push.log` (every
 * event, one line each), `report.json` (the final report) and `staged/<n>-<name>` (the staged.yaml
 * / staged.json / pub-mapfile.json each staging area used). `push list` / `push show ID` read them;
 * `log_retention_days` prunes them.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isPidAlive } from '../engine/store.js';
import { StagepushError } from '../errors.js';
import type { ProgressEvent } from '../events.js';
import type { PushReport } from './report.js';

export const METADATA_FILES = ['staged.yaml', 'staged.yml', 'staged.json', 'pub-mapfile.json'];

export function logsDir(dataDir: string): string {
  return path.join(dataDir, 'logs');
}

/** Sortable push id: 20261124T190501Z-<pid>-<4 hex>. */
export function newPushId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${ts}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export const PUSH_ID_RE = /^\d{8}T\d{6}Z-\d+-[0-9a-f]{4}$/;

export class PushLog {
  readonly dir: string | null;
  constructor(
    readonly id: string,
    dataDir: string | null,
    private readonly extraFile: string | null,
  ) {
    if (this.extraFile) {
      // --log-file: a file in an existing directory (no directories are made for it anywhere on
      // the system), appended to.
      const file = path.resolve(this.extraFile);
      const parent = path.dirname(file);
      let problem: string | null = null;
      try {
        if (!statSync(parent).isDirectory()) problem = `${parent} is not a directory`;
        else if (existsSync(file) && !statSync(file).isFile()) problem = `${file} is not a regular file`;
        else appendFileSync(file, '');
      } catch (e) {
        problem = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `the directory ${parent} does not exist` : (e as Error).message;
      }
      if (problem) throw new StagepushError('PUSH_LOG_FILE', `--log-file ${this.extraFile}: ${problem}`, { kind: 'usage', file, field: '--log-file' });
    }
    // The push's own directory once its options are known good: a refused --log-file leaves no record of a push that never ran.
    this.dir = dataDir ? path.join(logsDir(dataDir), id) : null;
    if (this.dir) {
      try {
        mkdirSync(this.dir, { recursive: true });
      } catch (e) {
        throw new StagepushError('ENGINE_DATA_DIR', `cannot create the push's log directory ${this.dir} in the data directory ${dataDir}: ${(e as Error).message}`, { kind: 'failed', file: dataDir ?? undefined });
      }
    }
  }

  /**
   * Record who runs the push (host, pid), since when and on what (`running.json`): until its
   * report is written, `push list` and `push show` tell a push still running from one that was
   * killed or lost its machine.
   */
  begin(started: string, sources: string[]): void {
    if (!this.dir) return;
    const f = path.join(this.dir, RUNNING_FILE);
    this.guarded(f, () => writeFileSync(f, JSON.stringify({ host: hostname(), pid: process.pid, started, sources }) + '\n'));
  }

  private pending: string[] = [];
  /**
   * The first write the audit trail could not make (a full disk, a --log-file that went away):
   * the push goes on (what it publishes matters more than its log) and its report says so.
   */
  failure: { file: string; message: string } | null = null;

  private guarded(file: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      this.failure ??= { file, message: `cannot write ${file}: ${(e as Error).message}` };
    }
  }

  /** Append a line; `batch` lines (per-unit events) are written in groups, with the next plain line at the latest. */
  line(text: string, batch = false): void {
    this.pending.push(`${new Date().toISOString()} ${text}\n`);
    if (!batch || this.pending.length >= 256) this.flush();
  }

  flush(): void {
    if (!this.pending.length) return;
    const text = this.pending.join('');
    this.pending = [];
    if (this.dir) {
      const f = path.join(this.dir, 'push.log');
      this.guarded(f, () => appendFileSync(f, text));
    }
    if (this.extraFile) {
      const f = this.extraFile;
      this.guarded(f, () => appendFileSync(f, text));
    }
  }

  event(e: ProgressEvent): void {
    if (e.type === 'phase-progress' || e.type === 'progress') return;
    // One upload per unit: grouped writes.
    const perUnit = (e.type === 'phase-start' || e.type === 'phase-end') && e.phase === 'upload';
    this.line(JSON.stringify(e), perUnit);
  }

  /** Copy the metadata file of each staging directory used. */
  keepMetadata(dirs: string[]): void {
    if (!this.dir) return;
    const out = path.join(this.dir, 'staged');
    dirs.forEach((d, i) => {
      for (const name of METADATA_FILES) {
        const f = path.join(d, name);
        if (existsSync(f)) {
          const kept = path.join(out, `${i}-${path.basename(d) || 'root'}-${name}`);
          this.guarded(kept, () => {
            mkdirSync(out, { recursive: true });
            copyFileSync(f, kept);
          });
          this.line(`staging area ${d}: metadata ${f} kept as staged/${i}-${path.basename(d) || 'root'}-${name}`);
          break;
        }
      }
    });
  }

  writeReport(report: PushReport): void {
    this.flush();
    if (this.failure && !report.warnings.some((w) => w.code === 'PUSH_LOG_UNWRITABLE')) {
      report.warnings.push({ code: 'PUSH_LOG_UNWRITABLE', message: `the push's audit trail is incomplete: ${this.failure.message}`, file: this.failure.file });
    }
    if (this.dir) {
      const f = path.join(this.dir, 'report.json');
      this.guarded(f, () => writeFileSync(f, JSON.stringify(report, null, 2) + '\n'));
    }
  }
}

/** Beside a push's log while it has no report: who runs it (see PushLog.begin). */
const RUNNING_FILE = 'running.json';

interface RunningRecord {
  host: string;
  pid: number;
  started: string;
  sources: string[];
}

/**
 * A push without a report: `running` while its process lives (on this host; one on another
 * host cannot be asked: `running on <host>?`), else `incomplete` (killed, its machine lost).
 */
function runningState(dataDir: string, id: string): { status: string; record: RunningRecord | null } {
  let record: RunningRecord | null = null;
  try {
    const o = JSON.parse(readFileSync(path.join(logsDir(dataDir), id, RUNNING_FILE), 'utf8')) as Partial<RunningRecord>;
    if (typeof o.host === 'string' && typeof o.pid === 'number' && typeof o.started === 'string' && Array.isArray(o.sources)) record = { host: o.host, pid: o.pid, started: o.started, sources: o.sources.map(String) };
  } catch {
    record = null;
  }
  if (!record) return { status: 'incomplete', record: null };
  if (record.host !== hostname()) return { status: `running on ${record.host}?`, record };
  return { status: isPidAlive(record.pid) ? 'running' : 'incomplete', record };
}

export interface PushSummaryRow {
  id: string;
  started: string | null;
  finished: string | null;
  /** The report's status; without one, `running` (its process lives) or `incomplete`. */
  status: string;
  exit_status: number | null;
  mode: string | null;
  sources: string[];
  items: number | null;
  pushed: number | null;
  repositories_published: number | null;
}

export function listPushes(dataDir: string): PushSummaryRow[] {
  const dir = logsDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => PUSH_ID_RE.test(n))
    .sort()
    .map((id) => {
      const r = readReport(dataDir, id);
      const run = r ? null : runningState(dataDir, id);
      return {
        id,
        started: r?.started ?? run?.record?.started ?? null,
        finished: r?.finished ?? null,
        status: r ? r.status : run!.status,
        exit_status: r ? r.exit_status : null,
        mode: r?.mode ?? null,
        sources: r?.sources ?? run?.record?.sources ?? [],
        items: r ? r.summary.items : null,
        pushed: r ? r.summary.pushed + r.summary.replaced : null,
        repositories_published: r ? r.summary.repositories_published : null,
      };
    });
}

function readReport(dataDir: string, id: string): PushReport | null {
  const f = path.join(logsDir(dataDir), id, 'report.json');
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as PushReport;
  } catch {
    return null;
  }
}

export function showPush(dataDir: string, id: string): { id: string; dir: string; report: PushReport | null; running: { status: string; host: string; pid: number; started: string; sources: string[] } | null; log: string; metadata: string[] } {
  const dir = path.join(logsDir(dataDir), id);
  if (!PUSH_ID_RE.test(id) || !existsSync(dir)) {
    const known = listPushes(dataDir).map((p) => p.id);
    throw new StagepushError('PUSH_NOT_FOUND', `no push ${id} in ${logsDir(dataDir)}`, {
      kind: 'invalid',
      file: dir,
      hint: known.length ? `latest: ${known.slice(-5).join(', ')}` : 'no push has been recorded yet',
    });
  }
  const logFile = path.join(dir, 'push.log');
  const staged = path.join(dir, 'staged');
  const report = readReport(dataDir, id);
  const run = report ? null : runningState(dataDir, id);
  return {
    id,
    dir,
    report,
    running: run?.record ? { status: run.status, ...run.record } : null,
    log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '',
    metadata: existsSync(staged) ? readdirSync(staged).sort().map((n) => path.join(staged, n)) : [],
  };
}

/**
 * Delete push logs older than `days` (0 = keep all). Returns the ids removed (or that would be, when
 * dry). Two pushes ending at once (two cron jobs), or a push and gc, prune the same logs: one
 * another removed after this one listed it is not there any more, which is what was wanted.
 */
export function pruneLogs(dataDir: string, days: number, now = Date.now(), opts: { dryRun?: boolean } = {}): string[] {
  if (!days) return [];
  const dir = logsDir(dataDir);
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const id of readdirSync(dir)) {
    if (!PUSH_ID_RE.test(id)) continue;
    const p = path.join(dir, id);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    const t = st.mtimeMs;
    if (now - t > days * 86400_000) {
      if (!opts.dryRun) rmSync(p, { recursive: true, force: true });
      removed.push(id);
    }
  }
  return removed;
}
