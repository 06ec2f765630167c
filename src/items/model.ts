/**
 * Constructors for push items: pushsource's defaults, converters and validators (attrs semantics:
 * converters run first, then validators; unknown keyword arguments are refused). Each constructor
 * returns a plain object whose keys are in pushsource's attrs order, with `kind` first.
 *
 * Invalid values throw StagepushError `ITEM_FIELD_INVALID` (or `ITEM_FIELD_MISSING` for a
 * required field) naming the field (dotted for nested values, e.g. `release.date`).
 */
import { StagepushError } from '../errors.js';
import type {
  AmiBillingCodes,
  AmiAccessEndpointUrl,
  AmiPushItem,
  BootMode,
  CGWPushItem,
  CompsXmlPushItem,
  DirectoryPushItem,
  ErratumModule,
  ErratumPackage,
  ErratumPackageCollection,
  ErratumPushItem,
  ErratumReference,
  ErratumType,
  FilePushItem,
  KojiBuildInfo,
  ModuleMdPushItem,
  ProductId,
  ProductIdPushItem,
  RpmPushItem,
  VHDPushItem,
  VMICloudInfo,
  VMIRelease,
} from './types.js';

type Obj = Record<string, unknown>;

function fieldError(field: string, message: string, code = 'ITEM_FIELD_INVALID'): StagepushError {
  return new StagepushError(code, `${field}: ${message}`, { kind: 'invalid', field });
}

/** repr()-like rendering of a value for messages. */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined) return 'None';
  if (v instanceof Date) return v.toISOString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'str';
  if (v instanceof Date) return 'date';
  return 'dict';
}

// ---------------------------------------------------------------------------------------------
// Converters / validators (each returns the converted value or throws with the field name)

type Conv = (v: unknown, field: string) => unknown;

export const str: Conv = (v, f) => {
  if (typeof v !== 'string') {
    if (v === null || v === undefined) throw fieldError(f, `a string is required (got None)`, 'ITEM_FIELD_MISSING');
    throw fieldError(f, `must be a string (got ${typeName(v)} ${show(v)})`);
  }
  return v;
};
export const optStr: Conv = (v, f) => (v === null || v === undefined ? null : str(v, f));
export const bool: Conv = (v, f) => {
  if (typeof v !== 'boolean') throw fieldError(f, `must be a boolean (got ${typeName(v)} ${show(v)})`);
  return v;
};
export const optBool: Conv = (v, f) => (v === null || v === undefined ? null : bool(v, f));
export const int: Conv = (v, f) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw fieldError(f, `must be an integer (got ${typeName(v)} ${show(v)})`);
  return v;
};
export const optInt: Conv = (v, f) => (v === null || v === undefined ? null : int(v, f));
/** pushsource int2str: an int becomes a str; anything else must already be a str. */
export const int2str: Conv = (v, f) => str(typeof v === 'number' && Number.isInteger(v) ? String(v) : v, f);
export const optInt2str: Conv = (v, f) => (v === null || v === undefined ? null : int2str(v, f));
/** frozenlist: a list (copied). */
export const list: Conv = (v, f) => {
  if (!Array.isArray(v)) throw fieldError(f, `must be a list (got ${typeName(v)} ${show(v)})`);
  return [...v];
};
const strList: Conv = (v, f) => (list(v, f) as unknown[]).map((x, i) => str(x, `${f}[${i}]`));

/** pushsource conv.hexstr: None passes; lower-cased; exact length; hex digits only. */
export function hexstr(len: number): Conv {
  return (v, f) => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string') throw fieldError(f, `can't parse ${show(v)} as a hex string`);
    if (v.length !== len) throw fieldError(f, `wrong length of ${show(v)} (expected: ${len})`);
    const lower = v.toLowerCase();
    if (!/^[0-9a-f]+$/.test(lower)) throw fieldError(f, `can't parse ${show(v)} as a hex string`);
    return lower;
  };
}
export const md5str = hexstr(32);
export const sha1str = hexstr(40);
export const sha256str = hexstr(64);

/**
 * pushsource datestr: a str in %Y%m%d or %Y-%m-%d becomes a date; a date is kept. Dates are held
 * as 'YYYY-MM-DD' strings (how pushsource prints them).
 */
export const datestr: Conv = (v, f) => {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw fieldError(f, `can't parse ${show(v)} as a date`);
    // A YAML timestamp's day as written (its own offset), when the reader kept it.
    const asWritten = (v as Date & { yamlDate?: unknown }).yamlDate;
    return typeof asWritten === 'string' ? asWritten : v.toISOString().slice(0, 10);
  }
  if (typeof v === 'string') {
    const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
    const dashed = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v);
    const parts = compact ?? dashed;
    if (parts) {
      const y = Number(parts[1]);
      const mo = Number(parts[2]);
      const d = Number(parts[3]);
      const dt = new Date(Date.UTC(y, mo - 1, d));
      if (y >= 1 && dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d) {
        return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      }
    }
  }
  throw fieldError(f, `can't parse ${show(v)} as a date`);
};

/** FilePushItem.display_order: float(), then -99999 <= v <= 99999 (NaN fails). */
export const displayOrder: Conv = (v, f) => {
  if (v === null || v === undefined) return null;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'boolean') n = v ? 1 : 0;
  else if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|inf(inity)?|nan)\s*$/i.test(v)) {
    const t = v.trim().toLowerCase().replace(/^\+/, '');
    n = /inf/.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /nan/.test(t) ? NaN : Number(t);
  } else throw fieldError(f, `could not convert ${show(v)} to float`);
  if (!(n >= -99999 && n <= 99999)) throw fieldError(f, 'display_order must be within range -99999 .. 99999');
  return n;
};

const ERRATUM_TYPE_MAP: Record<string, ErratumType> = { RHBA: 'bugfix', RHEA: 'enhancement', RHSA: 'security' };
export const erratumType: Conv = (v, f) => {
  const mapped = typeof v === 'string' && Object.prototype.hasOwnProperty.call(ERRATUM_TYPE_MAP, v) ? ERRATUM_TYPE_MAP[v] : v;
  if (mapped !== 'bugfix' && mapped !== 'security' && mapped !== 'enhancement') {
    throw fieldError(f, `must be in ['bugfix', 'security', 'enhancement'] (or RHBA, RHEA, RHSA) (got ${show(v)})`);
  }
  return mapped;
};

export const BOOT_MODES: readonly BootMode[] = ['hybrid', 'uefi', 'legacy'];
export const bootMode: Conv = (v, f) => {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || !(BOOT_MODES as readonly string[]).includes(v)) throw fieldError(f, `${show(v)} is not a valid BootMode (hybrid, uefi, legacy)`);
  return v;
};

// ---------------------------------------------------------------------------------------------
// Generic attrs-like construction

interface FieldSpec {
  name: string;
  /** Default when the argument is absent (undefined). Receives the fields built so far. */
  def?: (built: Obj) => unknown;
  /** Required: absent → ITEM_FIELD_MISSING. */
  req?: boolean;
  conv?: Conv;
}

/** Fields of one converter (no default, optional unless `req`), in attrs order. */
function fields(conv: Conv, ...names: string[]): FieldSpec[] {
  return names.map((name) => ({ name, conv }));
}
function required(conv: Conv, ...names: string[]): FieldSpec[] {
  return names.map((name) => ({ name, req: true, conv }));
}

/**
 * Every field error of one item, not only the first (pushsource stops at the first): each
 * field's converter runs whatever an earlier one said. Thrown as one error: the first field's
 * code and message, with every field error in `problems` (see `fieldErrorsOf`).
 */
function collected(errors: StagepushError[]): StagepushError {
  const first = errors[0]!;
  if (errors.length === 1) return first;
  return new StagepushError(first.code, first.message, { kind: 'invalid', field: first.field, problems: errors.map((e) => e.toProblem()) });
}

/** The field errors an error of the model stands for (one, or every one of an item). */
function fieldErrorsOf(e: unknown): StagepushError[] {
  if (!(e instanceof StagepushError)) throw e;
  if (e.problems.length < 2) return [e];
  return e.problems.map((p) => new StagepushError(p.code, p.message, { kind: 'invalid', field: p.field }));
}

function construct(className: string, specs: readonly FieldSpec[], input: Obj, prefix: string, kind?: string): Obj {
  const out: Obj = kind ? { kind } : {};
  const errors: StagepushError[] = [];
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(input)) {
    if (!known.has(key) && input[key] !== undefined) {
      errors.push(fieldError(prefix + key, `${className} has no field '${key}'`, 'ITEM_FIELD_UNKNOWN'));
    }
  }
  for (const s of specs) {
    const fname = prefix + s.name;
    let v = input[s.name];
    try {
      if (v === undefined) {
        if (s.req) throw fieldError(fname, `${className} requires '${s.name}'`, 'ITEM_FIELD_MISSING');
        v = s.def ? s.def(out) : null;
      }
      out[s.name] = s.conv ? s.conv(v, fname) : v;
    } catch (e) {
      const own = fieldErrorsOf(e);
      // A default worked out from a field already refused says nothing new.
      if (!(input[s.name] === undefined && s.def && errors.length)) errors.push(...own);
      out[s.name] = null;
    }
  }
  if (errors.length) throw collected(errors);
  return out;
}

/** A nested-object converter: a plain object is built with `build`; null allowed when optional. */
function nested<T>(build: (o: Obj, prefix: string) => T, optional: boolean, className: string): Conv {
  return (v, f) => {
    if (v === null || v === undefined) {
      if (optional) return null;
      throw fieldError(f, `a ${className} is required (got None)`, 'ITEM_FIELD_MISSING');
    }
    if (typeof v !== 'object' || Array.isArray(v) || v instanceof Date) throw fieldError(f, `must be a ${className} mapping (got ${typeName(v)} ${show(v)})`);
    return build(v as Obj, f + '.');
  };
}

/** The constructor of a nested class: `(object, field prefix) => instance`. */
function nestedClass<T>(className: string, specs: readonly FieldSpec[]): (o: Obj, prefix?: string) => T {
  return (o, prefix = '') => construct(className, specs, o, prefix) as unknown as T;
}

function nestedList<T>(build: (o: Obj, prefix: string) => T, className: string): Conv {
  return (v, f) => {
    const errors: StagepushError[] = [];
    const out = (list(v, f) as unknown[]).map((x, i) => {
      try {
        return nested(build, false, className)(x, `${f}[${i}]`);
      } catch (e) {
        errors.push(...fieldErrorsOf(e));
        return null;
      }
    });
    if (errors.length) throw collected(errors);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Nested classes

export const kojiBuildInfo = nestedClass<KojiBuildInfo>('KojiBuildInfo', [
  ...required(str, 'name', 'version', 'release'),
  { name: 'id', conv: (v, f) => (v === null || v === undefined ? null : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : int(v, f)) },
]);

/** KojiBuildInfo._from_nvr: reverse, split on '-' at most twice, reverse back. */
export function buildInfoFromNvr(nvr: string | null): KojiBuildInfo | null {
  if (!nvr) return null;
  const parts = nvr.split('-');
  if (parts.length < 3) throw fieldError('build', `can't parse ${show(nvr)} as a koji NVR (name-version-release)`);
  const release = parts.pop()!;
  const version = parts.pop()!;
  return { name: parts.join('-'), version, release, id: null };
}

export const vmiRelease = nestedClass<VMIRelease>('VMIRelease', [
  ...required(str, 'product'),
  { name: 'date', req: true, conv: datestr },
  ...required(str, 'arch'),
  { name: 'respin', req: true, conv: int },
  ...fields(optStr, 'version', 'base_product', 'base_version', 'variant', 'type'),
]);
export const amiRelease = vmiRelease;

export const vmiCloudInfo = nestedClass<VMICloudInfo>('VMICloudInfo', required(str, 'provider', 'account'));

export const amiBillingCodes = nestedClass<AmiBillingCodes>('AmiBillingCodes', [{ name: 'name', conv: str }, { name: 'codes', def: () => [], conv: list }]);

export const amiAccessEndpointUrl = nestedClass<AmiAccessEndpointUrl>('AmiAccessEndpointUrl', [...required(int, 'port'), ...required(str, 'protocol')]);

/** ProductId lists also accept a comma-separated string. */
const sloppyList: Conv = (v, f) => (v === null || v === undefined ? null : typeof v === 'string' ? v.split(',') : strList(v, f));
export const productId = nestedClass<ProductId>('ProductId', [...required(int, 'id'), ...fields(optStr, 'name', 'version'), ...fields(sloppyList, 'architecture', 'provided_tags')]);

export const erratumReference = nestedClass<ErratumReference>('ErratumReference', [
  ...required(str, 'href'),
  ...required(optInt2str, 'id'),
  ...required(optStr, 'title'),
  { name: 'type', def: () => 'other', conv: str },
]);

export const erratumModule = nestedClass<ErratumModule>('ErratumModule', required(str, 'name', 'stream', 'version', 'context', 'arch'));

export const erratumPackage = nestedClass<ErratumPackage>('ErratumPackage', [
  ...required(str, 'arch', 'filename'),
  ...required(int2str, 'epoch'),
  ...required(str, 'name', 'version', 'release', 'src'),
  { name: 'reboot_suggested', def: () => false, conv: bool },
  { name: 'md5sum', conv: md5str },
  { name: 'sha1sum', conv: sha1str },
  { name: 'sha256sum', conv: sha256str },
]);

export const erratumPackageCollection = nestedClass<ErratumPackageCollection>('ErratumPackageCollection', [
  { name: 'name', def: () => '', conv: str },
  { name: 'packages', def: () => [], conv: nestedList(erratumPackage, 'ErratumPackage') },
  { name: 'short', def: () => '', conv: str },
  { name: 'module', conv: nested(erratumModule, true, 'ErratumModule') },
]);

// ---------------------------------------------------------------------------------------------
// Items

const BASE_SPECS: FieldSpec[] = [
  { name: 'name', req: true, conv: str },
  { name: 'state', def: () => 'PENDING' },
  { name: 'src', conv: optStr },
  { name: 'dest', def: () => [], conv: list },
  { name: 'md5sum', conv: md5str },
  { name: 'sha256sum', conv: sha256str },
  { name: 'origin', conv: optStr },
  { name: 'build', conv: optStr },
  {
    name: 'build_info',
    def: (b) => buildInfoFromNvr(b.build as string | null),
    conv: (v, f) => (v === null ? null : nested(kojiBuildInfo, true, 'KojiBuildInfo')(v, f)),
  },
  { name: 'signing_key', conv: (v, f) => optStr(typeof v === 'string' ? v.toUpperCase() : v, f) },
];

type Input<T> = { [K in keyof Omit<T, 'kind'>]?: unknown } & { name: unknown };

function item<T>(kind: string, own: FieldSpec[], input: Obj): T {
  return construct(kind, [...BASE_SPECS, ...own], input, '', kind) as unknown as T;
}

export function rpmPushItem(input: Input<RpmPushItem>): RpmPushItem {
  return item('RpmPushItem', [{ name: 'module_build', conv: optStr }], input);
}

export function filePushItem(input: Input<FilePushItem>): FilePushItem {
  return item('FilePushItem', [...fields(optStr, 'description', 'version'), { name: 'display_order', conv: displayOrder }], input);
}

export function compsXmlPushItem(input: Input<CompsXmlPushItem>): CompsXmlPushItem {
  return item('CompsXmlPushItem', [], input);
}
export function moduleMdPushItem(input: Input<ModuleMdPushItem>): ModuleMdPushItem {
  return item('ModuleMdPushItem', [], input);
}
export function directoryPushItem(input: Input<DirectoryPushItem>): DirectoryPushItem {
  return item('DirectoryPushItem', [], input);
}
export function cgwPushItem(input: Input<CGWPushItem>): CGWPushItem {
  return item('CGWPushItem', [], input);
}

/** ProductIdPushItem: `products` must be given (the staged source parses the certificate). */
export function productIdPushItem(input: Input<ProductIdPushItem>): ProductIdPushItem {
  return item('ProductIdPushItem', [{ name: 'products', def: () => [], conv: nestedList(productId, 'ProductId') }], input);
}

/** Recursively rebuild mappings with their keys sorted (pushsource freezes container_list sorted). */
function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o = v as Obj;
    const out: Obj = {};
    for (const k of Object.keys(o).sort()) out[k] = sortKeysDeep(o[k]);
    return out;
  }
  return v;
}

export function erratumPushItem(input: Input<ErratumPushItem>): ErratumPushItem {
  return item('ErratumPushItem', [
    { name: 'type', def: () => 'bugfix', conv: erratumType },
    { name: 'release', def: () => '0', conv: int2str },
    { name: 'status', def: () => 'final', conv: str },
    { name: 'pushcount', def: () => '1', conv: int2str },
    { name: 'reboot_suggested', def: () => false, conv: bool },
    { name: 'references', def: () => [], conv: nestedList(erratumReference, 'ErratumReference') },
    { name: 'pkglist', def: () => [], conv: nestedList(erratumPackageCollection, 'ErratumPackageCollection') },
    {
      name: 'container_list',
      def: () => [],
      conv: (v, f) =>
        (list(v, f) as unknown[]).map((x, i) => {
          if (!x || typeof x !== 'object' || Array.isArray(x)) throw fieldError(`${f}[${i}]`, `must be a mapping (got ${typeName(x)} ${show(x)})`);
          return sortKeysDeep(x);
        }),
    },
    ...fields(optStr, 'from', 'rights', 'title', 'description'),
    { name: 'version', def: () => '1', conv: int2str },
    ...fields(optStr, 'updated', 'issued', 'severity', 'summary', 'solution'),
    { name: 'content_types', def: () => [], conv: list },
  ], input);
}

const VMI_SPECS: FieldSpec[] = [
  { name: 'release', conv: nested(vmiRelease, true, 'VMIRelease') },
  { name: 'description', conv: str },
  { name: 'boot_mode', conv: bootMode },
  { name: 'cloud_info', conv: nested(vmiCloudInfo, true, 'VMICloudInfo') },
  ...fields(optStr, 'marketplace_title_template', 'marketplace_name'),
];

export function amiPushItem(input: Input<AmiPushItem>): AmiPushItem {
  return item('AmiPushItem', [
    ...VMI_SPECS,
    ...fields(optStr, 'type', 'region', 'virtualization', 'volume', 'root_device', 'sriov_net_support'),
    ...fields(optBool, 'ena_support', 'uefi_support'),
    { name: 'billing_codes', conv: nested(amiBillingCodes, true, 'AmiBillingCodes') },
    ...fields(optStr, 'release_notes', 'usage_instructions', 'recommended_instance_type', 'marketplace_entity_type', 'image_id'),
    { name: 'public_image', conv: optBool },
    { name: 'scanning_port', conv: optInt },
    ...fields(optStr, 'user_name', 'version_title'),
    { name: 'security_groups', def: () => [], conv: list },
    { name: 'access_endpoint_url', conv: nested(amiAccessEndpointUrl, true, 'AmiAccessEndpointUrl') },
  ], input);
}

export function vhdPushItem(input: Input<VHDPushItem>): VHDPushItem {
  const it = item<VHDPushItem>('VHDPushItem', [
    ...VMI_SPECS,
    {
      name: 'generation',
      def: () => 'V2',
      conv: (v, f) => {
        if (v === null) return null;
        if (v !== 'V1' && v !== 'V2') throw fieldError(f, `must be in ['V1', 'V2'] (got ${show(v)})`);
        return v;
      },
    },
    { name: 'sku_id', conv: optStr },
    { name: 'support_legacy', def: () => false, conv: bool },
    { name: 'legacy_sku_id', conv: optStr },
    {
      name: 'disk_version',
      conv: (v, f) => {
        const s = optStr(v, f);
        if (s !== null && !/^(\d+\.)(\d+\.)(\*|\d+)$/.test(s as string)) throw fieldError(f, `${show(s)} must match ^(\\d+\\.)(\\d+\\.)(\\*|\\d+)$ (e.g. 1.0.0)`);
        return s;
      },
    },
    { name: 'recommended_sizes', def: () => [], conv: (v, f) => (strList(v, f) as string[]).sort() },
    { name: 'sas_uri', conv: optStr },
  ], input);
  if (it.legacy_sku_id !== null && !it.support_legacy) {
    throw fieldError('legacy_sku_id', 'legacy_sku_id can not be set when support_legacy is false');
  }
  return it;
}
