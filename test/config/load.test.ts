import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseConfigText, loadConfig, loadConfigFile, resolveSettings, declaredRepos, autoRepo, defaultConfig, CONFIG_SCHEMA } from '../../src/config/index.js';
import { StagepushError } from '../../src/errors.js';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

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

test('an importer or distributor without type_id is that one problem, not every built-in plugin\'s keys called unknown', () => {
  const err = problemsOf(['repositories:', '  r1:', '    type: yum', '    importer: {config: {require_signature: true}}', '    distributors: [{config: {relative_url: x}}]', ''].join('\n'));
  assert.deepEqual(err.problems.map((p) => `${p.field} ${p.entry}`).sort(), ['repositories.r1.distributors.0.type_id line 5', 'repositories.r1.importer.type_id line 4']);
  assert.equal(err.problems.length, 2, JSON.stringify(err.problems));
  assert.ok(err.problems.every((p) => /required key missing/.test(p.message)));
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
  assert.equal(c.push.threads, undefined, 'unset: the number of CPUs, at most 4');
  assert.equal(parseConfigText('push: {threads: 3}\n', '/x/c.yaml').push.threads, 3);
  for (const bad of ['push: {threads: many}\n', 'push: {threads: 0}\n', 'push: {threads: 1.5}\n', 'push: {threads: auto}\n']) {
    const err = problemsOf(bad);
    assert.deepEqual(err.problems.map((p) => `${p.field}@${p.entry}`), ['push.threads@line 1'], bad);
  }
  assert.equal((CONFIG_SCHEMA.properties.log_retention_days as { default: number }).default, 30);
  // The embedded default (built without the validator) is what the validator makes of an empty file.
  assert.deepEqual(defaultConfig(), parseConfigText('', '/x/empty.yaml'));
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
  assert.throws(() => loadConfig(path.join(dir, 'missing.yaml'), env), (e: unknown) => e instanceof StagepushError && e.code === 'CONFIG_NOT_FOUND' && e.kind === 'usage');
  // Named by the environment: a configuration problem (exit 3), not a bad command line.
  assert.throws(() => loadConfig(undefined, { ...env, STAGEPUSH_CONFIG: path.join(dir, 'missing.yaml') }), (e: unknown) => e instanceof StagepushError && e.code === 'CONFIG_NOT_FOUND' && e.kind === 'invalid' && /STAGEPUSH_CONFIG/.test(e.message));
});

test('repositories: templates, destinations, auto-created repositories', () => {
  const c = parseConfigText(
    [
      'templates:',
      '  signed-yum:',
      '    template: yum',
      '    retain_old_count: 2',
      '  mirrored:',
      '    template: signed-yum',
      '    push_mode: mirror',
      '    duplicate_nevra: refuse',
      '    retain_repo_versions: 3',
      '  relaxed:',
      '    template: mirrored',
      '    duplicate_nevra: replace',
      'repositories:',
      '  from-template:',
      '    template: mirrored',
      '  from-relaxed:',
      '    template: relaxed',
      '  overriding:',
      '    template: mirrored',
      '    push_mode: additive',
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
  assert.deepEqual(repos.map((r) => r.id), ['from-relaxed', 'from-template', 'overriding', 'rhel-8-base', 'rhel-8-debug']);
  // What a repository (or template) does not write comes from its template chain, not the schema's defaults.
  const behaviour = (id: string) => {
    const r = repos.find((x) => x.id === id)!;
    return [r.pushMode, r.duplicateNevra, r.retainRepoVersions, r.retainOldCount];
  };
  assert.deepEqual(behaviour('from-template'), ['mirror', 'refuse', 3, 2]);
  assert.deepEqual(behaviour('from-relaxed'), ['mirror', 'replace', 3, 2]);
  assert.deepEqual(behaviour('overriding'), ['additive', 'refuse', 3, 2]);
  assert.deepEqual(behaviour('rhel-8-base'), ['additive', 'replace', 0, 2]);
  repos.splice(0, 3);
  const base = repos[0]!;
  assert.equal(base.retainOldCount, 2);
  assert.equal(base.importer.typeId, 'yum_importer');
  assert.deepEqual(base.distributors.map((d) => [d.typeId, d.config.relative_url]), [['yum_distributor', 'rhel-8-base']]);
  assert.equal(repos[1]!.pushMode, 'mirror');
  assert.equal(repos[1]!.duplicateNevra, 'refuse');
  assert.equal(autoRepo(c, 'dest-y', 'yum', false).pushMode, 'additive');
  assert.equal(autoRepo(parseConfigText('unknown_destination: template:m\ntemplates:\n  m: {template: yum, push_mode: mirror}\n', '/c.yaml'), 'd', 'yum', false).pushMode, 'mirror');
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

test('config schema: the config keys of every built-in plugin, exactly', async () => {
  const yum = await import('../../src/plugins/yum/config.js');
  const { ISO_IMPORTER_KEYS } = await import('../../src/plugins/iso/importer.js');
  const { ISO_DISTRIBUTOR_KEYS } = await import('../../src/plugins/iso/distributor.js');
  const { DIRECTORY_DISTRIBUTOR_KEYS } = await import('../../src/plugins/directory/distributor.js');
  const { GENERIC_IMPORTER_KEYS } = await import('../../src/plugins/generic/importer.js');
  const { EXPORT_KEYS } = await import('../../src/plugins/export/distributor.js');
  const { BUILTIN_PLUGINS } = await import('../../src/plugins/builtins.js');
  type Branch = { if: { properties: { type_id: { const: string } } }; then: { properties: { config: { properties: Record<string, unknown> } } } };
  const repo = CONFIG_SCHEMA.properties.repositories.additionalProperties.properties;
  const keysOf = (branches: readonly unknown[]) => Object.fromEntries((branches as Branch[]).map((b) => [b.if.properties.type_id.const, Object.keys(b.then.properties.config.properties).sort()]));
  const inSchema = { ...keysOf(repo.importer.allOf), ...keysOf(repo.distributors.items.allOf) };
  const declared: Record<string, readonly string[]> = {
    yum_importer: yum.IMPORTER_KEYS,
    yum_distributor: yum.DISTRIBUTOR_KEYS,
    iso_importer: ISO_IMPORTER_KEYS,
    iso_distributor: ISO_DISTRIBUTOR_KEYS,
    directory_distributor: DIRECTORY_DISTRIBUTOR_KEYS,
    generic_importer: GENERIC_IMPORTER_KEYS,
    export_distributor: EXPORT_KEYS,
  };
  // Every built-in plugin is covered, with exactly the keys its validateConfig accepts.
  assert.deepEqual(BUILTIN_PLUGINS.map((p) => p.metadata.id).sort(), Object.keys(declared).sort());
  for (const [id, keys] of Object.entries(declared)) assert.deepEqual(inSchema[id], [...keys].sort(), id);
});

test('config file keys of the engine reach every command (data dir, config dir, plugins, publish root, base URLs, locks)', async () => {
  const { commandSettings, engineOptionsFromEnv } = await import('../../src/cli/engine-common.js');
  const dir = tempDir();
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    [
      'data_dir: data',
      'config_dir: conf',
      'publish: {root: /pub, base_url_http: "http://repos.example", base_url_https: "https://repos.example"}',
      'plugins: {dir: plugins, packages: [p1], node_modules: nm}',
      'lock: {wait: false, timeout: 7}',
      '',
    ].join('\n'),
  );
  const env = { STAGEPUSH_CONFIG: file, HOME: dir } as NodeJS.ProcessEnv;
  const { g, settings } = await commandSettings({}, env);
  const o = engineOptionsFromEnv(g, settings);
  assert.deepEqual(o, {
    dataDir: path.join(dir, 'data'),
    configDir: path.join(dir, 'conf'),
    pluginsDir: path.join(dir, 'plugins'),
    pluginPackages: ['p1'],
    pluginNodeModules: path.join(dir, 'nm'),
    publishRoot: '/pub',
    baseUrls: { http: 'http://repos.example', https: 'https://repos.example' },
    lock: { wait: false, timeoutSec: 7 },
  });
  // Flags and environment win.
  const over = await commandSettings({ dataDir: '/flag', waitTimeout: '2' }, { ...env, STAGEPUSH_PUBLISH_ROOT: '/envpub', STAGEPUSH_PLUGINS_DIR: '/envplug', STAGEPUSH_PLUGIN_PACKAGES: '' });
  const o2 = engineOptionsFromEnv(over.g, over.settings);
  // --wait-timeout says to wait (that long), over the file's lock.wait: false.
  assert.deepEqual([o2.dataDir, o2.publishRoot, o2.pluginsDir, o2.pluginPackages, o2.lock], ['/flag', '/envpub', '/envplug', [], { wait: true, timeoutSec: 2 }]);
  // A --wait-timeout that is not a number of seconds is a usage error, not ignored (waiting for ever).
  for (const bad of ['abc', '-5', '']) await assert.rejects(commandSettings({ waitTimeout: bad }, env), (e: { code?: string; kind?: string }) => e.code === 'CLI_BAD_NUMBER' && e.kind === 'usage');
  await assert.rejects(commandSettings({ dataDir: '' }, env), (e: { code?: string }) => e.code === 'CLI_BAD_OPTION');
  // An explicit config path that does not exist only locates plugins.conf.d for engine commands.
  const missing = await commandSettings({}, { STAGEPUSH_CONFIG: path.join(dir, 'etc', 'none.yaml'), HOME: dir, STAGEPUSH_DATA_DIR: '/d' });
  assert.equal(missing.settings.configDir, path.join(dir, 'etc'));
  assert.equal(missing.loaded.file, null);
});

test('allowed_signing_keys: hex key ids that read as YAML numbers are kept as written', () => {
  const c = parseConfigText('allowed_signing_keys: [12345678, 1234e567, 00001234, fd431d51, "00000001"]\n', 'k.yaml');
  assert.deepEqual(c.allowed_signing_keys, ['12345678', '1234e567', '00001234', 'fd431d51', '00000001']);
  assert.throws(() => parseConfigText('allowed_signing_keys: [true]\n', 'k.yaml'), (e: unknown) => e instanceof StagepushError && /allowed_signing_keys\.0/.test(e.message));
});

test('an importer allowed_keys list keeps numeric-looking key ids as written', () => {
  const c = parseConfigText('repositories:\n  r:\n    type: yum\n    importer:\n      type_id: yum_importer\n      config: {allowed_keys: [12345678]}\n', 'k.yaml');
  assert.deepEqual((c.repositories as Record<string, { importer?: Record<string, unknown> }>).r!.importer!.config, { allowed_keys: ['12345678'] });
});

test('a valid config file is parsed once: later loads take the cached result, an edit is parsed again', () => {
  const dir = tempDir('cfg-cache-');
  const saved = process.env.STAGEPUSH_CACHE_DIR;
  process.env.STAGEPUSH_CACHE_DIR = path.join(dir, 'cache');
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'allow_unsigned: true\nallowed_signing_keys: [12345678]\nrepositories:\n  r1: {type: yum, push_mode: mirror}\n');
    const first = loadConfigFile(file).config;
    const cached = readdirSync(path.join(dir, 'cache')).filter((f) => f.startsWith('config-parsed-'));
    assert.equal(cached.length, 1);
    // Readable by its owner only (a config may hold feed passwords or client keys).
    assert.equal(statSync(path.join(dir, 'cache', cached[0]!)).mode & 0o777, 0o600);
    // The cached result is what parsing gives, defaults and keys-as-written included.
    const second = loadConfigFile(file).config;
    assert.deepEqual(second, first);
    assert.deepEqual(second, parseConfigText(readFileSync(file, 'utf8'), file));
    assert.deepEqual(second.allowed_signing_keys, ['12345678']);
    // It is the cache that answered: a forged entry with the same key is taken as it is.
    const cacheFile = path.join(dir, 'cache', cached[0]!);
    const entry = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; config: { log_retention_days: number } };
    entry.config.log_retention_days = 12345;
    writeFileSync(cacheFile, JSON.stringify(entry));
    assert.equal(loadConfigFile(file).config.log_retention_days, 12345);
    // An edit changes the key: parsed again (and an invalid edit still names its line).
    writeFileSync(file, 'allow_unsigned: true\nlog_retention_days: 7\n');
    assert.equal(loadConfigFile(file).config.log_retention_days, 7);
    writeFileSync(file, 'allow_unsigned: true\nlog_retention_days: seven\n');
    assert.throws(() => loadConfigFile(file), (e: StagepushError) => e.problems.some((p) => p.field === 'log_retention_days' && p.entry === 'line 2'));
    // A damaged cache file is ignored.
    writeFileSync(file, 'allow_unsigned: true\n');
    loadConfigFile(file);
    writeFileSync(cacheFile, '{not json');
    assert.equal(loadConfigFile(file).config.allow_unsigned, true);
  } finally {
    if (saved === undefined) delete process.env.STAGEPUSH_CACHE_DIR;
    else process.env.STAGEPUSH_CACHE_DIR = saved;
  }
});

test('relative_url clashes between declared repositories and template cycles are refused with their lines, all in one run', () => {
  const err = problemsOf(
    [
      'templates:',
      '  t1: {template: t2}',
      '  t2: {template: t1}',
      'repositories:',
      '  r2:',
      '    type: yum',
      '    distributors:',
      '      - {type_id: yum_distributor, config: {relative_url: same}}',
      '  r3:',
      '    type: yum',
      '    distributors:',
      '      - {type_id: yum_distributor, config: {relative_url: same}}',
      '  inner: {type: yum, distributors: [{type_id: yum_distributor, config: {relative_url: same/x}}]}',
      '  same: {type: file}',
      '  fine: {type: yum, distributors: [{type_id: yum_distributor, config: {relative_url: samex}}, {type_id: export_distributor}]}',
      '  twice: {type: yum, distributors: [{id: d1, type_id: yum_distributor}, {id: d2, type_id: yum_distributor}]}',
      '  quiet: {type: yum, distributors: [{type_id: yum_distributor, config: {relative_url: qx}}, {type_id: export_distributor, config: {relative_url: qx}}]}',
      '',
    ].join('\n'),
  );
  assert.deepEqual(err.problems.map((p) => `${p.field}@${p.entry}`), [
    'templates.t1.template@line 2',
    'templates.t2.template@line 3',
    'repositories.r3.distributors.0.config.relative_url@line 12',
    'repositories.inner.distributors.0.config.relative_url@line 13',
    'repositories.same@line 14',
    'repositories.twice@line 16',
  ]);
});

test('YAML aliases: an unresolved or self-containing one is CONFIG_YAML with its line; a shared anchor is used any number of times; an alias bomb is refused', () => {
  const unresolved = problemsOf('log_retention_days: 3\ndata_dir: *dd\n');
  assert.equal(unresolved.code, 'CONFIG_YAML');
  assert.equal(unresolved.problems[0]?.field, 'line 2');
  assert.match(unresolved.message, /alias \*dd names no anchor/);
  const loop = problemsOf('repositories:\n  r: &r\n    notes: {self: *r}\n');
  assert.equal(loop.code, 'CONFIG_YAML');
  assert.match(loop.message, /line 3.*inside its own anchor &r/);
  // 150 repositories sharing one importer (the yaml package's default limit is 100 uses).
  const repos = Array.from({ length: 150 }, (_, i) => `  r${i}: {type: yum, importer: ${i ? '*imp' : '&imp {type_id: yum_importer, config: {require_signature: true}}'}}`);
  const many = parseConfigText(`repositories:\n${repos.join('\n')}\n`, '/x/c.yaml');
  assert.equal(Object.keys(many.repositories).length, 150);
  assert.equal(many.repositories.r149!.importer!.config!.require_signature, true);
  // Nine levels of ten aliases each: a billion values, refused before anything walks them.
  const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  const big = problemsOf(`notes_holder:\n${bomb.map((l) => `  ${l}`).join('\n')}\n`);
  assert.equal(big.code, 'CONFIG_YAML');
  assert.match(big.message, /expand the document to more than/);
  // Through the CLI: exit 3, no stack trace.
  const dir = tempDir();
  const f = path.join(dir, 'c.yaml');
  writeFileSync(f, 'data_dir: *dd\n');
  const r = runCli(['config', 'check', '--config', f]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /CONFIG_YAML.*c\.yaml.*line 1/);
  assert.doesNotMatch(r.stderr, /ReferenceError|internal error/);
});

test('YAML: an anchor set twice, or a merge key as a value, is CONFIG_YAML with its line (the alias took the last one)', () => {
  const dup = problemsOf('base: &b {type: yum}\nother: &b {type: file}\nrepositories:\n  r1: *b\n');
  assert.equal(dup.code, 'CONFIG_YAML');
  assert.deepEqual(dup.problems.map((p) => p.field), ['line 2']);
  assert.match(dup.message, /line 2, column \d+: found duplicate anchor &b/);
  const merge = problemsOf('repositories:\n  r1: {type: yum, destinations: [<<]}\n');
  assert.equal(merge.code, 'CONFIG_YAML');
  assert.match(merge.message, /line 2, column \d+: a merge key \(<<\) is only a mapping's key/);
});

test('YAML merge keys share repository settings; a merge of a non-mapping is CONFIG_YAML with its line', () => {
  const c = parseConfigText(
    ['templates:', '  base: &base', '    type: yum', '    push_mode: mirror', 'repositories:', '  a: {<<: *base, destinations: [x]}', '  b:', '    <<: *base', '    push_mode: additive', ''].join('\n'),
    '/x/c.yaml',
  );
  assert.equal(c.repositories.a!.push_mode, 'mirror');
  assert.deepEqual(c.repositories.a!.destinations, ['x']);
  assert.equal(c.repositories.b!.type, 'yum');
  assert.equal(c.repositories.b!.push_mode, 'additive', 'a key written beside the merge wins');
  const bad = problemsOf('x: &x [1]\nrepositories:\n  a: {<<: *x}\n');
  assert.equal(bad.code, 'CONFIG_YAML');
  assert.match(bad.message, /line 3.*merge key/);
});

test('relative paths in plugin configs, hooks and settings are relative to the config file, not the working directory', async () => {
  const { CONFIG_PATH_KEYS } = await import('../../src/config/load.js');
  const dir = tempDir();
  const etc = path.join(dir, 'etc');
  mkdirSync(path.join(etc, 'keys'), { recursive: true });
  const key = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'demo-key.asc'), 'utf8');
  writeFileSync(path.join(etc, 'keys', 'demo-key.asc'), key);
  const file = path.join(etc, 'config.yaml');
  writeFileSync(
    file,
    [
      'data_dir: ../data',
      'agent: {log: "file:logs/agent.log"}',
      'hooks:',
      '  post_publish: [[hooks/notify.sh, a/b], [notify-send, x/y], "hooks/run.sh x"]',
      'templates:',
      '  t: {type: yum, importer: {type_id: yum_importer, config: {ssl_ca_cert: ca.pem}}}',
      'repositories:',
      '  r:',
      '    type: yum',
      '    importer: {type_id: yum_importer, config: {ssl_client_cert: tls/client.pem, ssl_client_key: /abs/key.pem}}',
      '    distributors:',
      '      - {type_id: yum_distributor, config: {gpgkey: keys/demo-key.asc, https_ca: "-----BEGIN CERTIFICATE-----\\nMII\\n-----END CERTIFICATE-----\\n"}}',
      '      - {type_id: export_distributor, config: {export_dir: exports/r}}',
      '',
    ].join('\n'),
  );
  const c = loadConfigFile(file).config;
  assert.equal(c.data_dir, path.join(dir, 'data'));
  assert.equal(c.agent.log, `file:${path.join(etc, 'logs', 'agent.log')}`);
  // Only an argv's first element with a slash: a bare name is looked up in $PATH, a string is the shell's.
  assert.deepEqual(c.hooks.post_publish, [[path.join(etc, 'hooks', 'notify.sh'), 'a/b'], ['notify-send', 'x/y'], 'hooks/run.sh x']);
  assert.equal(c.templates.t!.importer!.config!.ssl_ca_cert, path.join(etc, 'ca.pem'));
  const r = c.repositories.r!;
  assert.equal(r.importer!.config!.ssl_client_cert, path.join(etc, 'tls', 'client.pem'));
  assert.equal(r.importer!.config!.ssl_client_key, '/abs/key.pem');
  assert.equal(r.distributors![0]!.config!.gpgkey, path.join(etc, 'keys', 'demo-key.asc'));
  assert.match(String(r.distributors![0]!.config!.https_ca), /^-----BEGIN CERTIFICATE/, 'PEM text is not a path');
  assert.equal(r.distributors![1]!.config!.export_dir, path.join(etc, 'exports', 'r'));
  // The cached parse (a second load) is resolved too.
  assert.equal(loadConfigFile(file).config.repositories.r!.distributors![0]!.config!.gpgkey, path.join(etc, 'keys', 'demo-key.asc'));
  // From another working directory (cron runs from /), the repository's key is found.
  writeFileSync(file, 'repositories:\n  r:\n    type: yum\n    distributors:\n      - type_id: yum_distributor\n        config: {gpgkey: keys/demo-key.asc}\n');
  const check = runCli(['config', 'check', '--config', file, '--json'], { cwd: '/', env: { HOME: dir, STAGEPUSH_DATA_DIR: path.join(dir, 'data') } });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).repositories[0].distributors[0].config.gpgkey, path.join(etc, 'keys', 'demo-key.asc'));

  // The list is every key the schema marks as a path (and only those).
  const { RELATIVE_TO_FILE } = await import('../../src/config/schema.js');
  const marked = new Set<string>();
  const walk = (s: unknown, at: string[]): void => {
    if (!s || typeof s !== 'object') return;
    const node = s as Record<string, unknown>;
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, { description?: string }>)) {
      if (typeof v?.description === 'string' && v.description.includes(RELATIVE_TO_FILE)) marked.add([...at, k].join('.'));
      walk(v, [...at, k]);
    }
    for (const b of (node.allOf ?? []) as Array<{ if: { properties: { type_id: { const: string } } }; then: unknown }>) walk(b.then, [...at.slice(0, -1), b.if.properties.type_id.const]);
    walk(node.items, at);
    walk(node.additionalProperties, at);
  };
  walk(CONFIG_SCHEMA, []);
  const listed = new Set([
    ...CONFIG_PATH_KEYS.settings,
    'agent.log',
    'hooks.post_publish',
    ...Object.entries({ ...CONFIG_PATH_KEYS.importer, ...CONFIG_PATH_KEYS.distributor }).flatMap(([type, keys]) => keys.map((k) => `${type}.config.${k}`)),
  ]);
  const normalise = (k: string) => k.replace(/^(repositories|templates)\./, '');
  assert.deepEqual([...new Set([...marked].map(normalise))].sort(), [...listed].sort());
});

test('hooks.timeout is bounded by the longest timer Node.js sets (beyond it every hook "timed out" after 1 ms); check and push agree', () => {
  assert.equal(parseConfigText('hooks: {timeout: 2147483}\n', '/x/c.yaml').hooks.timeout, 2147483);
  const err = problemsOf('log_retention_days: 1\nhooks: {timeout: 2147484}\n');
  assert.deepEqual(err.problems.map((p) => `${p.field}@${p.entry}: ${p.message}`), ['hooks.timeout@line 2: must be at most 2147483']);
  const dir = tempDir();
  const f = path.join(dir, 'c.yaml');
  writeFileSync(f, 'hooks:\n  timeout: 99999999\n  post_publish: ["true"]\n');
  const data = path.join(dir, 'data');
  for (const args of [['config', 'check'], ['push', path.join(dir, 'staging')]]) {
    const r = runCli(['--config', f, '--data-dir', data, ...args], { env: { HOME: dir } });
    assert.equal(r.status, 3, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /hooks\.timeout \(line 2\): must be at most 2147483/);
  }
  assert.ok(!readdirSync(dir).includes('data'), 'the refused push made no data dir');
});

test('a hook that cannot run (an empty program, a NUL byte anywhere in it) is refused naming hooks.post_publish.N and its line; check and push agree', () => {
  const text = ['log_retention_days: 1', 'hooks:', '  post_publish:', '    - [""]', '    - ["  ", -v]', '    - [/bin/notify, "a\\0b"]', '    - "echo a\\0b"', '    - [/bin/true, ""]', '    - "true"', ''].join('\n');
  const err = problemsOf(text);
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.deepEqual(err.problems.map((p) => `${p.field}@${p.entry}: ${p.message}`), [
    'hooks.post_publish.0.0@line 4: must not be empty (the program the hook runs)',
    'hooks.post_publish.1.0@line 5: must not be empty (the program the hook runs)',
    'hooks.post_publish.2.1@line 6: must not contain a NUL byte (no command can hold one)',
    'hooks.post_publish.3@line 7: must not contain a NUL byte (no command can hold one)',
  ]);
  // An empty argument after the program is an argument like any other.
  assert.deepEqual(parseConfigText('hooks: {post_publish: [[/bin/true, ""]]}\n', '/x/c.yaml').hooks.post_publish, [['/bin/true', '']]);
  const dir = tempDir();
  const f = path.join(dir, 'c.yaml');
  const data = path.join(dir, 'data');
  const area = path.join(dir, 'area');
  mkdirSync(path.join(area, 'd1', 'RAW'), { recursive: true });
  writeFileSync(path.join(area, 'd1', 'RAW', 'a.txt'), 'a\n');
  for (const hook of ['[""]', '"echo a\\0b"']) {
    writeFileSync(f, `hooks:\n  post_publish:\n    - ${hook}\n`);
    for (const args of [['config', 'check'], ['push', area]]) {
      const r = runCli(['--config', f, '--data-dir', data, ...args], { env: { HOME: dir } });
      assert.equal(r.status, 3, `${hook} ${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /hooks\.post_publish\.0(\.0)? \(line 3\): must not (be empty|contain a NUL byte)/);
    }
    assert.ok(!existsSync(data), 'the refused push made no data dir');
  }
});

test('config schema: the built-in plugins\' numeric defaults are the ones the plugins use', async () => {
  const d = await import('../../src/plugins/defaults.js');
  type Branch = { if: { properties: { type_id: { const: string } } }; then: { properties: { config: { properties: Record<string, { default?: unknown }> } } } };
  const repo = CONFIG_SCHEMA.properties.repositories.additionalProperties.properties;
  const keys = Object.fromEntries([...(repo.importer.allOf as unknown as Branch[]), ...(repo.distributors.items.allOf as unknown as Branch[])].map((b) => [b.if.properties.type_id.const, b.then.properties.config.properties]));
  const defaultsOf = (type: string, names: string[]) => Object.fromEntries(names.map((k) => [k, keys[type]![k]!.default]));
  assert.deepEqual(defaultsOf('yum_importer', ['max_downloads', 'retries', 'timeout']), { ...d.YUM_IMPORTER_DEFAULTS });
  assert.deepEqual(defaultsOf('iso_importer', ['max_downloads', 'retries']), { max_downloads: 4, retries: 3 });
  assert.deepEqual(defaultsOf('iso_importer', ['max_downloads', 'retries']), { ...d.ISO_IMPORTER_DEFAULTS });
  assert.deepEqual(defaultsOf('yum_distributor', ['changelog_limit', 'remove_old_repodata_threshold', 'keep_previous']), { ...d.YUM_DISTRIBUTOR_DEFAULTS, ...d.PUBLISH_DEFAULTS });
  for (const t of ['iso_distributor', 'directory_distributor']) assert.equal(keys[t]!.keep_previous!.default, d.PUBLISH_DEFAULTS.keep_previous, t);
});

test('config check refuses what a push refuses: templates\' plugin configs, a broken plugins.conf.d file; plugin refusals name the config node, its key and line', () => {
  const dir = tempDir();
  const etc = path.join(dir, 'etc');
  mkdirSync(path.join(etc, 'plugins.conf.d'), { recursive: true });
  const file = path.join(etc, 'config.yaml');
  writeFileSync(
    file,
    [
      'unknown_destination: template:el',
      'templates:',
      '  el:',
      '    template: yum',
      '    distributors:',
      '      - {type_id: yum_distributor, config: {gpgkey: /nonexistent/RPM-GPG-KEY}}',
      'repositories:',
      '  ok: {type: yum}',
      '  r2:',
      '    type: yum',
      '    importer: {type_id: yum_importer, config: {retries: 2, ssl_ca_cert: /nonexistent/ca.pem}}',
      '  r3: {template: el}',
      '',
    ].join('\n'),
  );
  const check = () => runCli(['--json', '--data-dir', path.join(dir, 'data'), 'config', 'check', file], { env: { HOME: dir, STAGEPUSH_CONFIG: '' } });
  const r = check();
  assert.equal(r.status, 3, r.stderr);
  const problems = (JSON.parse(r.stdout) as { error: { problems: Array<{ code: string; field: string; entry: string; message: string }> } }).error.problems;
  assert.deepEqual(problems.map((p) => `${p.code} ${p.field} ${p.entry}`), [
    'PLUGIN_CONFIG_INVALID repositories.r2.importer.config.ssl_ca_cert line 11',
    // r3's distributor is the template's: named where it is written.
    'PLUGIN_CONFIG_INVALID templates.el.distributors.0.config.gpgkey line 6',
    'PLUGIN_CONFIG_INVALID templates.el.distributors.0.config.gpgkey line 6',
  ]);
  assert.match(problems[2]!.message, /gpgkey/);
  assert.equal(existsSync(path.join(dir, 'data')), false, 'config check makes nothing');

  // A plugins.conf.d file that is not JSON leaves its plugin unloaded (a push using it is refused).
  writeFileSync(file, 'repositories:\n  ok: {type: yum}\n');
  assert.equal(check().status, 0);
  writeFileSync(path.join(etc, 'plugins.conf.d', 'yum_distributor.json'), '{not json');
  const bad = check();
  assert.equal(bad.status, 3, bad.stderr);
  const p = (JSON.parse(bad.stdout) as { error: { problems: Array<{ code: string; file: string }> } }).error.problems;
  assert.deepEqual(p.map((x) => `${x.code} ${x.file}`), [`PLUGIN_BAD_CONF ${path.join(etc, 'plugins.conf.d', 'yum_distributor.json')}`]);
});

test('relative paths in plugins.conf.d/<plugin id>.json are relative to that file, not the working directory; a refused value names that file and key', () => {
  const dir = tempDir();
  const etc = path.join(dir, 'etc');
  mkdirSync(path.join(etc, 'plugins.conf.d'), { recursive: true });
  mkdirSync(path.join(etc, 'keys'));
  const key = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'demo-key.asc'), 'utf8');
  writeFileSync(path.join(etc, 'keys', 'demo-key.asc'), key);
  const conf = path.join(etc, 'plugins.conf.d', 'yum_distributor.json');
  writeFileSync(conf, JSON.stringify({ gpgkey: '../keys/demo-key.asc' }));
  const file = path.join(etc, 'config.yaml');
  writeFileSync(file, 'data_dir: ../data\nrepositories:\n  r1: {type: yum}\n');
  const area = path.join(dir, 'area');
  mkdirSync(path.join(area, 'r1', 'RPMS'), { recursive: true });
  copyFileSync(path.join(ROOT, 'fixtures', '.build', 'staging', 'rpms', 'demo-hello-1.0-1.noarch.rpm'), path.join(area, 'r1', 'RPMS', 'demo-hello-1.0-1.noarch.rpm'));
  // From / (as cron runs): the key is found beside the plugins.conf.d directory.
  const env = { HOME: dir, STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '' };
  const check = runCli(['--config', file, 'config', 'check'], { cwd: '/', env });
  assert.equal(check.status, 0, check.stderr);
  const pushed = runCli(['--config', file, 'push', '-q', area], { cwd: '/', env });
  assert.equal(pushed.status, 0, pushed.stderr);
  assert.equal(readFileSync(path.join(dir, 'data', 'published', 'http', 'r1', 'repodata', 'repomd.xml.key'), 'utf8'), key.endsWith('\n') ? key : `${key}\n`);

  // A value the plugin refuses is named by the plugins.conf.d file and the key, in check and push.
  writeFileSync(conf, JSON.stringify({ gpgkey: 'keys/demo-key.asc' }));
  writeFileSync(file, 'data_dir: ../data\nrepositories:\n  r1: {type: yum}\n  r2: {type: yum}\n');
  const bad = runCli(['--json', '--config', file, 'config', 'check'], { cwd: etc, env });
  assert.equal(bad.status, 3, bad.stderr);
  const problems = (JSON.parse(bad.stdout) as { error: { problems: Array<{ code: string; file: string; field: string; message: string }> } }).error.problems;
  assert.deepEqual(problems.map((p) => `${p.code} ${p.file} ${p.field}`), [`PLUGIN_CONFIG_INVALID ${conf} gpgkey`, `PLUGIN_CONFIG_INVALID ${conf} gpgkey`]);
  assert.match(problems[0]!.message, new RegExp(`gpgkey is set in ${conf.replace(/[.]/g, '\\.')}`));
  // r2 is made by this push: checked before anything is done.
  mkdirSync(path.join(area, 'r2', 'RPMS'), { recursive: true });
  copyFileSync(path.join(area, 'r1', 'RPMS', 'demo-hello-1.0-1.noarch.rpm'), path.join(area, 'r2', 'RPMS', 'demo-hello-1.0-1.noarch.rpm'));
  const refused = runCli(['--json', '--config', file, 'push', area], { cwd: etc, env });
  assert.equal(refused.status, 3, refused.stderr);
  const rep = JSON.parse(refused.stdout) as { problems: Array<{ code: string; file: string; field: string }> };
  assert.deepEqual(rep.problems.map((p) => `${p.code} ${p.file} ${p.field}`), [`PLUGIN_CONFIG_INVALID ${conf} gpgkey`]);
});

test('$STAGEPUSH_CONFIG naming no file is said as such (exit 3), not as a bad --config (exit 2)', () => {
  const dir = tempDir();
  const missing = path.join(dir, 'none.yaml');
  for (const args of [['push', dir], ['config', 'check']]) {
    const r = runCli(['--data-dir', path.join(dir, 'data'), ...args], { env: { HOME: dir, STAGEPUSH_CONFIG: missing } });
    assert.equal(r.status, 3, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /CONFIG_NOT_FOUND.*none\.yaml does not exist \(named by \$STAGEPUSH_CONFIG\)/);
    assert.doesNotMatch(r.stderr, /check the path given/);
  }
  // --config naming no file stays a bad command line.
  const flag = runCli(['--config', missing, '--data-dir', path.join(dir, 'data'), 'push', dir], { env: { HOME: dir } });
  assert.equal(flag.status, 2, flag.stderr);
});

test('an empty or blank path in the file (data_dir: "", publish root, plugins dir, agent.log file:) is refused naming key and line, as --data-dir "" is', () => {
  const err = problemsOf('log_retention_days: 1\ndata_dir: ""\npublish:\n  root: "  "\nplugins: {dir: ""}\n');
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.deepEqual(err.problems.map((p) => `${p.field}@${p.entry}: ${p.message}`), ['data_dir@line 2: must not be empty (a path)', 'publish.root@line 4: must not be empty (a path)', 'plugins.dir@line 5: must not be empty (a path)']);
  // agent.log file:PATH, its path blank or empty, as the other paths (syslog, stderr and a path are taken).
  for (const log of ['"file:  "', '"file:"', '"file:\\t"']) {
    const e = problemsOf(`log_retention_days: 1\nagent: {log: ${log}}\n`);
    assert.deepEqual(e.problems.map((p) => `${p.field}@${p.entry}: ${p.message}`), ['agent.log@line 2: must be syslog, stderr or file:PATH, with a path that is not empty'], log);
  }
  for (const log of ['syslog', 'stderr', '/var/log/a.log']) assert.equal(parseConfigText(`agent: {log: "${log.startsWith('/') ? `file:${log}` : log}"}\n`, '/x/c.yaml').agent.log, log.startsWith('/') ? `file:${log}` : log);
  const dir = tempDir();
  const f = path.join(dir, 'c.yaml');
  writeFileSync(f, 'data_dir: ""\n');
  const r = runCli(['--config', f, 'repo', 'list'], { env: { HOME: dir, STAGEPUSH_DATA_DIR: '' } });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /data_dir \(line 1\): must not be empty/);
  assert.deepEqual(readdirSync(dir).filter((x) => x !== '.cache'), ['c.yaml'], 'nothing made in the config directory');
});
