import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync, copyFileSync, rmSync, mkdirSync, linkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, runCli, spawnCli, tempDir } from '../helpers/cli.js';

const require_ = createRequire(import.meta.url);
import { buildFullArea, erratumYaml, keyIds, push, RPMS, sha256, writeConfig, writeStagedYaml } from '../helpers/push.js';
import { AMI_ATTRS } from '../helpers/staged.js';
import { DNF_LEAVE_HOST } from '../helpers/yum.js';

function dnf(repoDir: string, args: string[]): string {
  const root = tempDir('stagepush-dnf-');
  const r = spawnSync(
    'dnf',
    [
      '-q',
      '-y',
      ...DNF_LEAVE_HOST,
      `--installroot=${path.join(root, 'root')}`,
      `--setopt=cachedir=${path.join(root, 'cache')}`,
      `--setopt=reposdir=${path.join(root, 'repos.d')}`,
      '--setopt=gpgcheck=0',
      `--repofrompath=t,file://${repoDir}`,
      '--disablerepo=*',
      '--enablerepo=t',
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, `dnf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Processes whose command line (arguments joined by spaces) holds `text`, read from /proc (no procps needed). */
function processesRunning(text: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function walk(dir: string, base = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, base, out);
    else out[path.relative(base, p)] = sha256(readFileSync(p));
  }
  return out;
}

test('a staging area with every item type pushes, dnf reads it, a second push is a no-op', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));

  const r = push(['--json', area.root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.status, 'ok');
  assert.deepEqual(rep.repositories.map((x: { id: string; type: string; status: string }) => `${x.id}:${x.type}:${x.status}`), ['docs:directory:published', 'el9:yum:published', 'files:file:published']);
  assert.ok(rep.items.every((i: { action: string }) => i.action === 'pushed'), JSON.stringify(rep.items.filter((i: { action: string }) => i.action !== 'pushed')));
  assert.ok(rep.items.some((i: { stored?: string }) => i.stored === 'linked' || i.stored === 'copied'));
  // A RAW tree stored for the first time says how, and counts its bytes.
  const raw = rep.items.find((i: { type: string }) => i.type === 'directory');
  assert.ok(raw && (raw.stored === 'linked' || raw.stored === 'copied'), JSON.stringify(raw));

  const pub = path.join(dataDir, 'published', 'http');
  const el9 = path.join(pub, 'el9');
  // dnf: packages, advisories, groups, modules.
  const nevras = dnf(el9, ['repoquery', '--showduplicates', '--disable-modular-filtering', '--qf', '%{name}-%{version}-%{release}.%{arch}']).split('\n').filter(Boolean).sort();
  assert.deepEqual(nevras, ['demo-hello-1.0-1.noarch', 'demo-hello-1.0-1.src', 'demo-hello-1.1-1.noarch', 'demo-tools-2.0-1.noarch']);
  assert.match(dnf(el9, ['repoquery', '--advisory=DEMO-2026:0001', '--disable-modular-filtering']), /demo-hello-0:1.1-1.noarch/);
  assert.match(dnf(el9, ['repoquery', '--security', '--disable-modular-filtering']), /demo-hello-0:1.1-1.noarch/);
  assert.match(dnf(el9, ['group', 'list', '--hidden']), /Demo tools/);
  assert.match(dnf(el9, ['module', 'list']), /demo\s+1/);
  // RAW tree next to repodata.
  assert.equal(readFileSync(path.join(el9, '.treeinfo'), 'utf8'), readFileSync(path.join(area.root, 'el9', 'RAW', '.treeinfo'), 'utf8'));
  // File repository: PULP_MANIFEST with sha256 and size.
  const manifest = readFileSync(path.join(pub, 'files', 'PULP_MANIFEST'), 'utf8').trim().split('\n').sort();
  const expected = Object.entries(area.files).map(([n, b]) => `${n},${sha256(b)},${b.length}`).sort();
  assert.deepEqual(manifest, expected);
  // RAW-only repository: byte for byte.
  assert.deepEqual(walk(path.join(pub, 'docs')), walk(path.join(area.root, 'docs', 'RAW')));

  // Second push: nothing changes.
  const linkBefore = readlinkSync(el9);
  const repomd = path.join(el9, 'repodata', 'repomd.xml');
  const mtimeBefore = statSync(repomd).mtimeMs;
  const again = push(['--json', area.root], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  const rep2 = JSON.parse(again.stdout);
  assert.ok(rep2.items.every((i: { action: string }) => i.action === 'unchanged'), JSON.stringify(rep2.items.filter((i: { action: string }) => i.action !== 'unchanged')));
  assert.ok(rep2.repositories.every((x: { status: string; version: number; previous_version: number }) => x.status === 'skipped' && x.version === x.previous_version));
  assert.equal(readlinkSync(el9), linkBefore);
  assert.equal(statSync(repomd).mtimeMs, mtimeBefore);

  // Audit trail: push list / show, staged.yaml kept.
  const list = push(['list', '--json'], { dataDir, config });
  assert.equal(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].id, rep.push_id);
  const show = push(['show', rep.push_id, '--json'], { dataDir, config });
  const shown = JSON.parse(show.stdout);
  assert.equal(shown.report.push_id, rep.push_id);
  assert.equal(readFileSync(shown.metadata[0], 'utf8'), readFileSync(path.join(area.root, 'staged.yaml'), 'utf8'));
  assert.match(shown.log, /push ended: ok/);
});

test('--dry-run --json on a changed area lists exactly what the real push then reports; nothing changes', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'repositories:\n  files:\n    type: file\n    push_mode: mirror\n');
  const area = buildFullArea(path.join(work, 'area'));
  assert.equal(push(['-q', area.root], { dataDir, config }).status, 0);

  // Change: a new RPM, a file removed (mirror), a file changed, the advisory moved forward.
  copyFileSync(path.join(RPMS, 'demo-other-1.0-1.noarch.rpm'), path.join(area.root, 'el9', 'RPMS', 'demo-other-1.0-1.noarch.rpm'));
  rmSync(path.join(area.root, 'files', 'FILES', 'data.bin'));
  writeFileSync(path.join(area.root, 'files', 'FILES', 'readme.txt'), 'read me, version 2\n');
  writeStagedYaml(area.root, { 'readme.txt': Buffer.from('read me, version 2\n') });
  writeFileSync(path.join(area.root, 'el9', 'ERRATA', 'DEMO-1.yaml'), erratumYaml('DEMO-2026:0001', { updated: '2026-02-01 00:00:00', title: 'updated title' }));
  writeFileSync(config, `allowed_signing_keys: [${keyIds().A}, ${keyIds().B}]\nrepositories:\n  files:\n    type: file\n    push_mode: mirror\n`);

  const dbBefore = readFileSync(path.join(dataDir, 'engine.db'));
  const cacheBefore = readFileSync(path.join(dataDir, 'push.sqlite'));
  const filesBefore = readdirSync(dataDir).sort();
  const dry = push(['--dry-run', '--json', area.root], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.equal(plan.dry_run, true);
  assert.deepEqual(readFileSync(path.join(dataDir, 'engine.db')), dbBefore);
  assert.deepEqual(readFileSync(path.join(dataDir, 'push.sqlite')), cacheBefore);
  assert.deepEqual(readdirSync(dataDir).sort(), filesBefore, 'no file left behind (a WAL database opened read-only leaves its -wal and -shm)');

  const real = push(['--json', area.root], { dataDir, config });
  assert.equal(real.status, 0, real.stderr);
  const done = JSON.parse(real.stdout);
  const set = (rep: { items: Array<{ repository: string; unit: string; action: string }> }) => rep.items.map((i) => `${i.repository} ${i.unit} ${i.action}`).sort();
  assert.deepEqual(set(plan), set(done));
  const actions = set(done).filter((s) => !s.endsWith('unchanged'));
  assert.deepEqual(actions, [
    'el9 erratum:DEMO-2026:0001 replaced',
    'el9 rpm:demo-other-0:1.0-1.noarch pushed',
    'files iso:data.bin removed',
    'files iso:readme.txt replaced',
  ]);
  assert.deepEqual(
    plan.repositories.map((r: { id: string; status: string }) => `${r.id}:${r.status}`),
    done.repositories.map((r: { id: string; status: string }) => `${r.id}:${r.status}`),
  );

  // What the report says happened did happen: the removed and replaced units are gone from the
  // repository and its published manifest, and the next push finds nothing to do.
  const units = (repo: string) => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', repo, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ typeId: string; unitKey: { name?: string; id?: string; checksum?: string } }>).map((u) => `${u.typeId}:${u.unitKey.name ?? u.unitKey.id}`).sort();
  };
  assert.deepEqual(units('files'), ['iso:readme.txt']);
  assert.equal(units('el9').filter((u) => u === 'erratum:DEMO-2026:0001').length, 1);
  const manifest = readFileSync(path.join(dataDir, 'published', 'http', 'files', 'PULP_MANIFEST'), 'utf8');
  assert.doesNotMatch(manifest, /data\.bin/);
  assert.match(manifest, new RegExp(`readme\\.txt,${sha256(Buffer.from('read me, version 2\n'))},`));
  const again = push(['--json', area.root], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  const rep3 = JSON.parse(again.stdout);
  assert.deepEqual(rep3.items.filter((i: { action: string }) => i.action !== 'unchanged'), [], 'a second push is a no-op');
  assert.ok(rep3.repositories.every((r: { status: string }) => r.status === 'skipped'), JSON.stringify(rep3.repositories));
});

test('one bad item among many changes nothing and lists every problem with its file', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));
  writeFileSync(path.join(area.root, 'el9', 'RPMS', 'corrupt-1.0-1.noarch.rpm'), Buffer.alloc(500, 3));
  writeStagedYaml(area.root, area.files, { 'data.bin': 'a'.repeat(64) });
  writeFileSync(path.join(area.root, 'el9', 'ERRATA', 'BAD.yaml'), 'id: BAD-1\ntype: NOTATYPE\n');
  // Problems only the importers' readers see are listed in the same run, beside the loader's.
  writeFileSync(path.join(area.root, 'el9', 'ERRATA', 'DATE.yaml'), erratumYaml('DEMO-2026:0005').replace(/issued: .*/, 'issued: "not a date"'));
  mkdirSync(path.join(area.root, 'el9', 'COMPS'), { recursive: true });
  writeFileSync(path.join(area.root, 'el9', 'COMPS', 'unclosed.xml'), '<comps><group><id>x</id>\n');
  mkdirSync(path.join(area.root, 'el9', 'MODULEMD'), { recursive: true });
  writeFileSync(path.join(area.root, 'el9', 'MODULEMD', 'list.yaml'), '---\ndocument: modulemd\nversion: 2\ndata:\n  name: m\n  stream: [1]\n  version: 1\n...\n');
  const r = push(['--json', area.root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout);
  const files = rep.problems.map((p: { file?: string }) => path.basename(p.file ?? ''));
  for (const f of ['corrupt-1.0-1.noarch.rpm', 'staged.yaml', 'BAD.yaml', 'DATE.yaml', 'unclosed.xml', 'list.yaml']) assert.ok(files.includes(f), `${f}: ${JSON.stringify(rep.problems)}`);
  const of = (f: string) => rep.problems.find((p: { file?: string }) => path.basename(p.file ?? '') === f) as { code: string; field?: string; message: string };
  assert.equal(of('DATE.yaml').field, 'issued');
  assert.match(of('unclosed.xml').message, /the document ends with 2 element\(s\) not closed: <comps> <group>/);
  assert.match(of('list.yaml').message, /data\.stream must be a scalar, not a list/);
  // The dry run lists the same problems.
  const dry = push(['--dry-run', '--json', area.root], { dataDir, config });
  assert.equal(dry.status, 3, dry.stderr);
  const key = (l: Array<{ code: string; file?: string; field?: string }>) => l.map((p) => `${p.code} ${p.file} ${p.field}`).sort();
  assert.deepEqual(key(JSON.parse(dry.stdout).problems), key(rep.problems));
  assert.equal(existsSync(path.join(dataDir, 'published')), false);
  assert.match(r.stderr, /corrupt-1\.0-1\.noarch\.rpm/);
});

test('signing gate: unsigned and not-allowed keys are refused (exit 4) listing each file with its key', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'RPMS'), { recursive: true });
  for (const f of ['demo-hello-1.0-1.noarch.rpm', 'demo-unsigned-1.0-1.noarch.rpm', 'demo-other-1.0-1.noarch.rpm']) copyFileSync(path.join(RPMS, f), path.join(root, 'el9', 'RPMS', f));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 4, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.deepEqual(rep.problems.map((p: { code: string; file: string }) => `${p.code} ${path.basename(p.file)}`).sort(), ['PUSH_KEY_NOT_ALLOWED demo-other-1.0-1.noarch.rpm', 'PUSH_UNSIGNED demo-unsigned-1.0-1.noarch.rpm']);
  assert.match(r.stderr, /signed with key [0-9A-F]{8}/);
});

test('errata: an advisory staged again with its dates written otherwise (the same instants, as the publish writes them) is unchanged, with or without --bump-errata; another instant is still a change', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'ERRATA'), { recursive: true });
  const f = path.join(root, 'el9', 'ERRATA', 'E.yaml');
  const text = erratumYaml('DEMO-2026:0003', { updated: '2026-01-15 00:00:00' }).replace(/^issued: .*$/m, 'issued: "2026-01-14 12:00:00"');
  writeFileSync(f, text);
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  const stored = () => (JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'el9', '--json']).stdout) as Array<{ metadata: { version: string; updated: string } }>)[0]!.metadata;
  // ISO 8601 with Z, and with an offset: both published as the stored dates.
  for (const [issued, updated] of [['2026-01-14T12:00:00Z', '2026-01-15T00:00:00Z'], ['2026-01-14T13:00:00+01:00', '2026-01-15T01:00:00+01:00']]) {
    writeFileSync(f, text.replace(/^issued: .*$/m, `issued: "${issued}"`).replace(/^updated: .*$/m, `updated: "${updated}"`));
    for (const args of [['--json', root], ['--json', '--bump-errata', root]]) {
      const r = push(args, { dataDir, config });
      assert.equal(r.status, 0, `${args.join(' ')} ${updated}: ${r.stdout}${r.stderr}`);
      const rep = JSON.parse(r.stdout) as { items: Array<{ action: string }>; repositories: Array<{ status: string }> };
      assert.deepEqual([rep.items.map((i) => i.action), rep.repositories.map((x) => x.status)], [['unchanged'], ['skipped']], `${args.join(' ')} ${updated}`);
      assert.deepEqual([stored().version, stored().updated], ['1', '2026-01-15 00:00:00']);
    }
  }
  // A second later is another date: the advisory moves forward.
  writeFileSync(f, text.replace(/^updated: .*$/m, 'updated: "2026-01-15T00:00:01Z"'));
  const later = push(['--json', root], { dataDir, config });
  assert.equal(later.status, 0, later.stderr);
  assert.deepEqual((JSON.parse(later.stdout) as { items: Array<{ action: string }> }).items.map((i) => i.action), ['replaced']);
});

test('errata merge rule: a changed advisory that does not move forward fails unless --bump-errata', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'ERRATA'), { recursive: true });
  const f = path.join(root, 'el9', 'ERRATA', 'E.yaml');
  writeFileSync(f, erratumYaml('DEMO-2026:0002'));
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  writeFileSync(f, erratumYaml('DEMO-2026:0002', { title: 'changed title, same version and date' }));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout);
  const failed = rep.items.find((i: { action: string }) => i.action === 'failed');
  assert.match(failed.reason, /bump version or updated/);
  // The dry run of a refused push reports what the refused push reports.
  const dry = push(['--dry-run', '--json', root], { dataDir, config });
  assert.equal(dry.status, 3, dry.stderr);
  const strip = (x: { items: unknown[]; summary: unknown; repositories: Array<{ id: string; previous_version: number | null; status: string }> }) => ({ items: x.items, summary: x.summary, repositories: x.repositories.map((q) => [q.id, q.previous_version, q.status]) });
  assert.deepEqual(strip(JSON.parse(dry.stdout)), strip(rep));
  const b = push(['--json', '--bump-errata', root], { dataDir, config });
  assert.equal(b.status, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).items[0].action, 'replaced');
  // The stored advisory is now the staged one with its version bumped: pushing the same staging
  // area again (with or without --bump-errata) changes nothing and bumps nothing.
  const version = () => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'el9', '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ metadata: { version: string } }>)[0]!.metadata.version;
  };
  const bumped = version();
  for (const args of [['--json', root], ['--json', '--bump-errata', root]]) {
    const again = push(args, { dataDir, config });
    assert.equal(again.status, 0, again.stderr);
    const rep2 = JSON.parse(again.stdout);
    assert.deepEqual(rep2.items.map((i: { action: string }) => i.action), ['unchanged'], args.join(' '));
    assert.equal(version(), bumped);
  }
  // Changed with an updated date older than the stored one (dates are compared before versions):
  // --bump-errata moves it forward all the same (the stored date kept, the version bumped), and
  // the next push is a no-op.
  writeFileSync(f, erratumYaml('DEMO-2026:0002', { title: 'changed again, older date', updated: '2026-01-10 00:00:00' }));
  const older = push(['--json', '--bump-errata', root], { dataDir, config });
  assert.equal(older.status, 0, older.stderr);
  const orep = JSON.parse(older.stdout);
  assert.deepEqual([orep.items[0].action, orep.repositories[0].status], ['replaced', 'published']);
  const stored = () => (JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'el9', '--json']).stdout) as Array<{ metadata: { title: string; version: string } }>)[0]!.metadata;
  assert.deepEqual([stored().title, stored().version], ['changed again, older date', String(Number(bumped) + 1)]);
  for (const args of [['--json', root], ['--json', '--bump-errata', root]]) {
    const again = push(args, { dataDir, config });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).items.map((i: { action: string }) => i.action), ['unchanged'], args.join(' '));
  }
});

test('hooks: the push waits for the hook, not for what it leaves running in the background (kept running); a failure says why (exit, not found, timed out)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  // A sleep with a duration of its own, to find it by (60 s and a fraction unique to this run).
  const marker = `sleep 60.${process.pid}${Date.now() % 100000}`;
  const config = writeConfig(work, `hooks:\n  timeout: 30\n  post_publish:\n    - '${marker} & echo notified'\n`);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'docs', 'RAW'), { recursive: true });
  writeFileSync(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  try {
    const r = push(['--json', root], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    const hook = JSON.parse(r.stdout).repositories[0].hooks[0];
    assert.equal(hook.ok, true);
    assert.match(hook.output, /notified/);
    assert.ok(processesRunning(marker).length > 0, 'the background job the hook started still runs (not killed at the timeout)');
  } finally {
    for (const pid of processesRunning(marker)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  }
  const failing = writeConfig(work, `hooks:\n  timeout: 1\n  post_publish:\n    - [${path.join(work, 'no-such-hook')}]\n    - 'sleep 20'\n    - 'exit 3'\n`);
  writeFileSync(path.join(root, 'docs', 'RAW', 'b.txt'), 'b\n');
  const f = push(['--json', root], { dataDir, config: failing });
  assert.equal(f.status, 6, f.stderr);
  const rep = JSON.parse(f.stdout);
  assert.deepEqual(rep.repositories[0].hooks.map((h: { reason?: string }) => h.reason), [`not found (${path.join(work, 'no-such-hook')})`, 'timed out after 1 s', 'exit 3']);
  assert.deepEqual(rep.problems.map((p: { message: string }) => /\(([^()]*(?:\([^()]*\))?)\)$/.exec(p.message)?.[1]), [`not found (${path.join(work, 'no-such-hook')})`, 'timed out after 1 s', 'exit 3']);
});

test('hooks: REPO_ID, PUBLISHED_PATH, VERSION and the report on stdin; a failing hook fails the push (6)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const out = path.join(work, 'hook.out');
  const config = writeConfig(work, `hooks:\n  post_publish:\n    - 'echo "$REPO_ID $VERSION $PUBLISHED_PATH" >> ${out}; cat > ${out}.json'\n`);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'docs', 'RAW'), { recursive: true });
  writeFileSync(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  const r = push(['-q', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  const line = readFileSync(out, 'utf8').trim().split(' ');
  assert.equal(line[0], 'docs');
  assert.equal(line[1], '1');
  assert.ok(existsSync(path.join(line[2]!, 'a.txt')));
  const stdin = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
  assert.equal(stdin.repository.id, 'docs');
  assert.equal(stdin.repository.counts.pushed, 1, 'the counts as the final report gives them');
  assert.equal(stdin.summary.pushed, 1);

  const bad = writeConfig(work, 'hooks:\n  post_publish:\n    - [/bin/false]\n');
  writeFileSync(path.join(root, 'docs', 'RAW', 'b.txt'), 'b\n');
  const f = push(['--json', root], { dataDir, config: bad });
  assert.equal(f.status, 6, f.stderr);
  const rep = JSON.parse(f.stdout);
  assert.equal(rep.repositories[0].status, 'published');
  assert.equal(rep.repositories[0].hooks[0].ok, false);
  assert.deepEqual(rep.problems.map((p: { code: string; entry: string }) => `${p.code} ${p.entry}`), ['PUSH_HOOK_FAILED docs'], 'the report says why it failed');
  assert.ok(existsSync(path.join(dataDir, 'published', 'http', 'docs', 'b.txt')));

  // The next push of the same area publishes nothing, but runs the failed hooks again (still
  // failing: exit 6 again); once they succeed, they are not run any more.
  const again = push(['--json', root], { dataDir, config: bad });
  assert.equal(again.status, 6, again.stderr);
  const rep2 = JSON.parse(again.stdout);
  assert.equal(rep2.repositories[0].status, 'skipped');
  assert.equal(rep2.repositories[0].hooks.length, 1);
  writeFileSync(out, '');
  writeConfig(work, `hooks:\n  post_publish:\n    - 'echo "$REPO_ID $VERSION $PUBLISHED_PATH" >> ${out}; cat > ${out}.json'\n`); // the hook fixed
  const fixed = push(['--json', root], { dataDir, config });
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.equal(JSON.parse(fixed.stdout).repositories[0].status, 'skipped');
  assert.match(readFileSync(out, 'utf8'), /^docs 2 /, 'the hook ran for the version it had failed for');
  writeFileSync(out, '');
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  assert.equal(readFileSync(out, 'utf8'), '', 'done: not run again');
});

test('a push failed by a hook or a publish (exit 6) says why on stderr, as other failures do, with -q and --json too: a cron job dropping stdout hears of it', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'hooks:\n  post_publish:\n    - [/bin/false, hook-arg]\n');
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'docs', 'RAW'), { recursive: true });
  writeFileSync(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  for (const args of [['-q'], ['--json'], []]) {
    const r = push([...args, root], { dataDir, config });
    assert.equal(r.status, 6, r.stderr);
    assert.match(r.stderr, /^error \[PUSH_FAILED\]: /m, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /\[PUSH_HOOK_FAILED\] docs: repository docs: post_publish hook "\/bin\/false hook-arg" failed \(exit 1\)/);
  }
  // A publish that fails (the publish root is a file).
  writeFileSync(path.join(work, 'not-a-dir'), '');
  const broken = writeConfig(work, `publish: {root: ${path.join(work, 'not-a-dir')}}\n`);
  writeFileSync(path.join(root, 'docs', 'RAW', 'b.txt'), 'b\n');
  const f = push(['-q', root], { dataDir, config: broken });
  assert.equal(f.status, 6, f.stderr);
  assert.match(f.stderr, /\[PUSH_PUBLISH_FAILED\] docs: repository docs: publish failed: .*not-a-dir/);
});

test('--progress ndjson: stderr holds one JSON event per line, the error of a refused or failed push too (type error, with its code and problems)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'hooks:\n  post_publish:\n    - [/bin/false]\n');
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'docs', 'RAW'), { recursive: true });
  writeFileSync(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  mkdirSync(path.join(root, 'el9', 'RPMS'), { recursive: true });
  const bad = path.join(root, 'el9', 'RPMS', 'bad-1-1.noarch.rpm');
  writeFileSync(bad, 'junk\n');
  type Ev = { type: string; code?: string; exit_status?: number; problems?: Array<{ code: string; file?: string; entry?: string }> };
  const events = (stderr: string): Ev[] => stderr.trim().split('\n').map((l) => JSON.parse(l) as Ev);
  const refused = push(['--progress', 'ndjson', root], { dataDir, config });
  assert.equal(refused.status, 3, refused.stderr);
  const last = events(refused.stderr).at(-1)!;
  assert.deepEqual([last.type, last.code, last.exit_status], ['error', 'PUSH_INVALID_INPUT', 3]);
  assert.deepEqual(last.problems!.map((p) => `${p.code} ${p.file}`), [`RPM_TRUNCATED ${bad}`]);
  rmSync(bad);
  const failed = push(['--progress', 'ndjson', root], { dataDir, config });
  assert.equal(failed.status, 6, failed.stderr);
  const end = events(failed.stderr).at(-1)!;
  assert.deepEqual([end.type, end.code, end.exit_status], ['error', 'PUSH_FAILED', 6]);
  assert.deepEqual(end.problems!.map((p) => `${p.code} ${p.entry}`), ['PUSH_HOOK_FAILED docs']);
  // A usage error too.
  const usage = push(['--progress', 'ndjson', '--skip', 'import', root], { dataDir, config });
  assert.equal(usage.status, 2, usage.stderr);
  assert.deepEqual(events(usage.stderr).map((e) => `${e.type} ${e.code}`), ['error PUSH_USAGE']);
});

test('hooks are owed from before the publish: a push killed during its hooks (SIGKILL) or stopped by SIGTERM leaves them to the next push', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const out = path.join(work, 'hook.out');
  const armed = path.join(work, 'armed');
  // While `armed` exists, the hook kills the push running it (its parent's parent: sh, then node).
  const config = writeConfig(work, `hooks:\n  post_publish:\n    - 'echo "$REPO_ID $VERSION" >> ${out}; if [ -e ${armed} ]; then rm ${armed}; kill -KILL $PPID; fi'\n`);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'docs', 'RAW'), { recursive: true });
  writeFileSync(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  writeFileSync(armed, '');
  const killed = push(['-q', root], { dataDir, config });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'docs 1\n');
  // Nothing left to publish: the hooks the killed push owed run now, for the version it published.
  const next = push(['--json', root], { dataDir, config });
  assert.equal(next.status, 0, next.stderr);
  assert.equal(JSON.parse(next.stdout).repositories[0].status, 'skipped');
  assert.equal(readFileSync(out, 'utf8'), 'docs 1\ndocs 1\n');
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  assert.equal(readFileSync(out, 'utf8'), 'docs 1\ndocs 1\n', 'done: not run again');

  // SIGTERM while a hook runs: the hook is stopped, the push ends at once (143), the hook is owed.
  const started = path.join(work, 'started');
  const slow = writeConfig(work, `hooks:\n  post_publish:\n    - 'echo "$REPO_ID $VERSION" >> ${out}; touch ${started}; sleep 60'\n`);
  writeFileSync(path.join(root, 'docs', 'RAW', 'b.txt'), 'b\n');
  const child = spawnCli(['--data-dir', dataDir, '--config', slow, 'push', '-q', root], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((res) => setTimeout(res, 50));
  assert.ok(existsSync(started), 'the hook started');
  const t0 = Date.now();
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  assert.ok(Date.now() - t0 < 20_000, 'the push did not wait for the hook to end');
  writeFileSync(out, '');
  const after = push(['-q', root], { dataDir, config });
  assert.equal(after.status, 0, after.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'docs 2\n', 'the interrupted hook ran again for version 2');
});

test('--skip publish, --dest / --exclude-dest, --log-file', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));
  const log = path.join(work, 'push.log');
  const r = push(['--json', '--skip', 'publish', '--dest', 'files,docs', '--exclude-dest', 'docs', '--log-file', log, area.root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.deepEqual(rep.repositories.map((x: { id: string; status: string; version: number }) => `${x.id}:${x.status}:${x.version}`), ['files:skipped:1']);
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'files')), false);
  assert.match(readFileSync(log, 'utf8'), /push ended: ok/);
  // The next push publishes the imported version although nothing changed.
  const p = push(['--json', '--dest', 'files', area.root], { dataDir, config });
  assert.equal(JSON.parse(p.stdout).repositories[0].status, 'published');
  assert.ok(existsSync(path.join(dataDir, 'published', 'http', 'files', 'PULP_MANIFEST')));
});

test('two pushes started 50 ms apart both complete; the result is the union', async () => {
  const { spawnCli } = await import('../helpers/cli.js');
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'repositories:\n  shared:\n    type: yum\n    destinations: [a, b]\n');
  const mk = (dest: string, f: string) => {
    const root = path.join(work, `area-${dest}`);
    mkdirSync(path.join(root, dest, 'RPMS'), { recursive: true });
    copyFileSync(path.join(RPMS, f), path.join(root, dest, 'RPMS', f));
    return root;
  };
  const a = mk('a', 'demo-hello-1.0-1.noarch.rpm');
  const b = mk('b', 'demo-tools-2.0-1.noarch.rpm');
  const run = (root: string) =>
    new Promise<number>((resolve) => {
      const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '-q', root]);
      c.stderr.on('data', () => {});
      c.on('close', (code) => resolve(code ?? -1));
    });
  const p1 = run(a);
  await new Promise((r) => setTimeout(r, 50));
  const p2 = run(b);
  assert.deepEqual(await Promise.all([p1, p2]), [0, 0]);
  const nevras = dnf(path.join(dataDir, 'published', 'http', 'shared'), ['repoquery', '--qf', '%{name}']).split('\n').filter(Boolean).sort();
  assert.deepEqual(nevras, ['demo-hello', 'demo-tools']);
});

test('two pushes started at once on a fresh data dir both complete (no "database is locked"), a few times over', async () => {
  const { spawnCli } = await import('../helpers/cli.js');
  const work = tempDir();
  const config = writeConfig(work);
  const area = path.join(work, 'area');
  mkdirSync(path.join(area, 'el', 'RPMS'), { recursive: true });
  for (const f of ['demo-hello-1.0-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm']) copyFileSync(path.join(RPMS, f), path.join(area, 'el', 'RPMS', f));
  for (let i = 0; i < 4; i++) {
    const dataDir = path.join(work, `data-${i}`);
    const run = () =>
      new Promise<string>((resolve) => {
        const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '-q', area]);
        let err = '';
        c.stderr.on('data', (b: Buffer) => (err += b.toString()));
        c.on('close', (code) => resolve(`${code} ${err}`.trim()));
      });
    assert.deepEqual(await Promise.all([run(), run()]), ['0', '0']);
  }
});

test('killed mid-push (SIGKILL, SIGTERM): repositories stay at their previous version; a rerun completes', async () => {
  const { spawnCli } = await import('../helpers/cli.js');
  const work = tempDir();
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));
  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    const dataDir = path.join(work, `data-${sig}`);
    const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--progress', 'ndjson', area.root]);
    let err = '';
    const code = await new Promise<number | null>((resolve) => {
      c.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (/"phase":"import"/.test(err) && !c.killed) c.kill(sig);
      });
      c.on('close', (code) => resolve(code));
    });
    if (sig === 'SIGTERM') assert.equal(code, 143, err);
    // Nothing half-done is visible: no repository has a version with part of the content.
    const versions = spawnSync(process.execPath, [path.join(process.cwd(), 'bin', 'stagepush'), '--data-dir', dataDir, 'repo', 'list', '--json'], { encoding: 'utf8' });
    if (versions.status === 0) for (const r of JSON.parse(versions.stdout) as Array<{ version: number; unitCount: number }>) assert.ok(r.version === 0 || r.unitCount > 0);
    const rep = push(['--json', area.root], { dataDir, config });
    assert.equal(rep.status, 0, rep.stderr);
    const pub = path.join(dataDir, 'published', 'http', 'el9');
    assert.ok(lstatSync(pub).isSymbolicLink());
    const nevras = dnf(pub, ['repoquery', '--showduplicates', '--disable-modular-filtering', '--qf', '%{name}-%{version}']).split('\n').filter(Boolean).sort();
    assert.deepEqual(nevras, ['demo-hello-1.0', 'demo-hello-1.1', 'demo-tools-2.0']);
  }
});

test('--pre-push stores content and checksums only; the push after it finds them stored', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));
  const pre = push(['--json', '--pre-push', area.root], { dataDir, config });
  assert.equal(pre.status, 0, pre.stderr);
  const rep = JSON.parse(pre.stdout);
  assert.equal(rep.mode, 'pre-push');
  assert.ok(rep.repositories.every((r: { status: string }) => r.status === 'skipped'));
  assert.equal(existsSync(path.join(dataDir, 'published')), false);
  assert.ok(existsSync(path.join(dataDir, 'push.sqlite')));
  const stored = readdirSync(path.join(dataDir, 'content', 'sha256')).length;
  assert.ok(stored > 0);
  const r = push(['--json', area.root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const items = JSON.parse(r.stdout).items as Array<{ type: string; stored?: string }>;
  assert.ok(items.filter((i) => i.type === 'rpm').every((i) => i.stored === 'existing'), JSON.stringify(items));
});

test('the stat cache spares re-hashing; free space is checked before writing (exit 4)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'RPMS'), { recursive: true });
  copyFileSync(path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm'), path.join(root, 'el9', 'RPMS', 'demo-tools-2.0-1.noarch.rpm'));
  const huge = path.join(work, 'huge');
  mkdirSync(huge);
  const hugeConfig = writeConfig(huge, 'push: {free_space_margin_mb: 1000000000}\n');
  const full = push(['--json', '--dry-run', root], { dataDir, config: hugeConfig });
  assert.equal(full.status, 0, full.stderr);
  const refused = push(['--json', root], { dataDir, config: hugeConfig });
  assert.equal(refused.status, 4, refused.stderr);
  assert.equal(JSON.parse(refused.stdout).problems[0].code, 'PUSH_NO_SPACE');
  const repos = spawnSync(process.execPath, [path.join(process.cwd(), 'bin', 'stagepush'), '--data-dir', dataDir, 'repo', 'list', '--json'], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '' } });
  assert.deepEqual(JSON.parse(repos.stdout), [], 'a refused push creates no repository');
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  // The store's hard link changed the file's ctime: the next run takes it as the store's own file
  // (by its cached digest) and records its ctime.
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  // Poison the cached sum of the (unchanged) file: the next run believes the cache, proving it
  // did not hash the file again.
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'));
  db.prepare('UPDATE stat_cache SET sha256 = ?').run('0'.repeat(64));
  db.close();
  const dry = push(['--json', '--dry-run', root], { dataDir, config });
  const items = JSON.parse(dry.stdout).items as Array<{ sha256?: string }>;
  assert.equal(items[0]!.sha256, '0'.repeat(64));
});

/** The number of files the load hashed or parsed (its checksum phase's jobs), from --progress ndjson. */
function hashedFiles(stderr: string): number | undefined {
  for (const l of stderr.split('\n')) {
    if (!l.startsWith('{')) continue;
    const e = JSON.parse(l) as { type: string; phase?: string; total?: number };
    if (e.type === 'phase-start' && e.phase === 'checksum') return e.total;
  }
  return undefined;
}

test('push.store_files: copy: a staged file replaced under the same device, inode, size and mtime (its ctime differs) is hashed again, not pushed with its old digest', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'push: {store_files: copy}\n');
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'RPMS'), { recursive: true });
  const rpm = path.join(root, 'el9', 'RPMS', 'demo-tools-2.0-1.noarch.rpm');
  copyFileSync(path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm'), rpm);
  const img = path.join(root, 'files', 'FILES', 'disk.img');
  mkdirSync(path.dirname(img), { recursive: true });
  writeFileSync(img, Buffer.alloc(20_000, 1));
  writeStagedYaml(root, { 'disk.img': Buffer.alloc(20_000, 1) });
  // The mtimes a tar archive holds (whole seconds: utimes takes them back exactly).
  for (const f of [rpm, img]) utimesSync(f, 1_700_000_000, 1_700_000_000);
  const first = push(['--json', root], { dataDir, config });
  assert.equal(first.status, 0, first.stderr);

  // A new release over the old one as tar leaves it when the inode number is reused: other
  // bytes (the RPM: its last payload byte, the header reads the same), same size, the old mtime.
  const identity = (f: string) => {
    const st = statSync(f);
    return [st.dev, st.ino, st.size, st.mtimeMs];
  };
  const before = [identity(rpm), identity(img)];
  const newRpm = readFileSync(rpm);
  newRpm[newRpm.length - 1] ^= 0xff;
  const newImg = Buffer.alloc(20_000, 2);
  for (const [f, data] of [[rpm, newRpm], [img, newImg]] as const) {
    writeFileSync(f, data);
    utimesSync(f, 1_700_000_000, 1_700_000_000);
  }
  writeStagedYaml(root, { 'disk.img': newImg });
  assert.deepEqual([identity(rpm), identity(img)], before, 'the stat cache key the old code used is unchanged');

  const second = push(['--json', '--progress', 'ndjson', root], { dataDir, config });
  assert.equal(second.status, 0, second.stderr);
  const items = JSON.parse(second.stdout).items as Array<{ type: string; action: string; sha256?: string }>;
  assert.deepEqual(
    items.filter((i) => i.type === 'rpm' || i.type === 'iso').map((i) => [i.type, i.action, i.sha256]),
    [
      ['rpm', 'replaced', sha256(newRpm)],
      ['iso', 'replaced', sha256(newImg)],
    ],
  );
  assert.equal(hashedFiles(second.stderr), 2, 'the two replaced files are hashed again');
  // Copy mode never links a staged inode: the next run hashes nothing.
  const third = push(['--json', '--progress', 'ndjson', root], { dataDir, config });
  assert.equal(third.status, 0, third.stderr);
  assert.equal(hashedFiles(third.stderr), 0);
});

test('link mode: the links a push makes (store, published pool) and links made elsewhere change a staged file\'s ctime without costing a hash: a file the store holds is known by its inode', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const dir = path.join(root, 'el9', 'RPMS');
  mkdirSync(dir, { recursive: true });
  for (const f of ['demo-hello-1.0-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm']) copyFileSync(path.join(RPMS, f), path.join(dir, f));
  const run = () => {
    const r = push(['--json', '--progress', 'ndjson', root], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    const items = JSON.parse(r.stdout).items as Array<{ action: string; stored?: string }>;
    return { hashed: hashedFiles(r.stderr), actions: items.map((i) => `${i.action}${i.stored ? `/${i.stored}` : ''}`).sort() };
  };
  assert.deepEqual(run(), { hashed: 2, actions: ['pushed/linked', 'pushed/linked'] });
  // One new RPM: only it is hashed (the others' ctime changed when the store and the pool linked them).
  copyFileSync(path.join(RPMS, 'demo-hello-1.1-1.noarch.rpm'), path.join(dir, 'demo-hello-1.1-1.noarch.rpm'));
  assert.deepEqual(run(), { hashed: 1, actions: ['pushed/linked', 'unchanged', 'unchanged'] });
  assert.deepEqual(run(), { hashed: 0, actions: ['unchanged', 'unchanged', 'unchanged'] });
  // Links made and removed elsewhere (a bench or a mirror re-linking the area): still no hash.
  const ctimes = () => readdirSync(dir).map((f) => statSync(path.join(dir, f)).ctimeMs);
  const ctimesBefore = ctimes();
  for (const f of readdirSync(dir)) {
    const other = path.join(work, `link-${f}`);
    linkSync(path.join(dir, f), other);
    rmSync(other);
  }
  assert.ok(ctimes().every((c, i) => c !== ctimesBefore[i]), 'every ctime changed');
  assert.deepEqual(run(), { hashed: 0, actions: ['unchanged', 'unchanged', 'unchanged'] });
});

test('one advisory staged for two repositories and changed: both get a new version and publish the new text; a third holding it (left out of the push) gets a new version, is reported and published with them', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'hooks:\n  post_publish: ["echo $REPO_ID $VERSION >> ' + path.join(work, 'hooks.log') + '"]\n');
  const root = path.join(work, 'area');
  const stage = (dest: string, text: string) => {
    mkdirSync(path.join(root, dest, 'ERRATA'), { recursive: true });
    writeFileSync(path.join(root, dest, 'ERRATA', 'E.yaml'), text);
  };
  const v1 = erratumYaml('SHARED-1', { updated: '2026-01-01 00:00:00', title: 'first text' });
  for (const d of ['d1', 'd2', 'd3']) {
    stage(d, v1);
    // The package the advisory lists (dnf shows an advisory of installed packages).
    mkdirSync(path.join(root, d, 'RPMS'), { recursive: true });
    copyFileSync(path.join(RPMS, 'demo-hello-1.1-1.noarch.rpm'), path.join(root, d, 'RPMS', 'demo-hello-1.1-1.noarch.rpm'));
  }
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  const updateinfo = (repo: string) => {
    const dir = path.join(dataDir, 'published', 'http', repo);
    const repomd = readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
    const href = /<data type="updateinfo">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
    return spawnSync('zcat', ['-f', path.join(dir, href)], { encoding: 'utf8' }).stdout;
  };
  const version = (repo: string) => (JSON.parse(spawnSync(process.execPath, [path.join(ROOT, 'bin', 'stagepush'), '--data-dir', dataDir, '--config', config, 'repo', 'show', repo, '--json'], { encoding: 'utf8' }).stdout) as { version: number }).version;
  for (const r of ['d1', 'd2', 'd3']) assert.match(updateinfo(r), /first text/);
  const before = { d1: version('d1'), d2: version('d2'), d3: version('d3') };
  rmSync(path.join(work, 'hooks.log'));

  // The advisory moves forward in d1 and d2 (d3 is left out of this push).
  rmSync(path.join(root, 'd3'), { recursive: true });
  const v2 = erratumYaml('SHARED-1', { updated: '2026-02-01 00:00:00', title: 'second text' });
  stage('d1', v2);
  stage('d2', v2);
  type Report = { items: Array<{ repository: string; action: string }>; repositories: Array<{ id: string; status: string; previous_version: number; version: number; shared_updates?: string[] }> };
  // The dry run says d3 would get a new version and be published, and why.
  const dry = push(['--json', '--dry-run', root], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as Report;
  assert.deepEqual(planned.repositories.map((x) => `${x.id} ${x.status} ${x.version}`), [`d1 published ${before.d1 + 1}`, `d2 published ${before.d2 + 1}`, `d3 published ${before.d3 + 1}`]);
  assert.deepEqual(planned.repositories[2]!.shared_updates, ['shares advisory SHARED-1 updated by this push']);
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.deepEqual(rep.items.filter((i) => i.action !== 'unchanged').map((i) => `${i.repository} ${i.action}`).sort(), ['d1 replaced', 'd2 replaced']);
  // d3 holds the same advisory: its content changed, so it has a new version, published with the push's.
  assert.deepEqual(rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`), [`d1 published ${before.d1} -> ${before.d1 + 1}`, `d2 published ${before.d2} -> ${before.d2 + 1}`, `d3 published ${before.d3} -> ${before.d3 + 1}`]);
  assert.deepEqual(rep.repositories[2]!.shared_updates, ['shares advisory SHARED-1 updated by this push']);
  assert.equal(version('d3'), before.d3 + 1);
  for (const d of ['d1', 'd2', 'd3']) assert.match(updateinfo(d), /second text/, d);
  // What a client of d3 reads (one dnf root: the package installed, then its advisory), and d3's
  // hook ran as the others' did.
  const client = tempDir('stagepush-dnf-');
  const d3 = (args: string[]) => {
    const opts = ['-q', '-y', ...DNF_LEAVE_HOST, `--installroot=${path.join(client, 'root')}`, `--setopt=cachedir=${path.join(client, 'cache')}`, `--setopt=reposdir=${path.join(client, 'repos.d')}`, '--setopt=gpgcheck=0', '--releasever=1'];
    const res = spawnSync('dnf', [...opts, `--repofrompath=d3,file://${path.join(dataDir, 'published', 'http', 'd3')}`, '--disablerepo=*', '--enablerepo=d3', ...args], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(res.status, 0, `dnf ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  d3(['install', 'demo-hello']);
  assert.match(d3(['updateinfo', 'info', '--all', 'SHARED-1']), /second text/);
  assert.deepEqual(readFileSync(path.join(work, 'hooks.log'), 'utf8').trim().split('\n').sort(), [`d1 ${before.d1 + 1}`, `d2 ${before.d2 + 1}`, `d3 ${before.d3 + 1}`]);

  // The same push again changes nothing: no repository gets a version, d3 is not touched again.
  const again = push(['--json', root], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as Report).repositories.map((x) => `${x.id} ${x.status}`), ['d1 skipped', 'd2 skipped']);
});

/** A staging area `root` whose destinations `dests` each hold the advisory `id` with that title and updated date (one unit the repositories share). */
function advisoryArea(root: string, dests: string[], id: string, title: string, updated: string): string {
  for (const d of dests) {
    mkdirSync(path.join(root, d, 'ERRATA'), { recursive: true });
    writeFileSync(path.join(root, d, 'ERRATA', 'E.yaml'), erratumYaml(id, { updated, title }));
  }
  return root;
}

test('an advisory new to a repository but stored for another is decided against that stored one: other text not moved forward fails (naming who holds it) and changes nothing; --bump-errata updates it for both; the same text is pushed to the new repository and changes nothing else', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const updateinfo = (repo: string) => {
    const dir = path.join(dataDir, 'published', 'http', repo);
    const repomd = readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
    const href = /<data type="updateinfo">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
    return spawnSync('zcat', ['-f', path.join(dir, href)], { encoding: 'utf8' }).stdout;
  };
  type Rep = { status: string; items: Array<{ repository: string; action: string; reason?: string }>; repositories: Array<{ id: string; status: string; version: number; shared_updates?: string[] }> };
  const run = (args: string[], status = 0): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, status, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  run([advisoryArea(path.join(work, 'a'), ['ra'], 'SHARED-9', 'first text', '2026-01-01 00:00:00')]);
  // The same id staged for another repository with other text and the same dates: the merge rule
  // would keep the stored text (it was pushed as "pushed" and published the old text).
  const other = advisoryArea(path.join(work, 'b'), ['rb'], 'SHARED-9', 'second text', '2026-01-01 00:00:00');
  const refused = run([other], 3);
  assert.equal(refused.items[0]!.action, 'failed');
  assert.match(refused.items[0]!.reason!, /bump version or updated: .*stored for ra: one advisory per id/);
  assert.match(updateinfo('ra'), /first text/);
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'rb')), false);
  // --bump-errata: moved past the stored one, the shared unit changes for both, both published.
  const bumped = run(['--bump-errata', other]);
  assert.deepEqual(bumped.repositories.map((r) => `${r.id} ${r.status} ${r.version}`), ['rb published 1', 'ra published 2']);
  for (const repo of ['ra', 'rb']) assert.match(updateinfo(repo), /second text/);
  assert.deepEqual(run([other]).items.map((i) => i.action), ['unchanged']);
  // A third repository staging the stored text as it is: pushed there, nothing else changes.
  const same = run([advisoryArea(path.join(work, 'c'), ['rc'], 'SHARED-9', 'second text', '2026-01-01 00:00:00')]);
  assert.deepEqual(same.items.map((i) => `${i.repository} ${i.action}`), ['rc pushed']);
  assert.deepEqual(same.repositories.map((r) => `${r.id} ${r.status}`), ['rc published']);
});

test('a repository changed through a shared advisory by a push that did not publish it (--skip publish) is published, with its hooks, by the next push whatever its destinations, listed by the dry run, then forgotten; one deleted meanwhile is forgotten', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const config = writeConfig(work, `hooks:\n  post_publish: ["echo $REPO_ID $VERSION >> ${hooksLog}"]\n`);
  const area = (name: string, dests: string[], text: string, updated: string) => advisoryArea(path.join(work, name), dests, 'SHARED-2', text, updated);
  const updateinfo = (repo: string) => {
    const dir = path.join(dataDir, 'published', 'http', repo);
    const repomd = readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
    const href = /<data type="updateinfo">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
    return spawnSync('zcat', ['-f', path.join(dir, href)], { encoding: 'utf8' }).stdout;
  };
  type Rep = { push_id: string; repositories: Array<{ id: string; status: string; previous_version: number; version: number; shared_updates?: string[] }> };
  const run = (args: string[]): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const states = (rep: Rep) => rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`);
  run([area('a1', ['ya', 'yb'], 'first text', '2026-01-01 00:00:00')]);
  rmSync(hooksLog);
  // a2 moves the advisory forward in ya only; yb holds it too and gets a new version, unpublished.
  const a2 = area('a2', ['ya'], 'second text', '2026-02-01 00:00:00');
  const skipped = run(['--skip', 'publish', a2]);
  assert.deepEqual(states(skipped), ['ya skipped 1 -> 2', 'yb skipped 1 -> 2']);
  const pushId = skipped.push_id;
  assert.match(updateinfo('yb'), /first text/);
  // The next push (a2 again: nothing of yb's own) publishes yb; its dry run says so first.
  const dry = run(['--dry-run', a2]);
  assert.deepEqual(states(dry), ['ya published 2 -> 2', 'yb published 2 -> 2']);
  assert.deepEqual(dry.repositories[1]!.shared_updates, [`shares advisory SHARED-2 updated by push ${pushId}`]);
  const next = run([a2]);
  assert.deepEqual(states(next), ['ya published 2 -> 2', 'yb published 2 -> 2']);
  assert.deepEqual(next.repositories[1]!.shared_updates, [`shares advisory SHARED-2 updated by push ${pushId}`]);
  assert.match(updateinfo('yb'), /second text/);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n').sort(), ['ya 2', 'yb 2']);
  // Paid: the push after that does not touch yb.
  assert.deepEqual(states(run([a2])), ['ya skipped 2 -> 2']);

  // Owed again, then yb is deleted: the next push forgets it.
  run(['--skip', 'publish', area('a3', ['ya'], 'third text', '2026-03-01 00:00:00')]);
  const del = runCli(['--data-dir', dataDir, '--config', config, 'repo', 'delete', 'yb']);
  assert.equal(del.status, 0, del.stderr);
  assert.deepEqual(states(run([path.join(work, 'a3')])), ['ya published 3 -> 3']);
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
  assert.deepEqual(db.prepare('SELECT repo_id FROM pending_publishes').all(), []);
  db.close();
});

test('a push killed just after its commit (SIGKILL) leaves the repository its shared advisory changed owed: the next push of other destinations publishes it, with its hooks, once', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const config = writeConfig(work, `hooks:\n  post_publish: ["echo $REPO_ID $VERSION >> ${hooksLog}"]\n`);
  const area = (name: string, dests: string[], id: string, text: string, updated: string) => advisoryArea(path.join(work, name), dests, id, text, updated);
  type Rep = { repositories: Array<{ id: string; status: string; previous_version: number; version: number; shared_updates?: string[] }> };
  const run = (args: string[], env: Record<string, string> = {}) => runCli(['--data-dir', dataDir, '--config', config, 'push', '--json', ...args], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg'), ...env } });
  const states = (rep: Rep) => rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`);
  assert.equal(run([area('a1', ['ya', 'yb'], 'SHARED-7', 'first text', '2026-01-01 00:00:00')]).status, 0);
  rmSync(hooksLog);
  // a2 moves the advisory forward in ya only. Its first transaction finds yb sharing it and
  // commits nothing; the second (holding yb's lock too) commits both new versions, and is killed.
  const killed = run([area('a2', ['ya'], 'SHARED-7', 'second text', '2026-02-01 00:00:00')], { STAGEPUSH_CRASH_AT: 'transaction:after-commit#2' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const versions = runCli(['--data-dir', dataDir, '--config', config, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.deepEqual((JSON.parse(versions.stdout) as Array<{ id: string; version: number }>).map((r) => `${r.id} ${r.version}`), ['ya 2', 'yb 2'], 'killed after the commit');
  // A push of another destination publishes yb (ya is its own push's to complete).
  const other = run([area('b', ['yc'], 'OTHER-1', 'other', '2026-01-01 00:00:00')]);
  assert.equal(other.status, 0, other.stderr);
  assert.deepEqual(states(JSON.parse(other.stdout) as Rep), ['yc published 0 -> 1', 'yb published 2 -> 2']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n').sort(), ['yb 2', 'yc 1']);
  // Paid: not again.
  assert.deepEqual(states(JSON.parse(run([path.join(work, 'b')]).stdout) as Rep), ['yc skipped 1 -> 1']);
});

test('a push killed during one repository\'s hooks leaves only that repository\'s owed: the hooks of the repositories before it, which succeeded, do not run again', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const once = path.join(work, 'killed-once');
  // yb's hook kills the push (its parent) the first time, after ya's hook succeeded.
  const hook = `echo $REPO_ID $VERSION >> ${hooksLog}; if [ $REPO_ID = yb ] && [ ! -e ${once} ]; then touch ${once}; kill -9 $PPID; fi`;
  const config = writeConfig(work, `hooks:\n  post_publish: [${JSON.stringify(hook)}]\n`);
  const area = advisoryArea(path.join(work, 'a'), ['ya', 'yb'], 'HOOKED-1', 'text', '2026-01-01 00:00:00');
  const killed = push([area], { dataDir, config });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n'), ['ya 1', 'yb 1']);
  const next = push([area], { dataDir, config });
  assert.equal(next.status, 0, next.stderr);
  // yb's hook was stopped with the push (it may not have finished): run again; ya's was done.
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n'), ['ya 1', 'yb 1', 'yb 1']);
});

test('an owed publish is forgotten when its repository is deleted and made again with its id: a later push neither publishes the new one as sharing the advisory nor runs its hooks', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const config = writeConfig(work, `hooks:\n  post_publish: ["echo $REPO_ID $VERSION >> ${hooksLog}"]\n`);
  const area = (name: string, dests: string[], id: string, text: string, updated: string) => advisoryArea(path.join(work, name), dests, id, text, updated);
  type Rep = { repositories: Array<{ id: string; status: string; previous_version: number; version: number; shared_updates?: string[] }> };
  const run = (args: string[]): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const states = (rep: Rep) => rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version} ${(x.shared_updates ?? []).join(',')}`.trim());
  run([area('a1', ['ya', 'yb'], 'SHARED-4', 'first text', '2026-01-01 00:00:00')]);
  // yb gets a new version through the shared advisory, unpublished: its publish is owed.
  assert.deepEqual(states(run(['--skip', 'publish', area('a2', ['ya'], 'SHARED-4', 'second text', '2026-02-01 00:00:00')])), ['ya skipped 1 -> 2', 'yb skipped 1 -> 2 shares advisory SHARED-4 updated by this push']);
  // yb is deleted and made again by a push of its own (another advisory), not published.
  const del = runCli(['--data-dir', dataDir, '--config', config, 'repo', 'delete', 'yb']);
  assert.equal(del.status, 0, del.stderr);
  assert.deepEqual(states(run(['--skip', 'publish', area('b', ['yb'], 'NEW-B', 'new text', '2026-03-01 00:00:00')])), ['yb skipped 0 -> 1']);
  rmSync(hooksLog, { force: true });
  // An unrelated push: the new yb shares nothing it was owed for (the dry run says so too).
  const other = area('u', ['zc'], 'OTHER-1', 'other text', '2026-03-01 00:00:00');
  assert.deepEqual(states(run(['--dry-run', other])), ['zc published 0 -> 1']);
  assert.deepEqual(states(run([other])), ['zc published 0 -> 1']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n'), ['zc 1']);
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
  assert.deepEqual(db.prepare('SELECT repo_id FROM pending_publishes').all(), []);
  db.close();
});

test('two pushes at once while a publish is owed: one publishes it and runs its hooks, the other leaves it alone (its hooks run once)', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const first = path.join(work, 'first');
  const started = path.join(work, 'started');
  const release = path.join(work, 'release');
  // Once armed, the first run of yb's hook says it started and waits until the test releases it:
  // the second push runs from start to end while the first is in yb's hook step, with yb's
  // publish still owed.
  const armed = path.join(work, 'armed');
  const hook = `echo $REPO_ID $PUSH_ID >> ${hooksLog}; if [ "$REPO_ID" = yb ] && [ -e ${armed} ] && mkdir ${first} 2>/dev/null; then touch ${started}; while [ ! -e ${release} ]; do sleep 0.05; done; fi`;
  const config = writeConfig(work, `hooks:\n  post_publish: [${JSON.stringify(hook)}]\n`);
  const area = (name: string, dests: string[], id: string, text: string, updated: string) => advisoryArea(path.join(work, name), dests, id, text, updated);
  type Rep = { push_id: string; repositories: Array<{ id: string; status: string }> };
  const once = (args: string[]) => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
  };
  once([area('a1', ['ya', 'yb'], 'SHARED-5', 'first text', '2026-01-01 00:00:00')]);
  once(['--skip', 'publish', area('a2', ['ya'], 'SHARED-5', 'second text', '2026-02-01 00:00:00')]);
  rmSync(hooksLog);
  writeFileSync(armed, '');
  const run = (root: string) => {
    const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--json', root], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    return new Promise<{ status: number | null; out: string; err: string }>((resolve) => c.on('close', (status) => resolve({ status, out, err })));
  };
  const p1 = run(area('u1', ['zc'], 'OTHER-1', 'other text', '2026-03-01 00:00:00'));
  while (!existsSync(started)) await new Promise((r) => setTimeout(r, 20));
  const r2 = await run(area('u2', ['zd'], 'OTHER-2', 'other text', '2026-03-01 00:00:00'));
  writeFileSync(release, '');
  const r1 = await p1;
  assert.equal(r1.status, 0, r1.err);
  assert.equal(r2.status, 0, r2.err);
  const rep1 = JSON.parse(r1.out) as Rep;
  const rep2 = JSON.parse(r2.out) as Rep;
  assert.deepEqual(rep1.repositories.map((x) => `${x.id} ${x.status}`), ['zc published', 'yb published']);
  assert.deepEqual(rep2.repositories.map((x) => `${x.id} ${x.status}`), ['zd published']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n').sort(), [`yb ${rep1.push_id}`, `zc ${rep1.push_id}`, `zd ${rep2.push_id}`].sort());
  // Paid: nothing is owed any more.
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
  assert.deepEqual(db.prepare('SELECT repo_id FROM pending_publishes').all(), []);
  assert.deepEqual(db.prepare('SELECT repo_id FROM pending_hooks').all(), []);
  db.close();
});

test('a push refused after it made its repository (two comps files defining one group differently) says nothing of the plugin hooks run to remove it again (only with --verbose)', () => {
  const work = tempDir();
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'el9', 'COMPS'), { recursive: true });
  for (const t of ['A', 'B']) {
    writeFileSync(path.join(root, 'el9', 'COMPS', `c${t}.xml`), `<?xml version="1.0" encoding="UTF-8"?>\n<comps><group><id>g1</id><name>Group ${t}</name><description>d</description><default>true</default><uservisible>true</uservisible><packagelist><packagereq type="mandatory">demo-hello</packagereq></packagelist></group></comps>\n`);
  }
  const r = push([root], { dataDir: path.join(work, 'data') });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /PUSH_STAGED_TWICE/);
  assert.doesNotMatch(r.stderr, /hook|distributorRemoved/);
  const v = push(['--verbose', root], { dataDir: path.join(work, 'data') });
  assert.equal(v.status, 3, v.stderr);
  assert.match(v.stderr, /plugin-hook el9: started yum_distributor\.distributorRemoved/);
});

test('two pushes of one staging area at once (two cron runs): the hooks of the repository the first published run once, the second leaves them to it; a push that finds them owed by a push that is gone runs them', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const started = path.join(work, 'started');
  const release = path.join(work, 'release');
  // The first run of the hook says it started and waits until the test releases it.
  const hook = `echo $REPO_ID $PUSH_ID >> ${hooksLog}; if mkdir ${path.join(work, 'first')} 2>/dev/null; then touch ${started}; while [ ! -e ${release} ]; do sleep 0.05; done; fi`;
  const config = writeConfig(work, `hooks:\n  post_publish: [${JSON.stringify(hook)}]\n`);
  const root = advisoryArea(path.join(work, 'a'), ['ha'], 'HOOKED-1', 'text', '2026-01-01 00:00:00');
  const run = () => {
    const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--json', root], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    return new Promise<{ status: number | null; out: string; err: string }>((resolve) => c.on('close', (status) => resolve({ status, out, err })));
  };
  type Rep = { push_id: string; repositories: Array<{ id: string; status: string; hooks: unknown[] }> };
  const p1 = run();
  while (!existsSync(started)) await new Promise((r) => setTimeout(r, 20));
  const r2 = await run();
  writeFileSync(release, '');
  const r1 = await p1;
  assert.equal(r1.status, 0, r1.err);
  assert.equal(r2.status, 0, r2.err);
  const rep1 = JSON.parse(r1.out) as Rep;
  const rep2 = JSON.parse(r2.out) as Rep;
  assert.deepEqual(rep1.repositories.map((x) => `${x.id} ${x.status} ${x.hooks.length}`), ['ha published 1']);
  assert.deepEqual(rep2.repositories.map((x) => `${x.id} ${x.status} ${x.hooks.length}`), ['ha skipped 0']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n'), [`ha ${rep1.push_id}`]);
  assert.match(readFileSync(path.join(dataDir, 'logs', rep2.push_id, 'push.log'), 'utf8'), /hooks of ha: owed, and being run by another push running now: left to it/);
  // Owed by a push that is gone (killed in its hook step: its claim names a dead process): the next push runs them.
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'));
  db.prepare('INSERT INTO pending_hooks (repo_id, version, since, claim_host, claim_pid, claimed) VALUES (?, 1, ?, ?, ?, ?)').run('ha', Date.now(), (await import('node:os')).hostname(), 2 ** 22 + 12345, Date.now());
  db.close();
  rmSync(hooksLog);
  const r3 = push(['--json', root], { dataDir, config });
  assert.equal(r3.status, 0, r3.stderr);
  assert.deepEqual((JSON.parse(r3.stdout) as Rep).repositories.map((x) => `${x.id} ${x.status} ${x.hooks.length}`), ['ha skipped 1']);
  assert.equal(readFileSync(hooksLog, 'utf8').trim().split('\n').length, 1);
});

test('two pushes at once of a repository whose hooks failed before: the push that publishes its new version runs them, once; the other, finding them owed, leaves them to it', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const fail = path.join(work, 'fail');
  const started = path.join(work, 'started');
  const release = path.join(work, 'release');
  // The hook fails while "fail" exists; its first run after that says it started and waits until the test releases it.
  const hook = `echo $REPO_ID $VERSION $PUSH_ID >> ${hooksLog}; if [ -e ${fail} ]; then exit 1; fi; if mkdir ${path.join(work, 'first')} 2>/dev/null; then touch ${started}; while [ ! -e ${release} ]; do sleep 0.05; done; fi`;
  const config = writeConfig(work, `hooks:\n  post_publish: [${JSON.stringify(hook)}]\n`);
  const root = advisoryArea(path.join(work, 'a'), ['ha'], 'HOOKED-2', 'first text', '2026-01-01 00:00:00');
  writeFileSync(fail, '');
  assert.equal(push(['-q', root], { dataDir, config }).status, 6);
  rmSync(fail);
  // The advisory moves forward: version 2 to publish, and the hooks of version 1 still owed.
  advisoryArea(root, ['ha'], 'HOOKED-2', 'second text', '2026-02-01 00:00:00');
  const run = () => {
    const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--json', root], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    return new Promise<{ status: number | null; out: string; err: string }>((resolve) => c.on('close', (status) => resolve({ status, out, err })));
  };
  type Rep = { push_id: string; repositories: Array<{ id: string; status: string; version: number; hooks: unknown[] }> };
  const p1 = run();
  while (!existsSync(started)) await new Promise((r) => setTimeout(r, 20));
  const r2 = await run();
  writeFileSync(release, '');
  const r1 = await p1;
  assert.equal(r1.status, 0, r1.err);
  assert.equal(r2.status, 0, r2.err);
  const rep1 = JSON.parse(r1.out) as Rep;
  const rep2 = JSON.parse(r2.out) as Rep;
  assert.deepEqual(rep1.repositories.map((x) => `${x.id} ${x.status} ${x.version} ${x.hooks.length}`), ['ha published 2 1']);
  assert.deepEqual(rep2.repositories.map((x) => `${x.id} ${x.status} ${x.version} ${x.hooks.length}`), ['ha skipped 2 0']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n').slice(1), [`ha 2 ${rep1.push_id}`]);
  assert.match(readFileSync(path.join(dataDir, 'logs', rep2.push_id, 'push.log'), 'utf8'), /hooks of ha: owed, and being run by another push running now: left to it/);
  // Nothing is owed any more: the next push runs no hook.
  const r3 = push(['--json', root], { dataDir, config });
  assert.equal(r3.status, 0, r3.stderr);
  assert.deepEqual((JSON.parse(r3.stdout) as Rep).repositories.map((x) => `${x.id} ${x.status} ${x.hooks.length}`), ['ha skipped 0']);
});

test('a push publishing a repository another push committed a newer version of meanwhile reports, and gives its hooks, the version it published', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const started = path.join(work, 'started');
  const release = path.join(work, 'release');
  // A distributor that waits for the test once it has started, then publishes nothing: the first
  // push stops there, between its commit and its publish of rr.
  const plug = path.join(dataDir, 'plugins', 'gate');
  mkdirSync(plug, { recursive: true });
  writeFileSync(path.join(plug, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    path.join(plug, 'distributor.js'),
    `import fs from 'node:fs';
class Gate {
  metadata() { return { id: 'gate_distributor', types: ['directory'] }; }
  validateConfig() { return { valid: true }; }
  async publishRepo(repo, conduit, config) {
    fs.writeFileSync(config.get('started'), 'x');
    while (!fs.existsSync(config.get('release'))) await new Promise((r) => setTimeout(r, 50));
    return { success: true, summary: {} };
  }
  cancelPublishRepo() {}
}
export function entryPoint() { return [Gate, {}]; }
`,
  );
  const config = writeConfig(
    work,
    `plugins: {dir: ${path.dirname(plug)}}\nhooks:\n  post_publish: [${JSON.stringify(`echo $REPO_ID $VERSION >> ${hooksLog}`)}]\nrepositories:\n  aaa:\n    type: directory\n    distributors:\n      - {type_id: directory_distributor}\n      - {id: gate, type_id: gate_distributor, config: {started: ${started}, release: ${release}, relative_url: aaa-gate}}\n`,
  );
  const first = path.join(work, 'first');
  const second = path.join(work, 'second');
  for (const [root, d, f] of [[first, 'aaa', 'a.txt'], [first, 'rr', 'a.txt'], [second, 'rr', 'b.txt']] as const) {
    mkdirSync(path.join(root, d, 'RAW'), { recursive: true });
    writeFileSync(path.join(root, d, 'RAW', f), `${d}\n`);
  }
  const c = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--json', first], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  let out = '';
  let err = '';
  c.stdout.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr.on('data', (b: Buffer) => (err += b.toString()));
  let ended = false;
  const closed = new Promise<number | null>((resolve) =>
    c.on('close', (status) => {
      ended = true;
      resolve(status);
    }),
  );
  while (!existsSync(started) && !ended) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(started), `the first push reached its gate: ${err}`);
  // rr version 2, committed and not published, while the first push has rr's version 1 to publish.
  const r2 = push(['--json', '--skip', 'publish', second], { dataDir, config });
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual((JSON.parse(r2.stdout) as { repositories: Array<{ id: string; status: string; version: number }> }).repositories.map((x) => `${x.id} ${x.status} ${x.version}`), ['rr skipped 2']);
  writeFileSync(release, '');
  assert.equal(await closed, 0, err);
  const rep = JSON.parse(out) as { repositories: Array<{ id: string; status: string; previous_version: number; version: number }> };
  // It published version 2 (the tree holds the second push's file): said so, not version 1.
  assert.ok(existsSync(path.join(dataDir, 'published', 'http', 'rr', 'b.txt')));
  assert.deepEqual(rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`), ['aaa published 0 -> 1', 'rr published 0 -> 2']);
  assert.deepEqual(readFileSync(hooksLog, 'utf8').trim().split('\n'), ['aaa 1', 'rr 2']);
  // Its hooks ran for the version published: none owed, the next push runs none.
  const r3 = push(['--json', second], { dataDir, config });
  assert.equal(r3.status, 0, r3.stderr);
  assert.equal(readFileSync(hooksLog, 'utf8').trim().split('\n').length, 2);
});

test('a repository changed through a shared advisory whose post_publish hook failed gets its hook run again by the next push, whatever its destinations, until it succeeds', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const hooksLog = path.join(work, 'hooks.log');
  const flag = path.join(work, 'yb-hook-ok');
  // The hook fails for yb while the flag file is missing.
  const config = writeConfig(work, `hooks:\n  post_publish: ['echo $REPO_ID $VERSION >> ${hooksLog}; [ "$REPO_ID" != yb ] || [ -e ${flag} ]']\n`);
  const area = (name: string, dests: string[], text: string, updated: string) => advisoryArea(path.join(work, name), dests, 'SHARED-3', text, updated);
  type Rep = { repositories: Array<{ id: string; status: string; version: number; hooks: Array<{ ok: boolean }> }> };
  const run = (args: string[], status: number): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, status, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const states = (rep: Rep) => rep.repositories.map((x) => `${x.id} ${x.status} ${x.version} hooks ${x.hooks.map((h) => h.ok).join(',') || 'none'}`);
  writeFileSync(flag, '');
  run([area('a1', ['ya', 'yb'], 'first text', '2026-01-01 00:00:00')], 0);
  rmSync(flag);
  const a2 = area('a2', ['ya'], 'second text', '2026-02-01 00:00:00');
  assert.deepEqual(states(run([a2], 6)), ['ya published 2 hooks true', 'yb published 2 hooks false']);
  // Still failing: tried again by the next push of ya alone, and again after that.
  assert.deepEqual(states(run([a2], 6)), ['ya skipped 2 hooks none', 'yb skipped 2 hooks false']);
  writeFileSync(flag, '');
  assert.deepEqual(states(run([a2], 0)), ['ya skipped 2 hooks none', 'yb skipped 2 hooks true']);
  // Done: the push after that leaves yb alone.
  rmSync(hooksLog);
  assert.deepEqual(states(run([a2], 0)), ['ya skipped 2 hooks none']);
  assert.equal(existsSync(hooksLog), false);
});

test('the dry run lists a repository owed a publish or its hooks as the push then reports it: not at all with --skip publish (every repository skipped "--skip publish"), published again with --force-publish', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const flag = path.join(work, 'yb-hook-ok');
  // The hook fails for yb while the flag file is missing.
  const config = writeConfig(work, `hooks:\n  post_publish: ['[ "$REPO_ID" != yb ] || [ -e ${flag} ]']\n`);
  const area = (name: string, dests: string[], id: string, text: string, updated: string) => advisoryArea(path.join(work, name), dests, id, text, updated);
  type Rep = { repositories: Array<{ id: string; status: string; previous_version: number; version: number; reason?: string }> };
  const run = (args: string[], status = 0): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, status, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const states = (rep: Rep) => rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}${x.reason ? ` (${x.reason})` : ''}`);
  writeFileSync(flag, '');
  run([area('a1', ['ya', 'yb'], 'SHARED-5', 'first text', '2026-01-01 00:00:00')]);
  const a2 = area('a2', ['ya'], 'SHARED-5', 'second text', '2026-02-01 00:00:00');
  run(['--skip', 'publish', a2]);
  // yb's publish is owed; a --skip publish push of another destination leaves it owed, unlisted.
  const other = area('u', ['zc'], 'OTHER-5', 'other text', '2026-03-01 00:00:00');
  const skipDry = states(run(['--dry-run', '--skip', 'publish', other]));
  assert.deepEqual(skipDry, ['zc skipped 0 -> 1 (--skip publish)']);
  assert.deepEqual(states(run(['--skip', 'publish', other])), skipDry);
  // yb published, its hook fails: owed. --force-publish publishes it again with its hook.
  rmSync(flag);
  assert.deepEqual(states(run([a2], 6)), ['ya published 2 -> 2', 'yb published 2 -> 2']);
  const forceDry = states(run(['--dry-run', '--force-publish', other]));
  assert.deepEqual(forceDry, ['zc published 1 -> 1', 'yb published 2 -> 2']);
  assert.deepEqual(states(run(['--force-publish', other], 6)), forceDry);
});

test('a repository without a distributor (distributors: []) is skipped by the dry run as by the push, its own content changed or a shared unit', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work, 'repositories:\n  hold: {type: yum, destinations: [hold], distributors: []}\n');
  const area = (name: string, dests: string[], text: string, updated: string) => advisoryArea(path.join(work, name), dests, 'SHARED-6', text, updated);
  type Rep = { summary: { repositories_published: number }; repositories: Array<{ id: string; status: string; previous_version: number; version: number }> };
  const run = (args: string[]): Rep => {
    const r = push(['--json', ...args], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const states = (rep: Rep) => [...rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`), `published ${rep.summary.repositories_published}`];
  const a1 = area('a1', ['hold', 'ya'], 'first text', '2026-01-01 00:00:00');
  const dry = states(run(['--dry-run', a1]));
  assert.deepEqual(dry, ['hold skipped 0 -> 1', 'ya published 0 -> 1', 'published 1']);
  assert.deepEqual(states(run([a1])), dry);
  // The advisory moved forward through ya: hold gets a new version, and has nothing to publish it with.
  const a2 = area('a2', ['ya'], 'second text', '2026-02-01 00:00:00');
  const shared = states(run(['--dry-run', a2]));
  assert.deepEqual(shared, ['ya published 1 -> 2', 'hold skipped 1 -> 2', 'published 1']);
  assert.deepEqual(states(run([a2])), shared);
});

test('a file pushed into one repository with another description than the same file has in a second repository: the plan finds the shared unit changed (the dry run lists the second as would-be published), the push locks the second too, reports and publishes it', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = (name: string, dest: string, description: string) => {
    const root = path.join(work, name);
    mkdirSync(path.join(root, dest, 'FILES'), { recursive: true });
    writeFileSync(path.join(root, dest, 'FILES', 'x.txt'), 'same bytes\n');
    const yaml = ['header:', '  version: "0.2"', 'payload:', '  files:', `    - relative_path: ${dest}/FILES/x.txt`, `      sha256sum: ${sha256('same bytes\n')}`, '      version: "1.0"', '      attributes:', `        description: ${description}`];
    writeFileSync(path.join(root, 'staged.yaml'), yaml.join('\n') + '\n');
    return root;
  };
  assert.equal(push(['-q', area('one', 'fb', 'first')], { dataDir, config }).status, 0);
  // The description changes the one stored unit that fb holds too: the plan sees it (a file's
  // fingerprint holds its fields), so the dry run says so.
  type Rep = { repositories: Array<{ id: string; status: string; previous_version: number; version: number; shared_updates?: string[] }> };
  const two = area('two', 'fa', 'second');
  const dry = push(['--json', '--dry-run', two], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as Rep;
  assert.deepEqual(planned.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`), ['fa published 0 -> 1', 'fb published 1 -> 2']);
  assert.deepEqual(planned.repositories[1]!.shared_updates, ['shares file x.txt updated by this push']);
  const r = push(['--json', two], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Rep;
  assert.deepEqual(rep.repositories.map((x) => `${x.id} ${x.status} ${x.previous_version} -> ${x.version}`), ['fa published 0 -> 1', 'fb published 1 -> 2']);
  assert.deepEqual(rep.repositories[1]!.shared_updates, ['shares file x.txt updated by this push']);
});

test('a push the commit runs again with a shared repository locked (ENGINE_SHARED_NOT_LOCKED) reports a file its first attempt linked as linked, and counts its import progress once', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  // The same image (same fields) staged in two areas for two destinations: the plan sees one
  // unit, unchanged, but the upload stores where it was staged from (src, dest) in the shared
  // unit's metadata, which only the commit sees changing a unit the first repository holds.
  const image = Buffer.alloc(4096, 9);
  const area = (name: string, dest: string, extra: Record<string, unknown>[] = []) => {
    const root = path.join(work, name);
    mkdirSync(path.join(root, dest, 'AWS_IMAGES'), { recursive: true });
    writeFileSync(path.join(root, dest, 'AWS_IMAGES', 'img.raw'), image);
    const files = [{ relative_path: `${dest}/AWS_IMAGES/img.raw`, sha256sum: sha256(image), attributes: AMI_ATTRS }, ...extra];
    writeFileSync(path.join(root, 'staged.yaml'), JSON.stringify({ header: { version: '0.2' }, payload: { files } }));
    return root;
  };
  assert.equal(push(['-q', area('one', 'ca')], { dataDir, config }).status, 0);
  // Area two also has a file new to the store, which the first attempt links before its commit
  // is refused.
  const fresh = Buffer.alloc(3000, 5);
  const two = area('two', 'cb', [{ relative_path: 'cb/FILES/new.bin', attributes: { description: 'new' } }]);
  mkdirSync(path.join(two, 'cb', 'FILES'), { recursive: true });
  writeFileSync(path.join(two, 'cb', 'FILES', 'new.bin'), fresh);
  const r = push(['--json', '--progress', 'ndjson', two], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { items: Array<{ unit: string; stored?: string }>; repositories: Array<{ id: string; shared_updates?: string[] }>; summary: { bytes_linked: number; bytes_copied: number } };
  assert.deepEqual(rep.repositories.map((x) => `${x.id} ${x.shared_updates ?? ''}`), ['cb ', 'cb-export ', 'ca shares a unit updated by this push']);
  assert.deepEqual(rep.items.map((i) => `${i.unit} ${i.stored}`).sort(), ['ami:img.raw existing', 'iso:new.bin linked']);
  assert.equal(rep.summary.bytes_linked, fresh.length);
  const events = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; phase?: string; done?: number; total?: number });
  const imports = events.filter((e) => e.phase === 'import' && (e.type === 'phase-progress' || e.type === 'phase-end'));
  assert.ok(imports.length > 0);
  assert.ok(imports.every((e) => e.done! <= e.total!), JSON.stringify(imports));
  const last = imports.at(-1)!;
  assert.deepEqual([last.type, last.done, last.total], ['phase-end', 2, 2]);
});

test('a FILES or AMI item whose staged.yaml fields changed (same file) is replaced, in the dry run as in the push; the same fields again, or the area moved, are unchanged', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const file = Buffer.from('read me\n');
  const image = Buffer.alloc(4096, 9);
  mkdirSync(path.join(root, 'files', 'FILES'), { recursive: true });
  mkdirSync(path.join(root, 'cloud', 'AWS_IMAGES'), { recursive: true });
  writeFileSync(path.join(root, 'files', 'FILES', 'readme.txt'), file);
  writeFileSync(path.join(root, 'cloud', 'AWS_IMAGES', 'img.raw'), image);
  const staged = (version: string, description: string, region: string, codes: string[]) =>
    writeFileSync(
      path.join(root, 'staged.yaml'),
      JSON.stringify({
        header: { version: '0.2' },
        payload: {
          files: [
            { relative_path: 'files/FILES/readme.txt', sha256sum: sha256(file), version, attributes: { description } },
            { relative_path: 'cloud/AWS_IMAGES/img.raw', sha256sum: sha256(image), attributes: { ...AMI_ATTRS, region, billing_codes: { name: 'bc', codes } } },
          ],
        },
      }),
    );
  type Rep = { items: Array<{ repository: string; unit: string; action: string; unitId?: string; sha256?: string }>; repositories: Array<{ id: string; status: string; previous_version: number; version: number }> };
  const run = (args: string[], from = root): Rep => {
    const r = push(['--json', ...args, from], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Rep;
  };
  const actions = (rep: Rep) => rep.items.map((i) => `${i.unit} ${i.action}`).sort();
  const metadata = (repo: string) => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', repo, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ id: string; metadata: Record<string, unknown> }>)[0]!;
  };

  staged('1.0', 'first', 'eu-west-1', ['bp-1']);
  assert.deepEqual(actions(run([])), ['ami:img.raw pushed', 'iso:readme.txt pushed']);
  assert.deepEqual(actions(run([])), ['ami:img.raw unchanged', 'iso:readme.txt unchanged']);
  const ids = { files: metadata('files').id, cloud: metadata('cloud').id };

  // Only staged.yaml changes: the FILES version and description, the image's region and billing codes.
  staged('2.0', 'second', 'us-east-1', ['bp-1', 'bp-2']);
  const dry = run(['--dry-run']);
  const done = run([]);
  assert.deepEqual(actions(dry), ['ami:img.raw replaced', 'iso:readme.txt replaced']);
  assert.deepEqual(actions(done), actions(dry));
  // Reported as a replace is: the stored unit (updated in place: same key) and the staged sha256.
  assert.deepEqual(done.items.map((i) => `${i.repository} ${i.unitId} ${i.sha256}`).sort(), [`cloud ${ids.cloud} ${sha256(image)}`, `files ${ids.files} ${sha256(file)}`]);
  assert.deepEqual(done.repositories.map((r) => `${r.id} ${r.status} ${r.previous_version}->${r.version}`).sort(), ['cloud published 1->2', 'files published 1->2']);
  assert.deepEqual([metadata('files').metadata.version, metadata('files').metadata.description], ['2.0', 'second']);
  assert.deepEqual([metadata('cloud').metadata.region, metadata('cloud').metadata.billing_codes], ['us-east-1', { name: 'bc', codes: ['bp-1', 'bp-2'] }]);
  const manifest = JSON.parse(readFileSync(path.join(dataDir, 'published', 'export', 'cloud', 'manifest.json'), 'utf8')) as { units: Array<{ metadata: { region: string } }> };
  assert.equal(manifest.units[0]!.metadata.region, 'us-east-1');

  // Idempotent: the same fields again change nothing; nor does the same area pushed from
  // elsewhere (where it was staged is not what the unit is).
  assert.deepEqual(actions(run([])), ['ami:img.raw unchanged', 'iso:readme.txt unchanged']);
  const moved = path.join(work, 'moved');
  cpSync(root, moved, { recursive: true });
  const again = run([], moved);
  assert.deepEqual(actions(again), ['ami:img.raw unchanged', 'iso:readme.txt unchanged']);
  assert.ok(again.repositories.every((r) => r.status === 'skipped' && r.version === 2), JSON.stringify(again.repositories));
});

/** The data dir holds no repository (none was made, or every one made was deleted again). */
function assertNoRepositories(dataDir: string): void {
  assert.equal(existsSync(path.join(dataDir, 'engine.db')) ? runCli(['--data-dir', dataDir, 'repo', 'list', '--json']).stdout.trim() : '[]', '[]');
}

/** A push (with `args`) refused as invalid input: its PUSH_SHARED_UNIT_FIELDS problems. */
function sharedFieldsRefusal(args: string[], root: string, env: { dataDir: string; config?: string }): Array<{ code: string; file?: string; field?: string; message: string }> {
  const r = push(['--json', ...args, root], env);
  assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { problems: Array<{ code: string; file?: string; field?: string; message: string }> }).problems.filter((p) => p.code === 'PUSH_SHARED_UNIT_FIELDS');
}

/** Pushed again: its items (repository, action), sorted, are `want`. */
function assertUnchanged(root: string, env: { dataDir: string; config?: string }, want: string[]): void {
  const again = push(['--json', root], env);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as { items: Array<{ repository: string; action: string }> }).items.map((i) => `${i.repository} ${i.action}`).sort(), want);
}

test('one file staged for two repositories with different staged.yaml fields is refused (they share one unit, which holds one set of fields), with --dest/--exclude-dest too; with the same fields it pushes, then is unchanged', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const file = Buffer.from('the same file\n');
  for (const d of ['a', 'b']) {
    mkdirSync(path.join(root, d, 'FILES'), { recursive: true });
    writeFileSync(path.join(root, d, 'FILES', 'notes.txt'), file);
  }
  const staged = (descA: string, descB: string) =>
    writeFileSync(
      path.join(root, 'staged.yaml'),
      JSON.stringify({
        header: { version: '0.2' },
        payload: {
          files: [
            { relative_path: 'a/FILES/notes.txt', sha256sum: sha256(file), version: '1', attributes: { description: descA } },
            { relative_path: 'b/FILES/notes.txt', sha256sum: sha256(file), version: '1', attributes: { description: descB } },
          ],
        },
      }),
    );
  staged('for a', 'for b');
  const refused = push(['--json', root], { dataDir, config });
  assert.equal(refused.status, 3, refused.stderr);
  const rep = JSON.parse(refused.stdout) as { problems: Array<{ code: string; file?: string; message: string }> };
  const shared = rep.problems.filter((p) => p.code === 'PUSH_SHARED_UNIT_FIELDS');
  assert.deepEqual(shared.map((p) => path.relative(root, p.file ?? '')).sort(), ['a/FILES/notes.txt', 'b/FILES/notes.txt']);
  assert.match(shared.find((p) => p.file?.includes('/a/'))!.message, /notes\.txt for b/);
  assertNoRepositories(dataDir);
  // One destination at a time, the area would still write one set of fields over the other on
  // every run: refused whatever --dest/--exclude-dest leave out, both items named.
  for (const filter of [['--dest', 'a'], ['--dest', 'b'], ['--exclude-dest', 'b']]) {
    const found = sharedFieldsRefusal(filter, root, { dataDir, config });
    assert.deepEqual(found.map((p) => path.relative(root, p.file ?? '')).sort(), ['a/FILES/notes.txt', 'b/FILES/notes.txt'], filter.join(' '));
  }
  assertNoRepositories(dataDir);

  staged('shared text', 'shared text');
  const first = push(['--json', root], { dataDir, config });
  assert.equal(first.status, 0, first.stderr);
  assertUnchanged(root, { dataDir, config }, ['a unchanged', 'b unchanged']);
});

test('one advisory id staged for two repositories with other fields is refused, naming both files and the fields, with --dest too: they share one unit, the merge rule kept one text and the next push was refused; other package lists alone are merged', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const stage = (a: string, b: string) => {
    for (const [d, text] of [['a', a], ['b', b]] as const) {
      mkdirSync(path.join(root, d, 'ERRATA'), { recursive: true });
      writeFileSync(path.join(root, d, 'ERRATA', 'E.yaml'), text);
    }
  };
  const pkgs = (names: string[]) => names.map((n) => ({ name: n, version: '1.0', file: `${n}-1.0-1.noarch.rpm` }));
  stage(erratumYaml('TWO-1', { title: 'for a' }), erratumYaml('TWO-1', { title: 'for b' }));
  for (const filter of [[], ['--dest', 'a'], ['--exclude-dest', 'a']]) {
    const shared = sharedFieldsRefusal(filter, root, { dataDir, config });
    assert.deepEqual(shared.map((p) => `${path.relative(root, p.file ?? '')} ${p.field}`).sort(), ['a/ERRATA/E.yaml title', 'b/ERRATA/E.yaml title'], filter.join(' '));
    assert.match(shared.find((p) => p.file?.includes('/a/'))!.message, /advisory TWO-1 for a with other fields \(title\) than .*b\/ERRATA\/E\.yaml for b/);
  }
  assertNoRepositories(dataDir);
  // The same fields with other package lists: one unit with both lists, then unchanged.
  stage(erratumYaml('TWO-1', { pkgs: pkgs(['pa']) }), erratumYaml('TWO-1', { pkgs: pkgs(['pb']) }));
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  assertUnchanged(root, { dataDir, config }, ['a unchanged', 'b unchanged']);
});

test('one module stream (NSVCA) staged for two repositories with different documents is refused, naming both files, with --dest too: they share one unit, and each push wrote one document over the other', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const stream = (description: string) =>
    `---\ndocument: modulemd\nversion: 2\ndata: {name: hmod, stream: "1", version: 1, context: aaaa0001, arch: noarch, summary: s, description: ${description}, license: {module: [MIT]}}\n...\n`;
  const stage = (a: string, b: string) => {
    for (const [d, text] of [['a', a], ['b', b]] as const) {
      mkdirSync(path.join(root, d, 'MODULEMD'), { recursive: true });
      writeFileSync(path.join(root, d, 'MODULEMD', 'modules.yaml'), text);
    }
  };
  stage(stream('for a'), stream('for b'));
  for (const filter of [[], ['--dest', 'a'], ['--exclude-dest', 'a']]) {
    const shared = sharedFieldsRefusal(filter, root, { dataDir, config });
    assert.deepEqual(shared.map((p) => path.relative(root, p.file ?? '')).sort(), ['a/MODULEMD/modules.yaml', 'b/MODULEMD/modules.yaml'], filter.join(' '));
    assert.match(shared.find((p) => p.file?.includes('/a/'))!.message, /module stream hmod:1:1:aaaa0001:noarch for a with another document than .*b\/MODULEMD\/modules\.yaml for b/);
  }
  assertNoRepositories(dataDir);
  // The same document (the defaults are each repository's own) pushes, then is unchanged.
  stage(stream('shared'), `${stream('shared')}---\ndocument: modulemd-defaults\nversion: 1\ndata: {module: hmod, stream: "1"}\n...\n`);
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  assertUnchanged(root, { dataDir, config }, ['a unchanged', 'b unchanged']);
});
