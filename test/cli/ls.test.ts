import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { AMI_ATTRS, ERRATUM, stage, stagedYaml } from '../helpers/staged.js';
import { cannotRunAsNobody } from '../helpers/nobody.js';

const hash = (algo: string, p: string) => createHash(algo).update(readFileSync(p)).digest('hex');

function layout() {
  return stage({
    'staged.yaml': stagedYaml([
      { relative_path: 'dest1/FILES/a.txt', filename: 'a.txt', version: '2', order: 3, attributes: { description: 'yes' } },
      { relative_path: 'dest1/AWS_IMAGES/img.raw', attributes: AMI_ATTRS },
    ]),
    'dest1/FILES/a.txt': 'content of a\n',
    'dest1/AWS_IMAGES/img.raw': 'image',
    'dest1/ERRATA/e.yaml': YAML.stringify(ERRATUM),
    'dest1/COMPS/comps.xml': '<comps/>\n',
    'dest1/DOCKER/x': 'docker',
    'dest2/RAW/x': 'x',
  });
}

test('ls --format json: pushsource-ls shape (single-key objects, attrs field order), exit 0 with warnings', () => {
  const root = layout();
  const r = runCli(['ls', '--format', 'json', `staged:${root}`]);
  assert.equal(r.status, 0, r.stderr);
  const items = JSON.parse(r.stdout) as Array<Record<string, Record<string, unknown>>>;
  assert.deepEqual(items.map((i) => Object.keys(i)), [['ErratumPushItem'], ['FilePushItem'], ['CompsXmlPushItem'], ['AmiPushItem'], ['DirectoryPushItem']]);
  const file = items[1]!.FilePushItem!;
  assert.deepEqual(Object.keys(file), ['name', 'state', 'src', 'dest', 'md5sum', 'sha256sum', 'origin', 'build', 'build_info', 'signing_key', 'description', 'version', 'display_order']);
  assert.equal(file.src, `${root}/dest1/FILES/a.txt`);
  assert.equal(file.description, 'yes');
  assert.equal((items[3]!.AmiPushItem!.release as { date: string }).date, '2020-05-11');
  assert.match(r.stderr, /Unsupported content found: .*DOCKER\/x/);
  assert.match(r.stderr, /5 item\(s\) from 1 source\(s\), 1 warning/);
});

test('ls (yaml): comment lines, valid YAML as a whole, same data as json; ndjson', () => {
  const root = layout();
  const y = runCli(['ls', `staged:${root}`, root]);
  assert.equal(y.status, 0, y.stderr);
  const lines = y.stdout.split('\n');
  assert.equal(lines[0], `# Loaded source staged:${root}`);
  assert.ok(lines.includes('# 5 item(s) found in source'));
  assert.ok(lines.includes(`# Loaded source staged:${root}`));
  const parsed = YAML.parse(y.stdout, { version: '1.1' }) as unknown[];
  const j = runCli(['ls', '--format', 'json', `staged:${root}`, root]);
  const fromJson = JSON.parse(j.stdout) as unknown[];
  assert.equal(parsed.length, 10);
  // YAML 1.1 reads the release date as a date; everything else is identical
  const norm = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'string' && /^\d{4}-\d{2}-\d{2}T00:00:00.000Z$/.test(x) ? x.slice(0, 10) : x)));
  assert.deepEqual(norm(parsed), fromJson);
  assert.match(y.stdout, /^ {6}date: 2020-05-11$/m);
  assert.match(y.stdout, /^ {4}display_order: 3\.0$/m, 'display_order prints as a float');
  assert.match(y.stdout, /^ {4}description: 'yes'$/m, 'a YAML 1.1 boolean word stays a quoted string');
  const n = runCli(['ls', '--format', 'ndjson', `staged:${root}`]);
  assert.deepEqual(n.stdout.trim().split('\n').map((l) => JSON.parse(l)), fromJson.slice(0, 5));
});

test('ls with problems: every error listed on stderr and in --json, exit 3, nothing on stdout', () => {
  const root = stage({
    'staged.yaml': stagedYaml([{ relative_path: 'd/FILES/b', attributes: {} }]),
    'd/FILES/a': 'a',
    'd/FILES/b': 'b',
    'd/ERRATA/e.yaml': JSON.stringify({ ...ERRATUM, type: 'RHXA' }),
  });
  const r = runCli(['ls', `staged:${root}`]);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`\\[STAGED_METADATA_MISSING\\] ${root}/d/FILES/a: d/FILES/a: No metadata available`));
  assert.match(r.stderr, new RegExp(`\\[STAGED_METADATA_INVALID\\] ${root}/staged.yaml: d/FILES/b: attributes.description: is required`));
  assert.match(r.stderr, /\[ITEM_FIELD_INVALID\] .*ERRATA\/e.yaml: RHSA-2020:0509: type: /);
  assert.match(r.stderr, /3 problem\(s\) found/);
  const j = runCli(['ls', '--json', `staged:${root}`]);
  assert.equal(j.status, 3);
  const doc = JSON.parse(j.stdout) as { ok: boolean; problems: Array<{ code: string; file: string }> };
  assert.equal(doc.ok, false);
  assert.deepEqual(doc.problems.map((p) => p.code).sort(), ['ITEM_FIELD_INVALID', 'STAGED_METADATA_INVALID', 'STAGED_METADATA_MISSING']);
});

test('ls --with-checksums fills md5/sha256 (as node crypto computes them) and refuses a wrong staged sha256sum', () => {
  const root = layout();
  const r = runCli(['ls', '--format', 'json', '--with-checksums', `staged:${root}?threads=2`]);
  assert.equal(r.status, 0, r.stderr);
  const items = JSON.parse(r.stdout) as Array<Record<string, { src: string; md5sum: string | null; sha256sum: string | null }>>;
  for (const it of items) {
    const [kind, f] = Object.entries(it)[0]!;
    if (kind === 'DirectoryPushItem') {
      assert.equal(f.md5sum, null);
      continue;
    }
    assert.equal(f.md5sum, hash('md5', f.src), kind);
    assert.equal(f.sha256sum, hash('sha256', f.src), kind);
  }
  const only = runCli(['ls', '--format', 'json', '--with-checksums=sha256', `staged:${root}`]);
  const file = (JSON.parse(only.stdout) as Array<Record<string, { md5sum: string | null; sha256sum: string }>>)[1]!.FilePushItem!;
  assert.equal(file.md5sum, null);
  assert.equal(file.sha256sum.length, 64);
  const bad = runCli(['ls', '--with-checksums=md5', 'x'], { cwd: tempDir() });
  assert.equal(bad.status, 3, 'x is a staging directory that does not exist: invalid input');
  assert.match(bad.stderr, /STAGED_DIR_NOT_FOUND\] x: staging directory x: no such file or directory/);
  assert.equal(runCli(['ls', '--with-checksums=sha1', root]).status, 2);

  const wrong = stage({ 'staged.yaml': stagedYaml([{ relative_path: 'd/FILES/a', sha256sum: 'ab'.repeat(32), attributes: { description: '' } }]), 'd/FILES/a': 'a' });
  const m = runCli(['ls', '--with-checksums=md5', `staged:${wrong}`]);
  assert.equal(m.status, 3);
  assert.match(m.stderr, new RegExp(`\\[STAGED_CHECKSUM_MISMATCH\\] ${wrong}/staged.yaml: d/FILES/a: sha256sum: sha256sum ${'ab'.repeat(32)} given for ${wrong}/d/FILES/a does not match its content \\(${hash('sha256', path.join(wrong, 'd/FILES/a'))}\\)`));
  // without --with-checksums the staged value is taken as is (pushsource does not verify it)
  assert.equal(runCli(['ls', `staged:${wrong}`]).status, 0);

  // `--with-checksums DIR`: a short relative directory name is the source, not an algorithm list.
  const short = runCli(['ls', '--format', 'json', '--with-checksums', path.basename(root)], { cwd: path.dirname(root) });
  assert.equal(short.status, 0, short.stderr);
  assert.equal((JSON.parse(short.stdout) as Array<Record<string, { sha256sum: string | null }>>)[1]!.FilePushItem!.sha256sum!.length, 64);
});

test('display_order prints as Python writes a float: 3.0 in JSON and ndjson, 1.0e-07 in YAML (1e-07 in JSON)', () => {
  const root = stage({
    // 1e-7 as PyYAML writes a float (a bare "1e-7" is a string for PyYAML, and for us).
    'staged.yaml': stagedYaml([
      { relative_path: 'd/FILES/a', order: 3, attributes: { description: 'a' } },
      { relative_path: 'd/FILES/b', order: 0.0000001, attributes: { description: 'b "display_order": 7' } },
      { relative_path: 'd/FILES/c', attributes: { description: 'c' } },
    ]).replace('"order": 1e-7', '"order": 1.0e-07'),
    'd/FILES/a': 'a',
    'd/FILES/b': 'b',
    'd/FILES/c': 'c',
  });
  const j = runCli(['ls', '--format', 'json', `staged:${root}`]);
  assert.equal(j.status, 0, j.stderr);
  assert.deepEqual([...j.stdout.matchAll(/"display_order": (.*)/g)].map((m) => m[1]), ['3.0', '1e-07', 'null']);
  assert.match(j.stdout, /"description": "b \\"display_order\\": 7"/, 'a string value is left alone');
  const n = runCli(['ls', '--format', 'ndjson', `staged:${root}`]);
  assert.deepEqual([...n.stdout.matchAll(/"display_order":([^,}]*)/g)].map((m) => m[1]), ['3.0', '1e-07', 'null']);
  const y = runCli(['ls', `staged:${root}`]);
  assert.deepEqual([...y.stdout.matchAll(/^ {4}display_order: (.*)$/gm)].map((m) => m[1]), ['3.0', '1.0e-07', 'null']);
  // YAML 1.1 (PyYAML's) reads them back as numbers.
  const back = YAML.parse(y.stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n'), { version: '1.1' }) as Array<{ FilePushItem: { display_order: number | null } }>;
  assert.deepEqual(back.map((i) => i.FilePushItem.display_order), [3, 1e-7, null]);
});

test('a FIFO named x.rpm with ?timeout=1 ends non-zero within 5 s, naming it', async () => {
  const root = stage({ 'd/RPMS/x.rpm': { fifo: true } });
  const t0 = Date.now();
  const child = spawnCli(['ls', `staged:${root}?timeout=1`]);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(killer);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.notEqual(code, 0);
  assert.ok(err.includes(`${root}/d/RPMS/x.rpm`), err);
});

test('poll_timeout/poll_rate wait for the staging directory to appear', async () => {
  const base = tempDir();
  const root = path.join(base, 'later');
  const child = spawnCli(['ls', '--format', 'json', `staged:${root}?poll_timeout=20&poll_rate=0.1`]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  setTimeout(() => {
    mkdirSync(path.join(root, 'd', 'COMPS'), { recursive: true });
    writeFileSync(path.join(root, 'd', 'COMPS', 'c.xml'), 'c');
  }, 700);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0);
  assert.equal((JSON.parse(out) as unknown[]).length, 1);
  const missing = runCli(['ls', `staged:${base}/never?poll_timeout=0.3&poll_rate=0.1`]);
  assert.equal(missing.status, 3);
  assert.match(missing.stderr, /is missing after 0.3 seconds/);
  assert.match(missing.stderr, /STAGED_DIR_NOT_FOUND/);
});

test('a missing staging directory is invalid input (exit 3, STAGED_DIR_NOT_FOUND naming it), bare or staged:; a file, STAGED_NOT_A_DIRECTORY; only a URL wrong as a command line is a usage error (2)', () => {
  const base = tempDir();
  const file = path.join(base, 'file');
  writeFileSync(file, 'x');
  for (const [arg, code] of [
    [`${base}/missing`, 'STAGED_DIR_NOT_FOUND'],
    [`staged:${base}/missing`, 'STAGED_DIR_NOT_FOUND'],
    [file, 'STAGED_NOT_A_DIRECTORY'],
    [`staged:${file}`, 'STAGED_NOT_A_DIRECTORY'],
  ]) {
    const r = runCli(['ls', '--json', arg!]);
    assert.equal(r.status, 3, `${arg}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { problems: Array<{ code: string; file: string }> };
    assert.deepEqual(out.problems.map((p) => [p.code, p.file]), [[code, arg!.replace(/^staged:/, '')]]);
  }
  for (const arg of ['koji:x', '', 'staged:', `staged:${base}?threads=x`]) {
    const r = runCli(['ls', arg]);
    assert.equal(r.status, 2, `'${arg}': ${r.stderr}`);
    assert.match(r.stderr, /STAGED_URL_INVALID/);
  }
});

test('usage errors: bad URL parameter, bad format', () => {
  const root = layout();
  assert.equal(runCli(['ls', `staged:${root}?threads=x`]).status, 2);
  assert.equal(runCli(['ls', '--format', 'xml', root]).status, 2);
});

test("the README's first command: ls of the bundled staging area", () => {
  const r = runCli(['ls', '--format', 'json', 'staged:fixtures/staging/basic'], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  const items = JSON.parse(r.stdout) as Array<Record<string, Record<string, unknown>>>;
  assert.deepEqual(items.map((i) => Object.keys(i)[0]).sort(), [
    'CGWPushItem', 'CompsXmlPushItem', 'DirectoryPushItem', 'ErratumPushItem', 'FilePushItem', 'FilePushItem', 'ModuleMdPushItem', 'ProductIdPushItem', 'RpmPushItem', 'RpmPushItem',
  ]);
  const hello = items.find((i) => i.RpmPushItem?.name === 'hello-1.0-1.noarch.rpm')!.RpmPushItem!;
  assert.match(String(hello.signing_key), /^[0-9A-F]{8}$/);
  const yaml = runCli(['ls', 'staged:fixtures/staging/basic'], { cwd: ROOT });
  assert.equal(yaml.status, 0);
  assert.equal((YAML.parse(yaml.stdout) as unknown[]).length, 10);
});

test('YAML output a PyYAML reader reads back: tabs, its line breaks (U+0085, U+2028, U+2029), "=" and "<<" are written double-quoted with its escapes', async () => {
  const descs = ['tab\there', '=', '<<', 'line\u2028sep', 'para\u2029sep', 'nel\u0085x', 'plain words', 'quote " and \\ backslash'];
  const entries = descs.map((d, i) => ({ relative_path: `d/FILES/f${i}`, attributes: { description: d } }));
  // Written with escapes: a raw NEL in the staged.yaml would be a line break to PyYAML (folded away).
  const files: Record<string, string> = { 'staged.yaml': stagedYaml(entries).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) };
  descs.forEach((_d, i) => (files[`d/FILES/f${i}`] = `${i}\n`));
  const root = stage(files);
  const r = runCli(['ls', `staged:${root}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /description: "tab\\there"/);
  assert.match(r.stdout, /description: "="/);
  assert.match(r.stdout, /description: "<<"/);
  assert.match(r.stdout, /description: "line\\Lsep"/);
  assert.match(r.stdout, /description: "nel\\Nx"/);
  assert.match(r.stdout, /description: plain words/);
  // Read back with PyYAML's rules (YAML 1.1, its resolvers): every description as it was.
  const { parseYamlFull } = await import('../../src/formats/yaml/read.js');
  const back = await parseYamlFull(r.stdout);
  assert.equal(back.error, undefined);
  const got = (back.value as Array<{ FilePushItem: { description: string } }>).map((x) => x.FilePushItem.description).sort();
  assert.deepEqual(got, [...descs].sort());
});

test('a destination (or type) directory this user cannot read is a problem naming it, not silently skipped (a mirror push would remove its content)', (t) => {
  const why = cannotRunAsNobody();
  if (why) {
    t.skip(why);
    return;
  }
  const root = stage({ 'd1/FILES/a.txt': 'a\n', 'd2/COMPS/c.xml': 'c', 'd3/COMPS/c.xml': 'c', 'staged.yaml': stagedYaml([{ relative_path: 'd1/FILES/a.txt', attributes: { description: 'a' } }]) });
  spawnSync('chmod', ['-R', 'a+rX', root]);
  chmodSync(path.join(root, 'd1'), 0o700); // the destination: not listable by nobody
  chmodSync(path.join(root, 'd3', 'COMPS'), 0o700); // a type directory: not listable
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', 'HOME=/tmp', process.execPath, path.join(ROOT, 'bin', 'stagepush'), 'ls', '--json', `staged:${root}`], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  const out = JSON.parse(r.stdout) as { problems: Array<{ code: string; file: string }>; items: unknown[] };
  assert.deepEqual(out.problems.filter((p) => p.code === 'STAGED_DIR_UNREADABLE').map((p) => path.relative(root, p.file)).sort(), ['d1', path.join('d3', 'COMPS')]);
});
