// What the campaign asserts: the controller converged to what was last asked (every wanted instance
// ready and answering on its URL with its own password, no other instance), and nothing leaked
// (containers, clones, staging, template datadirs, published ports, lock files).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { createRuntime } from '../../../controller/runtime/index.js';
import type { ControllerProc } from './controller.js';

export interface Want {
  owner: string;
  template: string;
  present: boolean;
}

interface InstanceDto {
  id: string;
  owner: string;
  template: string;
  status: string;
  error?: string;
  connection: { url: string; port: number } | null;
}

const key = (owner: string, template: string) => `${owner}|${template}`;

/** One look: what still differs from what was asked (empty when converged). */
export async function differences(ctl: ControllerProc, wants: Want[]): Promise<string[]> {
  const problems: string[] = [];
  const list = (await ctl.api<InstanceDto[]>('GET', '/api/v1/instances')).body;
  const templates = (await ctl.api<Array<{ name: string; versions: Array<{ id: string; status: string }> }>>('GET', '/api/v1/templates')).body;
  for (const t of templates) for (const v of t.versions) if (v.status === 'importing') problems.push(`import of ${t.name} (${v.id}) still running`);
  const live = new Map<string, InstanceDto[]>();
  for (const i of list) live.set(key(i.owner, i.template), [...(live.get(key(i.owner, i.template)) ?? []), i]);
  const wanted = new Set<string>();
  for (const w of wants) {
    const k = key(w.owner, w.template);
    const found = live.get(k) ?? [];
    if (w.present) {
      wanted.add(k);
      if (found.length !== 1) problems.push(`${k}: ${found.length} live instances, want exactly 1`);
      else if (found[0].status !== 'ready') problems.push(`${k}: ${found[0].id} is ${found[0].status}${found[0].error ? ` (${found[0].error})` : ''}`);
    } else if (found.length) problems.push(`${k}: should be destroyed, is ${found.map((i) => `${i.id} ${i.status}`).join(', ')}`);
  }
  for (const [k, is] of live) if (!wanted.has(k) && !wants.some((w) => key(w.owner, w.template) === k)) problems.push(`${k}: unexpected ${is.map((i) => i.id).join(', ')}`);
  return problems;
}

/** Polls until converged; answers how long it took, or throws with what is still wrong. */
export async function waitConverged(ctl: ControllerProc, wants: () => Want[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last: string[] = [];
  while (Date.now() - t0 < timeoutMs) {
    last = await differences(ctl, wants()).catch((e) => [`controller unreachable: ${(e as Error).message}`]);
    if (!last.length) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not converged after ${timeoutMs / 1000} s:\n  ${last.slice(0, 20).join('\n  ')}${last.length > 20 ? `\n  … ${last.length - 20} more` : ''}`);
}

/** A real query on the instance's URL with its own credentials. */
export async function query(url: string, sql: string): Promise<string> {
  if (url.startsWith('mysql:')) {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 10_000 });
    try {
      const [rows] = await c.query({ sql, rowsAsArray: true });
      return String((rows as unknown[][])[0]?.[0]);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  const c = postgres(url, { max: 1, connect_timeout: 10, idle_timeout: 1, onnotice: () => undefined });
  try {
    const rows = await c.unsafe(sql).values();
    return String(rows[0]?.[0]);
  } finally {
    await c.end({ timeout: 2 }).catch(() => undefined);
  }
}

/** Host ports published by the engine's docker-proxy processes (children of its dockerd). */
async function proxiedPorts(enginePid: number): Promise<number[]> {
  const ports: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^[0-9]+$/.test(pid)) continue;
    const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== enginePid) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const i = args.indexOf('-host-port');
    if (args[0].endsWith('docker-proxy') && i > 0) ports.push(Number(args[i + 1]));
  }
  return ports.sort((a, b) => a - b);
}

export interface LeakReport {
  leaks: string[];
  counts: { instances: number; containers: number; clones: number; ports: number };
}

/**
 * Compares what exists with what the controller says is live (call once converged): every ready
 * instance has one running container, its clone and its published port, and answers on its URL;
 * nothing else of this data dir exists.
 */
export async function findLeaks(o: { ctl: ControllerProc; dataDir: string; dockerHost: string | null; enginePid: number | null; probe?: boolean }): Promise<LeakReport> {
  const leaks: string[] = [];
  const list = (await o.ctl.api<InstanceDto[]>('GET', '/api/v1/instances')).body;
  const live = new Map(list.map((i) => [i.id, i]));
  const runtime = createRuntime('docker', { dockerHost: o.dockerHost });
  const containers = await runtime.list({ 'myaas.home': o.dataDir });
  const perInstance = new Map<string, number>();
  for (const c of containers) {
    const role = c.labels['myaas.role'];
    const id = c.labels['myaas.instance'];
    if (role === 'import') leaks.push(`import container ${c.name} with no import running`);
    else if (role === 'instance' && !live.has(id)) leaks.push(`container ${c.name} of instance ${id}, which is not live`);
    else if (role === 'instance') {
      perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
      if (!c.running) leaks.push(`container ${c.name} of ${id} is not running`);
    } else leaks.push(`container ${c.name} with unknown role ${role}`);
  }
  const clones = await readdir(join(o.dataDir, 'instances')).catch(() => [] as string[]);
  for (const d of clones) if (!live.has(d)) leaks.push(`clone ${d} without a live instance`);
  for (const d of await readdir(join(o.dataDir, 'staging')).catch(() => [] as string[])) leaks.push(`staging dir ${d} left behind`);
  const ports: number[] = [];
  for (const i of list) {
    if ((perInstance.get(i.id) ?? 0) !== 1) leaks.push(`instance ${i.id} (${i.status}) has ${perInstance.get(i.id) ?? 0} containers`);
    if (!clones.includes(i.id)) leaks.push(`instance ${i.id} has no clone`);
    const full = (await o.ctl.api<InstanceDto>('GET', `/api/v1/instances/${i.id}`)).body;
    if (full.connection) {
      ports.push(full.connection.port);
      if (o.probe !== false) {
        const ok = await query(full.connection.url, 'select 1').catch((e) => `error: ${(e as Error).message}`);
        if (ok !== '1') leaks.push(`instance ${i.id} does not answer on ${full.connection.port}: ${ok}`);
      }
    }
  }
  if (new Set(ports).size !== ports.length) leaks.push(`two live instances share a port: ${ports.join(', ')}`);
  let proxied: number[] = [];
  if (o.enginePid) {
    proxied = await proxiedPorts(o.enginePid);
    const want = [...ports].sort((a, b) => a - b);
    for (const p of proxied) if (!want.includes(p)) leaks.push(`host port ${p} still published, no live instance uses it`);
    for (const p of want) if (!proxied.includes(p)) leaks.push(`instance port ${p} is not published`);
  }
  // Every version the state DB calls ready (or retired but in use) has its datadir, and no other datadir exists.
  const templates = (await o.ctl.api<Array<{ name: string; versions: Array<{ id: string; status: string }> }>>('GET', '/api/v1/templates')).body;
  for (const t of templates) {
    // The schema-only variant is shown as `<template>:schema` and kept on disk as `<template>.schema`.
    const dirs = await readdir(join(o.dataDir, 'templates', t.name.replace(/:schema$/, '.schema'))).catch(() => [] as string[]);
    for (const v of t.versions) if (v.status === 'ready' && !dirs.includes(v.id)) leaks.push(`template ${t.name} version ${v.id} is ready but its datadir is gone`);
    for (const d of dirs) {
      const v = t.versions.find((x) => x.id === d);
      if (!v || v.status === 'failed') leaks.push(`template datadir ${t.name}/${d} (${v?.status ?? 'unknown'}) left behind`);
    }
  }
  return { leaks, counts: { instances: list.length, containers: containers.length, clones: clones.length, ports: proxied.length || ports.length } };
}

/** After the controller stopped: its lock file (and a takeover guard) must be gone. */
export async function lockLeaks(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of ['controller.lock', 'controller.lock.takeover']) {
    if (await stat(join(dataDir, f)).then(() => true, () => false)) out.push(`${f} left in ${dataDir}`);
  }
  return out;
}

/** The lock names the running controller (after a kill -9 the new one must have taken it over). */
export async function lockHolderIs(dataDir: string, pid: number): Promise<string | null> {
  const h = await readFile(join(dataDir, 'controller.lock'), 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => null);
  return h?.pid === pid ? null : `controller.lock names ${h ? `process ${h.pid}` : 'nobody'}, the controller is ${pid}`;
}
