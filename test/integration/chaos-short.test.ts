// A short chaos campaign for CI (npm run chaos runs the long one): API calls and signed GitHub
// deliveries (duplicated, out of order, redelivered), kill -9 of the controller at random moments and
// during its start-up, Docker engine restarts under it and while it is down, on a private engine and
// pool. After every restart it converges; at the end nothing is leaked and every template loads.
// MYAAS_CHAOS_SEED replays a failing run.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChaos } from '../../bench/chaos/chaos-run.js';
import { printSummary } from '../../bench/chaos/lib/report.js';
import { requireDocker } from '../helpers/testbed.js';

describe('chaos (short)', () => {
  it('converges after every kill and Docker restart, and leaks nothing', async () => {
    await requireDocker();
    const seed = Number(process.env.MYAAS_CHAOS_SEED ?? 20261203);
    const lines: string[] = [];
    const say = (l: string) => {
      lines.push(l);
      console.log(l);
    };
    const s = await runChaos({
      seed, kills: 8, dockerRestarts: 2, maxMinutes: 15, name: `chaos-ci-${process.pid % 100000}`, ports: '22100-22599',
      workDir: join(process.cwd(), 'bench', 'work'), mariadb: false, convergeTimeoutMs: 180_000, say,
    });
    printSummary('chaos (short)', s, say);
    expect(s.findings, lines.join('\n')).toEqual([]);
    expect(s.leaks).toEqual([]);
    expect(s.kills).toBeGreaterThanOrEqual(8);
    expect(s.dockerRestarts).toBe(2);
    expect(s.recoveryMs).toHaveLength(s.kills - s.startupKills);
    expect(s.deliveries.acknowledged).toBeGreaterThan(0);
    expect(s.finalChecks).toEqual([expect.stringMatching(/^chinook \(v\S+\): 275 artists$/)]);
  }, 1_200_000);
});
