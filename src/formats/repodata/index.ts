/** Yum repodata package entries (primary, filelists, other) as createrepo_c writes them. */
export * from './package.js';
export * from './dump.js';
export * from './writer.js';
export { escapeAttr, escapeText, hasControlChars, latin1ToUtf8, decodeHeaderString } from './xml.js';
export { rpmvercmp } from './rpmvercmp.js';
export * from './reader.js';
export { xmlElements, textChunks } from './xmlsplit.js';
export type { XmlSource } from './xmlsplit.js';
