/**
 * fast-xml-parser, loaded on the first parse: a command that writes repodata but reads no XML
 * (a republish) does not pay for loading the parser.
 */
import { createRequire } from 'node:module';
import type { X2jOptions, XMLParser } from 'fast-xml-parser';

let fxp: typeof import('fast-xml-parser') | undefined;

/** A parser with these options, made on first use and kept. */
export function lazyXmlParser(options: X2jOptions): () => XMLParser {
  let parser: XMLParser | undefined;
  return () => (parser ??= new (fxp ??= createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser')).XMLParser(options));
}
