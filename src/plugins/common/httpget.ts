/**
 * One http(s) GET through an undici dispatcher whose response body is handed to the caller chunk
 * by chunk as it is parsed, never paused. undici's `request()` hands the body over as a Readable:
 * when its reader (a file being written) falls behind, undici pauses its HTTP/1 parser, and when
 * the server then closes the connection (HTTP/1.0, or `Connection: close`, as `python3 -m
 * http.server` does) while the parser is paused, undici 6 fails an assertion in the socket's
 * 'end' handler (`assert(!this.paused)` in Parser.finish): an uncaught exception that ends the
 * process. Here the handler takes every chunk at once (the caller writes it synchronously), so
 * the parser is never paused; a slow disk still slows the download, since the socket is not read
 * while a chunk is being written, and TCP flow control holds the server back.
 */
import type { Dispatcher } from 'undici';
import { StagepushError } from '../../errors.js';

export interface StreamGetOptions {
  signal?: AbortSignal;
  maxRedirections?: number;
  /** Called with each chunk of a 200 response's body (other statuses' bodies are discarded); a throw fails the request. */
  onChunk(chunk: Buffer): void;
}

/** GET `url`; resolves with the final status code once the whole body has been received. */
export function streamGet(dispatcher: Dispatcher, url: string, opts: StreamGetOptions): Promise<number> {
  const { signal } = opts;
  return new Promise<number>((resolve, reject) => {
    let status = 0;
    let settled = false;
    let abortRequest: ((e?: Error) => void) | null = null;
    const onAbort = (): void => fail(signal?.reason ?? new Error('aborted'));
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      abortRequest?.(e instanceof Error ? e : new Error(String(e)));
      reject(e);
    };
    if (signal?.aborted) return fail(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abort) {
        // Called again for each redirect's request: the latest one is the one to abort.
        abortRequest = abort;
        if (settled) abort(new Error('aborted'));
      },
      onHeaders(statusCode) {
        status = statusCode;
        return true;
      },
      onData(chunk) {
        if (settled || status !== 200) return true;
        try {
          opts.onChunk(chunk);
        } catch (e) {
          fail(e);
        }
        // Always true: false would pause the parser (see above).
        return true;
      },
      onComplete() {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(status);
      },
      onError(err) {
        fail(err);
      },
    };
    const u = new URL(url);
    try {
      dispatcher.dispatch({ origin: u.origin, path: `${u.pathname}${u.search}`, method: 'GET', headers: basicAuth(u), maxRedirections: opts.maxRedirections ?? 5 } as Dispatcher.DispatchOptions, handler);
    } catch (e) {
      fail(e);
    }
  });
}

/**
 * The credentials of a URL written `http://user:password@host/` as a Basic Authorization header,
 * as curl and dnf send them: undici takes only the origin and path, and dropped them, so a feed
 * behind basic authentication failed with HTTP 401. Percent-escapes in them (a "@" written %40)
 * are decoded. undici removes the header on a redirect to another origin.
 */
function basicAuth(u: URL): Record<string, string> | undefined {
  if (!u.username && !u.password) return undefined;
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return { authorization: `Basic ${Buffer.from(`${decode(u.username)}:${decode(u.password)}`).toString('base64')}` };
}

/** `scheme://user:password@` in any text: the password part (up to the "@" that ends the user info). */
const URL_PASSWORD = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/@:]*:)[^\s/@]*@/g;

/**
 * `text` with the password of every URL in it (`http://user:password@host/`) shown as `***`: a
 * feed's credentials are the importer configuration's, not something a sync's errors, progress and
 * report (the task list, the console, cron mail) give away.
 */
export function redactUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1***@');
}

/**
 * What a sync threw, with the feed's password taken out of its message, file and hint (a
 * StagepushError keeps its code and kind; anything else becomes an Error of that message).
 */
export function redactedError(e: unknown): unknown {
  if (e instanceof StagepushError) {
    const r = (s: string | undefined) => (s === undefined ? undefined : redactUrlPasswords(s));
    if (redactUrlPasswords(e.message) === e.message && r(e.file) === e.file && r(e.hint) === e.hint) return e;
    return new StagepushError(e.code, redactUrlPasswords(e.message), { kind: e.kind, hint: r(e.hint), file: r(e.file), entry: e.entry, field: e.field, problems: e.problems, details: e.details });
  }
  if (e instanceof Error && redactUrlPasswords(e.message) !== e.message) return new Error(redactUrlPasswords(e.message));
  return e;
}
