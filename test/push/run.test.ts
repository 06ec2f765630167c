import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runHooks } from '../../src/push/run.js';
import { PushLog } from '../../src/push/audit.js';
import { emptyCounts, type PushReport, type RepoReport } from '../../src/push/report.js';
import { tempDir } from '../helpers/cli.js';

function reportOf(id: string): PushReport {
  const repo: RepoReport = { id, type: 'file', origin: 'auto', created: false, destinations: [id], status: 'published', previous_version: 0, version: 1, counts: emptyCounts(), distributors: [], published_paths: [], urls: [], hooks: [] };
  return { report_version: 1, push_id: 'p', dry_run: false, mode: 'push', started: '', finished: null, sources: [], config_file: null, data_dir: '', publish_root: '', status: 'ok', exit_status: 0, items: [], repositories: [repo], problems: [], warnings: [], summary: { ...emptyCounts(), items: 0, repositories_published: 1, repositories_failed: 0, bytes_linked: 0, bytes_copied: 0 } } as unknown as PushReport;
}

test('runHooks: a hook spawn cannot even start (empty program, a NUL byte) is a failed hook, not a crash; the hooks after it still run', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'ran');
  const report = reportOf('r1');
  const log = new PushLog('p', null, null);
  // The configuration refuses these (CONFIG_INVALID); the runner must not crash whatever reaches it.
  await runHooks([[''], ['/bin/echo', 'a\0b'], 'echo a\0b', `echo "$REPO_ID" > ${out}`], 5, report, () => {}, log, new Set(), new Map());
  const hooks = report.repositories[0]!.hooks;
  assert.deepEqual(hooks.map((h) => h.ok), [false, false, false, true]);
  for (const h of hooks.slice(0, 3)) {
    assert.equal(h.exit_status, null);
    assert.match(h.reason ?? '', /^could not start: /);
  }
  assert.equal(readFileSync(out, 'utf8'), 'r1\n', 'the hook after them ran');
});
