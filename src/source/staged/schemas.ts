/**
 * Our own JSON schemas (draft-07, ajv) for staged.yaml / staged.json / pub-mapfile.json entries and
 * for erratum files. They accept what pushsource's schemas accept; the metadata file is validated
 * piecewise (top level, then each entry on its own) so validation stays linear in the number of
 * entries (no `uniqueItems` over the whole list: duplicates are found with a hash map).
 * Compiled once, lazily (ajv is not loaded by `--version`), and the compiled code is cached on
 * disk (ajv standalone, keyed by schema, ajv version and options; $STAGEPUSH_CACHE_DIR, else
 * $XDG_CACHE_HOME/stagepush, else ~/.cache/stagepush): compiling costs 0.1-0.3 s per schema and
 * process, loading the cached code a few milliseconds. Without a writable cache, compiled each time.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Problem } from '../../errors.js';
import { cachedValidator } from '../../validator-cache.js';

const optionalString = { type: ['string', 'null'], minLength: 1 };

const port = (min: number, max: number) => ({ type: 'number', minimum: min, maximum: max });

export const amiReleaseSchema = {
  type: 'object',
  properties: {
    product: { type: 'string', minLength: 1 },
    version: optionalString,
    base_product: optionalString,
    base_version: optionalString,
    variant: optionalString,
    arch: { type: 'string', enum: ['arm64', 'x86_64'] },
    respin: { type: 'integer' },
    // pushsource's schemas write `enum: [ga, beta, null]` beside a $ref to optional_string: draft-07
    // (which pushsource's jsonschema.validate applies) ignores keywords beside $ref, so any
    // non-empty string is accepted, and the model takes any optional string.
    type: optionalString,
    date: { type: 'string', pattern: '^[0-9]{8}$' },
  },
  required: ['product', 'date', 'arch', 'respin'],
};

export const amiAttributesSchema = {
  type: 'object',
  properties: {
    release: amiReleaseSchema,
    region: { type: 'string', minLength: 1 },
    type: { type: 'string', enum: ['hourly', 'access', 'marketplace'] },
    virtualization: { type: 'string', enum: ['hvm'] },
    volume: { type: 'string', enum: ['standard', 'gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1'] },
    root_device: { type: 'string', minLength: 1 },
    description: optionalString,
    sriov_net_support: { type: ['string', 'null'], enum: ['simple', null] },
    ena_support: { type: ['boolean', 'null'] },
    uefi_support: { type: ['boolean', 'null'] },
    billing_codes: {
      type: ['object', 'null'],
      properties: { name: { type: 'string' }, codes: { type: 'array', items: { type: 'string' } } },
      required: ['name', 'codes'],
    },
    boot_mode: { enum: ['hybrid', 'uefi', 'legacy', null] },
    public_image: { type: ['boolean', 'null'] },
    release_notes: optionalString,
    usage_instructions: optionalString,
    recommended_instance_type: optionalString,
    marketplace_entity_type: optionalString,
    scanning_port: { type: ['number', 'null'], minimum: 0, maximum: 65536 },
    user_name: optionalString,
    version_title: optionalString,
    marketplace_title_template: optionalString,
    marketplace_name: optionalString,
    security_groups: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        properties: { ip_protocol: { type: 'string' }, ip_ranges: { type: 'array', items: { type: 'string' } } },
        if: { properties: { ip_protocol: { enum: ['icmp', 'icmpv6'] } } },
        then: { properties: { from_port: port(-1, 255), to_port: port(-1, 255) } },
        else: { properties: { from_port: port(0, 65536), to_port: port(0, 65536) } },
      },
    },
    access_endpoint_url: {
      type: ['object', 'null'],
      properties: { port: port(0, 65536), protocol: { enum: ['http', 'https'] } },
    },
  },
  required: ['release', 'region', 'type', 'virtualization', 'volume', 'root_device'],
  additionalProperties: false,
};

export const fileAttributesSchema = {
  type: 'object',
  properties: { description: { type: 'string' } },
  required: ['description'],
  additionalProperties: false,
};

/** Top level of a metadata file; `payload.files` entries are checked one by one. */
export const stagedTopSchema = {
  type: 'object',
  properties: {
    header: {
      type: 'object',
      // pushsource's schema lists `version` under a non-keyword ("requiredProperties"): `header: {}` passes.
      properties: { version: { const: '0.2' } },
      additionalProperties: false,
    },
    payload: {
      type: 'object',
      properties: { files: { type: 'array' } },
      additionalProperties: false,
    },
  },
  required: ['header'],
  additionalProperties: false,
};

/** One `payload.files` entry of a supported type (attributes are checked apart: AMI or file shape). */
export const stagedEntrySchema = {
  type: 'object',
  properties: {
    filename: { type: 'string', minLength: 1 },
    relative_path: { type: 'string', minLength: 3 },
    sha256sum: { type: 'string', minLength: 64, maxLength: 64, pattern: '^[0-9a-fA-F]+$' },
    version: { type: 'string', minLength: 1 },
    order: { type: 'number', minimum: -99999, maximum: 99999 },
    attributes: { type: 'object' },
  },
  required: ['relative_path'],
  additionalProperties: false,
};

/** Entries for legacy content (DOCKER, CHANNEL_DUMPS): only the path is checked. */
export const UNSUPPORTED_ENTRY_RE = /^[^/]+\/(DOCKER|CHANNEL_DUMPS)\//;

const intstr = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]*$' }] };

export const erratumSchema = {
  type: 'object',
  properties: {
    description: { type: 'string' },
    from: { type: 'string' },
    id: { type: 'string' },
    issued: { type: 'string' },
    pushcount: intstr,
    reboot_suggested: { type: 'boolean' },
    release: intstr,
    rights: { type: 'string' },
    severity: { type: 'string' },
    solution: { type: 'string' },
    status: { type: 'string' },
    summary: { type: 'string' },
    title: { type: 'string' },
    type: { type: 'string' },
    updated: { type: 'string' },
    version: intstr,
    // Unique elements (references, collections, packages): checked by erratumFromData with a hash
    // set, in linear time (ajv's uniqueItems compares every pair: 16,000 packages took 10 s).
    references: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          href: { type: 'string' },
          id: { type: ['integer', 'string', 'null'] },
          title: { type: ['string', 'null'] },
          type: { type: 'string' },
        },
        required: ['href', 'id', 'title', 'type'],
      },
    },
    pkglist: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          short: { type: 'string' },
          packages: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                arch: { type: 'string' },
                epoch: intstr,
                filename: { type: 'string' },
                name: { type: 'string' },
                release: { type: 'string' },
                src: { type: 'string' },
                version: { type: 'string' },
                reboot_suggested: { type: 'boolean' },
                sum: { type: 'array', items: { type: 'string' } },
              },
              required: ['name'],
              additionalProperties: false,
            },
          },
        },
      },
    },
  },
  required: ['description', 'from', 'id', 'issued', 'rights', 'solution', 'summary', 'title', 'type', 'updated'],
};

export interface Validators {
  stagedTop: ValidateFunction;
  stagedEntry: ValidateFunction;
  amiAttributes: ValidateFunction;
  fileAttributes: ValidateFunction;
  erratum: ValidateFunction;
}

const cache = new Map<string, ValidateFunction>();
const AJV_OPTIONS = { allErrors: true, strict: false };

function compile(name: string, schema: object): ValidateFunction {
  let fn = cache.get(name);
  if (!fn) {
    fn = cachedValidator(`staged-${name}`, schema, AJV_OPTIONS);
    cache.set(name, fn);
  }
  return fn;
}

/** The validators, each compiled on first use and then shared. */
export function validators(): Validators {
  return {
    get stagedTop() {
      return compile('stagedTop', stagedTopSchema);
    },
    get stagedEntry() {
      return compile('stagedEntry', stagedEntrySchema);
    },
    get amiAttributes() {
      return compile('amiAttributes', amiAttributesSchema);
    },
    get fileAttributes() {
      return compile('fileAttributes', fileAttributesSchema);
    },
    get erratum() {
      return compile('erratum', erratumSchema);
    },
  };
}

/** JSON pointer `/a/0/b` → `a[0].b` (prefixed with `base`). */
export function pointerToField(pointer: string, base = ''): string {
  let out = base;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

function brief(v: unknown): string {
  // As YAML wrote them: .nan / .inf (JSON would say null), a date as a date.
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  if (v instanceof Date && !Number.isNaN(v.getTime())) {
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('T', ' ').replace(/\.000Z$/, 'Z');
  }
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * ajv errors → problems (one per distinct field and reason). `base` prefixes field paths;
 * `data` is the validated value (to quote offending values).
 */
export function ajvProblems(
  errors: ErrorObject[] | null | undefined,
  code: string,
  loc: { file?: string; entry?: string },
  base = '',
  data?: unknown,
): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  const valueAt = (pointer: string): unknown => {
    let v: unknown = data;
    for (const raw of pointer.split('/').slice(1)) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return v;
  };
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue; // the failing then/else branch reports the real error
    let field = pointerToField(e.instancePath, base);
    let message: string;
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        field = field ? `${field}.${missing}` : missing;
        message = 'is required';
        break;
      }
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        field = field ? `${field}.${extra}` : extra;
        message = 'is not an allowed field here';
        break;
      }
      case 'enum':
        message = `${brief(valueAt(e.instancePath))} is not one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => brief(x)).join(', ')}`;
        break;
      case 'const':
        message = `${brief(valueAt(e.instancePath))} must be ${brief((e.params as { allowedValue: unknown }).allowedValue)}`;
        break;
      case 'type':
        message = `${brief(valueAt(e.instancePath))} ${e.message ?? 'has the wrong type'}`;
        break;
      case 'anyOf':
        message = `${brief(valueAt(e.instancePath))} must be a non-negative integer or a string of digits`;
        break;
      case 'uniqueItems':
        message = `has non-unique elements (${e.message})`;
        break;
      default:
        message = `${brief(valueAt(e.instancePath))} ${e.message ?? 'is invalid'}`;
    }
    // anyOf on intstr also reports both branches: keep only the summary for that field.
    if (e.schemaPath.includes('/anyOf/')) continue;
    const key = `${field}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const p: Problem = { code, message: field ? message : `top level: ${message}`, ...loc };
    if (field) p.field = field;
    out.push(p);
  }
  return out;
}
