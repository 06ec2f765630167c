import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseConfigText, loadConfig, resolveSettings, declaredRepos, autoRepo, defaultConfig, CONFIG_SCHEMA } from '../../src/config/index.js';
import { StagepushError } from '../../src/errors.js';
import { runCli, tempDir } from '../helpers/cli.js';

function problemsOf(text: string): StagepushError {
  try {
    parseConfigText(text, '/x/config.yaml');
  } catch (e) {
    assert.ok(e instanceof StagepushError);
    return e;
  }
  assert.fail('expected a config error');
}

test('errors name the key and the line, every one of them', () => {
  const err = problemsOf(['data_dir: /tmp/x', 'repositories:', '  r1:', '    push_mode: mirrorr', '    distributors:', '      - type_id: yum_distributor', '        config:', '          htps: true', 'bogus: 1', ''].join('\n'));
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.equal(err.kind, 'invalid');
  const byField = new Map(err.problems.map((p) => [p.field, p]));
  assert.equal(byField.get('repositories.r1.push_mode')?.entry, 'line 4');
  assert.match(byField.get('repositories.r1.push_mode')!.message, /additive/);
  assert.equal(byField.get('repositories.r1.distributors.0.config.htps')?.entry, 'line 8');
  assert.equal(byField.get('bogus')?.entry, 'line 9');
  assert.equal(err.problems.length, 3);
  assert.ok(err.problems.every((p) => p.file === '/x/config.yaml'));
});

test('YAML syntax errors give the line', () => {
  const err = problemsOf('repositories:\n  r1: {type: yum\nfoo: [\n');
  assert.equal(err.code, 'CONFIG_YAML');
  assert.match(err.message, /line \d+/);
});

test('unknown templates and duplicate distributor ids are refused with their line', () => {
  const err = problemsOf('unknown_destination: template:nope\nrepositories:\n  a:\n    template: ghost\n    distributors:\n      - type_id: yum_distributor\n      - type_id: yum_distributor\n');
  const fields = err.problems.map((p) => `${p.field}@${p.entry}`).sort();
  assert.deepEqual(fields, ['repositories.a.distributors.1.id@line 7', 'repositories.a.template@line 4', 'unknown_destination@line 1']);
});

test('defaults are filled from the schema', () => {
  const c = defaultConfig();
  assert.equal(c.unknown_destination, 'auto_create');
  assert.equal(c.allow_unsigned, false);
  assert.deepEqual(c.allowed_signing_keys, []);
  assert.equal(c.log_retention_days, 30);
  assert.deepEqual(c.hooks.post_publish, []);
  assert.equal((CONFIG_SCHEMA.properties.log_retention_days as { default: number }).default, 30);
});

test('precedence: flag > environment > file > default; file search order', () => {
  const dir = tempDir();
  const xdg = path.join(dir, 'xdg');
  mkdirSync(path.join(xdg, 'stagepush'), { recursive: true });
  writeFileSync(path.join(xdg, 'stagepush', 'config.yaml'), 'data_dir: from-xdg\npublish:\n  root: /pub\n');
  const explicit = path.join(dir, 'explicit.yaml');
  writeFileSync(explicit, 'data_dir: /from-explicit\n');
  const envCfg = path.join(dir, 'env.yaml');
  writeFileSync(envCfg, 'data_dir: /from-env-file\n');
  const env = { XDG_CONFIG_HOME: xdg, HOME: dir } as NodeJS.ProcessEnv;

  const a = loadConfig(undefined, env);
  assert.equal(a.file, path.join(xdg, 'stagepush', 'config.yaml'));
  assert.equal(resolveSettings(a, {}, env).dataDir, path.join(xdg, 'stagepush', 'from-xdg'));
  assert.equal(resolveSettings(a, {}, env).publishRoot, '/pub');
  assert.equal(resolveSettings(a, {}, { ...env, STAGEPUSH_DATA_DIR: '/env-dd' }).dataDir, '/env-dd');
  assert.equal(resolveSettings(a, { dataDir: '/flag-dd' }, { ...env, STAGEPUSH_DATA_DIR: '/env-dd' }).dataDir, '/flag-dd');
  assert.equal(loadConfig(undefined, { ...env, STAGEPUSH_CONFIG: envCfg }).file, envCfg);
  assert.equal(loadConfig(explicit, { ...env, STAGEPUSH_CONFIG: envCfg }).file, explicit);
  const none = loadConfig(undefined, { XDG_CONFIG_HOME: path.join(dir, 'nothing'), HOME: dir });
  assert.ok(none.file === null || none.file === '/etc/stagepush/config.yaml');
  assert.throws(() => loadConfig(path.join(dir, 'missing.yaml'), env), (e: unknown) => e instanceof StagepushError && e.code === 'CONFIG_NOT_FOUND');
});

test('repositories: templates, destinations, auto-created repositories', () => {
  const c = parseConfigText(
    [
      'templates:',
      '  signed-yum:',
      '    template: yum',
      '    retain_old_count: 2',
      'repositories:',
      '  rhel-8-base:',
      '    template: signed-yum',
      '    destinations: [rhel-8, rhel-8-all]',
      '  rhel-8-debug:',
      '    type: yum',
      '    destinations: [rhel-8]',
      '    push_mode: mirror',
      '    duplicate_nevra: refuse',
      '',
    ].join('\n'),
    '/c.yaml',
  );
  const repos = declaredRepos(c);
  assert.deepEqual(repos.map((r) => r.id), ['rhel-8-base', 'rhel-8-debug']);
  const base = repos[0]!;
  assert.equal(base.retainOldCount, 2);
  assert.equal(base.importer.typeId, 'yum_importer');
  assert.deepEqual(base.distributors.map((d) => [d.typeId, d.config.relative_url]), [['yum_distributor', 'rhel-8-base']]);
  assert.equal(repos[1]!.pushMode, 'mirror');
  assert.equal(repos[1]!.duplicateNevra, 'refuse');
  const auto = autoRepo(c, 'dest-x', 'file', true);
  assert.equal(auto.origin, 'auto_create');
  assert.deepEqual(auto.distributors.map((d) => d.typeId), ['iso_distributor', 'export_distributor']);
  assert.deepEqual(auto.distributors[0]!.config, { http: true, https: false, relative_url: 'dest-x' });
});

test('stagepush config check / config schema', () => {
  const dir = tempDir();
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, 'repositories:\n  r:\n    type: file\n');
  const ok = runCli(['config', 'check', '--config', good, '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  assert.equal(out.valid, true);
  assert.equal(out.repositories[0].kind, 'file');
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'repositories:\n  r:\n    type: fil\n');
  const no = runCli(['config', 'check', bad]);
  assert.equal(no.status, 3);
  assert.match(no.stderr, /repositories\.r\.type/);
  assert.match(no.stderr, /line 3/);
  const schema = runCli(['config', 'schema']);
  assert.equal(schema.status, 0);
  const s = JSON.parse(schema.stdout);
  assert.equal(s.properties.unknown_destination.default, 'auto_create');
  assert.ok(s.properties.agent.properties.conf_d);
  assert.ok(s.properties.plugins.properties.dir);
});

test('plugin configs are passed as written (schema defaults are not injected into them)', () => {
  const c = parseConfigText('repositories:\n  r:\n    type: yum\n    distributors:\n      - type_id: yum_distributor\n        config: {https: true}\n      - type_id: export_distributor\n', '/c');
  const r = declaredRepos(c)[0]!;
  assert.deepEqual(r.distributors.map((d) => d.config), [{ https: true, relative_url: 'r' }, {}]);
});
