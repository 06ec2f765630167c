/**
 * dnf reads what the codecs write: a repository made only with our writers (primary, filelists,
 * other, updateinfo, comps, modules, repomd) over the fixture install set; Debian's dnf in a temp
 * installroot with a temp cachedir lists every NEVRA, installs a package, sees the advisory, the
 * groups and the module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readRpmFile } from '../../../src/formats/rpm/index.js';
import { RepodataWriter, packagesHref, toRepodataPackage } from '../../../src/formats/repodata/index.js';
import { writeMetadataFile, writeRepomd } from '../../../src/formats/repomd/index.js';
import { writeUpdateinfo, type Erratum } from '../../../src/formats/updateinfo/index.js';
import { writeComps } from '../../../src/formats/comps/index.js';
import { parseModulemd, writeModulemd } from '../../../src/formats/modulemd/index.js';
import { FIXTURES_BUILD, tempDir } from '../../helpers/cli.js';
import { mtimeSeconds, run } from '../../helpers/repodata.js';
import { COMPS, ERRATUM, MODULES_YAML } from '../../helpers/repodata-samples.js';
import { DNF_LEAVE_HOST } from '../../helpers/yum.js';

test('dnf reads a repository written by the codecs', async () => {
  const dir = tempDir();
  const repo = path.join(dir, 'repo');
  const src = path.join(FIXTURES_BUILD, 'rpms', 'install');
  const files = readdirSync(src).filter((f) => f.endsWith('.rpm')).sort();
  const rd = path.join(repo, 'repodata');
  const w = new RepodataWriter({ dir: rd, packageCount: files.length });
  const nevras: string[] = [];
  const sha: Record<string, string> = {};
  for (const f of files) {
    const href = packagesHref(f);
    const dest = path.join(repo, href);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(path.join(src, f), dest);
    const { record, checksums } = await readRpmFile(dest, { checksums: ['sha256'] });
    await w.add(toRepodataPackage(record, { pkgid: checksums.sha256!, mtime: mtimeSeconds(dest), locationHref: href }));
    nevras.push(`${record.name}-${record.epoch ?? 0}:${record.version}-${record.release}.${record.arch}`);
    sha[f] = checksums.sha256!;
  }
  const res = await w.close();
  const hello11 = files.find((f) => f.startsWith('hello-1.1'))!;
  const advisory: Erratum = {
    ...ERRATUM,
    pkglist: [
      {
        name: 'c',
        short: '',
        packages: [
          { name: 'hello', epoch: '0', version: '1.1', release: '1', arch: 'noarch', src: 'hello-1.1-1.src.rpm', filename: hello11, sha256sum: sha[hello11]! },
          { name: 'absent', epoch: '0', version: '1', release: '1', arch: 'noarch', src: 'absent-1-1.src.rpm', filename: 'absent-1-1.noarch.rpm' },
        ],
      },
    ],
  };
  const inRepo = new Set(files);
  const ui = await writeMetadataFile({ dir: rd, type: 'updateinfo', name: 'updateinfo.xml' }, writeUpdateinfo([advisory], { packageFilter: (p) => inRepo.has(p.filename) }));
  const group = await writeMetadataFile({ dir: rd, type: 'group', name: 'comps.xml', compression: 'none' }, writeComps(COMPS));
  const modules = await writeMetadataFile({ dir: rd, type: 'modules', name: 'modules.yaml' }, writeModulemd(parseModulemd(MODULES_YAML)));
  writeFileSync(path.join(rd, 'repomd.xml'), writeRepomd({ revision: '1', records: [res.primary, res.filelists, res.other, ui, group, modules] }));

  const dnf = (...args: string[]) =>
    run('dnf', [
      '-q', '-y', ...DNF_LEAVE_HOST, `--installroot=${path.join(dir, 'root')}`, `--setopt=cachedir=${path.join(dir, 'cache')}`, '--setopt=reposdir=/dev/null',
      '--releasever=1', `--repofrompath=ours,file://${repo}`, '--disablerepo=*', '--enablerepo=ours', '--setopt=ours.gpgcheck=0',
      '--setopt=module_platform_id=platform:el8', ...args,
    ]);
  const listed = dnf('repoquery', '--qf', '%{name}-%{epoch}:%{version}-%{release}.%{arch}').trim().split('\n').sort();
  assert.deepEqual(listed, nevras.sort());
  dnf('install', 'hello-1.0');
  assert.match(dnf('updateinfo', 'list', '--all'), /RHSA-2024:0001\s+Important\/Sec\.\s+hello-1\.1-1\.noarch/);
  assert.match(dnf('updateinfo', 'info', 'RHSA-2024:0001'), /Updated: 2024-01-11 00:00:00/);
  assert.match(dnf('group', 'list', '--hidden'), /Alpha & tools/);
  const info = dnf('group', 'info', 'alpha-tools');
  assert.match(info, /Mandatory Packages:\s+alpha/);
  assert.match(info, /Conditional Packages:\s+cond/);
  const mod = dnf('module', 'info', 'alphamod');
  assert.match(mod, /Stream\s+: 1\.10/);
  assert.match(mod, /Version\s+: 8040020210716161022/);
});
