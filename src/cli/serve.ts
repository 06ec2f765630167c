import type { Command } from 'commander';
import { StagepushError } from '../errors.js';
import { resolveGlobals } from './globals.js';

function port(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new StagepushError('SERVE_BAD_PORT', `${flag} ${v}: not a port number (0-65535; 0 = any free port)`, { kind: 'usage', field: flag });
    return Number(v);
  };
}

/** Registers the `serve` command. Heavy modules are imported inside the action only. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the published trees: <publish root>/http on --http, <publish root>/https on --https, at /<relative_url>/…')
    .option('--bind <address>', 'address to listen on', '127.0.0.1')
    .option('--http <port>', 'HTTP port serving <publish root>/http (0 = any free port; default 8080 when neither --http nor --https)', port('--http'))
    .option('--https <port>', 'HTTPS port serving <publish root>/https (needs --cert and --key)', port('--https'))
    .option('--cert <file>', 'PEM certificate (chain) for --https')
    .option('--key <file>', 'PEM private key for --https')
    .option('--publish-root <dir>', 'publish root (default: the config file publish.root, env STAGEPUSH_PUBLISH_ROOT, or <data dir>/published)')
    .option('--access-log <file>', 'append the access log to FILE ("-" = stderr, the default)', '-')
    .option('--no-access-log', 'no access log')
    .option('--no-listing', 'answer 403 for directories instead of listing them')
    .addHelpText(
      'after',
      '\nPrints one line per listener, "listening <protocol> <host> <port> <url>" (with --json: one JSON object),\nthen serves until SIGINT/SIGTERM (requests in flight finish; exit 0).',
    )
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const raw = cmd.optsWithGlobals();
      const g = resolveGlobals(raw);
      if (opts.https !== undefined && (!opts.cert || !opts.key)) throw new StagepushError('SERVE_TLS_FILE', '--https needs --cert FILE and --key FILE', { kind: 'usage', field: '--https' });
      if (opts.https === undefined && (opts.cert || opts.key)) throw new StagepushError('SERVE_TLS_FILE', '--cert/--key given without --https PORT', { kind: 'usage', field: '--cert' });
      const path = await import('node:path');
      const fs = await import('node:fs');
      const { loadConfig, resolveSettings } = await import('../config/index.js');
      const settings = resolveSettings(loadConfig(g.configFile), { dataDir: raw.dataDir as string | undefined, publishRoot: opts.publishRoot as string | undefined });
      const { startServer } = await import('../serve/server.js');
      const { handleInterrupts } = await import('./main.js');
      let log: ((line: string) => void) | undefined;
      let logStream: import('node:fs').WriteStream | undefined;
      if (opts.accessLog !== false) {
        const target = typeof opts.accessLog === 'string' ? opts.accessLog : '-';
        if (target === '-') log = (l) => process.stderr.write(l + '\n');
        else {
          logStream = fs.createWriteStream(path.resolve(target), { flags: 'a', mode: 0o640 });
          await new Promise<void>((resolve, reject) => {
            logStream!.once('open', () => resolve());
            logStream!.once('error', (e) => reject(new StagepushError('SERVE_ACCESS_LOG', `--access-log ${target}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { kind: 'usage', file: target, cause: e })));
          });
          log = (l) => logStream!.write(l + '\n');
        }
      }
      const httpPort = opts.http === undefined && opts.https === undefined ? 8080 : (opts.http as number | undefined);
      const signal = handleInterrupts();
      const server = await startServer({
        publishRoot: settings.publishRoot,
        contentRoot: path.join(settings.dataDir, 'content'),
        workingRoot: path.join(settings.dataDir, 'working'),
        bind: opts.bind as string,
        httpPort,
        https: opts.https !== undefined ? { port: opts.https as number, cert: opts.cert as string, key: opts.key as string } : undefined,
        listing: opts.listing !== false,
        log,
      });
      if (g.json) process.stdout.write(JSON.stringify({ listening: server.listeners, publishRoot: settings.publishRoot }) + '\n');
      else for (const l of server.listeners) process.stdout.write(`listening ${l.protocol} ${l.host} ${l.port} ${l.url} (serving ${l.root})\n`);
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await server.close();
      if (logStream) await new Promise<void>((resolve) => logStream!.end(resolve));
      if (!g.json && !g.quiet) process.stdout.write('stopped\n');
      process.exitCode = 0;
    });
}
