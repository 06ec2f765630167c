/**
 * fast-xml-parser, loaded on the first parse: a command that writes repodata but reads no XML
 * (a republish) does not pay for loading the parser.
 */
import { createRequire } from 'node:module';
import type { X2jOptions, XMLParser } from 'fast-xml-parser';

let fxp: typeof import('fast-xml-parser') | undefined;

/**
 * What every reader of ours wants: attributes kept (prefixed "@", read by ../repodata/xnode.ts),
 * text and attribute values left as strings, HTML entities decoded.
 */
const COMMON: X2jOptions = {
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  // Character and entity references are not counted: the parser's default cap (1,000 a document)
  // refused valid comps and updateinfo that createrepo_c and dnf read (a long description with
  // accents as &#233;). What DOCTYPE entities may expand to stays bounded (nested, size, total).
  processEntities: { enabled: true, maxEntitySize: 10_000, maxExpansionDepth: 10, maxTotalExpansions: Infinity, maxExpandedLength: 100_000 },
};

/**
 * A character reference to "&" (`&#38;`, `&#x26;`, any zeros, any case) written as `&amp;`,
 * outside CDATA sections and comments. fast-xml-parser decodes character references before
 * `&amp;`, so `&#38;amp;` came out as `&` where XML (libxml2, libcomps, dnf) reads `&amp;`; as
 * `&amp;amp;` it comes out right. Every other reference decodes once already.
 */
export function ampReferencesAsEntity(xml: string): string {
  if (!/&#(?:0*38|[xX]0*26);/.test(xml)) return xml;
  return xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|&#(?:0*38|[xX]0*26);/g, (m) => (m.startsWith('<') ? m : '&amp;'));
}

/**
 * The validator's error for elements left open at the end (a file cut short) said
 * `Invalid '[ "repomd", "data", "checksum"]' found.` at line 1, column 1: said plainly, without a
 * position that is not where anything is wrong.
 */
export function clearerXmlError(e: unknown): unknown {
  const m = e instanceof Error ? /^Invalid '(\[.*\])' found\.(?::\d+:\d+)?$/.exec(e.message) : null;
  if (!m) return e;
  let open: string[];
  try {
    open = (JSON.parse(m[1]!) as unknown[]).map(String);
  } catch {
    return e;
  }
  return new Error(`the document ends with ${open.length} element(s) not closed: ${open.map((t) => `<${t}>`).join(' ')} (cut short?)`, { cause: e });
}

/** What the readers use of a parser. */
export interface XmlParser {
  parse(xml: string, validate?: boolean): unknown;
}

/** A parser with the common options and these, made on first use and kept. */
export function lazyXmlParser(options: X2jOptions): () => XmlParser {
  let parser: XmlParser | undefined;
  return () => {
    if (!parser) {
      const p: XMLParser = new (fxp ??= createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser')).XMLParser({ ...COMMON, ...options });
      parser = {
        parse: (xml, validate) => {
          try {
            return p.parse(ampReferencesAsEntity(xml), validate) as unknown;
          } catch (e) {
            throw clearerXmlError(e);
          }
        },
      };
    }
    return parser;
  };
}
