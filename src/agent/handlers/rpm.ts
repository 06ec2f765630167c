/**
 * RPM content handler (content type rpm). Runs the host's dnf with `--installroot=<root>` (the
 * consumer's root; repositories from `<root>/etc/yum.repos.d`, as written by the yum bind
 * handler) for install, update and uninstall; the profile is the installed NEVRA list from
 * `rpm --root <root> --dbpath /var/lib/rpm -qa`.
 *
 * Configuration (descriptor section) and options (`--option k=v`, options win):
 *   import_key     true (default): dnf imports the repositories' GPG keys it needs; false: the
 *                  keys must already be in the consumer's rpm database
 *   permit_reboot  true (default): a change to a package that needs a reboot (reboot_packages)
 *                  asks the agent to reboot (the system handler then schedules it; never for a
 *                  consumer whose root is not /)
 *   reboot_packages comma list (default kernel, kernel-core, glibc, systemd, linux-firmware,
 *                  dbus, dbus-broker, dbus-daemon)
 *   dnf            the dnf command (default dnf); releasever: passed as --releasever when set
 *
 * The rpm database is `<root>/var/lib/rpm`, as on the EL host the root stands for, whoever runs
 * stagepush: Debian's rpm sets %_dbpath to ~/.rpmdb, which under --root/--installroot would be
 * `<root>/$HOME/.rpmdb` (another database for every user, and an EL tree would look empty). rpm
 * gets `--dbpath`; dnf has no such option, so it runs with a private HOME whose .rpmmacros sets
 * %_dbpath (rpm reads ~/.rpmmacros last, after the system's macro files).
 */
import { ContentHandler, settingChecks, type ContentUnitSpec, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { ContentReport, ProfileReport } from '../reports.js';
import { rpmSpecString } from '../units.js';
import { run, tail } from '../exec.js';
import { assertInsideRoot, assertTreeInsideRoot } from './inside.js';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface InstalledRpm {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}

export function nevra(p: InstalledRpm): string {
  return `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;
}

/** The rpm database under a consumer root (EL's %_dbpath). */
export const RPM_DBPATH = '/var/lib/rpm';

const DEFAULT_REBOOT_PACKAGES = ['kernel', 'kernel-core', 'glibc', 'systemd', 'linux-firmware', 'dbus', 'dbus-broker', 'dbus-daemon'];

/** `rpm --root <root> --dbpath /var/lib/rpm -qa` as records (gpg-pubkey entries left out), sorted by NEVRA. */
export async function installedRpms(root: string, signal?: AbortSignal): Promise<InstalledRpm[]> {
  // rpm --root on a missing directory lists nothing and succeeds (and dnf would make the root).
  if (!existsSync(root)) throw new Error(`consumer root ${root} does not exist`);
  // rpm opens (and, when missing, creates) the database from outside any chroot.
  assertTreeInsideRoot(root, path.join(root, RPM_DBPATH), 'the rpm database directory');
  const r = await run('rpm', ['--root', root, '--dbpath', RPM_DBPATH, '-qa', '--qf', '%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n'], { signal });
  if (r.code !== 0) throw new Error(`rpm --root ${root} --dbpath ${RPM_DBPATH} -qa failed (exit ${r.code}): ${tail(r.stderr, 5)}`);
  const out: InstalledRpm[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [name, epoch, version, release, arch] = line.split('\t');
    if (!name || name === 'gpg-pubkey') continue;
    out.push({ name, epoch: Number(epoch) || 0, version: version ?? '', release: release ?? '', arch: arch ?? '' });
  }
  return out.sort((a, b) => nevra(a).localeCompare(nevra(b)));
}

/**
 * Run `fn` with an environment whose HOME is a private directory holding only an .rpmmacros that
 * sets %_dbpath to RPM_DBPATH: dnf (through librpm) then uses `<installroot>/var/lib/rpm`, and no
 * user's own ~/.rpmmacros changes what the agent does. The directory is removed afterwards.
 */
async function withRpmHome<T>(fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'stagepush-rpm-home-'));
  try {
    writeFileSync(path.join(home, '.rpmmacros'), `%_dbpath ${RPM_DBPATH}\n`);
    return await fn({ ...process.env, HOME: home });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The files dnf logs to in its logdir (`<root>/var/log`). */
const DNF_LOGS = ['dnf.log', 'dnf.rpm.log', 'dnf.librepo.log', 'hawkey.log'];

/**
 * dnf writes these under the consumer root from outside any chroot (only rpm's transaction, run
 * as root, installs package files inside a chroot of the root): none may lead out of the root
 * through a symlink, or the host's files would be written. `cachedir` is the host path given to
 * dnf; dnf also prefixes it with the installroot once more for some files (expired_repos.json).
 */
function assertDnfPathsInside(root: string, cachedir: string): void {
  for (const f of DNF_LOGS) assertInsideRoot(root, path.join(root, 'var', 'log', f), 'the dnf log');
  assertTreeInsideRoot(root, cachedir, 'the dnf cache directory');
  assertTreeInsideRoot(root, path.join(root, cachedir), 'the dnf cache directory');
  assertTreeInsideRoot(root, path.join(root, 'var', 'lib', 'dnf'), 'the dnf persistent data directory');
  assertTreeInsideRoot(root, path.join(root, 'etc', 'dnf', 'modules.d'), 'the dnf modules directory');
  assertTreeInsideRoot(root, path.join(root, RPM_DBPATH), 'the rpm database directory');
}

/** Section ids of the consumer's yum repo files (for import_key = false). */
function repoIds(root: string): string[] {
  const dir = path.join(root, 'etc', 'yum.repos.d');
  if (!existsSync(dir)) return [];
  const ids: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.repo')) continue;
    for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/^\s*\[([^\]]+)\]\s*$/gm)) ids.push(m[1]!.trim());
  }
  return ids;
}

export class RpmHandler extends ContentHandler {
  static override readonly settings = {
    import_key: settingChecks.boolean,
    permit_reboot: settingChecks.boolean,
    reboot_packages: settingChecks.any,
    releasever: settingChecks.any,
    dnf: settingChecks.any,
  };

  private async dnf(conduit: HandlerConduit, op: 'install' | 'upgrade' | 'remove', units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    const report = new ContentReport();
    const root = conduit.root;
    const specs = units.map(rpmSpecString);
    const importKey = this.flag(options, 'import_key', true);
    const permitReboot = this.flag(options, 'permit_reboot', true);
    const rebootPackages = (this.setting(options, 'reboot_packages') ?? DEFAULT_REBOOT_PACKAGES.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const cachedir = path.join(root, 'var', 'cache', 'stagepush-dnf');
    const args = [
      '-y',
      `--installroot=${root}`,
      `--setopt=reposdir=${path.join(root, 'etc', 'yum.repos.d')}`,
      `--setopt=cachedir=${cachedir}`,
      '--setopt=install_weak_deps=False',
      '--noplugins',
      // Always read the repositories' current metadata: a push may have changed them.
      '--refresh',
    ];
    const releasever = this.setting(options, 'releasever');
    if (releasever) args.push(`--releasever=${releasever}`);
    // Without import_key, dnf gets no key URLs: a package whose key is not yet in the
    // consumer's rpm database is refused.
    if (!importKey) for (const id of repoIds(root)) args.push(`--setopt=${id}.gpgkey=`);
    // The specs after "--": whatever they hold, dnf never reads one as an option (Debian's dnf 4
    // takes "install -- hello"; an option-like word after "--" is refused there, never applied).
    args.push(op, '--', ...specs);
    const before = await installedRpms(root, conduit.signal);
    assertDnfPathsInside(root, cachedir);
    conduit.progress.report({ step: op, packages: specs });
    const dnfCmd = this.setting(options, 'dnf', 'dnf')!;
    conduit.log.debug(`running ${dnfCmd} ${args.join(' ')}`);
    const r = await withRpmHome((env) => run(dnfCmd, args, { signal: conduit.signal, env }));
    const after = await installedRpms(root, conduit.signal);
    const beforeSet = new Set(before.map(nevra));
    const afterSet = new Set(after.map(nevra));
    const installed = after.filter((p) => !beforeSet.has(nevra(p)));
    const erased = before.filter((p) => !afterSet.has(nevra(p)));
    const details = {
      operation: op,
      requested: specs,
      installed: installed.map(nevra),
      erased: erased.map(nevra),
      importKey,
    };
    // A package upgraded or downgraded (its name and arch installed and erased) is one change;
    // counted failed or not (dnf may fail after its transaction changed the rpm database).
    const changes = new Set([...installed, ...erased].map((p) => `${p.name}.${p.arch}`)).size;
    if (conduit.signal.aborted) {
      report.numChanges = changes;
      return report.setFailed({ ...details, message: 'canceled', command: r.command.join(' ') });
    }
    if (r.code !== 0) {
      conduit.log.error(`dnf ${op} failed (exit ${r.code}): ${tail(r.stderr, 10)}`);
      report.numChanges = changes;
      return report.setFailed({ ...details, message: `dnf ${op} failed (exit ${r.code ?? r.signal})`, exitCode: r.code, output: tail(`${r.stdout}\n${r.stderr.split('\n').filter((l) => !/^[a-z_]+: /.test(l)).join('\n')}`, 30), command: r.command.join(' ') });
    }
    report.setSucceeded(details, changes);
    const changedNames = new Set([...installed, ...erased].map((p) => p.name));
    const needs = rebootPackages.filter((n) => changedNames.has(n));
    if (needs.length) report.reboot = { required: true, permitted: permitReboot, scheduled: false, details: { packages: needs } };
    return report;
  }

  install(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    if (!units.length) throw new Error('install: no package given');
    return this.dnf(conduit, 'install', units, options);
  }

  /** Update the given packages, or every installed package when none is given. */
  update(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    return this.dnf(conduit, 'upgrade', units, options);
  }

  uninstall(conduit: HandlerConduit, units: ContentUnitSpec[], options: HandlerOptions): Promise<ContentReport> {
    if (!units.length) throw new Error('uninstall: no package given');
    return this.dnf(conduit, 'remove', units, options);
  }

  async profile(conduit: HandlerConduit, _options: HandlerOptions): Promise<ProfileReport> {
    const pkgs = await installedRpms(conduit.root, conduit.signal);
    return new ProfileReport().setSucceeded({ packages: pkgs.map((p) => ({ ...p, nevra: nevra(p) })), count: pkgs.length }, 0);
  }
}
