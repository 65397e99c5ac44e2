// The wake listener adapter over real TCP on the loopback (no Docker): a connection is held unread, the
// port is free again once closed (while the held connection stays open), and forwarding delivers what
// the client sent before the server existed, both ways.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWakeListeners, holdRule, type HeldConnection } from '../../controller/host/wake-listeners.js';
import { tcpConnectionsTo } from '../../controller/engines/postgres.js';
import { createHostNet } from '../../controller/host/net.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    sockets.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('wake listeners', () => {
  it('holds a connection unread, frees the port on close, then pipes the held connection both ways', async () => {
    const wl = createWakeListeners();
    const port = await createHostNet().freePort('127.0.0.1');
    let heldConn: HeldConnection | null = null;
    await wl.listen('127.0.0.1', port, (c) => (heldConn = c));
    expect(wl.ports()).toEqual([port]);
    await expect(wl.listen('127.0.0.1', port, () => undefined)).rejects.toThrow();

    const c = await client(port);
    const received: Buffer[] = [];
    c.on('data', (d) => received.push(d));
    c.write('hello before the server exists');
    await new Promise((r) => setTimeout(r, 50));
    expect(heldConn).not.toBeNull();

    // The port is free for the server while the client stays connected (held).
    await wl.close(port);
    expect(wl.ports()).toEqual([]);
    const got: Buffer[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('data', (d) => {
        got.push(d);
        s.write(`echo:${d.toString()}`);
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    expect((server.address() as AddressInfo).port).toBe(port);
    expect(c.destroyed).toBe(false);

    heldConn!.forward('127.0.0.1', port);
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(got).toString()).toBe('hello before the server exists');
    expect(Buffer.concat(received).toString()).toBe('echo:hello before the server exists');
  });

  it('drop closes a held connection', async () => {
    const wl = createWakeListeners();
    const port = await createHostNet().freePort('127.0.0.1');
    let heldConn: HeldConnection | null = null;
    await wl.listen('127.0.0.1', port, (c) => (heldConn = c));
    const c = await client(port);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 50));
    heldConn!.drop();
    await closed;
    await wl.close(port);
  });
});

describe('holding off new connections while a port changes hands', () => {
  it('drops only the first packet (SYN) of new connections to the address and port', () => {
    expect(holdRule('127.0.0.1', 33521)).toEqual([
      '-p', 'tcp', '-d', '127.0.0.1/32', '--dport', '33521', '--syn', '-m', 'comment', '--comment', 'myaas: held while the port changes hands', '-j', 'DROP',
    ]);
    expect(holdRule('0.0.0.0', 5432)).not.toContain('-d');
    expect(() => holdRule('127.0.0.1; reboot', 1)).toThrow();
    expect(() => holdRule('127.0.0.1', 70000)).toThrow();
  });

  it('counts the connections to the server\'s port in /proc/net/tcp: established or half-open, not listening or closing', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1 1 0 100 0 0 10 0',
      '   1: 020011AC:1538 010011AC:B0E2 01 00000000:00000000 00:00000000 00000000   999        0 2 1 0 20 4 30 10 -1',
      '   2: 020011AC:1538 010011AC:B0E4 03 00000000:00000000 00:00000000 00000000   999        0 3 1 0 20 4 30 10 -1',
      '   3: 020011AC:1538 010011AC:B0E6 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0',
      '   4: 020011AC:B0E8 0A0011AC:1538 01 00000000:00000000 00:00000000 00000000   999        0 4 1 0 20 4 30 10 -1',
    ].join('\n');
    const tcp6 = '  sl  local_address remote_address st\n   0: 0000000000000000FFFF0000020011AC:1538 0000000000000000FFFF0000010011AC:C000 01 0';
    expect(tcpConnectionsTo(5432, [tcp, tcp6])).toBe(3);
    expect(tcpConnectionsTo(5432, ['', ''])).toBe(0);
  });
});
