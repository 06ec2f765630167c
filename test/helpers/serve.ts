/** Helpers for tests of `stagepush serve`: start the CLI, read its listening line, raw requests. */
import http from 'node:http';
import https from 'node:https';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawnCli } from './cli.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request sent with the path exactly as given (no normalisation of "..", no re-encoding). */
export function rawRequest(url: string, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers, rejectUnauthorized: false, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Start `stagepush serve ARGS` and wait for its "listening" lines (one per protocol expected). */
export async function startServeCli(args: string[], expect: number, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcessWithoutNullStreams; urls: Record<string, string>; stdout: () => string; stderr: () => string; stop(signal?: NodeJS.Signals): Promise<number | null> }> {
  const child = spawnCli(['serve', ...args], { env }) as unknown as ChildProcessWithoutNullStreams;
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const urls: Record<string, string> = {};
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}\n${err}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      for (const m of out.matchAll(/^listening (https?) (\S+) (\d+) (\S+)/gm)) urls[m[1]!] = m[4]!;
      if (Object.keys(urls).length >= expect) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}\n${err}`));
    });
  });
  return {
    child,
    urls,
    stdout: () => out,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

/**
 * `python3 -m http.server` on 127.0.0.1 serving `dir`: HTTP/1.0, every response followed by the
 * server closing the connection (what undici's paused parser tripped over).
 */
export async function pythonHttpServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  const kill = (): void => void child.kill();
  process.on('exit', kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`python3 -m http.server exited: ${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      process.off('exit', kill);
      child.kill();
      await exited;
    },
  };
}
