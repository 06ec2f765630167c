/**
 * Plugin installation: npm packages with a "stagepush" field, directory plugins, and a fixture
 * set of deliberately broken plugins (one test each, asserting the message; the others still load).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_DISTRIBUTOR_JS, TEST_IMPORTER_JS, TEST_TYPES, engineEnv } from '../helpers/engine.js';
import { NOBODY_GID, NOBODY_UID, cannotRunAsNobody, runCliAsNobody, traversable } from '../helpers/nobody.js';
import { keyIds, RPMS } from '../helpers/push.js';
import { runCli, tempDir } from '../helpers/cli.js';

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

function writeNpmPackage(nm: string, name = 'stagepush-plugin-demo'): string {
  const dir = path.join(nm, name);
  fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lib', 'importer.js'), TEST_IMPORTER_JS);
  fs.writeFileSync(path.join(dir, 'lib', 'distributor.js'), TEST_DISTRIBUTOR_JS.replace("export function entryPoint() { return [TestDistributor, {}]; }", "export function makeIt() { return { plugin: TestDistributor, config: { relative_url_prefix: 'npm' } }; }"));
  fs.writeFileSync(path.join(dir, 'types.json'), JSON.stringify(TEST_TYPES));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', type: 'module', stagepush: { importers: ['./lib/importer.js'], distributors: { demo: './lib/distributor.js#makeIt' }, types: './types.json' } }),
  );
  return dir;
}

function endToEnd(e: ReturnType<typeof engineEnv>, env: NodeJS.ProcessEnv, cwd?: string): void {
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer'], env, cwd), 'create');
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=npm/r'], env, cwd), 'dist');
  const f = path.join(e.root, 'a.txt');
  fs.writeFileSync(f, 'a');
  ok(e.cli(['content', 'upload', '--repo', 'r', f], env, cwd), 'upload');
  ok(e.cli(['repo', 'publish', 'r'], env, cwd), 'publish');
  assert.equal(fs.readFileSync(path.join(e.dataDir, 'published', 'http', 'npm', 'r', 'a.txt'), 'utf8'), 'a');
}

test('npm-package plugins: every package with a "stagepush" field in a node_modules dir', () => {
  const e = engineEnv({ plugin: false });
  const nm = path.join(e.root, 'nm', 'node_modules');
  writeNpmPackage(nm);
  fs.mkdirSync(path.join(nm, 'unrelated'), { recursive: true });
  fs.writeFileSync(path.join(nm, 'unrelated', 'package.json'), JSON.stringify({ name: 'unrelated' }));
  const env = { STAGEPUSH_PLUGIN_NODE_MODULES: nm };
  const r = e.json(['plugins', 'list'], env);
  ok(r, 'plugins list');
  const mine = r.out.plugins.filter((p: any) => p.id.startsWith('test_'));
  assert.deepEqual(
    mine.map((p: any) => [p.id, p.kind, p.types.join(','), p.source.replace(nm, 'NM')]),
    [
      ['test_importer', 'importer', 'tfile,tnote', 'npm:stagepush-plugin-demo (NM/stagepush-plugin-demo/lib/importer.js)'],
      ['test_distributor', 'distributor', 'tfile,tnote', 'npm:stagepush-plugin-demo (NM/stagepush-plugin-demo/lib/distributor.js)'],
    ],
  );
  assert.deepEqual(mine[1].config, { relative_url_prefix: 'npm' }, 'entry point {plugin, config} form');
  assert.ok(r.out.types.some((t: any) => t.id === 'tfile'));
  endToEnd(e, env);
});

test('npm-package plugins: named in STAGEPUSH_PLUGIN_PACKAGES, resolved from the working directory', () => {
  const e = engineEnv({ plugin: false });
  writeNpmPackage(path.join(e.root, 'node_modules'));
  const env = { STAGEPUSH_PLUGIN_PACKAGES: 'stagepush-plugin-demo' };
  const r = e.json(['plugins', 'list'], env, );
  // without the right cwd the package is not found: a coded error naming it
  assert.equal(r.status, 3);
  assert.ok(r.out.errors.some((x: any) => x.code === 'PLUGIN_PACKAGE_NOT_FOUND' && /stagepush-plugin-demo/.test(x.message)), JSON.stringify(r.out.errors));
  const r2 = JSON.parse(e.cli(['plugins', 'list', '--json'], env, e.root).stdout);
  assert.deepEqual(r2.errors, []);
  assert.ok(r2.plugins.some((p: any) => p.id === 'test_importer' && p.source.startsWith('npm:stagepush-plugin-demo')));
  endToEnd(e, env, e.root);
});

test('npm-package plugins named in STAGEPUSH_PLUGIN_PACKAGES whose "exports" map does not export ./package.json: found as Node finds them (up the node_modules dirs, a scope, NODE_PATH)', () => {
  const e = engineEnv({ plugin: false });
  // Only the entry point is exported: require.resolve('<name>/package.json') is refused for these.
  const exported = (nm: string, name: string, id: string) => {
    const dir = path.join(nm, name);
    fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lib', 'importer.js'), `export default class A { metadata() { return { id: '${id}', displayName: 'a', types: ['acme'] }; } validateConfig() { return { valid: true }; } }\n`);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: { '.': './lib/importer.js' }, stagepush: { importers: ['./lib/importer.js'], types: [{ id: 'acme', unitKey: ['name'] }] } }));
  };
  exported(path.join(e.root, 'node_modules'), 'acme-sp', 'acme_importer');
  exported(path.join(e.root, 'node_modules'), '@acme/sp', 'acme_scoped_importer');
  exported(path.join(e.root, 'global', 'node_modules'), 'acme-global', 'acme_global_importer');
  const sub = path.join(e.root, 'work', 'sub');
  fs.mkdirSync(sub, { recursive: true });
  const env = { STAGEPUSH_PLUGIN_PACKAGES: 'acme-sp,@acme/sp,acme-global', NODE_PATH: path.join(e.root, 'global', 'node_modules') };
  // From a directory below the one holding node_modules, as Node looks up.
  const r = e.cli(['plugins', 'list', '--json'], env, sub);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.errors, []);
  assert.deepEqual(
    out.plugins.filter((p: any) => p.id.startsWith('acme_')).map((p: any) => [p.id, p.source]),
    [
      ['acme_importer', `npm:acme-sp (${path.join(e.root, 'node_modules', 'acme-sp', 'lib', 'importer.js')})`],
      ['acme_scoped_importer', `npm:@acme/sp (${path.join(e.root, 'node_modules', '@acme', 'sp', 'lib', 'importer.js')})`],
      ['acme_global_importer', `npm:acme-global (${path.join(e.root, 'global', 'node_modules', 'acme-global', 'lib', 'importer.js')})`],
    ],
  );
  ok(e.cli(['repo', 'create', 'a', '--importer', 'acme_importer'], env, sub), 'create');
  // A name that is a path in disguise is no package.
  const bad = e.json(['plugins', 'list'], { STAGEPUSH_PLUGIN_PACKAGES: 'x/../../acme-sp' });
  assert.equal(bad.status, 3);
  assert.ok(bad.out.errors.some((x: any) => x.code === 'PLUGIN_PACKAGE_NOT_FOUND'), JSON.stringify(bad.out.errors));
});

test('a linked npm-package plugin (npm link, pnpm) reached by two paths is loaded once: named by its path and in the node_modules dir, or there under two names', () => {
  const e = engineEnv({ plugin: false });
  const src = writeNpmPackage(path.join(e.root, 'src'));
  const nm = path.join(e.root, 'nm', 'node_modules');
  fs.mkdirSync(nm, { recursive: true });
  fs.symlinkSync(src, path.join(nm, 'stagepush-plugin-demo'));
  const mine = (r: { status: number | null; out: any; stderr: string }) => {
    assert.equal(r.status, 0, r.stderr + JSON.stringify(r.out.errors));
    assert.deepEqual(r.out.errors, []);
    return r.out.plugins.filter((p: any) => p.id.startsWith('test_')).map((p: any) => p.id);
  };
  assert.deepEqual(mine(e.json(['plugins', 'list'], { STAGEPUSH_PLUGIN_NODE_MODULES: nm, STAGEPUSH_PLUGIN_PACKAGES: src })), ['test_importer', 'test_distributor']);
  assert.deepEqual(mine(e.json(['plugins', 'list'], { STAGEPUSH_PLUGIN_NODE_MODULES: nm, STAGEPUSH_PLUGIN_PACKAGES: 'stagepush-plugin-demo' })), ['test_importer', 'test_distributor']);
  fs.symlinkSync(src, path.join(nm, 'demo-alias'));
  assert.deepEqual(mine(e.json(['plugins', 'list'], { STAGEPUSH_PLUGIN_NODE_MODULES: nm })), ['test_importer', 'test_distributor']);
  endToEnd(e, { STAGEPUSH_PLUGIN_NODE_MODULES: nm, STAGEPUSH_PLUGIN_PACKAGES: `stagepush-plugin-demo,${src}` });
});

test('npm-package plugins on NODE_PATH with no main entry (only a stagepush field) or an ESM-only exports map are found, a scoped one too', () => {
  const e = engineEnv({ plugin: false });
  const global = path.join(e.root, 'np');
  const pkg = (name: string, id: string, extra: Record<string, unknown>) => {
    const dir = path.join(global, name);
    fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lib', 'importer.js'), `export default class A { metadata() { return { id: '${id}', displayName: 'a', types: ['acme'] }; } validateConfig() { return { valid: true }; } }\n`);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', ...extra, stagepush: { importers: ['./lib/importer.js'], types: [{ id: 'acme', unitKey: ['name'] }] } }));
  };
  // No main and no exports: Node has no entry to resolve for it.
  pkg('acme-nomain', 'acme_nomain_importer', {});
  // Only an "import" condition: require.resolve of the name is refused.
  pkg('acme-esm', 'acme_esm_importer', { exports: { '.': { import: './lib/importer.js' } } });
  pkg('@acme/esm', 'acme_scoped_esm_importer', { exports: { '.': { import: './lib/importer.js' } } });
  const cwd = path.join(e.root, 'elsewhere');
  fs.mkdirSync(cwd);
  const env = { STAGEPUSH_PLUGIN_PACKAGES: 'acme-nomain,acme-esm,@acme/esm', NODE_PATH: [path.join(e.root, 'missing'), global].join(path.delimiter) };
  const r = e.cli(['plugins', 'list', '--json'], env, cwd);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.errors, []);
  assert.deepEqual(
    out.plugins.filter((p: any) => p.id.startsWith('acme_')).map((p: any) => [p.id, p.source]),
    [
      ['acme_nomain_importer', `npm:acme-nomain (${path.join(global, 'acme-nomain', 'lib', 'importer.js')})`],
      ['acme_esm_importer', `npm:acme-esm (${path.join(global, 'acme-esm', 'lib', 'importer.js')})`],
      ['acme_scoped_esm_importer', `npm:@acme/esm (${path.join(global, '@acme', 'esm', 'lib', 'importer.js')})`],
    ],
  );
  // A path in disguise is not looked for under a NODE_PATH entry either.
  const bad = e.cli(['plugins', 'list', '--json'], { STAGEPUSH_PLUGIN_PACKAGES: 'x/../acme-esm', NODE_PATH: global }, cwd);
  assert.equal(bad.status, 3, bad.stdout + bad.stderr);
  assert.ok(JSON.parse(bad.stdout).errors.some((x: any) => x.code === 'PLUGIN_PACKAGE_NOT_FOUND'), JSON.stringify(bad.stdout));
});

test('directory plugins: importer.js/distributor.js, *.conf merged as plugin-level config, types.json', () => {
  const e = engineEnv();
  fs.writeFileSync(path.join(e.pluginsDir, 'testplug', 'zz-more.conf'), JSON.stringify({ more: true, level: 'zz' }));
  const r = e.json(['plugins', 'list']);
  ok(r);
  const imp = r.out.plugins.find((p: any) => p.id === 'test_importer');
  assert.equal(imp.source, `dir:${path.join(e.pluginsDir, 'testplug')}`);
  assert.deepEqual(imp.config, { level: 'zz', from_entry: true, more: true });
  assert.deepEqual(r.out.types.filter((t: any) => t.id.startsWith('t')).map((t: any) => [t.id, t.unitKey.join(',')]), [['tfile', 'name,checksum'], ['tnote', 'id']]);
  const human = e.cli(['plugins', 'list']);
  ok(human);
  assert.match(human.stdout, /test_distributor\s+distributor\s+Test distributor\s+tfile,tnote\s+dir:/);
});

// ---- broken plugins: one each; the good test plugin still loads and works.
interface Broken {
  name: string;
  dirName?: string;
  files: Record<string, string>;
  code: string;
  message: (dir: string) => RegExp;
}

const CLASS_OK = `class P { metadata() { return { id: 'broken_x', displayName: 'x', types: ['tfile'] }; } validateConfig() { return { valid: true }; } }`;

const BROKEN: Broken[] = [
  { name: 'missing export', files: { 'importer.js': 'export const notAnEntryPoint = 1;\n' }, code: 'PLUGIN_MISSING_EXPORT', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))} exports no "entryPoint" or "default"`) },
  { name: 'wrong shape (no validateConfig)', files: { 'importer.js': `class P { metadata() { return { id: 'broken_x', displayName: 'x', types: ['tfile'] }; } }\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_BAD_SHAPE', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))}: the importer has no validateConfig\\(\\) method`) },
  { name: 'wrong shape (entry point result)', files: { 'distributor.js': `export function entryPoint() { return 42; }\n` }, code: 'PLUGIN_BAD_SHAPE', message: (d) => new RegExp(`${esc(path.join(d, 'distributor.js'))}: the entry point must return \\[PluginClass, config\\] or \\{plugin, config\\}`) },
  { name: 'importer registered as distributor', files: { 'distributor.js': `${CLASS_OK.replace('validateConfig()', 'async uploadUnit() {} validateConfig()')}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_BAD_SHAPE', message: (d) => new RegExp(`${esc(path.join(d, 'distributor.js'))}: this is an importer \\(it has uploadUnit\\), registered as a distributor`) },
  { name: 'sync without cancel', files: { 'importer.js': `${CLASS_OK.replace('validateConfig()', 'async syncRepo() {} validateConfig()')}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_NO_CANCEL', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))}: the importer has syncRepo\\(\\) but no cancelSyncRepo\\(\\)`) },
  { name: 'publish without cancel', files: { 'distributor.js': `${CLASS_OK.replace('validateConfig()', 'async publishRepo() {} validateConfig()')}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_NO_CANCEL', message: () => /has publishRepo\(\) but no cancelPublishRepo\(\)/ },
  { name: 'undeclared type', files: { 'importer.js': `${CLASS_OK.replace("types: ['tfile']", "types: ['nosuchtype']")}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_UNDECLARED_TYPE', message: () => /plugin broken_x \(.*importer\.js\) handles content type nosuchtype that no one declares; the plugin is refused/ },
  { name: 'id clash', dirName: 'zz-dup', files: { 'importer.js': `${CLASS_OK.replace("id: 'broken_x'", "id: 'test_importer'")}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_ID_CLASH', message: (d) => new RegExp(`plugin id test_importer of ${esc(path.join(d, 'importer.js'))} is already used by ${esc(path.join(path.dirname(d), 'testplug', 'importer.js'))} \\(dir:`) },
  { name: 'bad .conf JSON', files: { 'importer.js': `${CLASS_OK}\nexport function entryPoint() { return [P, {}]; }\n`, 'broken.conf': '{ "a": ' }, code: 'PLUGIN_BAD_CONF', message: (d) => new RegExp(`plugin config file ${esc(path.join(d, 'broken.conf'))} is not valid JSON`) },
  { name: 'throwing entry point', files: { 'importer.js': `export function entryPoint() { throw new Error('kaboom in entry'); }\n` }, code: 'PLUGIN_LOAD_FAILED', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))}: the entry point "entryPoint" threw: kaboom in entry`) },
  { name: 'entry point throwing a string', files: { 'importer.js': `export function entryPoint() { throw 'kaboom as a string'; }\n` }, code: 'PLUGIN_LOAD_FAILED', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))}: the entry point "entryPoint" threw: kaboom as a string`) },
  { name: 'constructor throwing undefined', files: { 'importer.js': `${CLASS_OK.replace('class P {', 'class P { constructor() { throw undefined; }')}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_LOAD_FAILED', message: (d) => new RegExp(`${esc(path.join(d, 'importer.js'))}: creating the plugin threw: the plugin threw no reason \\(undefined\\)`) },
  { name: 'syntax error', files: { 'importer.js': `export function entryPoint( { \n` }, code: 'PLUGIN_LOAD_FAILED', message: (d) => new RegExp(`cannot load plugin ${esc(path.join(d, 'importer.js'))}: `) },
  { name: 'bad types.json', files: { 'importer.js': `${CLASS_OK}\nexport function entryPoint() { return [P, {}]; }\n`, 'types.json': JSON.stringify([{ id: 'tt' }]) }, code: 'PLUGIN_BAD_TYPES', message: (d) => new RegExp(`content type tt in ${esc(path.join(d, 'types.json'))}: "unitKey" must be a non-empty array`) },
  { name: 'bad metadata', files: { 'importer.js': `${CLASS_OK.replace("id: 'broken_x'", 'id: 42')}\nexport function entryPoint() { return [P, {}]; }\n` }, code: 'PLUGIN_BAD_METADATA', message: () => /metadata\(\)\.id must be a string/ },
  { name: 'conflicting type declaration', files: { 'importer.js': `${CLASS_OK}\nexport function entryPoint() { return [P, {}]; }\n`, 'types.json': JSON.stringify([{ id: 'rpm', unitKey: ['name'] }]) }, code: 'PLUGIN_TYPE_CLASH', message: () => /content type rpm declared by dir:.* with unit key \[name\] clashes with its declaration by builtin/ },
  { name: 'empty plugin directory', files: { 'README': 'nothing here' }, code: 'PLUGIN_MISSING_EXPORT', message: (d) => new RegExp(`plugin directory ${esc(d)} has neither importer.js nor distributor.js`) },
];

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

for (const b of BROKEN) {
  test(`broken plugin: ${b.name} → ${b.code}, the others still load`, () => {
    const e = engineEnv();
    const dir = path.join(e.pluginsDir, b.dirName ?? 'broken');
    fs.mkdirSync(dir);
    for (const [n, c] of Object.entries(b.files)) fs.writeFileSync(path.join(dir, n), c);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const r = e.json(['plugins', 'list']);
    assert.equal(r.status, 3, r.stderr);
    const errs = r.out.errors as Array<{ code: string; message: string; file?: string }>;
    assert.equal(errs.length, 1, JSON.stringify(errs));
    assert.equal(errs[0]!.code, b.code);
    assert.match(errs[0]!.message, b.message(dir));
    assert.match(r.stderr, new RegExp(`error \\[${b.code}\\]`));
    assert.ok(r.out.plugins.some((p: any) => p.id === 'test_importer'), 'the good plugin still loads');
    assert.ok(!r.out.plugins.some((p: any) => p.id === 'broken_x'));
    // other commands still work, with a warning naming the problem
    const c = e.cli(['repo', 'create', 'r', '--importer', 'test_importer']);
    ok(c, 'create with a broken plugin around');
    assert.match(c.stderr, new RegExp(`warning \\[${b.code}\\]`));
  });
}

test('a plugin directory whose types.json clashes: every plugin of it is refused (not only the first), and none of its types is declared', () => {
  const e = engineEnv({ plugin: false });
  const plugin = (id: string) => `export default class P { metadata() { return { id: '${id}', displayName: '${id}', types: ['note'] }; } validateConfig() { return { valid: true }; } }\n`;
  const a = path.join(e.pluginsDir, 'a-notes');
  const b = path.join(e.pluginsDir, 'b-notes');
  for (const d of [a, b]) {
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ type: 'module' }));
  }
  fs.writeFileSync(path.join(a, 'types.json'), JSON.stringify([{ id: 'note', unitKey: ['name', 'checksum'] }]));
  fs.writeFileSync(path.join(a, 'importer.js'), plugin('a_importer'));
  // b declares a type of its own before the clashing one: refused with the rest.
  fs.writeFileSync(path.join(b, 'types.json'), JSON.stringify([{ id: 'b_only', unitKey: ['name'] }, { id: 'note', unitKey: ['name'] }]));
  fs.writeFileSync(path.join(b, 'importer.js'), plugin('b_importer'));
  fs.writeFileSync(path.join(b, 'distributor.js'), plugin('b_distributor').replace('validateConfig()', 'distributorAdded() {} validateConfig()'));
  const r = e.json(['plugins', 'list']);
  assert.equal(r.status, 3, r.stderr);
  assert.deepEqual(r.out.errors.map((x: any) => x.code), ['PLUGIN_TYPE_CLASH'], JSON.stringify(r.out.errors));
  const ids = r.out.plugins.map((p: any) => p.id);
  assert.ok(ids.includes('a_importer'), ids.join(','));
  assert.ok(!ids.includes('b_importer') && !ids.includes('b_distributor'), ids.join(','));
  assert.match(r.out.errors[0].message, new RegExp(`content type note declared by dir:${esc(b)} with unit key \\[name\\] clashes with its declaration by dir:${esc(a)} .*; its plugins are refused: ${esc(path.join(b, 'importer.js'))}, ${esc(path.join(b, 'distributor.js'))}$`));
  const types = r.out.types.map((t: any) => t.id);
  assert.ok(types.includes('note') && !types.includes('b_only'), types.join(','));
  assert.deepEqual(r.out.types.find((t: any) => t.id === 'note').unitKey, ['name', 'checksum']);
});

test('broken plugins.conf.d file: coded error naming it; the plugin is refused, the others load', () => {
  const e = engineEnv();
  const confd = path.join(e.root, 'xdg', 'stagepush', 'plugins.conf.d');
  fs.mkdirSync(confd, { recursive: true });
  fs.writeFileSync(path.join(confd, 'test_distributor.json'), '[1,2');
  const r = e.json(['plugins', 'list']);
  assert.equal(r.status, 3);
  assert.equal(r.out.errors[0].code, 'PLUGIN_BAD_CONF');
  assert.match(r.out.errors[0].message, new RegExp(`plugin config file ${esc(path.join(confd, 'test_distributor.json'))} is not valid JSON`));
  assert.ok(r.out.plugins.some((p: any) => p.id === 'test_importer'));
  const d = e.cli(['repo', 'create', 'r', '--importer', 'test_importer']);
  ok(d);
  const add = e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=x']);
  assert.equal(add.status, 3);
  assert.match(add.stderr, /ENGINE_UNKNOWN_PLUGIN.*no distributor plugin "test_distributor" is installed \(it failed to load: plugin config file/);
});

// ---- a plugins dir or node_modules dir that cannot be listed: one load problem naming it, the
// built-in plugins (and the plugins found elsewhere) still load; every command still runs.

/** plugins list: the one error, naming `where`, the built-ins still listed; repo list and push still run, warning of it. */
function assertUnreadableDir(r: { status: number | null; out: any; stderr: string }, where: string, why: RegExp): void {
  assert.equal(r.status, 3, r.stderr);
  const errs = r.out.errors as Array<{ code: string; message: string; file?: string; hint?: string }>;
  assert.deepEqual(errs.map((x) => x.code), ['PLUGIN_DIR_UNREADABLE'], JSON.stringify(errs));
  assert.match(errs[0]!.message, new RegExp(`^cannot read the [a-z_ ]+ directory ${esc(where)}: `));
  assert.match(errs[0]!.message, why);
  assert.equal(errs[0]!.file, where);
  assert.ok(r.out.plugins.some((p: any) => p.id === 'yum_importer' && p.source === 'builtin'), 'the built-in plugins still load');
  assert.doesNotMatch(r.stderr, /internal error/);
}

test('a plugins dir that is a file (env or config) or a node_modules that is one: PLUGIN_DIR_UNREADABLE naming it, the others load', () => {
  const e = engineEnv();
  const file = path.join(e.root, 'not-a-dir');
  fs.writeFileSync(file, 'x');
  const config = path.join(e.root, 'stagepush.yaml');
  fs.writeFileSync(config, 'plugins: {dir: not-a-dir}\n');
  const nm = path.join(e.root, 'nm');
  fs.mkdirSync(nm);
  fs.writeFileSync(path.join(nm, '@scope'), 'a file where a scope directory belongs');
  const cases: Array<[string, NodeJS.ProcessEnv, string]> = [
    ['STAGEPUSH_PLUGINS_DIR', { STAGEPUSH_PLUGINS_DIR: file }, file],
    ['plugins.dir in the config', { STAGEPUSH_PLUGINS_DIR: '', STAGEPUSH_CONFIG: config }, file],
    ['STAGEPUSH_PLUGIN_NODE_MODULES', { STAGEPUSH_PLUGIN_NODE_MODULES: file }, file],
    ['a scope in node_modules', { STAGEPUSH_PLUGIN_NODE_MODULES: nm }, path.join(nm, '@scope')],
  ];
  for (const [what, env, where] of cases) {
    const r = e.json(['plugins', 'list'], env);
    assertUnreadableDir(r, where, /: not a directory; the plugins in it are not loaded$/);
    const c = e.cli(['repo', 'create', `r-${cases.findIndex((x) => x[0] === what)}`], env);
    ok(c, `${what}: repo create`);
    assert.match(c.stderr, new RegExp(`warning \\[PLUGIN_DIR_UNREADABLE\\]: cannot read the [a-z_ ]+ directory ${esc(where)}`), what);
  }
  // Only the unusable dir is lost: the test plugin in the (good) plugins dir loads beside a bad node_modules.
  const r = e.json(['plugins', 'list'], { STAGEPUSH_PLUGIN_NODE_MODULES: file });
  assert.ok(r.out.plugins.some((p: any) => p.id === 'test_importer'));
  // A push runs too (it opens the engine the same way).
  const area = path.join(e.root, 'area');
  fs.mkdirSync(path.join(area, 'el9', 'RPMS'), { recursive: true });
  fs.copyFileSync(path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm'), path.join(area, 'el9', 'RPMS', 'demo-tools-2.0-1.noarch.rpm'));
  fs.writeFileSync(path.join(e.root, 'push.yaml'), `allowed_signing_keys: [${keyIds().A}]\n`);
  const p = e.cli(['push', '-q', area], { STAGEPUSH_PLUGINS_DIR: file, STAGEPUSH_CONFIG: path.join(e.root, 'push.yaml') });
  ok(p, 'push');
});

test('a dangling symlink in the plugins dir is that entry\'s load problem, named', () => {
  const e = engineEnv();
  const link = path.join(e.pluginsDir, 'gone');
  fs.symlinkSync(path.join(e.root, 'nowhere'), link);
  const r = e.json(['plugins', 'list']);
  assert.equal(r.status, 3, r.stderr);
  assert.deepEqual(r.out.errors.map((x: any) => [x.code, x.file]), [['PLUGIN_LOAD_FAILED', link]]);
  assert.ok(r.out.plugins.some((p: any) => p.id === 'test_importer'));
});

test('a plugins dir or node_modules the user may not read (a 0700 root dir, as nobody): PLUGIN_DIR_UNREADABLE, permission denied', (t) => {
  const skip = cannotRunAsNobody();
  if (skip) return t.skip(skip);
  const e = engineEnv();
  traversable(e.root, e.configDir);
  fs.mkdirSync(e.dataDir);
  fs.chownSync(e.dataDir, NOBODY_UID, NOBODY_GID);
  fs.chmodSync(e.pluginsDir, 0o700);
  const nm = path.join(e.root, 'nm');
  fs.mkdirSync(nm, { mode: 0o700 });
  for (const [i, [env, where]] of ([[{}, e.pluginsDir], [{ STAGEPUSH_PLUGINS_DIR: e.configDir, STAGEPUSH_PLUGIN_NODE_MODULES: nm }, nm]] as const).entries()) {
    const r = runCliAsNobody(['plugins', 'list', '--json'], { ...e.env, ...env });
    assertUnreadableDir({ status: r.status, out: JSON.parse(r.stdout), stderr: r.stderr }, where, /: permission denied; the plugins in it are not loaded$/);
    const c = runCliAsNobody(['repo', 'create', `nb${i}`], { ...e.env, ...env });
    ok(c, 'repo create as nobody');
    assert.match(c.stderr, /warning \[PLUGIN_DIR_UNREADABLE\]: .*permission denied/);
  }
});

test('plugins list at a data dir without an engine (a mistyped --data-dir) lists the plugins and makes nothing there', () => {
  const dataDir = path.join(tempDir(), 'no-such-data-dir');
  const r = runCli(['--data-dir', dataDir, '--json', 'plugins', 'list'], { env: { STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.ok((JSON.parse(r.stdout) as { plugins: Array<{ id: string }> }).plugins.some((p) => p.id === 'yum_importer'));
  assert.equal(fs.existsSync(dataDir), false);
});
