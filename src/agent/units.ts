/**
 * Content unit specs given on the command line. An rpm UNIT is
 * `name[-[epoch:]version-release[.arch]]` (version starts with a digit); other types take the
 * unit's name.
 */
import { StagepushError } from '../errors.js';
import type { ContentUnitSpec } from './handler.js';

export const RPM_ARCHES = [
  'noarch', 'x86_64', 'i386', 'i486', 'i586', 'i686', 'aarch64', 'armv7hl', 'armv7hnl', 'armv6hl', 'ppc64le', 'ppc64', 'ppc', 's390x', 's390', 'riscv64', 'src', 'nosrc',
];
const RPM_UNIT_RE = new RegExp(`^(?<name>[^\\s/:]+?)(?:-(?:(?<epoch>\\d+):)?(?<version>\\d[^\\s/:-]*)-(?<release>[^\\s/:-]+?)(?:\\.(?<arch>${RPM_ARCHES.join('|')}))?)?$`);

export function parseRpmUnit(spec: string): ContentUnitSpec {
  const m = RPM_UNIT_RE.exec(spec.trim());
  if (!m || !m.groups) {
    throw new StagepushError('AGENT_BAD_UNIT', `rpm unit "${spec}": expected name[-[epoch:]version-release[.arch]]`, { kind: 'usage', field: 'UNIT' });
  }
  const g = m.groups;
  const out: Record<string, string> = { name: g.name! };
  if (g.version !== undefined) {
    if (g.epoch !== undefined) out.epoch = g.epoch;
    out.version = g.version;
    out.release = g.release!;
    if (g.arch !== undefined) out.arch = g.arch;
  }
  return out;
}

/** Back to dnf's NEVRA spec form. */
export function rpmSpecString(u: ContentUnitSpec): string {
  if (!u.name) throw new StagepushError('AGENT_BAD_UNIT', 'rpm unit without a name', { kind: 'usage' });
  if (!u.version) return u.name + (u.arch ? `.${u.arch}` : '');
  return `${u.name}-${u.epoch && u.epoch !== '0' ? `${u.epoch}:` : ''}${u.version}${u.release ? `-${u.release}` : ''}${u.arch ? `.${u.arch}` : ''}`;
}

export function parseUnit(typeId: string, spec: string): ContentUnitSpec {
  if (typeId === 'rpm' || typeId === 'srpm') return parseRpmUnit(spec);
  const s = spec.trim();
  if (!s) throw new StagepushError('AGENT_BAD_UNIT', `${typeId} unit: empty name`, { kind: 'usage', field: 'UNIT' });
  return { name: s };
}

/** `--option k=v` values into an options object. */
export function parseOptions(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new StagepushError('AGENT_BAD_OPTION', `--option "${p}": expected key=value`, { kind: 'usage', field: '--option' });
    out[p.slice(0, eq).trim()] = p.slice(eq + 1);
  }
  return out;
}
