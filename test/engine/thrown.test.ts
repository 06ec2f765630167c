/**
 * A plugin may throw anything — a string, undefined, null, a promise rejected with no reason, a
 * plain object — in validateConfig, a lifecycle hook, an operation or its constructor: each
 * becomes the coded error the operation uses, with a readable message, and `--force` goes past a
 * removal hook that does so (reading `.message` of such a value crashed the command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { thrownText } from '../../src/engine/thrown.js';
import { engineEnv } from '../helpers/engine.js';

test('thrownText: a string keeps its text, undefined/null say the plugin threw no reason, an Error its message, an object its message or JSON', () => {
  assert.equal(thrownText('relative_url taken'), 'relative_url taken');
  assert.equal(thrownText(undefined), 'the plugin threw no reason (undefined)');
  assert.equal(thrownText(null), 'the plugin threw no reason (null)');
  assert.equal(thrownText(new Error('boom')), 'boom');
  assert.equal(thrownText(new TypeError('')), 'TypeError (with no message)');
  assert.equal(thrownText({ message: 'from an object' }), 'from an object');
  assert.equal(thrownText({ code: 42 }), '{"code":42}');
  assert.equal(thrownText(42), '42');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(thrownText(cyclic), 'the plugin threw a value that cannot be shown');
});

// The plugin throws what the test puts in globalThis.__stagepushThrow, in the method it names
// (the engine runs in this process, so the plugin's module sees it).
const PLUGIN = (kind: 'importer' | 'distributor') => String.raw`
import fs from 'node:fs';
import path from 'node:path';
function t(at) {
  const s = globalThis.__stagepushThrow;
  if (!s || s.at !== at) return undefined;
  if (s.reject) return Promise.reject();
  throw s.value;
}
class P {
  constructor() { t('constructor'); }
  metadata() { return { id: 'throw_${kind}', displayName: 't', types: ['thing'] }; }
  validateConfig() { return t('validateConfig') ?? { valid: true }; }
  ${kind}Added() { return t('${kind}Added'); }
  ${kind}Removed() { return t('${kind}Removed'); }
  ${
    kind === 'importer'
      ? `uploadUnit(repo, up, conduit) { return t('uploadUnit') ?? (conduit.saveUnit(conduit.initUnit('thing', { name: 'a' }, {}, null)), { success: true, summary: null }); }
  syncRepo() { return t('syncRepo') ?? { success: true, summary: null }; }
  cancelSyncRepo() {}
  importUnits() { return t('importUnits') ?? []; }
  removeUnits() { return t('removeUnits'); }`
      : `publishRepo(repo) { const r = t('publishRepo'); if (r) return r; const d = path.join(repo.workingDir, 'tree'); fs.mkdirSync(d, { recursive: true }); return { success: true, summary: null, publishedPaths: [d], urls: [] }; }
  cancelPublishRepo() {}
  verifyPublished() { return t('verifyPublished') ?? []; }
  createConsumerPayload() { return t('createConsumerPayload') ?? {}; }`
  }
}
export function entryPoint() { return [P, {}]; }
`;

const g = globalThis as { __stagepushThrow?: { at: string; value?: unknown; reject?: boolean } };

const THROWN: Array<{ name: string; set: { value?: unknown; reject?: boolean }; says: RegExp }> = [
  { name: 'a string', set: { value: 'relative_url taken' }, says: /: relative_url taken$/ },
  { name: 'undefined', set: { value: undefined }, says: /: the plugin threw no reason \(undefined\)$/ },
  { name: 'null', set: { value: null }, says: /: the plugin threw no reason \(null\)$/ },
  { name: 'Promise.reject() with no reason', set: { reject: true }, says: /: the plugin threw no reason \(undefined\)$/ },
];

for (const th of THROWN) {
  test(`a plugin that throws ${th.name}: the operation's coded error says what it threw; --force goes past a removal hook that throws it`, async () => {
    const e = engineEnv({ plugin: false });
    const dir = path.join(e.pluginsDir, 'throwplug');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    fs.writeFileSync(path.join(dir, 'types.json'), JSON.stringify([{ id: 'thing', unitKey: ['name'] }]));
    fs.writeFileSync(path.join(dir, 'importer.js'), PLUGIN('importer'));
    fs.writeFileSync(path.join(dir, 'distributor.js'), PLUGIN('distributor'));
    const events: Array<{ type: string; code?: string; message?: string }> = [];
    const eng: Engine = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir, configDir: e.configDir, events: (ev) => events.push(ev as (typeof events)[number]) });
    // A constructor cannot reject: it throws undefined instead.
    const at = (where: string) => (g.__stagepushThrow = { at: where, ...(where === 'constructor' && th.set.reject ? { value: undefined } : th.set) });
    const coded = (code: string, what = '') => (err: any) => {
      assert.equal(err?.code, code, String(err?.stack ?? err));
      assert.match(err.message, th.says);
      if (what) assert.ok(err.message.includes(what), err.message);
      return true;
    };
    try {
      assert.deepEqual(eng.pluginLoadErrors().map((x) => x.message), []);
      const spec = { id: 'r', importer: { typeId: 'throw_importer' }, distributors: [{ id: 'd', typeId: 'throw_distributor' }] };
      at('validateConfig');
      await assert.rejects(eng.createRepo(spec), coded('PLUGIN_CONFIG_INVALID', 'validateConfig threw'));
      at('constructor');
      await assert.rejects(eng.createRepo(spec), coded('PLUGIN_CONFIG_INVALID', 'creating the plugin threw'));
      at('importerAdded');
      await assert.rejects(eng.createRepo(spec), coded('PLUGIN_HOOK_FAILED', 'throw_importer.importerAdded failed on repository r'));
      assert.equal(eng.getRepo('r'), null, 'a failing added hook makes no repository');
      g.__stagepushThrow = undefined;
      await eng.createRepo(spec);

      // Operations: their own codes.
      at('uploadUnit');
      await assert.rejects(eng.upload('r', { filePath: null, typeId: 'thing', unitKey: { name: 'a' } }), coded('ENGINE_UPLOAD_FAILED', 'upload of repository r failed in throw_importer'));
      at('constructor');
      await assert.rejects(eng.upload('r', { filePath: null, typeId: 'thing', unitKey: { name: 'a' } }), coded('ENGINE_UPLOAD_FAILED', 'creating the plugin threw'));
      at('syncRepo');
      await assert.rejects(eng.sync('r'), coded('ENGINE_SYNC_FAILED'));
      g.__stagepushThrow = undefined;
      await eng.upload('r', { filePath: null, typeId: 'thing', unitKey: { name: 'a' } });
      at('removeUnits');
      await assert.rejects(eng.removeUnits('r', { typeIds: ['thing'] }), coded('ENGINE_REMOVE_FAILED'));
      at('importUnits');
      await assert.rejects(eng.copy('r', 'r', {}), coded('ENGINE_COPY_FAILED'));
      at('publishRepo');
      const [pub] = await eng.publish('r');
      assert.equal(pub!.status, 'failed');
      assert.equal(pub!.error!.code, 'ENGINE_PUBLISH_FAILED');
      assert.match(pub!.error!.message, th.says);
      g.__stagepushThrow = undefined;
      assert.equal((await eng.publish('r'))[0]!.status, 'published');
      for (const where of ['verifyPublished', 'constructor']) {
        at(where);
        const fsck = await eng.fsck();
        const problem = fsck.problems.find((x) => x.code === 'ENGINE_FSCK_FAILED');
        assert.ok(problem, `${where}: ${JSON.stringify(fsck.problems)}`);
        assert.match(problem.message, th.says);
      }
      at('createConsumerPayload');
      await assert.rejects(eng.createConsumerPayload('r', 'd'), coded('ENGINE_PAYLOAD_FAILED'));

      // Removal hooks: refused without --force, gone past with a warning with it.
      at('distributorRemoved');
      await assert.rejects(eng.removeDistributor('r', 'd'), coded('PLUGIN_HOOK_FAILED', 'throw_distributor.distributorRemoved failed on repository r'));
      await eng.removeDistributor('r', 'd', { force: true });
      assert.deepEqual(eng.listDistributors('r'), []);
      assert.ok(events.some((ev) => ev.type === 'warning' && ev.code === 'PLUGIN_HOOK_FAILED' && th.says.test(ev.message!.replace(/ \(removed anyway: --force\)$/, ''))), JSON.stringify(events.filter((ev) => ev.type === 'warning')));
      for (const where of ['importerRemoved', 'constructor']) {
        at(where);
        await assert.rejects(eng.deleteRepo('r'), coded('PLUGIN_HOOK_FAILED', 'throw_importer.importerRemoved failed on repository r'));
        assert.ok(eng.getRepo('r'), `${where}: refused, nothing deleted`);
      }
      assert.equal(await eng.deleteRepo('r', { force: true }), true);
      assert.equal(eng.getRepo('r'), null);
      assert.ok(events.some((ev) => ev.type === 'warning' && ev.code === 'PLUGIN_HOOK_FAILED' && /\(deleted anyway: --force\)$/.test(ev.message!)));
    } finally {
      g.__stagepushThrow = undefined;
      eng.close();
    }
  });
}
