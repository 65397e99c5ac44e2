// Template shipping between btrfs pools: `btrfs send` of a sealed template version piped into
// `btrfs receive` on another node's pool, incremental (-p) against the newest older version both
// pools hold, received into a staging folder, verified (received UUID = source UUID, and the same
// file manifest on both sides), and only then renamed into templates/<template>/<version>, where the
// volume plugin and the controller look (as a read-only snapshot: see ship()). A half-done transfer
// is never visible as a version.
//
// Every step runs as a program with an argument list through a PoolAccess, so the two pools may be
// reached differently: both local mounts here (the test bed), or a node agent on another machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, messageOf } from '../domain/errors.js';
import type { CommandRunner, ExecResult } from '../domain/command.js';
import { assertVolumePath } from './common.js';

/** One node's pool, as the shipping commands reach it. */
export interface PoolAccess {
  /** a short name for messages, e.g. node2 */
  name: string;
  /** the pool's root (MYAAS_DATA_DIR of that node) as the commands see it */
  root: string;
  run(file: string, args: string[]): Promise<ExecResult>;
  /** starts a long-running program with piped stdio (btrfs send / receive) */
  spawn(file: string, args: string[]): ChildProcess;
}

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

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

function safeName(kind: string, s: string): string {
  if (!NAME.test(s) || s.includes('..')) throw new AppError('invalid_name', `invalid ${kind} ${JSON.stringify(s)} for shipping`);
  return s;
}

interface SubvolInfo {
  uuid: string;
  receivedUuid: string | null;
  readOnly: boolean;
}

function parseShow(out: string): SubvolInfo {
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(out)?.[1] ?? null;
  const uuid = field('UUID');
  if (!uuid || uuid === '-') throw new Error(`btrfs subvolume show printed no UUID: ${out.slice(0, 200)}`);
  const rec = field('Received UUID');
  return { uuid, receivedUuid: rec && rec !== '-' ? rec : null, readOnly: /^\s*Flags:.*\breadonly\b/m.test(out) };
}

/** Local pools: the programs run here, on paths of this machine. */
export function createLocalPool(name: string, root: string, runner: CommandRunner): PoolAccess {
  assertVolumePath(root);
  return {
    name,
    root,
    run: (file, args) => runner.run(file, args),
    spawn: (file, args) => spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] }),
  };
}

export function createBtrfsShipper(): TemplateShipper {
  const versionDir = (p: PoolAccess, t: string, v: string) => `${p.root}/templates/${safeName('template', t)}/${safeName('version', v)}`;

  async function show(p: PoolAccess, path: string): Promise<SubvolInfo | null> {
    try {
      return parseShow((await p.run('btrfs', ['subvolume', 'show', path])).stdout);
    } catch {
      return null;
    }
  }

  /** A stable digest of a tree: path, type, size, mode, owner and mtime of every entry. */
  async function manifest(p: PoolAccess, path: string): Promise<string> {
    const { stdout } = await p.run('find', [path, '-printf', '%P\\t%y\\t%s\\t%m\\t%U:%G\\t%T@\\n']);
    const lines = stdout.split('\n').filter(Boolean).sort();
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }

  async function versionsOn(pool: PoolAccess, template: string): Promise<string[]> {
    const dir = `${pool.root}/templates/${safeName('template', template)}`;
    let names: string[];
    try {
      names = (await pool.run('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', '%f\\n'])).stdout.split('\n').filter(Boolean);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const v of names.filter((n) => NAME.test(n)).sort()) {
      if ((await show(pool, `${dir}/${v}`))?.readOnly) out.push(v);
    }
    return out;
  }

  /** Runs send | receive; resolves with the stream's size, rejects with what either side said. */
  async function transfer(from: PoolAccess, to: PoolAccess, sendArgs: string[], into: string): Promise<number> {
    const send = from.spawn('btrfs', ['send', '-q', ...sendArgs]);
    const recv = to.spawn('btrfs', ['receive', into]);
    const errs = { send: '', recv: '' };
    send.stderr?.on('data', (d: Buffer) => (errs.send += d.toString()));
    recv.stderr?.on('data', (d: Buffer) => (errs.recv += d.toString()));
    const exited = (c: ChildProcess) =>
      new Promise<number | null>((resolve, reject) => {
        c.once('error', reject);
        c.once('close', (code) => resolve(code));
      });
    const sendExit = exited(send);
    const recvExit = exited(recv);
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(send.stdout!, count, recv.stdin!);
    } catch (e) {
      // One side died: stop the other so its exit code (and stderr) says why.
      send.kill('SIGTERM');
      recv.kill('SIGTERM');
      await Promise.allSettled([sendExit, recvExit]);
      throw new Error(`send | receive broke (${messageOf(e)}); send said: ${errs.send.trim() || '-'}; receive said: ${errs.recv.trim() || '-'}`);
    }
    const [s, r] = await Promise.all([sendExit, recvExit]);
    if (s !== 0 || r !== 0) {
      throw new Error(`btrfs send exited ${s}${errs.send.trim() ? ` (${errs.send.trim()})` : ''}, btrfs receive exited ${r}${errs.recv.trim() ? ` (${errs.recv.trim()})` : ''}`);
    }
    return bytes;
  }

  /** The newest candidate parent both pools hold sealed, whose copy on `to` came from this very source. */
  async function chooseParent(req: ShipRequest): Promise<string | null> {
    const candidates = (req.parents ?? []).filter((p) => p < req.version).reverse();
    for (const p of candidates) {
      const src = await show(req.from, versionDir(req.from, req.template, p));
      const dst = await show(req.to, versionDir(req.to, req.template, p));
      if (!src?.readOnly || !dst?.readOnly) continue;
      // btrfs receive finds the parent by this link; without it an incremental stream fails.
      const origin = src.receivedUuid ?? src.uuid;
      if (dst.receivedUuid === origin || dst.uuid === origin) return p;
    }
    return null;
  }

  async function verify(req: ShipRequest, src: string, srcInfo: SubvolInfo, dst: string): Promise<void> {
    const got = await show(req.to, dst);
    if (!got) throw new Error(`${dst} is not a subvolume after receive`);
    const origin = srcInfo.receivedUuid ?? srcInfo.uuid;
    if (got.receivedUuid !== origin) {
      throw new Error(`received UUID ${got.receivedUuid ?? '-'} is not the source's ${origin}: the transfer did not complete`);
    }
    const [a, b] = await Promise.all([manifest(req.from, src), manifest(req.to, dst)]);
    if (a !== b) throw new Error(`the received file list differs from the source's (manifest ${b.slice(0, 12)} ≠ ${a.slice(0, 12)})`);
    // btrfs receive leaves a complete copy read-only; make sure, since that is what "sealed" means.
    if (!got.readOnly) await req.to.run('btrfs', ['property', 'set', '-ts', dst, 'ro', 'true']);
  }

  async function ship(req: ShipRequest): Promise<ShipResult> {
    const t0 = Date.now();
    const { template, version, from, to } = req;
    const src = versionDir(from, template, version);
    const dst = versionDir(to, template, version);
    const what = `template ${template} version ${version} from ${from.name} to ${to.name}`;
    const srcInfo = await show(from, src);
    if (!srcInfo) throw new AppError('not_found', `cannot ship ${what}: ${src} is not a btrfs subvolume on ${from.name}`);
    if (!srcInfo.readOnly) {
      throw new AppError('template_not_ready', `cannot ship ${what}: it is not sealed (read-only) yet; ship a version once its import is complete`);
    }
    const done = (alreadyThere: boolean, parent: string | null, streamBytes: number): ShipResult => ({
      template, version, parent, streamBytes, ms: Date.now() - t0, alreadyThere,
    });
    if (await show(to, dst)) {
      try {
        await verify(req, src, srcInfo, dst);
      } catch (e) {
        throw new AppError('conflict', `${dst} already exists on ${to.name} but is not a complete copy (${messageOf(e)}): remove it and ship again`);
      }
      return done(true, null, 0);
    }
    const parent = await chooseParent(req);
    const staging = `${to.root}/staging/ship-${safeName('version', version)}-${randomBytes(4).toString('hex')}`;
    const received = `${staging}/${version}`;
    await to.run('mkdir', ['-p', '-m', '0700', staging]);
    try {
      const sendArgs = parent ? ['-p', versionDir(from, template, parent), src] : [src];
      const bytes = await transfer(from, to, sendArgs, staging);
      await verify(req, src, srcInfo, received);
      await to.run('mkdir', ['-p', '-m', '0700', `${to.root}/templates/${template}`]);
      // btrfs refuses to move a read-only subvolume to another folder (EROFS), and making it writable
      // to move it would drop the received UUID incremental sends need. A read-only snapshot appears
      // whole at once, keeps the received UUID, shares every block, and is then the only copy.
      try {
        await to.run('btrfs', ['subvolume', 'snapshot', '-r', received, dst]);
      } catch (e) {
        // Another transfer put the version in place first: fine if theirs is whole.
        if (!(await show(to, dst))) throw e;
        await verify(req, src, srcInfo, dst);
      }
      return done(false, parent, bytes);
    } catch (e) {
      throw new AppError('storage_unavailable', `shipping ${what} failed: ${messageOf(e)}`);
    } finally {
      await removeStaging(to, staging);
    }
  }

  async function removeStaging(to: PoolAccess, staging: string): Promise<void> {
    const left = await to.run('find', [staging, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\n']).then(
      (r) => r.stdout.split('\n').filter(Boolean),
      () => [] as string[],
    );
    for (const name of left) {
      const p = `${staging}/${name}`;
      // A received subvolume is read-only when complete; clear that so it can go.
      await to.run('btrfs', ['property', 'set', '-f', '-ts', p, 'ro', 'false']).catch(() => undefined);
      await to.run('btrfs', ['subvolume', 'delete', p]).catch(() => to.run('rm', ['-rf', '--', p]));
    }
    await to.run('rmdir', [staging]).catch(() => undefined);
  }

  return { ship, versionsOn };
}
