// One controller per data dir: a lock file, created exclusively, that names its holder (process,
// machine, URL). A holder that died (kill -9, a crash) is recognised by its process being gone, or
// being another process under a reused pid (its start time differs), and its lock is taken over.
// Written here rather than taken from proper-lockfile: that one keeps a lock alive by rewriting
// its mtime on a timer and knows nothing of the holder, while the refusal must say who holds the
// data dir and how to reach it.
import { readFileSync } from 'node:fs';
import { open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../domain/errors.js';

export interface LockHolder {
  pid: number;
  /** start time of the process (clock ticks since boot), to tell a reused pid from the holder */
  started: string | null;
  host: string;
  /** how to reach the holder's API, if it serves one */
  url: string | null;
  command: string;
  since: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Records the URL once the holder listens. */
  announce(url: string): Promise<void>;
  release(): Promise<void>;
}

const FILE = 'controller.lock';

/** Field 22 of /proc/<pid>/stat: when the process started; null where /proc cannot tell. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(h: LockHolder): boolean {
  if (h.host !== hostname()) return true; // another machine (or container): we cannot tell, so it holds
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const started = startTimeOf(h.pid);
  return !(h.started && started && started !== h.started);
}

/** Who holds the data dir's lock now, if anyone alive does. */
export async function readLockHolder(dataDir: string): Promise<LockHolder | null> {
  try {
    const h = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as LockHolder;
    return alive(h) ? h : null;
  } catch {
    return null;
  }
}

export function describeHolder(h: LockHolder): string {
  const where = h.host === hostname() ? `process ${h.pid}` : `process ${h.pid} on ${h.host}`;
  return `${where} (\`myaas ${h.command}\` since ${h.since}${h.url ? `, serving ${h.url}` : ''})`;
}

/** Removes a dead holder's lock under a short-lived takeover file, so that two takers cannot both win. */
async function takeOver(path: string, dead: LockHolder | null): Promise<void> {
  const guard = `${path}.takeover`;
  try {
    await (await open(guard, 'wx', 0o600)).close();
  } catch {
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 10_000) await unlink(guard).catch(() => undefined); // a taker that died mid-takeover
    return;
  }
  try {
    const now = await readFile(path, 'utf8').then((t) => JSON.parse(t) as LockHolder, () => null);
    // Remove only the lock we judged dead, not one another taker wrote meanwhile.
    if (!now || !dead || (now.pid === dead.pid && now.started === dead.started && now.host === dead.host)) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Takes the data dir's lock for this process, or refuses with who holds it and what to do. */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  const path = join(dataDir, FILE);
  const me: LockHolder = {
    pid: process.pid, started: startTimeOf(process.pid), host: hostname(), url: null, command, since: new Date().toISOString(),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const f = await open(path, 'wx', 0o600);
      await f.writeFile(`${JSON.stringify(me)}\n`);
      await f.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) throw e;
      let holder: LockHolder | null = null;
      try {
        holder = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
      } catch {
        holder = null; // half-written by a holder that died while writing it: stale
      }
      if (holder && alive(holder)) {
        throw new AppError(
          'conflict',
          `the data dir ${dataDir} is in use by ${describeHolder(holder)}: run one controller per data dir; ` +
            `talk to the running one (set MYAAS_URL${holder.url ? `=${holder.url}` : ''}), or stop it first. ` +
            `If no controller runs there, remove ${path}`,
        );
      }
      // The holder is gone: take over, one taker at a time (a second one finds our fresh lock next round).
      await takeOver(path, holder);
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
  let held = true;
  return {
    path,
    async announce(url) {
      me.url = url;
      if (held) await writeFile(path, `${JSON.stringify(me)}\n`, { mode: 0o600 });
    },
    async release() {
      if (!held) return;
      held = false;
      const h = await readFile(path, 'utf8').then((t) => JSON.parse(t) as LockHolder, () => null);
      if (h && h.pid === me.pid && h.started === me.started) await unlink(path).catch(() => undefined);
    },
  };
}

/**
 * Takes the data dir's lock once its holder lets go: a controller that just won the leader lock
 * (docs/many-hosts.md) waits here for the active one it replaces, which stops acting once it has
 * lost the leader lock and whose lock file is then taken over (its process is gone).
 */
export async function lockDataDirWhenFree(
  dataDir: string,
  command: string,
  opts: { everyMs?: number; onWait?: (holder: string) => void } = {},
): Promise<DataDirLock> {
  let told = false;
  for (;;) {
    try {
      return await lockDataDir(dataDir, command);
    } catch (e) {
      if (!(e instanceof AppError && e.code === 'conflict')) throw e;
      const holder = await readLockHolder(dataDir);
      if (!told && holder) opts.onWait?.(describeHolder(holder));
      told = true;
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 250));
    }
  }
}
