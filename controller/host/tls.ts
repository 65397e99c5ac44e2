// The certificate instances offer TLS with. Configured files (MYAAS_INSTANCE_TLS_CERT/_KEY, e.g. issued
// by the organisation's CA) or else one self-signed certificate per host, made once with openssl and
// kept across restarts so clients that trust it keep working. Each engine user gets its own copy:
// PostgreSQL refuses a key that is not owned by its user with mode 0600 (or by root with 0640).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { CommandRunner } from '../domain/command.js';
import { AppError, messageOf } from '../domain/errors.js';

export interface InstanceTls {
  /** host folder holding server.crt and server.key, owned by `engineUser` (uid:gid) */
  dirFor(engineUser: string): string | null;
  /** the certificate clients verify instances with (sslrootcert, --ssl-ca): PEM, on the host */
  certFile: string;
  /** how it came to be */
  source: 'configured' | 'self-signed';
  /** the certificate and key themselves (PEM), for a cluster's nodes (Swarm secrets) */
  pair: { cert: string; key: string };
}

const CERT = 'self-signed.crt';
const KEY = 'self-signed.key';
const RENEW_BEFORE_MS = 30 * 86400_000;

/** True when `pem` is a certificate for `host` that stays valid for a while yet. */
function usable(pem: string, host: string, now: number): boolean {
  try {
    const c = new X509Certificate(pem);
    const named = isIP(host) ? c.checkIP(host) !== undefined : c.checkHost(host) !== undefined;
    return named && Date.parse(c.validTo) - now > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

async function selfSigned(runner: CommandRunner, dir: string, host: string): Promise<{ cert: string; key: string }> {
  const certPath = join(dir, CERT);
  const keyPath = join(dir, KEY);
  const existing = await readFile(certPath, 'utf8').catch(() => null);
  if (existing && usable(existing, host, Date.now())) return { cert: existing, key: await readFile(keyPath, 'utf8') };
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new AppError('bad_request', `MYAAS_PUBLIC_HOST ${JSON.stringify(host)} is not a host name or address`);
  const san = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  try {
    // P-256: small and fast, and both engines' TLS libraries take it. Its own CA (basicConstraints
    // CA:TRUE, openssl's default for -x509) so clients can name it as their root (verify-ca).
    await runner.run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825',
      '-subj', `/CN=${host}`, '-addext', `subjectAltName=${san}`, '-keyout', keyPath, '-out', certPath,
    ]);
  } catch (e) {
    await rm(keyPath, { force: true });
    throw new AppError(
      'internal',
      `cannot make the instances' self-signed TLS certificate with openssl (${messageOf(e)}): install openssl, ` +
        'or give one with MYAAS_INSTANCE_TLS_CERT and MYAAS_INSTANCE_TLS_KEY, or set MYAAS_INSTANCE_TLS=false',
    );
  }
  await chmod(keyPath, 0o600);
  return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
}

async function configured(files: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  try {
    const cert = await readFile(files.cert, 'utf8');
    const key = await readFile(files.key, 'utf8');
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    return { cert, key };
  } catch (e) {
    throw new AppError('bad_request', `MYAAS_INSTANCE_TLS_CERT ${files.cert} / MYAAS_INSTANCE_TLS_KEY ${files.key}: ${messageOf(e)}; give a PEM certificate and its unencrypted PEM key`);
  }
}

/**
 * Lays out `dir` (owner-only) with the certificate and, for each engine user, a folder it owns with
 * server.crt and server.key (0600) to mount read-only into its containers.
 */
export async function prepareInstanceTls(
  runner: CommandRunner,
  opts: { dir: string; publicHost: string; files: { cert: string; key: string } | null; engineUsers: string[] },
): Promise<InstanceTls> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await chmod(opts.dir, 0o700);
  const pair = opts.files ? await configured(opts.files) : await selfSigned(runner, opts.dir, opts.publicHost);
  const certFile = join(opts.dir, 'instances-ca.crt');
  await writeFile(certFile, pair.cert, { mode: 0o644 });
  const dirs = new Map<string, string>();
  for (const user of new Set(opts.engineUsers)) {
    const m = /^([0-9]+):([0-9]+)$/.exec(user);
    if (!m) throw new AppError('internal', `engine user ${JSON.stringify(user)} is not uid:gid`);
    const [uid, gid] = [Number(m[1]), Number(m[2])];
    const d = join(opts.dir, `${uid}-${gid}`);
    await mkdir(d, { recursive: true, mode: 0o700 });
    for (const [name, content] of [['server.crt', pair.cert], ['server.key', pair.key]] as const) {
      await writeFile(join(d, name), content, { mode: 0o600 });
      await chmod(join(d, name), 0o600);
      await chown(join(d, name), uid, gid);
    }
    await chmod(d, 0o700);
    await chown(d, uid, gid);
    dirs.set(user, d);
  }
  return { dirFor: (user) => dirs.get(user) ?? null, certFile, source: opts.files ? 'configured' : 'self-signed', pair };
}
