/** Content types of published files (yum, file, RAW trees). */
const TYPES: Record<string, string> = {
  '.xml': 'application/xml',
  '.gz': 'application/gzip',
  '.bz2': 'application/x-bzip2',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.zck': 'application/zchunk',
  '.rpm': 'application/x-rpm',
  '.drpm': 'application/x-rpm',
  '.iso': 'application/x-iso9660-image',
  '.img': 'application/octet-stream',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.asc': 'text/plain; charset=utf-8',
  '.sig': 'application/pgp-signature',
  '.key': 'application/pgp-keys',
  '.gpg': 'application/pgp-keys',
  '.txt': 'text/plain; charset=utf-8',
  '.repo': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.tar': 'application/x-tar',
  '.sqlite': 'application/vnd.sqlite3',
  '.vhd': 'application/octet-stream',
  '.raw': 'application/octet-stream',
  '.pem': 'application/x-pem-file',
  '.crt': 'application/x-x509-ca-cert',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Names served as text whatever their extension. */
const TEXT_NAMES = new Set(['PULP_MANIFEST', '.treeinfo', 'treeinfo', 'EULA', 'GPL', 'README', 'RPM-GPG-KEY', 'LICENSE', 'COPYING']);

export function contentTypeOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (TEXT_NAMES.has(base) || base.startsWith('RPM-GPG-KEY')) return 'text/plain; charset=utf-8';
  const dot = base.lastIndexOf('.');
  if (dot > 0) {
    const t = TYPES[base.slice(dot).toLowerCase()];
    if (t) return t;
  }
  return 'application/octet-stream';
}
