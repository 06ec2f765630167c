import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { StagepushError, type Problem } from '../errors.js';
import { resolveGlobals } from './globals.js';

type Format = 'yaml' | 'json' | 'ndjson';
type Algo = 'md5' | 'sha256';

function parseChecksums(v: string | boolean | undefined): Algo[] {
  if (v === undefined || v === false) return [];
  if (v === true) return ['md5', 'sha256'];
  const out: Algo[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part !== 'md5' && part !== 'sha256') throw new StagepushError('LS_BAD_OPTION', `--with-checksums: unknown algorithm '${part}' (md5, sha256)`, { kind: 'usage', field: 'with-checksums' });
    if (!out.includes(part)) out.push(part);
  }
  if (!out.length) throw new StagepushError('LS_BAD_OPTION', '--with-checksums: no algorithm given', { kind: 'usage', field: 'with-checksums' });
  return out;
}

function where(p: Problem): string {
  return [p.file, p.entry, p.field].filter((x) => x !== undefined && x !== '').join(': ');
}

/** A problem as one stderr line. */
export function formatProblem(p: Problem): string {
  const w = where(p);
  return `[${p.code}] ${w ? w + ': ' : ''}${p.message}`;
}

/**
 * YAML as pushsource-ls prints it (PyYAML-style block lists). YAML 1.1 rules decide the quoting,
 * so strings like 'yes', 'on' or '0x1' stay strings for PyYAML readers; the VM release date
 * prints as a plain date (YYYY-MM-DD), as pushsource's date object does, and display_order as a
 * float (3.0).
 */
export function yamlItems(stringify: typeof import('yaml').stringify, shapes: unknown[]): string {
  // Strings a PyYAML reader would misread as the yaml library writes them (a tab, a YAML 1.1 line
  // break U+0085/U+2028/U+2029 left raw, the value and merge keys '=' and '<<', a BOM) are
  // written double-quoted with PyYAML's escapes: replaced by placeholders first, put back after.
  const special: string[] = [];
  const marker = `pyq${process.pid.toString(36)}x`;
  const swap = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (!PY_MISREAD.test(v) && v !== '=' && v !== '<<') return v;
      special.push(v);
      return `${marker}${special.length - 1}`;
    }
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  const text = stringify(swap(shapes), { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false, indentSeq: false, singleQuote: true })
    .replace(new RegExp(`${marker}(\\d+)`, 'g'), (_m, i: string) => pyDoubleQuoted(special[Number(i)]!));
  return text
    .replace(/^( {4}release:\n(?: {6}.*\n)*?) {6}date: '(\d{4}-\d{2}-\d{2})'$/gm, (_m, head: string, d: string) => `${head}      date: ${d}`)
    .replace(/^( {4}display_order: )(-?[0-9][0-9.e+-]*)$/gm, (_m, head: string, n: string) => head + pyFloat(Number(n), 'yaml')); // a float, as pushsource prints it
}

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const PY_MISREAD = /[\x00-\x08\x0b\x0c\x0e-\x1f\t\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

/** A string double-quoted with the escapes PyYAML reads (\N, \L, \P for its line breaks). */
export function pyDoubleQuoted(v: string): string {
  let out = '"';
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c === 0x85) out += '\\N';
    else if (c === 0x2028) out += '\\L';
    else if (c === 0x2029) out += '\\P';
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfeff || c === 0xfffe || c === 0xffff) out += `\\u${c.toString(16)}`;
    else out += ch;
  }
  return out + '"';
}

/** JSON as pushsource-ls prints it: display_order is a float (3.0, 1e-05), as Python's json writes one. */
export function jsonItems(shapes: unknown[], indent?: number): string {
  // A quote inside a string value is escaped, so only the key itself matches `"display_order":`.
  return JSON.stringify(shapes, null, indent).replace(/("display_order": ?)(-?[0-9][0-9.e+-]*)/g, (_m, head: string, n: string) => head + pyFloat(Number(n), 'json'));
}

/**
 * A number as Python writes a float: repr() (shortest round-trip digits; fixed notation for decimal
 * exponents -4 to 15, else d.ddde±XX) for json.dumps; PyYAML adds ".0" to a mantissa without a dot
 * (1.0e-05), so that YAML 1.1 reads it back as a float.
 */
export function pyFloat(n: number, style: 'json' | 'yaml'): string {
  if (!Number.isFinite(n)) return style === 'yaml' ? (Number.isNaN(n) ? '.nan' : n > 0 ? '.inf' : '-.inf') : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  const [mant, exp] = n.toExponential().split('e') as [string, string];
  const e = Number(exp);
  let out: string;
  if (e >= -4 && e < 16) {
    out = String(n); // JavaScript writes fixed notation for these exponents too
    if (!out.includes('.')) out += '.0';
  } else {
    out = `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    if (style === 'yaml' && !mant.includes('.')) out = out.replace('e', '.0e');
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('ls')
    .description('List the push items of staging areas (pushsource-ls shape); every problem is reported')
    .argument('[url...]', 'staged:DIR[,DIR…][?threads=N&timeout=S&poll_timeout=S&poll_rate=S], or a directory')
    .option('--format <format>', 'output format: yaml, json or ndjson', (v: string) => {
      if (v !== 'yaml' && v !== 'json' && v !== 'ndjson') throw new InvalidArgumentError('must be yaml, json or ndjson');
      return v;
    }, 'yaml')
    .option('--with-checksums [algos]', 'compute md5sum and sha256sum (or only the listed ones: sha256, md5,sha256); a staged sha256sum is verified')
    .addHelpText(
      'after',
      `
Prints a list of single-key objects {ClassName: {fields}} (pushsource-ls's shape). Exit status 0 when
every item loaded (warnings allowed), 3 when any problem was found (all are listed on stderr).

Examples:
  stagepush ls staged:fixtures/staging/basic
  stagepush ls --format json --with-checksums=sha256 /srv/staging/rhel-9.4
  stagepush ls 'staged:/a,/b?threads=8&timeout=600'`,
    )
    .action(async (urls: string[], o: { format: Format; withChecksums?: string | boolean }, cmd: Command) => {
      const g = resolveGlobals(cmd.optsWithGlobals());
      // `--with-checksums URL`: the optional value took the URL (or directory); give it back. A
      // value that is neither an algorithm list nor a source stays, to be refused as an algorithm.
      const isAlgos = (v: string) => /^\s*(md5|sha256)\s*(,\s*(md5|sha256)\s*)*$/.test(v);
      const isSource = (v: string) => v.startsWith('staged:') || existsSync(v) || !/^[a-z0-9]+(,[a-z0-9]+)*$/.test(v);
      if (typeof o.withChecksums === 'string' && !isAlgos(o.withChecksums) && isSource(o.withChecksums)) {
        urls = [o.withChecksums, ...urls];
        o.withChecksums = true;
      }
      if (!urls.length) throw new StagepushError('LS_NO_SOURCE', "missing required argument 'url' (staged:DIR or a directory)", { kind: 'usage' });
      const checksums = parseChecksums(o.withChecksums);
      const [{ loadStaged }, { toPushsourceShape }, output, main] = await Promise.all([
        import('../source/staged/index.js'),
        import('../items/shape.js'),
        import('./output.js'),
        import('./main.js'),
      ]);
      const signal = main.handleInterrupts();
      const renderer = await output.createRenderer(output.progressModeFor(g), g.quiet);
      let result;
      try {
        result = await loadStaged(urls, { checksums, events: renderer.sink, signal });
      } finally {
        renderer.stop();
      }
      if (signal.aborted) throw main.interruptError();
      const { items, problems, warnings, sources, itemsBySource } = result;
      if (g.json) {
        output.printJson({
          ok: problems.length === 0,
          items: items.map(toPushsourceShape),
          problems,
          warnings,
          sources,
        });
      } else if (!problems.length) {
        let text = '';
        if (o.format === 'json') text = jsonItems(items.map(toPushsourceShape), 2) + '\n';
        else if (o.format === 'ndjson') text = items.map((i) => jsonItems([toPushsourceShape(i)]).slice(1, -1) + '\n').join('');
        else {
          const YAML = await import('yaml');
          sources.forEach((s, i) => {
            const list = itemsBySource[i]!;
            text += `# Loaded source ${s.url}\n`;
            if (list.length) text += yamlItems(YAML.stringify, list.map(toPushsourceShape));
            text += `# ${list.length} item(s) found in source\n`;
          });
        }
        process.stdout.write(text);
      }
      if (problems.length) {
        if (!g.json) for (const p of problems) process.stderr.write(`error ${formatProblem(p)}\n`);
        process.stderr.write(`stagepush ls: ${problems.length} problem(s) found, ${items.length} item(s) loaded, ${warnings.length} warning(s)\n`);
        process.exitCode = 3;
        return;
      }
      if (!g.quiet) process.stderr.write(`stagepush ls: ${items.length} item(s) from ${sources.length} source(s), ${warnings.length} warning(s)\n`);
    });
}
