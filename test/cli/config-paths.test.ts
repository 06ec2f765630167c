import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { makePki } from '../helpers/tls.js';

test('a relative path given on the command line to a path-valued plugin key (--distributor-config, --importer-config, --override) is stored absolute, against the working directory: repo show run elsewhere names the file given', () => {
  const work = tempDir();
  const here = path.join(work, 'here');
  const elsewhere = path.join(work, 'elsewhere');
  mkdirSync(here);
  mkdirSync(elsewhere);
  const pki = makePki();
  mkdirSync(path.join(here, 'certs'));
  copyFileSync(pki.caCert, path.join(here, 'ca.pem'));
  copyFileSync(pki.caCert, path.join(here, 'certs', 'up.pem'));
  copyFileSync(pki.clientCert, path.join(here, 'certs', 'client.pem'));
  copyFileSync(pki.clientKey, path.join(here, 'certs', 'client.key'));
  const config = path.join(work, 'cfg.yaml');
  writeFileSync(config, `data_dir: ${path.join(work, 'data')}\npublish: {base_url_https: "https://127.0.0.1:18443/"}\n`);
  const sp = (args: string[], cwd: string) => {
    const r = runCli(['--config', config, ...args], { cwd });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  sp(['repo', 'create', 'sec', '--importer', 'yum_importer', '--importer-config', 'ssl_ca_cert=certs/up.pem'], here);
  sp(['repo', 'distributor', 'add', 'sec', 'yum_distributor', '--distributor-config', 'relative_url=sec', '--distributor-config', 'http=false', '--distributor-config', 'https=true'], here);
  sp(['repo', 'distributor', 'update', 'sec', 'yum_distributor', '--distributor-config', 'https_ca=ca.pem'], here);
  sp(['repo', 'importer', 'update', 'sec', '--importer-config', 'ssl_client_cert=certs/client.pem', '--importer-config', 'ssl_client_key=certs/client.key'], here);
  const show = JSON.parse(sp(['repo', 'show', 'sec', '--json'], elsewhere)) as { importer: { config: Record<string, unknown> }; distributors: Array<{ id: string; config: Record<string, unknown> }> };
  assert.deepEqual(show.importer.config, { ssl_ca_cert: path.join(here, 'certs/up.pem'), ssl_client_cert: path.join(here, 'certs/client.pem'), ssl_client_key: path.join(here, 'certs/client.key') });
  const yum = show.distributors.find((d) => d.id === 'yum_distributor')!;
  assert.deepEqual(yum.config, { relative_url: 'sec', http: false, https: true, https_ca: path.join(here, 'ca.pem') }, 'relative_url is no path: as written');
  assert.match(sp(['repo', 'show', 'sec'], elsewhere), new RegExp(`^sslcacert=${path.join(here, 'ca.pem').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  // An export_dir must be absolute: a relative one is the working directory's, no longer refused.
  sp(['repo', 'distributor', 'add', 'sec', 'export_distributor', '--id', 'ex', '--distributor-config', 'export_dir=out/sec'], here);
  const ex = (JSON.parse(sp(['repo', 'show', 'sec', '--json'], elsewhere)) as typeof show).distributors.find((d) => d.id === 'ex')!;
  assert.equal(ex.config.export_dir, path.join(here, 'out/sec'));
  // An override is resolved the same way (this publish exports into here/once, not elsewhere/once).
  sp(['repo', 'publish', 'sec', '--distributor', 'ex', '--override', 'export_dir=once'], here);
  assert.ok(readFileSync(path.join(here, 'once', 'manifest.json'), 'utf8').includes('"units"'));
});
