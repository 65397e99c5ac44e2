// The leader election's state machine over a fake lock (a fake PostgreSQL that holds at most one
// session's lock), under vitest's fake clock; and what a standby serves.
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LeaderLock } from '../../controller/app/ports.js';
import type { ActiveController } from '../../controller/domain/leader.js';
import { leaderKey } from '../../controller/db/leader-lock.js';
import { createPromMetrics, createStandbyMetrics } from '../../controller/host/metrics.js';
import { createStandbyApp } from '../../controller/http/standby.js';
import { startLeaderElection, type LeaderElection } from '../../controller/jobs/leader.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';

/** A fake server: one lock, held by at most one session; sessions die (kill -9) or drop (network). */
function fakeServer() {
  let holder: FakeLock | null = null;
  let down = false;
  interface FakeLock extends LeaderLock {
    me: ActiveController;
    asks: number;
    checks: number;
    /** the process died: the server ends its session, nothing runs in it any more */
    die(): void;
    /** the connection closed under a live process */
    drop(): void;
    /** the next checks hang (a silent network) or fail */
    checkMode: 'ok' | 'hang' | 'fail';
  }
  const lock = (name: string): FakeLock => {
    let lost: ((r: string) => void) | null = null;
    const l: FakeLock = {
      me: { url: `http://${name}:5001`, host: name, pid: 1, since: '2026-01-01T00:00:00.000Z' },
      asks: 0,
      checks: 0,
      checkMode: 'ok',
      async tryAcquire() {
        l.asks++;
        if (down) throw new Error('connect ECONNREFUSED');
        if (holder && holder !== l) return false;
        holder = l;
        return true;
      },
      async check(timeoutMs) {
        l.checks++;
        if (l.checkMode === 'hang') {
          await new Promise((r) => setTimeout(r, timeoutMs));
          throw new Error(`the state DB did not answer the leader lock's check within ${timeoutMs} ms`);
        }
        if (l.checkMode === 'fail' || holder !== l) throw new Error('the leader lock is no longer held by this session');
      },
      async record() {},
      onLost(fn) {
        lost = fn;
      },
      async active() {
        return holder?.me ?? null;
      },
      async close() {
        if (holder === l) holder = null;
      },
      die() {
        if (holder === l) holder = null;
        lost = null;
      },
      drop() {
        if (holder === l) holder = null;
        const fn = lost;
        lost = null;
        fn?.('the connection that holds the leader lock closed');
      },
    };
    return l;
  };
  return { lock, holder: () => holder, setDown: (d: boolean) => void (down = d) };
}

const POLL = 1000;
const CHECK = 2000;

describe('leader election', () => {
  const running: LeaderElection[] = [];
  const elect = (lock: LeaderLock, onLost = vi.fn()) => {
    const log = createMemoryLogger();
    const e = startLeaderElection({ lock, pollMs: POLL, checkMs: CHECK, onLost, log });
    running.push(e);
    return { e, onLost, log };
  };
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    for (const e of running.splice(0)) e.stop();
    vi.useRealTimers();
  });

  it('one wins, the other stands by; the standby takes over within a poll once the active dies', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const b = server.lock('b');
    const ea = elect(a);
    await vi.advanceTimersByTimeAsync(0);
    const eb = elect(b);
    await vi.advanceTimersByTimeAsync(0);
    expect(ea.e.role()).toBe('starting');
    expect(eb.e.role()).toBe('standby');
    ea.e.serving();
    expect(ea.e.role()).toBe('active');

    // The standby keeps asking, about once a second, and never wins while the active lives.
    await vi.advanceTimersByTimeAsync(10 * POLL);
    expect(eb.e.role()).toBe('standby');
    expect(b.asks).toBeGreaterThanOrEqual(10);
    expect(a.checks).toBeGreaterThanOrEqual(4); // the active checks its lock every 2 s
    expect(ea.onLost).not.toHaveBeenCalled();

    let wonAt: number | null = null;
    void eb.e.won().then(() => (wonAt = Date.now()));
    const killedAt = Date.now();
    a.die(); // kill -9: the server drops the session and its lock
    ea.e.stop();
    await vi.advanceTimersByTimeAsync(POLL);
    expect(eb.e.role()).toBe('starting');
    expect(wonAt! - killedAt).toBeLessThanOrEqual(POLL);
    expect(server.holder()).toBe(b);
    eb.e.serving();
    expect(eb.e.role()).toBe('active');
  });

  it('an active whose lock connection closes stops at once, once', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const { e, onLost } = elect(a);
    await vi.advanceTimersByTimeAsync(0);
    e.serving();
    a.drop();
    expect(onLost).toHaveBeenCalledTimes(1);
    expect(onLost.mock.calls[0][0]).toMatch(/connection .* closed/);
    expect(e.role()).toBe('lost');
    const checks = a.checks;
    await vi.advanceTimersByTimeAsync(10 * CHECK);
    expect(a.checks).toBe(checks); // nothing more is done in its name
    expect(onLost).toHaveBeenCalledTimes(1);
  });

  it('an active whose check fails (the session was replaced, the lock is gone) stops at the next check', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const { e, onLost } = elect(a);
    await vi.advanceTimersByTimeAsync(0);
    e.serving();
    a.checkMode = 'fail';
    await vi.advanceTimersByTimeAsync(CHECK);
    expect(onLost).toHaveBeenCalledTimes(1);
    expect(onLost.mock.calls[0][0]).toMatch(/no longer held/);
    expect(e.role()).toBe('lost');
  });

  it('an active whose check goes unanswered (a silent network) stops within two check periods', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const { e, onLost } = elect(a);
    await vi.advanceTimersByTimeAsync(0);
    e.serving();
    a.checkMode = 'hang';
    await vi.advanceTimersByTimeAsync(2 * CHECK);
    expect(onLost).toHaveBeenCalledTimes(1);
    expect(onLost.mock.calls[0][0]).toMatch(/did not answer/);
  });

  it('also while starting (before it serves)', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const { e, onLost } = elect(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(e.role()).toBe('starting');
    a.drop();
    expect(onLost).toHaveBeenCalledTimes(1);
    e.serving(); // a start that finishes after the loss does not make it active
    expect(e.role()).toBe('lost');
  });

  it('a standby keeps asking while the state DB is away, and says so once', async () => {
    const server = fakeServer();
    server.setDown(true);
    const a = server.lock('a');
    const { e, log } = elect(a);
    await vi.advanceTimersByTimeAsync(5 * POLL);
    expect(e.role()).toBe('standby');
    expect(a.asks).toBeGreaterThanOrEqual(5);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    server.setDown(false);
    await vi.advanceTimersByTimeAsync(POLL);
    expect(e.role()).toBe('starting');
  });

  it('stopped as a standby: no more asking, and won() rejects', async () => {
    const server = fakeServer();
    const a = server.lock('a');
    const b = server.lock('b');
    elect(a);
    await vi.advanceTimersByTimeAsync(0);
    const { e } = elect(b);
    await vi.advanceTimersByTimeAsync(0);
    const won = e.won();
    e.stop();
    await expect(won).rejects.toThrow(/stopped/);
    const asks = b.asks;
    await a.close();
    await vi.advanceTimersByTimeAsync(5 * POLL);
    expect(b.asks).toBe(asks);
    expect(server.holder()).toBeNull();
  });
});

describe('leader lock key', () => {
  it('is fixed: sha256("myaas-leader"), first 8 bytes, signed', () => {
    expect(leaderKey()).toBe(leaderKey('myaas-leader'));
    expect(leaderKey()).not.toBe(leaderKey('other'));
    expect(leaderKey() >= -(2n ** 63n) && leaderKey() < 2n ** 63n).toBe(true);
  });
});

describe('a standby\'s HTTP', () => {
  const active: ActiveController = { url: 'http://db1:5001', host: 'db1', pid: 4242, since: '2026-01-01T00:00:00.000Z' };
  const app = (who: ActiveController | null, role: 'standby' | 'starting' = 'standby') =>
    createStandbyApp({
      role: () => role,
      active: async () => who,
      health: async () => ({ ok: true, storage: 'auto', docker: 'ok', version: '0.1.0' }),
      metrics: createStandbyMetrics({ registry: new Registry(), role: () => role, processMetrics: false }).expose,
      metricsTokens: ['metrics-token'],
      retryAfterSeconds: 2,
      log: createMemoryLogger(),
    });

  it('health: 200, role standby and the active controller', async () => {
    const r = await app(active).request('/healthz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, storage: 'auto', docker: 'ok', version: '0.1.0', role: 'standby', active });
    expect(await (await app(null).request('/api/v1/healthz')).json()).toMatchObject({ role: 'standby', active: null });
  });

  it('every API request: 503, Retry-After, and where the active controller is', async () => {
    for (const [method, path] of [['GET', '/api/v1/instances'], ['POST', '/api/v1/instances'], ['POST', '/api/v1/webhooks/github'], ['GET', '/']]) {
      const r = await app(active).request(path, { method, headers: { authorization: 'Bearer x' } });
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(r.headers.get('retry-after')).toBe('2');
      expect(r.headers.get('myaas-active-url')).toBe(active.url);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('standby');
      expect(body.error.message).toMatch(/standby .*process 4242 on db1 at http:\/\/db1:5001/);
    }
    const none = await (await app(null).request('/api/v1/instances')).json();
    expect(none.error.message).toMatch(/no controller is active right now/);
    const starting = await app(active, 'starting').request('/api/v1/instances');
    expect(starting.status).toBe(503);
    expect((await starting.json()).error.message).toMatch(/starting/);
  });

  it('metrics: myaas_leader 0 for a metrics token; 503 without one', async () => {
    const r = await app(active).request('/api/v1/metrics', { headers: { authorization: 'Bearer metrics-token' } });
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^myaas_leader 0$/m);
    expect((await app(active).request('/api/v1/metrics', { headers: { authorization: 'Bearer nope' } })).status).toBe(503);
  });
});

describe('myaas_leader on the active controller', () => {
  it('is 1 once it serves, 0 while starting, absent without a leader lock', async () => {
    let role: 'starting' | 'active' = 'starting';
    const registry = new Registry();
    const readings = async () => ({ instances: [], warmPool: [], versions: [], pool: null });
    createPromMetrics({ registry, warmPoolTarget: 0, poolPath: '/p', processMetrics: false, readings, leader: () => role });
    expect(await registry.metrics()).toMatch(/^myaas_leader 0$/m);
    role = 'active';
    expect(await registry.metrics()).toMatch(/^myaas_leader 1$/m);
    const lone = new Registry();
    createPromMetrics({ registry: lone, warmPoolTarget: 0, poolPath: '/p', processMetrics: false, readings });
    expect(await lone.metrics()).not.toMatch(/myaas_leader/);
  });
});
