// "Outside": a network namespace of the test's own, routed from the host over a veth pair, with a TCP
// listener in it. It stands for anything an instance should not reach (another host on the LAN, the
// internet) without sending a packet anywhere but this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { run } from './testbed.js';

export interface Outside {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function makeOutside(name: string, subnet: number): Promise<Outside> {
  if (!/^[a-z0-9-]{1,10}$/.test(name) || subnet < 0 || subnet > 255) throw new Error('bad outside name or subnet');
  const ns = `/run/netns/${name}`;
  const [hostIf, nsIf] = [`${name}-h`, `${name}-n`];
  const [hostIp, nsIp] = [`10.213.${subnet}.1`, `10.213.${subnet}.2`];
  const inNs = (args: string[]) => run('nsenter', [`--net=${ns}`, ...args]);
  let listener: ChildProcess | null = null;
  const close = async () => {
    listener?.kill('SIGKILL');
    await run('ip', ['link', 'del', hostIf]).catch(() => {});
    await run('ip', ['netns', 'del', name]).catch(() => {});
  };
  try {
    await close();
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await run('ip', ['link', 'set', nsIf, 'netns', name]);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await inNs(['ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf]);
    await inNs(['ip', 'link', 'set', nsIf, 'up']);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    await inNs(['ip', 'route', 'add', 'default', 'via', hostIp]);
    const port = 8080;
    listener = spawn('nsenter', [`--net=${ns}`, process.execPath, '-e',
      `require('net').createServer((s) => { s.on('error', () => {}); s.end('hello from outside\\n'); }).listen(${port}, '${nsIp}', () => console.log('listening'))`]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the outside listener did not start')), 10_000);
      listener!.stdout!.on('data', () => (clearTimeout(t), resolve()));
      listener!.once('exit', (c) => (clearTimeout(t), reject(new Error(`the outside listener exited (${c})`))));
    });
    return { address: nsIp, port, close };
  } catch (e) {
    await close();
    throw e;
  }
}
