// What the numbers were measured on.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import Docker from 'dockerode';
import { cmd } from './util.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  os: string;
  node: string;
  docker: { version: string; storageDriver: string; cgroup: string };
  storage: Array<{ path: string; fs: string; device: string; sizeBytes: number; freeBytes: number }>;
  images: Record<string, string>;
  loadAverage: { atStart: number[]; atEnd?: number[] };
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? os.type();
}

async function mountOf(path: string): Promise<{ fs: string; device: string }> {
  const out = await cmd('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '--target', path]).catch(() => '');
  const [fs = 'unknown', device = 'unknown'] = out.trim().split(/\s+/);
  return { fs, device };
}

export async function describeMachine(paths: string[], images: Record<string, string>): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const docker = new Docker();
  const [v, info] = await Promise.all([docker.version(), docker.info() as Promise<Record<string, unknown>>]);
  const storage = [];
  for (const p of paths) {
    const s = await statfs(p).catch(() => null);
    if (!s) continue;
    storage.push({ path: p, ...(await mountOf(p)), sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize });
  }
  const versions: Record<string, string> = {};
  for (const [engine, image] of Object.entries(images)) {
    const argv = engine === 'postgres' ? ['postgres', '--version'] : ['mariadbd', '--version'];
    versions[engine] = `${image}: ${(await cmd('docker', ['run', '--rm', '--label', 'myaas.bench=true', '--label', `myaas.bench.pid=${process.pid}`, '--entrypoint', argv[0], image, argv[1]]).catch(() => '?')).trim()}`;
  }
  return {
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    os: await osName(),
    node: process.version,
    docker: { version: v.Version, storageDriver: String(info.Driver ?? '?'), cgroup: `v${String(info.CgroupVersion ?? '?')}` },
    storage,
    images: versions,
    loadAverage: { atStart: os.loadavg().map((x) => Math.round(x * 100) / 100) },
  };
}
