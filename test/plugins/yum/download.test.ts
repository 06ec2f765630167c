/**
 * The yum sync's downloads from servers that close the connection after each response: python3's
 * http.server (HTTP/1.0) and an HTTP/1.1 server answering with `Connection: close`. undici paused
 * its parser while the file was being written and then failed an assertion when the connection
 * closed: an uncaught exception that ended the sync with exit 1.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Downloader } from '../../../src/plugins/yum/download.js';
import { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';
import { pythonHttpServer } from '../../helpers/serve.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Files of 3 MB: large enough that the body outruns the file being written. */
function bigFiles(dir: string, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = randomBytes(3 * 1024 * 1024);
    writeFileSync(path.join(dir, `f${i}.rpm`), b);
    out.push(b);
  }
  return out;
}

async function fetchAll(url: string, bodies: Buffer[]): Promise<void> {
  const dl = new Downloader({ signal: new AbortController().signal, retries: 0 });
  const dest = tempDir();
  try {
    for (let i = 0; i < bodies.length; i++) {
      const file = path.join(dest, `f${i}.rpm`);
      const got = await dl.fetchFile(`${url}f${i}.rpm`, file, ['sha256'], { algo: 'sha256', hex: sha256(bodies[i]!), size: bodies[i]!.length });
      assert.equal(got.digests.sha256, sha256(bodies[i]!));
      assert.ok(readFileSync(file).equals(bodies[i]!));
    }
    assert.ok((await dl.fetchBuffer(`${url}f0.rpm`)).equals(bodies[0]!));
  } finally {
    await dl.close();
  }
}

test('downloads from python3 -m http.server (HTTP/1.0, closes after each response)', async () => {
  const dir = tempDir();
  const bodies = bigFiles(dir, 4);
  const srv = await pythonHttpServer(dir);
  try {
    await fetchAll(srv.url, bodies);
    // A missing file is a coded error, as before.
    const dl = new Downloader({ signal: new AbortController().signal, retries: 0 });
    await assert.rejects(dl.fetchFile(`${srv.url}missing.rpm`, path.join(tempDir(), 'x'), []), (e: StagepushError) => e.code === 'YUM_DOWNLOAD_FAILED' && /404/.test(e.message));
    await dl.close();
  } finally {
    await srv.close();
  }
});

test('downloads from an HTTP/1.1 server answering Connection: close; a body cut short is a coded error', async () => {
  const dir = tempDir();
  const bodies = bigFiles(dir, 3);
  const server = net.createServer((sock) => {
    sock.once('data', (req: Buffer) => {
      const m = /^GET \/(\S+) /.exec(req.toString());
      const name = m?.[1] ?? '';
      const i = Number(/^f(\d+)\.rpm$/.exec(name)?.[1] ?? '-1');
      const cut = name.startsWith('cut-');
      const body = cut ? bodies[0]! : bodies[i];
      if (!body) {
        sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      // A cut body: the server closes before sending all it announced.
      sock.end(cut ? body.subarray(0, body.length - 1000) : body);
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    await fetchAll(url, bodies);
    const dl = new Downloader({ signal: new AbortController().signal, retries: 1 });
    await assert.rejects(dl.fetchFile(`${url}cut-0.rpm`, path.join(tempDir(), 'x'), ['sha256'], { algo: 'sha256', hex: sha256(bodies[0]!), size: bodies[0]!.length }), (e: StagepushError) => e instanceof StagepushError && e.code === 'YUM_DOWNLOAD_FAILED' && e.message.includes('cut-0.rpm'));
    await dl.close();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
