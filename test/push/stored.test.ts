import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { buildFullArea, push, RPMS, writeConfig } from '../helpers/push.js';

interface Item {
  repository: string;
  type: string;
  src: string | null;
  action: string;
  stored?: string;
}

const row = (i: Item) => `${i.repository} ${i.type} ${path.basename(i.src ?? '')} ${i.action} ${i.stored ?? '-'}`;

test('the report says how each item reached the content store (linked, copied, existing) and counts its bytes', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const area = buildFullArea(path.join(work, 'area'));
  // A staged file not readable by everyone is copied into the store (made readable), not linked.
  const tools = path.join(area.root, 'el9', 'RPMS', 'demo-tools-2.0-1.noarch.rpm');
  chmodSync(tools, 0o600);

  const r = push(['--json', area.root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const rep = JSON.parse(r.stdout) as { items: Item[]; summary: { bytes_linked: number; bytes_copied: number } };
  assert.deepEqual(rep.items.map(row), [
    'docs directory RAW pushed linked',
    // Files an importer reads without storing them as they are are reported as copied (their digest is not in the store).
    'el9 comps comps.xml pushed copied',
    'el9 directory RAW pushed linked',
    'el9 erratum DEMO-1.yaml pushed copied',
    'el9 modulemd modules.yaml pushed copied',
    'el9 rpm demo-hello-1.0-1.noarch.rpm pushed linked',
    'el9 rpm demo-hello-1.1-1.noarch.rpm pushed linked',
    'el9 rpm demo-tools-2.0-1.noarch.rpm pushed copied',
    'el9 srpm demo-hello-1.0-1.src.rpm pushed linked',
    'el9 yum_repo_metadata_file el9.pem pushed linked',
    'files iso data.bin pushed linked',
    'files iso readme.txt pushed linked',
  ]);
  const size = (rel: string) => statSync(path.join(area.root, rel)).size;
  const linked = ['el9/RPMS/demo-hello-1.0-1.noarch.rpm', 'el9/RPMS/demo-hello-1.1-1.noarch.rpm', 'el9/SRPMS/demo-hello-1.0-1.src.rpm', 'el9/PRODUCTID/el9.pem', 'files/FILES/data.bin', 'files/FILES/readme.txt'];
  const copied = ['el9/RPMS/demo-tools-2.0-1.noarch.rpm', 'el9/COMPS/comps.xml', 'el9/ERRATA/DEMO-1.yaml', 'el9/MODULEMD/modules.yaml'];
  // The RAW trees' files are linked too (each file once: two with one content are stored once).
  const rawFiles = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? rawFiles(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
  const rawBytes = new Map<string, number>();
  for (const f of [...rawFiles(path.join(area.root, 'docs', 'RAW')), ...rawFiles(path.join(area.root, 'el9', 'RAW'))]) rawBytes.set(createHash('sha256').update(readFileSync(f)).digest('hex'), statSync(f).size);
  assert.equal(rep.summary.bytes_linked, linked.reduce((n, f) => n + size(f), 0) + [...rawBytes.values()].reduce((n, b) => n + b, 0));
  assert.equal(rep.summary.bytes_copied, copied.reduce((n, f) => n + size(f), 0));

  // Another repository gets a package the store already holds (same content, another file): existing.
  mkdirSync(path.join(area.root, 'el8', 'RPMS'), { recursive: true });
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm'), path.join(area.root, 'el8', 'RPMS', 'demo-hello-1.0-1.noarch.rpm'));
  const r2 = push(['--json', area.root], { dataDir, config });
  assert.equal(r2.status, 0, r2.stderr + r2.stdout);
  const rep2 = JSON.parse(r2.stdout) as { items: Item[]; summary: { bytes_linked: number; bytes_copied: number } };
  assert.deepEqual(rep2.items.filter((i) => i.action !== 'unchanged').map(row), ['el8 rpm demo-hello-1.0-1.noarch.rpm pushed existing']);
  assert.deepEqual([rep2.summary.bytes_linked, rep2.summary.bytes_copied], [0, 0]);
});
