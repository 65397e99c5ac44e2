// The soak: pull requests of several repositories opened, pushed, closed and reopened for a long
// while, their deliveries reordered, held back, duplicated and redelivered long after. At every check
// each open pull request has exactly one ready instance per template, closed ones none, nothing
// leaked; the controller's resident memory is sampled throughout and must stay flat.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importAll, openBed, type Bed } from './lib/bed.js';
import { findLeaks, lockLeaks, waitConverged } from './lib/checks.js';
import { WEBHOOK_SECRET } from './lib/controller.js';
import { createGitHub } from './lib/github.js';
import { createRng } from './lib/rng.js';

export interface SoakOptions {
  seed: number;
  repos: number;
  pullRequests: number;
  /** at most this many open at once (instances are memory: see the caps below) */
  maxOpen: number;
  minutes: number;
  /** a check (converged, no leaks) every this many seconds */
  checkEverySeconds: number;
  name: string;
  /** MYAAS_PORT_RANGE of its controller */
  ports: string;
  workDir: string;
  mariadb: boolean;
  say(line: string): void;
}

export interface SoakSummary {
  seed: number;
  pullRequestsOpened: number;
  events: Record<string, number>;
  deliveries: ReturnType<typeof createGitHub>['stats'];
  checks: number;
  /** the most instances alive at a check */
  peakInstances: number;
  convergeMs: number[];
  /** [seconds since start, MiB] every sample */
  rss: Array<[number, number]>;
  rssVerdict: string;
  leaks: string[];
  findings: string[];
  durationMs: number;
}

const MiB = 1024 * 1024;

export async function runSoak(o: SoakOptions): Promise<SoakSummary> {
  const t0 = Date.now();
  const rng = createRng(o.seed);
  const repos: Record<string, string[]> = {};
  for (let r = 1; r <= o.repos; r++) repos[`soak/repo${r}`] = r === o.repos && o.mariadb ? ['chinook', 'chinook-my'] : ['chinook'];
  const templatesPerPr = Math.max(...Object.values(repos).map((t) => t.length));
  const cap = o.maxOpen * templatesPerPr + 10;
  const env = {
    MYAAS_GITHUB_REPOS: Object.entries(repos).map(([r, ts]) => `${r}=${ts.join('+')}`).join(','),
    MYAAS_GITHUB_RESET_ON_PUSH: 'true',
    MYAAS_RECONCILE_INTERVAL: '30s',
    // Set explicitly: every open pull request fits under the caps, so none waits as queued.
    MYAAS_MAX_INSTANCES: String(cap),
    MYAAS_MAX_INSTANCES_PER_REPO: String(cap),
    MYAAS_MEMORY_LIMIT: '256m',
  };
  const s: SoakSummary = {
    seed: o.seed, pullRequestsOpened: 0, events: {}, deliveries: null as never, checks: 0, peakInstances: 0, convergeMs: [], rss: [],
    rssVerdict: '', leaks: [], findings: [], durationMs: 0,
  };
  const bed: Bed = await openBed({ name: o.name, workDir: o.workDir, env, ports: o.ports });
  const gh = createGitHub({ url: () => bed.slot.get()!.url, secret: WEBHOOK_SECRET, repos, rng });
  s.deliveries = gh.stats;
  const count = (e: string) => (s.events[e] = (s.events[e] ?? 0) + 1);
  let sampler: NodeJS.Timeout | null = null;
  try {
    const ctl = await bed.start();
    await importAll(ctl, o.mariadb ? ['chinook', 'chinook-my'] : ['chinook']);
    const startedAt = Date.now();
    const sample = async () => {
      const b = await ctl.rss();
      if (b !== null) s.rss.push([Math.round((Date.now() - startedAt) / 1000), Math.round((b / MiB) * 10) / 10]);
    };
    await sample();
    sampler = setInterval(() => void sample(), 5000);
    o.say(`soak: seed ${o.seed}; ${o.repos} repositories, ${o.pullRequests} pull requests, at most ${o.maxOpen} open, ${o.minutes} min; caps ${cap}`);
    const endAt = startedAt + o.minutes * 60_000;
    // About 3.5 events per pull request (open, close, some pushes and reopens), two per tick on average,
    // in the half of the run that checks leave.
    const tickMs = Math.max(250, Math.floor((o.minutes * 60_000 * 0.5) / (o.pullRequests * 3.5 / 2)));
    let nextCheck = Date.now() + o.checkEverySeconds * 1000;
    let number = 0;
    const repoNames = Object.keys(repos);
    const reopens = new Map<string, number>();
    while (Date.now() < endAt || number < o.pullRequests) {
      for (let k = rng.int(1, 3); k > 0; k--) step();
      await gh.flush({ duplicateChance: 0.25, concurrency: 3, holdBackChance: 0.3 });
      if (rng.chance(0.05)) await gh.redeliverOld(rng.int(1, 3));
      if (Date.now() >= nextCheck) {
        await check('periodic');
        nextCheck = Date.now() + o.checkEverySeconds * 1000;
      }
      await new Promise((r) => setTimeout(r, rng.int(tickMs / 2, tickMs * 1.5)));
      if (Date.now() > endAt + 10 * 60_000) throw new Error(`soak could not open ${o.pullRequests} pull requests in time (${number} opened)`);
    }

    /** One event: a pull request opened (at a pace that spreads them over the run), pushed, closed or reopened. */
    function step() {
      const prs = [...gh.prs.values()];
      const open = prs.filter((p) => p.open);
      const closed = prs.filter((p) => !p.open && (reopens.get(`${p.repo}#${p.number}`) ?? 0) < 1);
      const behind = number < o.pullRequests && number < ((Date.now() - startedAt) / (o.minutes * 60_000 * 0.85)) * o.pullRequests + 1;
      const e = rng.weighted({ open: behind && open.length < o.maxOpen ? 4 : 0, push: open.length ? 2 : 0, close: open.length ? (open.length >= o.maxOpen ? 4 : 1.5) : 0, reopen: closed.length ? 0.8 : 0, idle: 0.5 });
      count(e);
      if (e === 'open') {
        gh.event(rng.pick(repoNames), ++number, 'opened');
        s.pullRequestsOpened++;
      } else if (e === 'push') {
        const p = rng.pick(open);
        gh.event(p.repo, p.number, 'synchronize');
      } else if (e === 'close') {
        const p = rng.pick(open);
        gh.event(p.repo, p.number, 'closed');
      } else if (e === 'reopen') {
        const p = rng.pick(closed);
        reopens.set(`${p.repo}#${p.number}`, (reopens.get(`${p.repo}#${p.number}`) ?? 0) + 1);
        gh.event(p.repo, p.number, 'reopened');
      }
    }
    await check('end of the run');
    for (const p of gh.prs.values()) if (p.open) gh.event(p.repo, p.number, 'closed');
    await check('every pull request closed');
    const r = await findLeaks({ ctl, dataDir: bed.dataDir, dockerHost: bed.engine.dockerHost, enginePid: await bed.enginePid() });
    if (r.counts.containers || r.counts.clones || r.counts.ports) s.leaks.push(`with every pull request closed: ${JSON.stringify(r.counts)}`);
    clearInterval(sampler);
    sampler = null;
    s.rssVerdict = rssVerdict(s.rss);
    await ctl.stop();
    s.leaks.push(...(await lockLeaks(bed.dataDir)));
    s.findings.push(...gh.refusals);
  } catch (e) {
    s.findings.push((e as Error).message, `controller log: ${bed.logFile}`);
  } finally {
    if (sampler) clearInterval(sampler);
    s.durationMs = Date.now() - t0;
    await writeFile(join(o.workDir, `${o.name}-summary.json`), JSON.stringify(s, null, 2));
    if (!s.findings.length && !s.leaks.length) await bed.close();
    else {
      // The controller goes (it holds the pool); the engine and pool stay for a look.
      await bed.slot.get()?.kill9();
      o.say(`soak: left the private engine ${o.name} up for a look; remove it with scripts/private-docker.sh down ${o.name}`);
    }
  }
  return s;

  async function check(what: string) {
    const ctl = bed.slot.get()!;
    while (gh.pending()) await gh.flush({ duplicateChance: 0.1, concurrency: 3 });
    const ms = await waitConverged(ctl, gh.wanted, 300_000).catch((e) => {
      throw new Error(`${what} (check ${s.checks + 1}, seed ${o.seed}): ${(e as Error).message}`);
    });
    s.convergeMs.push(ms);
    const r = await findLeaks({ ctl, dataDir: bed.dataDir, dockerHost: bed.engine.dockerHost, enginePid: await bed.enginePid() });
    s.checks++;
    s.peakInstances = Math.max(s.peakInstances, r.counts.instances);
    const rss = await ctl.rss();
    o.say(`soak: check ${s.checks} (${what}): ${gh.wanted().filter((w) => w.present).length} wanted, ${r.counts.instances} instances, ${gh.stats.acknowledged} deliveries, converged in ${(ms / 1000).toFixed(1)} s, RSS ${rss ? (rss / MiB).toFixed(0) : '?'} MiB, leaks ${r.leaks.length}`);
    if (r.leaks.length) throw new Error(`leaks at check ${s.checks} (seed ${o.seed}):\n  ${r.leaks.join('\n  ')}`);
  }
}

/** Flat: the median of the last third of the samples is within 15% (and 40 MiB) of the middle third's. */
export function rssVerdict(rss: Array<[number, number]>): string {
  if (rss.length < 9) return `too few samples (${rss.length})`;
  const third = Math.floor(rss.length / 3);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const mid = median(rss.slice(third, 2 * third).map(([, m]) => m));
  const last = median(rss.slice(2 * third).map(([, m]) => m));
  const growth = last - mid;
  const flat = growth <= Math.max(40, mid * 0.15);
  return `${flat ? 'flat' : 'GROWING'}: median ${mid} MiB in the middle third, ${last} MiB in the last (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB); max ${Math.max(...rss.map(([, m]) => m))} MiB`;
}
