// Template shipping between btrfs pools: `btrfs send` of a sealed template version piped into
// `btrfs receive` on another node's pool, incremental (-p) against the newest older version both
// pools hold, received into a staging folder, verified (received UUID = source UUID, and the same
// file manifest on both sides), and only then put in place as templates/<template>/<version>, where
// the volume plugin and the controller look (as a read-only snapshot: see receive()). A half-done
// transfer is never visible as a version.
//
// Each pool is a PoolAccess (domain/pool-access.ts): createLocalPool here for a pool this machine
// mounts, pool-agent-client.ts for one on another machine, reached through its node's pool agent.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, messageOf } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import { isShipName, type PoolAccess, type ReceiveExpectation, type SendHandle, type SubvolInfo } from '../domain/pool-access.js';
import { assertVolumePath } from './common.js';

export type { PoolAccess } from '../domain/pool-access.js';

export interface ShipRequest {
  template: string;
  version: string;
  from: PoolAccess;
  to: PoolAccess;
  /** versions of the template, oldest first, that may serve as the incremental parent; default: none (full send) */
  parents?: string[];
}

export interface ShipResult {
  template: string;
  version: string;
  /** the version the stream was relative to, or null for a full send */
  parent: string | null;
  /** bytes of the send stream */
  streamBytes: number;
  ms: number;
  /** true when the target already held the verified version and nothing was sent */
  alreadyThere: boolean;
}

export interface TemplateShipper {
  ship(req: ShipRequest): Promise<ShipResult>;
  /** The template's versions on a pool that are complete (sealed), oldest first. */
  versionsOn(pool: PoolAccess, template: string): Promise<string[]>;
}

export function safeName(kind: string, s: string): string {
  if (!isShipName(s)) throw new AppError('invalid_name', `invalid ${kind} ${JSON.stringify(s)} for shipping`);
  return s;
}

function parseShow(out: string): SubvolInfo {
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(out)?.[1] ?? null;
  const uuid = field('UUID');
  if (!uuid || uuid === '-') throw new Error(`btrfs subvolume show printed no UUID: ${out.slice(0, 200)}`);
  const rec = field('Received UUID');
  return { uuid, receivedUuid: rec && rec !== '-' ? rec : null, readOnly: /^\s*Flags:.*\breadonly\b/m.test(out) };
}

function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    c.once('error', reject);
    c.once('close', (code) => resolve(code));
  });
}

export interface LocalPoolOptions {
  /** removes a sealed version's folder (the pool's storage driver); default: btrfs subvolume delete */
  removeVersion?: (path: string) => Promise<void>;
  /** starts a program with piped stdio (tests replace it to break a stream) */
  spawn?: (file: string, args: string[]) => ChildProcess;
}

/** A pool this machine mounts at `root` (the MYAAS_DATA_DIR of that node): programs run here. */
export function createLocalPool(name: string, root: string, runner: CommandRunner, opts: LocalPoolOptions = {}): PoolAccess {
  assertVolumePath(root);
  const start = opts.spawn ?? ((file: string, args: string[]) => spawnChild(file, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  const templateDir = (t: string) => `${root}/templates/${safeName('template', t)}`;
  const versionDir = (t: string, v: string) => `${templateDir(t)}/${safeName('version', v)}`;

  async function show(path: string): Promise<SubvolInfo | null> {
    try {
      return parseShow((await runner.run('btrfs', ['subvolume', 'show', path])).stdout);
    } catch {
      return null;
    }
  }

  async function manifestOf(path: string): Promise<string> {
    const { stdout } = await runner.run('find', [path, '-printf', '%P\\t%y\\t%s\\t%m\\t%U:%G\\t%T@\\n']);
    const lines = stdout.split('\n').filter(Boolean).sort();
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }

  /** The copy at `path` is what the source sent: received from it, the same files, read-only. */
  async function check(path: string, expect: ReceiveExpectation): Promise<void> {
    const got = await show(path);
    if (!got) throw new Error(`${path} is not a subvolume after receive`);
    if (got.receivedUuid !== expect.origin) {
      throw new Error(`received UUID ${got.receivedUuid ?? '-'} is not the source's ${expect.origin}: the transfer did not complete`);
    }
    const m = await manifestOf(path);
    if (m !== expect.manifest) throw new Error(`the received file list differs from the source's (manifest ${m.slice(0, 12)} ≠ ${expect.manifest.slice(0, 12)})`);
    // btrfs receive leaves a complete copy read-only; make sure, since that is what "sealed" means.
    if (!got.readOnly) await runner.run('btrfs', ['property', 'set', '-ts', path, 'ro', 'true']);
  }

  async function removeStaging(staging: string): Promise<void> {
    const left = await runner.run('find', [staging, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\n']).then(
      (r) => r.stdout.split('\n').filter(Boolean),
      () => [] as string[],
    );
    for (const n of left) {
      const p = `${staging}/${n}`;
      // A received subvolume is read-only when complete; clear that so it can go.
      await runner.run('btrfs', ['property', 'set', '-f', '-ts', p, 'ro', 'false']).catch(() => undefined);
      await runner.run('btrfs', ['subvolume', 'delete', p]).catch(() => runner.run('rm', ['-rf', '--', p]));
    }
    await runner.run('rmdir', [staging]).catch(() => undefined);
  }

  const removeVersion =
    opts.removeVersion ??
    (async (path: string) => {
      await runner.run('btrfs', ['property', 'set', '-f', '-ts', path, 'ro', 'false']);
      await runner.run('btrfs', ['subvolume', 'delete', path]);
    });

  async function versions(template: string): Promise<string[]> {
    let names: string[];
    try {
      names = (await runner.run('find', [templateDir(template), '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', '%f\\n'])).stdout.split('\n').filter(Boolean);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const v of names.filter(isShipName).sort()) {
      if ((await show(`${templateDir(template)}/${v}`))?.readOnly) out.push(v);
    }
    return out;
  }

  return {
    name,
    versions,
    info: (t, v) => show(versionDir(t, v)),
    manifest: (t, v) => manifestOf(versionDir(t, v)),
    send(t, v, parent): SendHandle {
      const args = ['send', '-q', ...(parent ? ['-p', versionDir(t, parent)] : []), versionDir(t, v)];
      const child = start('btrfs', args);
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      // The stream ends only once btrfs send has said it succeeded, and fails otherwise: a reader
      // (here or behind a pool agent) never takes a cut stream for a whole one.
      const stream = new PassThrough();
      child.stdout!.pipe(stream, { end: false });
      // A reader that gives up (the receiver failed) ends the sender too.
      stream.once('close', () => child.exitCode === null && child.kill('SIGTERM'));
      const done = exited(child).then((code) => {
        if (code !== 0) throw new Error(code === null ? 'btrfs send was stopped' : `btrfs send exited ${code}${err.trim() ? ` (${err.trim()})` : ''}`);
      });
      done.then(
        () => stream.end(),
        (e: unknown) => stream.destroy(e instanceof Error ? e : new Error(String(e))),
      );
      return { stream, done };
    },
    async receive(t, v, stream: Readable, expect) {
      const dst = versionDir(t, v);
      const staging = `${root}/staging/ship-${safeName('version', v)}-${randomBytes(4).toString('hex')}`;
      const received = `${staging}/${v}`;
      await runner.run('mkdir', ['-p', '-m', '0700', staging]);
      try {
        const recv = start('btrfs', ['receive', staging]);
        let err = '';
        recv.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        const exit = exited(recv);
        try {
          await pipeline(stream, recv.stdin!);
        } catch (e) {
          recv.kill('SIGTERM');
          await exit.catch(() => undefined);
          throw new Error(`the stream broke (${messageOf(e)}); receive said: ${err.trim() || '-'}`);
        }
        const code = await exit;
        if (code !== 0) throw new Error(`btrfs receive exited ${code}${err.trim() ? ` (${err.trim()})` : ''}`);
        await check(received, expect);
        await runner.run('mkdir', ['-p', '-m', '0700', templateDir(t)]);
        // btrfs refuses to move a read-only subvolume to another folder (EROFS), and making it writable
        // to move it would drop the received UUID incremental sends need. A read-only snapshot appears
        // whole at once, keeps the received UUID, shares every block, and is then the only copy.
        try {
          await runner.run('btrfs', ['subvolume', 'snapshot', '-r', received, dst]);
        } catch (e) {
          // Another transfer put the version in place first: fine if theirs is whole.
          if (!(await show(dst))) throw e;
          await check(dst, expect);
        }
      } finally {
        await removeStaging(staging);
      }
    },
    async remove(t, v) {
      if (!(await versions(t)).includes(v)) return;
      await removeVersion(versionDir(t, v));
    },
    async space() {
      const st = await statfs(root);
      return { totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize };
    },
  };
}

export function createBtrfsShipper(): TemplateShipper {
  /** The newest candidate parent both pools hold sealed, whose copy on `to` came from this very source. */
  async function chooseParent(req: ShipRequest): Promise<string | null> {
    const candidates = (req.parents ?? []).filter((p) => p < req.version).reverse();
    for (const p of candidates) {
      const [src, dst] = await Promise.all([req.from.info(req.template, p), req.to.info(req.template, p)]);
      if (!src?.readOnly || !dst?.readOnly) continue;
      // btrfs receive finds the parent by this link; without it an incremental stream fails.
      const origin = src.receivedUuid ?? src.uuid;
      if (dst.receivedUuid === origin || dst.uuid === origin) return p;
    }
    return null;
  }

  /** Pipes send into receive, counting bytes; whichever side fails first stops the other. */
  async function transfer(req: ShipRequest, parent: string | null, expect: ReceiveExpectation): Promise<number> {
    const sent = req.from.send(req.template, req.version, parent);
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    // A sender that fails makes the stream fail, so the receiver never takes a cut stream as whole.
    sent.done.catch((e: unknown) => count.destroy(e instanceof Error ? e : new Error(String(e))));
    sent.stream.once('error', (e) => count.destroy(e));
    sent.stream.pipe(count);
    // A receiver that fails stops the sender at once (it would wait on a full pipe otherwise).
    const received = req.to.receive(req.template, req.version, count, expect).catch((e: unknown) => {
      sent.stream.destroy();
      throw e;
    });
    const results = await Promise.allSettled([received, sent.done]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => messageOf(r.reason));
    if (failed.length) throw new Error([...new Set(failed)].join('; '));
    return bytes;
  }

  async function ship(req: ShipRequest): Promise<ShipResult> {
    const t0 = Date.now();
    const { template, version, from, to } = req;
    safeName('template', template);
    safeName('version', version);
    const what = `template ${template} version ${version} from ${from.name} to ${to.name}`;
    const srcInfo = await from.info(template, version);
    if (!srcInfo) throw new AppError('not_found', `cannot ship ${what}: it is not a btrfs subvolume on ${from.name}`);
    if (!srcInfo.readOnly) {
      throw new AppError('template_not_ready', `cannot ship ${what}: it is not sealed (read-only) yet; ship a version once its import is complete`);
    }
    const done = (alreadyThere: boolean, parent: string | null, streamBytes: number): ShipResult => ({
      template, version, parent, streamBytes, ms: Date.now() - t0, alreadyThere,
    });
    const origin = srcInfo.receivedUuid ?? srcInfo.uuid;
    const there = await to.info(template, version);
    if (there) {
      const why = !there.readOnly
        ? 'it is not sealed'
        : there.receivedUuid !== origin && there.uuid !== origin
          ? `its received UUID ${there.receivedUuid ?? '-'} is not the source's ${origin}`
          : (await to.manifest(template, version)) !== (await from.manifest(template, version))
            ? 'its file list differs from the source\'s'
            : null;
      if (why) throw new AppError('conflict', `${template}/${version} already exists on ${to.name} but is not a complete copy (${why}): remove it and ship again`);
      return done(true, null, 0);
    }
    const parent = await chooseParent(req);
    try {
      const bytes = await transfer(req, parent, { origin, manifest: await from.manifest(template, version) });
      return done(false, parent, bytes);
    } catch (e) {
      throw new AppError('storage_unavailable', `shipping ${what} failed: ${messageOf(e)}`);
    }
  }

  return { ship, versionsOn: (pool, template) => pool.versions(template) };
}
