// A short soak for CI (npm run soak runs the long one): pull requests of five repositories opened,
// pushed, closed and reopened, deliveries reordered, held back, duplicated and redelivered. At every
// check each open pull request has exactly one ready instance per template and closed ones none,
// nothing leaks, and the controller's memory does not grow. MYAAS_SOAK_SEED replays a run.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSummary } from '../../bench/chaos/lib/report.js';
import { runSoak } from '../../bench/chaos/soak-run.js';
import { requireDocker } from '../helpers/testbed.js';

describe('soak (short)', () => {
  it('one instance per open pull request at every check, none for closed ones, no leaks, flat memory', async () => {
    await requireDocker();
    const seed = Number(process.env.MYAAS_SOAK_SEED ?? 20261204);
    const lines: string[] = [];
    const say = (l: string) => {
      lines.push(l);
      console.log(l);
    };
    const { rss, ...s } = await runSoak({
      seed, repos: 5, pullRequests: 24, maxOpen: 8, minutes: 2.5, checkEverySeconds: 30,
      name: `soak-ci-${process.pid % 100000}`, ports: '22600-23099', workDir: join(process.cwd(), 'bench', 'work'), mariadb: false, say,
    });
    printSummary('soak (short)', s, say);
    say(`soak (short): controller RSS (s:MiB) ${rss.map(([t, m]) => `${t}:${m}`).join(' ')}`);
    expect(s.findings, lines.join('\n')).toEqual([]);
    expect(s.leaks).toEqual([]);
    expect(s.pullRequestsOpened).toBe(24);
    expect(s.checks).toBeGreaterThanOrEqual(4);
    expect(s.deliveries.duplicatesAcknowledged + s.deliveries.redelivered).toBeGreaterThan(0);
    expect(s.rssVerdict).toMatch(/^flat/);
  }, 900_000);
});
