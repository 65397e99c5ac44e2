// Where `myaas github-app create` keeps the new App's credentials: a JSON file of configuration keys
// (MYAAS_GITHUB_APP_ID, MYAAS_GITHUB_PRIVATE_KEY, MYAAS_GITHUB_WEBHOOK_SECRET, MYAAS_GITHUB_API_URL),
// which loadConfig reads when MYAAS_CONFIG names it. Owner-only: the file 0600, a directory we
// create 0700. It is checked before the flow starts, because once GitHub has made the App its key
// can be fetched only once.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError, messageOf } from '../domain/errors.js';
import type { CreatedApp } from './app-manifest.js';

export interface AppConfigFile {
  path: string;
  /** Throws when the file could not be written later: it exists (without force), or its folder is not writable. */
  check(): Promise<{ warnings: string[] }>;
  save(app: CreatedApp): Promise<void>;
}

/** The configuration keys for `app`, as loadConfig reads them. */
export function appConfigEntries(app: CreatedApp, apiUrl: string): Record<string, string> {
  const entries: Record<string, string> = {
    '//': `GitHub App ${app.name} (id ${app.id}, ${app.htmlUrl}), written by \`myaas github-app create\`. Secret: keep it owner-only.`,
    MYAAS_GITHUB_APP_ID: String(app.id),
    MYAAS_GITHUB_PRIVATE_KEY: app.pem,
    MYAAS_GITHUB_API_URL: apiUrl,
  };
  if (app.webhookSecret) entries.MYAAS_GITHUB_WEBHOOK_SECRET = app.webhookSecret;
  return entries;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/**
 * `ownDir`: the folder is ours (the default location), so it is made owner-only even if it exists;
 * a folder the person named is created 0700 when missing, and left alone (with a warning if others
 * can look into it) when it exists.
 */
export function createAppConfigFile(o: { path: string; apiUrl: string; force: boolean; ownDir: boolean }): AppConfigFile {
  const dir = dirname(o.path);
  return {
    path: o.path,
    async check() {
      const warnings: string[] = [];
      if (!o.force && (await exists(o.path))) {
        throw new AppError('conflict', `${o.path} exists (an earlier App's key?); move it away, name another file with --out, or pass --force`);
      }
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        if (o.ownDir) await chmod(dir, 0o700);
        await access(dir, constants.W_OK);
      } catch (e) {
        throw new AppError('bad_request', `cannot write ${o.path}: ${messageOf(e)}`);
      }
      const mode = (await stat(dir)).mode & 0o777;
      if (mode & 0o077) warnings.push(`${dir} is open to others (mode ${mode.toString(8)}); the file itself is 0600`);
      return { warnings };
    },
    async save(app) {
      const body = `${JSON.stringify(appConfigEntries(app, o.apiUrl), null, 2)}\n`;
      // Written whole under a temporary name, then linked into place, so a reader never sees half a
      // key and (without force) a file that appeared meanwhile is not overwritten.
      const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.chmod(0o600); // the mode above is before umask; make it exact
        await fh.writeFile(body, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        if (o.force) await unlink(o.path).catch(() => undefined);
        await link(tmp, o.path);
      } catch (e) {
        // GitHub hands the key out once: keep it where it is rather than lose it.
        throw new AppError('conflict', `cannot put the App's credentials at ${o.path} (${messageOf(e)}); they are in ${tmp}`);
      }
      await unlink(tmp);
    },
  };
}
