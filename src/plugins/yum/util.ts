/** Small helpers of the yum plugins: file digests, gpg detached signatures. */
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { StagepushError } from '../../errors.js';

/** Hex digest of a file (sha1, sha256, sha512, md5 …), streamed. */
export async function fileChecksum(file: string, algo: string, signal?: AbortSignal): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(file, { signal }) as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

/** `gpg --detach-sign --armor` of `file` into `out` with `keyId` (GNUPGHOME = gpgHome when given). */
export function gpgSignDetached(file: string, out: string, keyId: string, gpgHome: string | null, signal?: AbortSignal): Promise<void> {
  const args = ['--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', '--local-user', keyId, '--armor', '--detach-sign', '--output', out, file];
  return new Promise((resolve, reject) => {
    const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process'); // loaded only to sign
    const child = spawn('gpg', args, { env: { ...process.env, ...(gpgHome ? { GNUPGHOME: gpgHome } : {}) }, stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(new StagepushError('YUM_GPG_SIGN', `cannot run gpg to sign ${file}: ${e.message}`, { kind: 'failed', field: 'gpg_sign_metadata', cause: e, hint: 'install gnupg, or turn gpg_sign_metadata off' })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StagepushError('YUM_GPG_SIGN', `gpg could not sign ${file} with key ${keyId} (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`, { kind: 'failed', field: 'gpg_key_id' }));
    });
  });
}
