/**
 * What `repo show` prints about a yum distributor: its published paths and URLs (JSON) and a
 * ready `.repo` snippet (human form). Called by the engine CLI with the distributor's repository
 * view and config.
 */
import path from 'node:path';
import type { PluginCallConfig, Repository } from '../../engine/contract.js';
import { normalizeRelativeUrl, protocolsOf, publishedPaths, publishedUrls } from '../common/publish.js';
import { str } from './units.js';

export interface PublishedView {
  relative_url: string;
  protocols: string[];
  published_paths: string[];
  urls: string[];
  /** baseurl= of the .repo snippet (configured base URL, else file://<publishRoot>/<proto>/<relative_url>/). */
  baseurl: string | null;
  gpgcheck: boolean;
  /** repomd.xml is signed (gpg_sign_metadata) and the key is published beside it: clients check the metadata too. */
  repo_gpgcheck: boolean;
  /** name= of the snippet: the distributor's repo_name, else the repository's display name, else its id (as the consumer payload names it). */
  name: string;
  /** sslcacert= of the snippet: the https_ca file when the baseurl is https (null otherwise, or when https_ca is PEM text). */
  sslcacert: string | null;
  repo_snippet: string;
}

/** The paths and URLs a yum distributor publishes to (whether or not it has published yet). */
export function publishedView(repo: Pick<Repository, 'id' | 'displayName'>, config: PluginCallConfig, env: { publishRoot: string; baseUrls: { http?: string; https?: string } }): PublishedView {
  const relativeUrl = normalizeRelativeUrl(str(config.get('relative_url'), '') || repo.id);
  const protocols = protocolsOf(config);
  const paths = publishedPaths(env.publishRoot, relativeUrl, protocols);
  const urls = publishedUrls(env.baseUrls, relativeUrl, protocols);
  const proto = protocols.https ? 'https' : 'http';
  const baseurl = urls.find((u) => u.startsWith('https:')) ?? urls[0] ?? (paths.length ? `file://${path.join(env.publishRoot, proto, ...relativeUrl.split('/'))}/` : null);
  const gpgcheck = Boolean(config.get('gpgkey'));
  const signed = config.get('gpg_sign_metadata');
  const repoGpgcheck = gpgcheck && (signed === true || signed === 'true' || signed === '1' || signed === 'yes');
  // The CA that signed the https server's certificate (given to consumers): dnf reads it from a
  // file, so the snippet names the https_ca file; PEM text has no file to name (the snippet says so).
  const ca = config.get('https_ca');
  const httpsCa = baseurl?.startsWith('https:') && typeof ca === 'string' && ca.trim() ? ca : null;
  const view: PublishedView = {
    relative_url: relativeUrl,
    protocols: (['http', 'https'] as const).filter((p) => protocols[p]),
    published_paths: paths,
    urls,
    baseurl,
    gpgcheck,
    repo_gpgcheck: repoGpgcheck,
    name: str(config.get('repo_name'), '') || repo.displayName || repo.id,
    sslcacert: httpsCa && !PEM_RE.test(httpsCa) ? path.resolve(httpsCa) : null,
    repo_snippet: '',
  };
  view.repo_snippet = repoSnippet(repo, { ...view, httpsCaText: httpsCa !== null && PEM_RE.test(httpsCa) });
  return view;
}

const PEM_RE = /-----BEGIN [A-Z0-9 ]+-----/;

/**
 * A `.repo` file section for dnf/yum. `name`: the distributor's repo_name (else the display
 * name, else the id); `sslcacert`: the CA file an https baseurl needs; `httpsCaText`: the CA is
 * configured as PEM text (a comment asks for a file holding it).
 */
export function repoSnippet(
  repo: Pick<Repository, 'id' | 'displayName'>,
  view: Pick<PublishedView, 'baseurl' | 'gpgcheck'> & { repo_gpgcheck?: boolean; name?: string; sslcacert?: string | null; httpsCaText?: boolean },
): string {
  const id = repo.id.replace(/[^A-Za-z0-9._:-]/g, '_');
  // One line: a name holding a line break must not add lines (or sections) to the file.
  // eslint-disable-next-line no-control-regex -- the control characters are what it replaces
  const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  const name = oneLine(view.name || repo.displayName || repo.id);
  const lines = [`[${id}]`, `name=${name}`, `baseurl=${view.baseurl ?? '<not published over http or https>'}`, 'enabled=1'];
  if (view.sslcacert) lines.push(`sslcacert=${oneLine(view.sslcacert)}`);
  else if (view.httpsCaText) lines.push('# sslcacert=<a file holding the https_ca certificate of the yum_distributor config>');
  if (view.gpgcheck && view.baseurl) {
    lines.push('gpgcheck=1');
    if (view.repo_gpgcheck) lines.push('repo_gpgcheck=1');
    lines.push(`gpgkey=${view.baseurl}repodata/repomd.xml.key`);
  } else lines.push('gpgcheck=0');
  return lines.join('\n') + '\n';
}

/** A read-only call config over a distributor's saved (repo-level) config, for `repo show`. */
function savedConfig(config: Record<string, unknown>): PluginCallConfig {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(config, k) && config[k] !== undefined && config[k] !== null;
  return {
    get: <T>(k: string, def?: T) => (has(k) ? (config[k] as T) : def),
    has,
    flatten: () => ({ ...config }),
    override: {},
    repo: config,
    plugin: {},
  };
}

/**
 * For `repo show`: the published view of every yum_distributor of a repository (null for other
 * distributor types), in the order of `distributors`.
 */
export function yumShowExtras(
  repo: { id: string; displayName: string; distributors: Array<{ typeId: string; config: Record<string, unknown> }> },
  env: { publishRoot: string; baseUrls: { http?: string; https?: string } },
): Array<PublishedView | null> {
  return repo.distributors.map((d) => (d.typeId === 'yum_distributor' ? publishedView(repo, savedConfig(d.config), env) : null));
}
