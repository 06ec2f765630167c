/**
 * The push report: one schema for the real push and for `--dry-run --json`. Per item: pushed,
 * unchanged, replaced, removed or failed (with reason); per repository: published, skipped or
 * failed, its new version, published paths and URLs.
 */
import type { Json } from '../engine/contract.js';
import type { Problem } from '../errors.js';
import type { ItemAction, PlanEntry } from './plan.js';

export const REPORT_VERSION = 1;

export type RepoStatus = 'published' | 'skipped' | 'failed';

export interface HookResult {
  command: string;
  exit_status: number | null;
  signal?: string | null;
  ok: boolean;
  /** Why a failed hook failed, in words ("exit 3", "not found (ENOENT)", "timed out after 600 s"). */
  reason?: string;
  output?: string;
}

export interface RepoReport {
  id: string;
  type: string;
  /** How the repository came to be: declared in the config, auto-created, or from a template. */
  origin: string;
  /** Created by this push. */
  created: boolean;
  destinations: string[];
  status: RepoStatus;
  /** Why it was skipped or failed. */
  reason?: string;
  /**
   * Why a repository none of the push's destinations feeds has a new version (or, dry run, would
   * have): the units it shares with the push's repositories that the push updated ("shares
   * advisory RHSA-2026:0001 updated by this push"). It is published with them.
   */
  shared_updates?: string[];
  /** What this push changed (or, dry run, would change) to bring a declared repository in line with the config. */
  config_changes?: string[];
  previous_version: number | null;
  version: number | null;
  counts: Record<ItemAction, number>;
  /** `report`: what the distributor's publish reported (its summary, as the engine records it), when it published. */
  distributors: Array<{ id: string; type_id: string; status: RepoStatus; published_paths: string[]; urls: string[]; report?: Json; error?: string }>;
  published_paths: string[];
  urls: string[];
  hooks: HookResult[];
}

export interface ItemReport extends PlanEntry {
  sha256?: string | null;
  /** How the content reached the store: linked (hard link), copied, or already stored. */
  stored?: 'linked' | 'copied' | 'existing';
}

export interface PushReport {
  report_version: typeof REPORT_VERSION;
  push_id: string | null;
  dry_run: boolean;
  mode: 'push' | 'dry-run' | 'pre-push' | 'skip-publish';
  started: string;
  finished: string | null;
  sources: string[];
  config_file: string | null;
  data_dir: string;
  publish_root: string;
  status: 'ok' | 'invalid' | 'policy' | 'locked' | 'failed' | 'interrupted';
  exit_status: number;
  items: ItemReport[];
  repositories: RepoReport[];
  problems: Problem[];
  warnings: Problem[];
  summary: Record<ItemAction, number> & { items: number; repositories_published: number; repositories_failed: number; bytes_linked: number; bytes_copied: number };
}

export function emptyCounts(): Record<ItemAction, number> {
  return { pushed: 0, unchanged: 0, replaced: 0, removed: 0, failed: 0 };
}

export function summarize(report: PushReport): void {
  const s = { ...emptyCounts(), items: report.items.length, repositories_published: 0, repositories_failed: 0, bytes_linked: report.summary.bytes_linked, bytes_copied: report.summary.bytes_copied };
  for (const i of report.items) s[i.action]++;
  for (const r of report.repositories) {
    if (r.status === 'published') s.repositories_published++;
    if (r.status === 'failed') s.repositories_failed++;
    r.counts = emptyCounts();
  }
  const byId = new Map(report.repositories.map((r) => [r.id, r]));
  for (const i of report.items) {
    const r = byId.get(i.repository);
    if (r) r.counts[i.action]++;
  }
  report.summary = s;
}

/** Human rendering (stdout): per repository a line, then problems. */
export function renderText(report: PushReport): string {
  const lines: string[] = [];
  const verb = report.dry_run ? 'would be ' : '';
  for (const r of report.repositories) {
    const c = r.counts;
    const ver = r.version !== null && r.version !== r.previous_version ? `version ${r.previous_version ?? 0} -> ${r.version}` : `version ${r.version ?? r.previous_version ?? 0}`;
    lines.push(
      `${r.id} (${r.type}${r.created ? ', new' : ''}): ${r.status === 'published' ? `${verb}published` : r.status}${r.reason ? ` (${r.reason})` : ''}, ${ver}; ` +
        `${c.pushed} pushed, ${c.replaced} replaced, ${c.removed} removed, ${c.unchanged} unchanged${c.failed ? `, ${c.failed} failed` : ''}`,
    );
    for (const why of r.shared_updates ?? []) lines.push(`  ${why}`);
    for (const ch of r.config_changes ?? []) lines.push(`  ${report.dry_run ? 'would reconfigure' : 'reconfigured'}: ${ch}`);
    for (const p of r.published_paths) lines.push(`  published: ${p}`);
    for (const u of r.urls) lines.push(`  url: ${u}`);
    for (const h of r.hooks) if (!h.ok) lines.push(`  hook failed (${h.reason ?? `exit ${h.exit_status ?? h.signal}`}): ${h.command}`);
  }
  if (report.dry_run) {
    for (const i of report.items) if (i.action !== 'unchanged') lines.push(`  ${i.action.padEnd(9)} ${i.repository} ${i.unit}${i.reason ? ` (${i.reason})` : ''}`);
  } else {
    for (const i of report.items) if (i.action === 'failed') lines.push(`  failed ${i.repository} ${i.unit}: ${i.reason ?? ''}`);
  }
  const s = report.summary;
  lines.push(
    `${report.dry_run ? 'dry run: ' : ''}${s.items} item(s): ${s.pushed} pushed, ${s.replaced} replaced, ${s.removed} removed, ${s.unchanged} unchanged, ${s.failed} failed; ` +
      `${s.repositories_published} repositor${s.repositories_published === 1 ? 'y' : 'ies'} ${verb}published${report.push_id ? ` [push ${report.push_id}]` : ''}`,
  );
  return lines.join('\n');
}
