import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadHandlers } from '../../src/agent/loader.js';
import { ContentHandler } from '../../src/agent/handler.js';
import { tempDir } from '../helpers/cli.js';
import { CONTENT_TYPES, DISTRIBUTOR_TYPES, writeFiles } from '../helpers/agent.js';

const TYPES = { contentTypes: new Set([...CONTENT_TYPES, 'tarball']), distributorTypes: DISTRIBUTOR_TYPES };

/** A third-party handler module in plain JavaScript: base classes come from the factory argument. */
const THIRD_PARTY = `
export default function (agent) {
  class TarHandler extends agent.ContentHandler {
    install(conduit, units, options) { return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name), config: this.config }, units.length); }
    update(conduit, units) { return new agent.ContentReport().setSucceeded({ updated: units.map((u) => u.name) }, units.length); }
    uninstall(conduit, units) { return new agent.ContentReport().setSucceeded({ removed: units.map((u) => u.name) }, units.length); }
    profile() { return new agent.ProfileReport().setSucceeded({ tarballs: [] }); }
  }
  class NotAHandler {
    install() {} update() {} uninstall() {} profile() {}
  }
  class Partial extends agent.ContentHandler {
    install() { return new agent.ContentReport(); }
  }
  return { TarHandler, NotAHandler, Partial };
}
`;

/** The same in CommonJS. */
const THIRD_PARTY_CJS = `
module.exports = function (agent) {
  class EchoBind extends agent.BindHandler {
    bind(conduit, binding) { return new agent.BindReport().setSucceeded({ repo: binding.repoId }, 1); }
    unbind(conduit, repoId) { return new agent.BindReport().setSucceeded({ repo: repoId }, 1); }
    clean() { return new agent.CleanReport(); }
  }
  return { EchoBind };
};
`;

const good = (body: string) => `[main]\nenabled=1\n\n${body}`;

function setup(extra: Record<string, string> = {}) {
  const dir = tempDir('agent-loader-');
  const conf = path.join(dir, 'conf.d');
  const handlers = path.join(dir, 'handlers');
  mkdirSync(conf, { recursive: true });
  writeFiles(handlers, { 'tar_handler.mjs': THIRD_PARTY, 'echo/index.cjs': THIRD_PARTY_CJS, 'broken.mjs': 'throw new Error("module init exploded");\n' });
  writeFiles(conf, {
    'tar.conf': good('[types]\ncontent=tarball\n\n[tarball]\nclass=tar_handler:TarHandler\npreserve_permissions=1\n'),
    ...extra,
  });
  return { dir, conf, handlers };
}

test('a plain-JavaScript third-party handler loads from the handlers dir with its configuration', async () => {
  const { conf, handlers } = setup({ 'echo.conf': good('[types]\nbind=test_distributor\n[test_distributor]\nclass=echo:EchoBind\n') });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
  assert.deepEqual(reg.problems, []);
  const tar = reg.find('content', 'tarball');
  assert.ok(tar, 'tarball handler loaded');
  assert.ok(tar.instance instanceof ContentHandler);
  assert.equal(tar.className, 'tar_handler:TarHandler');
  assert.equal(tar.source, path.join(handlers, 'tar_handler.mjs'));
  assert.equal(tar.descriptor, path.join(conf, 'tar.conf'));
  assert.deepEqual(tar.config, { preserve_permissions: '1' });
  const echo = reg.find('bind', 'test_distributor');
  assert.equal(echo?.source, path.join(handlers, 'echo', 'index.cjs'));
});

test('a disabled descriptor is not loaded', async () => {
  const { conf, handlers } = setup({ 'tar.conf': '[main]\nenabled=no\n' });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
  assert.deepEqual(reg.problems, []);
  assert.equal(reg.handlers.length, 0);
  assert.equal(reg.descriptors[0]?.state, 'disabled');
});

const MISTAKES: Array<{ name: string; text: string; code: string; entry?: string; field?: string; message: RegExp }> = [
  { name: 'syntax', text: '[main]\nenabled=1\nthis line is not ini\n', code: 'AGENT_DESCRIPTOR_SYNTAX', message: /line 3: expected "key = value"/ },
  { name: 'syntax-section', text: '[main]\nenabled=1\n[types\n', code: 'AGENT_DESCRIPTOR_SYNTAX', message: /line 3: malformed section header "\[types"/ },
  { name: 'syntax-outside', text: 'enabled=1\n[main]\n', code: 'AGENT_DESCRIPTOR_SYNTAX', message: /line 1: key "enabled" outside any section/ },
  { name: 'syntax-duplicate', text: '[main]\nenabled=1\nenabled=0\n', code: 'AGENT_DESCRIPTOR_SYNTAX', entry: 'main', message: /line 3: duplicate key "enabled"/ },
  { name: 'no-main', text: '[types]\ncontent=rpm\n[rpm]\nclass=tar_handler:TarHandler\n', code: 'AGENT_DESCRIPTOR_NO_MAIN', entry: 'main', message: /missing section \[main\]/ },
  { name: 'no-enabled', text: '[main]\nfoo=1\n[types]\ncontent=rpm\n', code: 'AGENT_DESCRIPTOR_NO_ENABLED', entry: 'main', field: 'enabled', message: /has no "enabled"/ },
  { name: 'bad-enabled', text: '[main]\nenabled=maybe\n', code: 'AGENT_DESCRIPTOR_BAD_VALUE', entry: 'main', field: 'enabled', message: /got "maybe"/ },
  { name: 'no-types', text: '[main]\nenabled=1\n', code: 'AGENT_DESCRIPTOR_NO_TYPES', entry: 'types', message: /missing section \[types\]/ },
  { name: 'no-section', text: good('[types]\ncontent=iso\n'), code: 'AGENT_DESCRIPTOR_NO_SECTION', entry: 'iso', message: /"iso" is listed in \[types\] content but has no section \[iso\]/ },
  { name: 'no-class', text: good('[types]\ncontent=iso\n[iso]\ntarget_dir=/x\n'), code: 'AGENT_DESCRIPTOR_NO_CLASS', entry: 'iso', field: 'class', message: /\[iso\] has no "class"/ },
  { name: 'bad-class', text: good('[types]\ncontent=iso\n[iso]\nclass=just_a_module\n'), code: 'AGENT_DESCRIPTOR_BAD_CLASS', entry: 'iso', field: 'class', message: /expected <module>:<Export>/ },
  { name: 'module-missing', text: good('[types]\ncontent=iso\n[iso]\nclass=no_such_module:Handler\n'), code: 'AGENT_HANDLER_MODULE_NOT_FOUND', entry: 'iso', field: 'class', message: /module "no_such_module" not found/ },
  { name: 'module-broken', text: good('[types]\ncontent=iso\n[iso]\nclass=broken:Handler\n'), code: 'AGENT_HANDLER_MODULE_LOAD', entry: 'iso', field: 'class', message: /failed to load: module init exploded/ },
  { name: 'export-missing', text: good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:NoSuchExport\n'), code: 'AGENT_HANDLER_EXPORT_NOT_FOUND', entry: 'iso', field: 'class', message: /has no export "NoSuchExport" \(exports: NotAHandler, Partial, TarHandler\)/ },
  { name: 'wrong-base', text: good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:NotAHandler\n'), code: 'AGENT_HANDLER_WRONG_BASE', entry: 'iso', field: 'class', message: /class NotAHandler does not extend ContentHandler/ },
  { name: 'wrong-capability', text: good('[types]\nbind=iso_distributor\n[iso_distributor]\nclass=tar_handler:TarHandler\n'), code: 'AGENT_HANDLER_WRONG_BASE', entry: 'iso_distributor', field: 'class', message: /does not extend BindHandler/ },
  { name: 'missing-method', text: good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:Partial\n'), code: 'AGENT_HANDLER_MISSING_METHOD', entry: 'iso', field: 'class', message: /does not implement update, uninstall, profile/ },
  { name: 'unknown-content-type', text: good('[types]\ncontent=no_such_type\n[no_such_type]\nclass=tar_handler:TarHandler\n'), code: 'AGENT_DESCRIPTOR_UNKNOWN_TYPE', entry: 'types', field: 'content', message: /"no_such_type" is not a content type the engine declares/ },
  { name: 'unknown-bind-type', text: good('[types]\nbind=nope_distributor\n[nope_distributor]\nclass=echo:EchoBind\n'), code: 'AGENT_DESCRIPTOR_UNKNOWN_TYPE', entry: 'types', field: 'bind', message: /"nope_distributor" is not an installed distributor type/ },
  { name: 'unknown-types-key', text: good('[types]\ncontnet=iso\n'), code: 'AGENT_DESCRIPTOR_UNKNOWN_KEY', entry: 'types', field: 'contnet', message: /unknown key "contnet"/ },
  { name: 'unknown-main-key', text: '[main]\nenabled=1\ntypo_key=1\n[types]\ncontent=iso\n[iso]\nclass=tar_handler:TarHandler\n', code: 'AGENT_DESCRIPTOR_UNKNOWN_KEY', entry: 'main', field: 'typo_key', message: /\[main\] has unknown key "typo_key" \(only "enabled"\)/ },
  { name: 'unlisted-section', text: good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:TarHandler\n[ami]\nclass=tar_handler:TarHandler\ntarget_dir=/srv/ami\n'), code: 'AGENT_DESCRIPTOR_UNLISTED_SECTION', entry: 'ami', message: /\[ami\] is not listed in \[types\] \(content, bind or system\): its class tar_handler:TarHandler would never load/ },
  { name: 'unlisted-section-no-class', text: good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:TarHandler\n[Linux]\nreboot_delay=10\n'), code: 'AGENT_DESCRIPTOR_UNLISTED_SECTION', entry: 'Linux', message: /\[Linux\] is not listed in \[types\] \(content, bind or system\): nothing would read it/ },
  { name: 'bad-setting-rpm', text: good('[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\nimport_key=yes please\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'rpm', field: 'import_key', message: /^\[rpm\] import_key: expected true\|yes\|1 or false\|no\|0, got "yes please"$/ },
  { name: 'bad-setting-linux', text: good('[types]\nsystem=Linux\n[Linux]\nclass=stagepush:LinuxHandler\nreboot_delay=abc\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'Linux', field: 'reboot_delay', message: /^\[Linux\] reboot_delay: expected a number of seconds >= 0, got "abc"$/ },
  { name: 'bad-setting-linux-empty', text: good('[types]\nsystem=Linux\n[Linux]\nclass=stagepush:LinuxHandler\nreboot_delay=\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'Linux', field: 'reboot_delay', message: /got ""/ },
  { name: 'bad-setting-file', text: good('[types]\ncontent=iso\n[iso]\nclass=stagepush:FileHandler\ntarget_dir=../../etc\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'iso', field: 'target_dir', message: /"\.\.\/\.\.\/etc" leads out of the consumer root/ },
  { name: 'bad-setting-yum', text: good('[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nssl_verify=maybe\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'yum_distributor', field: 'ssl_verify', message: /got "maybe"/ },
  { name: 'bad-setting-file-bind', text: good('[types]\nbind=iso_distributor\n[iso_distributor]\nclass=stagepush:FileBindHandler\nbindings_dir=/a/../../b\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'iso_distributor', field: 'bindings_dir', message: /leads out of the consumer root/ },
  // A file setting naming the consumer root itself, or a directory: every bind failed with a stack trace.
  { name: 'bad-setting-yum-root', text: good('[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=/\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'yum_distributor', field: 'repo_file', message: /^\[yum_distributor\] repo_file: expected a file under the consumer root, got "\/", the consumer root itself$/ },
  { name: 'bad-setting-yum-dot', text: good('[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=.\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'yum_distributor', field: 'repo_file', message: /got "\.", the consumer root itself$/ },
  { name: 'bad-setting-yum-up', text: good('[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=etc/..\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'yum_distributor', field: 'repo_file', message: /got "etc\/\.\.", the consumer root itself$/ },
  { name: 'bad-setting-yum-dir', text: good('[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=/etc/yum.repos.d/\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'yum_distributor', field: 'repo_file', message: /got "\/etc\/yum\.repos\.d\/", which names a directory$/ },
  // The bindings directory is removed whole by clean: the root itself would be.
  { name: 'bad-setting-file-bind-root', text: good('[types]\nbind=iso_distributor\n[iso_distributor]\nclass=stagepush:FileBindHandler\nbindings_dir=./\n'), code: 'AGENT_HANDLER_BAD_SETTING', entry: 'iso_distributor', field: 'bindings_dir', message: /^\[iso_distributor\] bindings_dir: expected a directory below the consumer root, got "\.\/", the consumer root itself$/ },
  { name: 'unknown-setting', text: good('[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\npermit_reboots=0\n'), code: 'AGENT_HANDLER_UNKNOWN_SETTING', entry: 'rpm', field: 'permit_reboots', message: /\[rpm\] permit_reboots: unknown setting \(stagepush:RpmHandler reads import_key, permit_reboot, reboot_packages, releasever, dnf\)/ },
  { name: 'duplicate-type', text: good('[types]\ncontent=tarball\n[tarball]\nclass=tar_handler:TarHandler\n'), code: 'AGENT_DESCRIPTOR_DUPLICATE_TYPE', entry: 'types', field: 'content', message: /"tarball" already has a handler from .*tar\.conf/ },
];

for (const m of MISTAKES) {
  test(`descriptor mistake "${m.name}" is refused with ${m.code}, naming the file; the others still load`, async () => {
    const { conf, handlers } = setup({ [`zz-${m.name}.conf`]: m.text });
    const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
    const file = path.join(conf, `zz-${m.name}.conf`);
    const mine = reg.problems.filter((p) => p.file === file);
    assert.equal(mine.length, 1, JSON.stringify(reg.problems));
    const p = mine[0]!;
    assert.equal(p.code, m.code);
    assert.match(p.message, m.message);
    if (m.entry !== undefined) assert.equal(p.entry, m.entry);
    if (m.field !== undefined) assert.equal(p.field, m.field);
    assert.equal(reg.descriptors.find((d) => d.file === file)?.state, 'refused');
    assert.ok(reg.find('content', 'tarball'), 'the good descriptor still loaded');
    assert.equal(reg.problems.length, 1);
  });
}

test('the built-in descriptors load; a conf.d file of the same name replaces one', async () => {
  const { conf, handlers } = setup({ 'linux.conf': '[main]\nenabled=0\n' });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, ...TYPES });
  assert.deepEqual(reg.problems, []);
  assert.equal(reg.find('content', 'rpm')?.className, 'stagepush:RpmHandler');
  assert.equal(reg.find('content', 'iso')?.className, 'stagepush:FileHandler');
  assert.equal(reg.find('bind', 'yum_distributor')?.className, 'stagepush:YumBindHandler');
  assert.equal(reg.find('system', 'Linux'), undefined, 'linux.conf in conf.d disabled the built-in one');
  const replaced = reg.descriptors.find((d) => d.builtin && d.file.endsWith('linux.conf'));
  assert.equal(replaced?.state, 'replaced');
  assert.equal(replaced?.replacedBy, path.join(conf, 'linux.conf'));
});

test('a conf.d descriptor takes a type over from a built-in descriptor', async () => {
  const { conf, handlers } = setup({ 'acme.conf': good('[types]\ncontent=iso\n[iso]\nclass=tar_handler:TarHandler\n') });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, ...TYPES });
  assert.deepEqual(reg.problems, []);
  assert.equal(reg.find('content', 'iso')?.className, 'tar_handler:TarHandler');
});

test('an explicitly configured conf.d directory that does not exist is reported', async () => {
  const dir = tempDir('agent-loader-');
  const reg = await loadHandlers({ confDir: path.join(dir, 'nope'), handlersDir: dir, builtinConfDir: null, confDirRequired: true, ...TYPES });
  assert.equal(reg.problems[0]?.code, 'AGENT_CONF_DIR_MISSING');
  // A file where the directory should be is said too (none of its descriptors would be read).
  writeFileSync(path.join(dir, 'afile'), 'x');
  const f = await loadHandlers({ confDir: path.join(dir, 'afile'), handlersDir: dir, builtinConfDir: null, ...TYPES });
  assert.equal(f.problems[0]?.code, 'AGENT_CONF_DIR_NOT_A_DIRECTORY');
});

test('type ids with "." (the engine accepts letters, digits, _ . -) get a handler: section names and [types] values, an indented header too', async () => {
  const { conf, handlers } = setup({
    'dotted.conf': good('[types]\ncontent=acme.tarball\nbind=acme.tar_distributor\n[acme.tarball]\nclass=tar_handler:TarHandler\nkeep.mode=1\n  [acme.tar_distributor]\nclass=echo:EchoBind\n'),
  });
  const types = { contentTypes: new Set([...TYPES.contentTypes, 'acme.tarball']), distributorTypes: new Set([...TYPES.distributorTypes, 'acme.tar_distributor']) };
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...types });
  assert.deepEqual(reg.problems, []);
  assert.equal(reg.find('content', 'acme.tarball')?.className, 'tar_handler:TarHandler');
  assert.deepEqual(reg.find('content', 'acme.tarball')?.config, { 'keep.mode': '1' }, 'the section is read as one, not nested');
  assert.equal(reg.find('bind', 'acme.tar_distributor')?.className, 'echo:EchoBind');
  // Still refused: what no engine id or OS name holds.
  const bad = setup({ 'bad.conf': good('[types]\ncontent=a/b\n[a/b]\nclass=tar_handler:TarHandler\n') });
  const r = await loadHandlers({ confDir: bad.conf, handlersDir: bad.handlers, builtinConfDir: null, ...TYPES });
  assert.equal(r.problems[0]?.code, 'AGENT_DESCRIPTOR_SYNTAX');
  assert.match(r.problems[0]!.message, /invalid section name "a\/b" \(letters, digits, _ \. \+ - only\)/);
});

test("the built-in handlers' good settings load (a third-party handler's configuration is not checked)", async () => {
  const { conf, handlers } = setup({
    'ok.conf': good(
      '[types]\ncontent=rpm,iso\nbind=yum_distributor,iso_distributor\nsystem=Linux\n' +
        '[rpm]\nclass=stagepush:RpmHandler\nimport_key=off\npermit_reboot=YES\nreboot_packages=kernel,glibc\nreleasever=9\ndnf=/usr/bin/dnf\n' +
        '[iso]\nclass=stagepush:FileHandler\ntarget_dir=srv/files\nrepo=isos\n' +
        '[yum_distributor]\nclass=stagepush:YumBindHandler\nssl_verify=0\nrepo_file=/etc/yum.repos.d/x.repo\n' +
        '[iso_distributor]\nclass=stagepush:FileBindHandler\nbindings_dir=/etc/x/../y\n' +
        '[Linux]\nclass=stagepush:LinuxHandler\nreboot_delay=0.5\nreboot_command=systemctl reboot\n',
    ),
  });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
  assert.deepEqual(reg.problems, []);
  assert.equal(reg.find('content', 'tarball')?.config.preserve_permissions, '1');
  // The shipped descriptors pass their own checks.
  const builtin = await loadHandlers({ confDir: path.join(conf, 'none'), handlersDir: handlers, ...TYPES });
  assert.deepEqual(builtin.problems, []);
});

test('a system type in the wrong case never matches os.type(): refused, naming the right one', async () => {
  const { conf, handlers } = setup({ 'sys.conf': good('[types]\nsystem=linux\n[linux]\nclass=stagepush:LinuxHandler\n') });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
  assert.equal(reg.problems[0]?.code, 'AGENT_DESCRIPTOR_BAD_VALUE');
  assert.match(reg.problems[0]!.message, /"linux" never matches.*"Linux"/);
});

test('a module is also resolved from node_modules (here a package that is not a handler: wrong base class)', async () => {
  const { conf, handlers } = setup({ 'npm.conf': good('[types]\ncontent=iso\n[iso]\nclass=yaml:Document\n') });
  const reg = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, ...TYPES });
  assert.equal(reg.problems.length, 1);
  assert.equal(reg.problems[0]?.code, 'AGENT_HANDLER_WRONG_BASE');
  assert.match(reg.problems[0]!.message, /class Document does not extend ContentHandler/);
});
