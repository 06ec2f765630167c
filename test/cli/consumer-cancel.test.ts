import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { writeFiles } from '../helpers/agent.js';

test('SIGINT during a content operation stops the handler (dnf is killed), prints the failed report and exits 130', async () => {
  const dir = tempDir('consumer-cancel-');
  const started = path.join(dir, 'dnf-started');
  writeFiles(dir, { 'slow-dnf': `#!/bin/sh\ntouch '${started}'\nexec sleep 120\n` });
  chmodSync(path.join(dir, 'slow-dnf'), 0o755);
  writeFiles(path.join(dir, 'conf.d'), { 'rpm.conf': `[main]\nenabled=1\n[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\ndnf=${path.join(dir, 'slow-dnf')}\n` });
  const env = {
    STAGEPUSH_DATA_DIR: path.join(dir, 'data'),
    STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'),
    STAGEPUSH_AGENT_LOG: `file:${path.join(dir, 'agent.log')}`,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    STAGEPUSH_CONFIG: '',
  };
  const root = path.join(dir, 'root');
  mkdirSync(root);
  assert.equal(runCli(['consumer', 'register', 'c', '--root', root], { env }).status, 0);
  const child = spawnCli(['consumer', 'install', 'c', '--type', 'rpm', 'hello', '--json'], { env });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  for (let i = 0; i < 600 && !existsSync(started); i++) await sleep(100);
  assert.ok(existsSync(started), 'dnf started');
  child.kill('SIGINT');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 130);
  const report = JSON.parse(out) as { succeeded: boolean; details: { message: string } };
  assert.equal(report.succeeded, false);
  assert.equal(report.details.message, 'canceled');
});
