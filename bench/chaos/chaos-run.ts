// The chaos campaign: rounds of API calls and GitHub deliveries (duplicated, out of order) fired at a
// controller that is then killed with SIGKILL at a random moment (or its Docker engine restarted, or
// both), started again, and required to converge: every wanted instance ready and answering, every
// other one destroyed, nothing leaked. Seeded: the same seed replays the same schedule.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiActors } from './lib/actors.js';
import { importAll, openBed, type Bed } from './lib/bed.js';
import { findLeaks, lockHolderIs, lockLeaks, query, waitConverged, type Want } from './lib/checks.js';
import { WEBHOOK_SECRET, type ControllerProc } from './lib/controller.js';
import { createGitHub } from './lib/github.js';
import { createRng } from './lib/rng.js';

export interface ChaosOptions {
  seed: number;
  /** controller kills to reach (start-up kills included) */
  kills: number;
  /** Docker engine restarts on top of the kills */
  dockerRestarts: number;
  /** the run stops after this long even if fewer kills were made */
  maxMinutes: number;
  /** name of the private Docker engine and pool */
  name: string;
  /** MYAAS_PORT_RANGE of its controller */
  ports: string;
  workDir: string;
  /** also run MariaDB instances (slower to start) */
  mariadb: boolean;
  /** how long one convergence may take before the run is failed */
  convergeTimeoutMs: number;
  say(line: string): void;
}

export interface ChaosSummary {
  seed: number;
  rounds: number;
  kills: number;
  startupKills: number;
  dockerRestarts: number;
  operations: Record<string, number>;
  deliveries: ReturnType<typeof createGitHub>['stats'];
  /** from the controller's start to converged, after each kill */
  recoveryMs: number[];
  /** of which: from its start until it answers (start-up sweep done, listening) */
  startMs: number[];
  /** from the engine answering again to converged, after each Docker restart */
  dockerRecoveryMs: number[];
  leaks: string[];
  findings: string[];
  finalChecks: string[];
  durationMs: number;
}

const REPOS: Record<string, string[]> = { 'chaos/app': ['chinook'], 'chaos/api': ['chinook', 'chinook-my'] };
const API_NAMES = ['ana', 'ben', 'cai', 'dee', 'eli', 'fay'];

export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const t0 = Date.now();
  const rng = createRng(o.seed);
  const repos: Record<string, string[]> = o.mariadb ? REPOS : { 'chaos/app': ['chinook'], 'chaos/api': ['chinook'] };
  const env = {
    MYAAS_GITHUB_REPOS: Object.entries(repos).map(([r, ts]) => `${r}=${ts.join('+')}`).join(','),
    // The periodic sweep is part of what heals; short, so a run sees many.
    MYAAS_RECONCILE_INTERVAL: '20s',
    MYAAS_MAX_INSTANCES: '100',
    MYAAS_MAX_INSTANCES_PER_REPO: '25',
  };
  const s: ChaosSummary = {
    seed: o.seed, rounds: 0, kills: 0, startupKills: 0, dockerRestarts: 0, operations: {}, deliveries: null as never,
    recoveryMs: [], startMs: [], dockerRecoveryMs: [], leaks: [], findings: [], finalChecks: [], durationMs: 0,
  };
  const count = (op: string) => (s.operations[op] = (s.operations[op] ?? 0) + 1);
  const bed: Bed = await openBed({ name: o.name, workDir: o.workDir, env, ports: o.ports });
  const gh = createGitHub({ url: () => bed.slot.get()!.url, secret: WEBHOOK_SECRET, repos, rng });
  s.deliveries = gh.stats;
  const api = createApiActors(bed.slot, (f) => s.findings.push(f));
  const templates = o.mariadb ? ['chinook', 'chinook-my'] : ['chinook'];
  const extraTemplates: string[] = [];
  const apiTemplate = new Map(API_NAMES.map((n, i) => [n, templates[i % templates.length]]));
  const wants = (): Want[] => [...api.wanted(), ...gh.wanted()];
  let ctl: ControllerProc = await bed.start();
  try {
    await importAll(ctl, templates);
    o.say(`chaos: seed ${o.seed}; templates ${templates.join(', ')} imported; ${o.kills} kills and ${o.dockerRestarts} Docker restarts to go`);
    const restartEvery = o.dockerRestarts > 0 ? Math.max(1, Math.floor(o.kills / (o.dockerRestarts + 1))) : Infinity;
    let nextPr = 1;

    const operate = () => {
      const n = rng.int(1, 6);
      for (let k = 0; k < n; k++) {
        const open = [...gh.prs.values()].filter((p) => p.open);
        const closed = [...gh.prs.values()].filter((p) => !p.open);
        const op = rng.weighted({ create: 3, destroy: 2, reset: 1.5, prOpen: 3, prClose: 2, prReopen: 1, prPush: 1.5, import: 0.4, newTemplate: 0.15 });
        count(op);
        if (op === 'create') {
          const name = rng.pick(API_NAMES);
          api.create(name, apiTemplate.get(name)!);
        } else if (op === 'destroy') api.destroy(rng.pick(API_NAMES));
        else if (op === 'reset') api.reset(rng.pick(API_NAMES));
        else if (op === 'prOpen' && open.length < 8) gh.event(rng.pick(Object.keys(repos)), nextPr++, 'opened');
        else if (op === 'prClose' && open.length) {
          const p = rng.pick(open);
          gh.event(p.repo, p.number, 'closed');
        } else if (op === 'prReopen' && closed.length) {
          const p = rng.pick(closed);
          gh.event(p.repo, p.number, 'reopened');
        } else if (op === 'prPush' && open.length) {
          const p = rng.pick(open);
          gh.event(p.repo, p.number, 'synchronize');
        } else if (op === 'import') void ctl.api('POST', `/api/v1/templates/${rng.pick(templates)}/import`).catch(() => undefined);
        else if (op === 'newTemplate' && extraTemplates.length < 2) {
          // A dump used for the first time: its import starts with the instance that asks for it.
          const t = `chinook-x${extraTemplates.length + 1}`;
          extraTemplates.push(t);
          void addDump(bed, t).then(() => api.create(`x${extraTemplates.length}`, t));
        }
      }
      void gh.flush({ duplicateChance: 0.3, concurrency: rng.int(1, 4) });
    };

    const converge = async (what: string): Promise<number> => {
      await api.idle();
      while (gh.pending()) await gh.flush({ duplicateChance: 0.2, concurrency: 2 });
      return waitConverged(ctl, wants, o.convergeTimeoutMs).catch((e) => {
        throw new Error(`after ${what} (round ${s.rounds}, seed ${o.seed}): ${(e as Error).message}`);
      });
    };

    while (s.kills < o.kills && Date.now() - t0 < o.maxMinutes * 60_000) {
      s.rounds++;
      operate();
      await sleep(rng.int(0, 3500));
      const dockerDue = s.dockerRestarts < o.dockerRestarts && s.kills >= (s.dockerRestarts + 1) * restartEvery;
      if (dockerDue && rng.chance(0.6)) {
        // The engine restarts under a running controller: it must notice and bring every instance back.
        s.dockerRestarts++;
        await bed.engine.restart();
        const ms = await converge('a Docker restart');
        s.dockerRecoveryMs.push(ms);
        o.say(`chaos: round ${s.rounds}: Docker restarted under the controller; converged ${(ms / 1000).toFixed(1)} s after the engine was back`);
      }
      await ctl.kill9();
      s.kills++;
      bed.slot.set(null);
      if (dockerDue && s.dockerRestarts < o.dockerRestarts) {
        // …or while the controller is down (it finds every server stopped when it starts).
        s.dockerRestarts++;
        await bed.engine.restart();
        o.say(`chaos: round ${s.rounds}: Docker restarted while the controller was down`);
      }
      if (rng.chance(0.15) && s.kills < o.kills) {
        // Killed again during its start-up sweep.
        const early = bed.spawn();
        await sleep(rng.int(300, 4000));
        await early.kill9();
        s.kills++;
        s.startupKills++;
      }
      const started = Date.now();
      ctl = await bed.start();
      s.startMs.push(Date.now() - started);
      const holder = await lockHolderIs(bed.dataDir, ctl.pid);
      if (holder) s.findings.push(`round ${s.rounds}: ${holder}`);
      await converge(`kill ${s.kills}`);
      s.recoveryMs.push(Date.now() - started);
      if (s.rounds % 5 === 0 || s.kills >= o.kills) {
        const r = await findLeaks({ ctl, dataDir: bed.dataDir, dockerHost: bed.engine.dockerHost, enginePid: await bed.enginePid() });
        for (const l of r.leaks) s.leaks.push(`round ${s.rounds}: ${l}`);
        o.say(`chaos: round ${s.rounds}: ${s.kills} kills, ${r.counts.instances} instances, ${gh.stats.acknowledged} deliveries, recovered in ${((Date.now() - started) / 1000).toFixed(1)} s, leaks ${r.leaks.length}`);
        if (r.leaks.length) throw new Error(`leaks after round ${s.rounds} (seed ${o.seed}):\n  ${r.leaks.join('\n  ')}`);
      }
    }
    await finalChecks(o, ctl, [...templates, ...extraTemplates], s);
    // Then everything goes: every pull request closed, every API instance destroyed; nothing may remain.
    for (const p of gh.prs.values()) if (p.open) gh.event(p.repo, p.number, 'closed');
    for (const n of api.intents.keys()) api.destroy(n);
    await converge('closing everything');
    const r = await findLeaks({ ctl, dataDir: bed.dataDir, dockerHost: bed.engine.dockerHost, enginePid: await bed.enginePid() });
    s.leaks.push(...r.leaks.map((l) => `at the end: ${l}`));
    if (r.counts.containers || r.counts.clones || r.counts.ports) s.leaks.push(`at the end: ${JSON.stringify(r.counts)} remain with nothing wanted`);
    await ctl.stop();
    s.leaks.push(...(await lockLeaks(bed.dataDir)));
    s.findings.push(...gh.refusals);
  } catch (e) {
    s.findings.push((e as Error).message);
    s.findings.push(`controller log: ${bed.logFile}`);
  } finally {
    s.durationMs = Date.now() - t0;
    await writeFile(join(o.workDir, `${o.name}-summary.json`), JSON.stringify(s, null, 2));
    if (!s.findings.length && !s.leaks.length) await bed.close();
    else {
      // The controller goes (it holds the pool); the engine and pool stay for a look.
      await bed.slot.get()?.kill9();
      o.say(`chaos: left the private engine ${o.name} up for a look; remove it with scripts/private-docker.sh down ${o.name}`);
    }
  }
  return s;
}

/** Latest of every template loads (a fresh instance of it) and answers a query. */
async function finalChecks(o: ChaosOptions, ctl: ControllerProc, templates: string[], s: ChaosSummary) {
  for (const t of templates) {
    const r = await ctl.api('POST', '/api/v1/instances?wait=180', { template: t, name: `final-${t}` });
    if (r.body?.status !== 'ready') {
      s.findings.push(`latest of ${t} did not load: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      continue;
    }
    const sql = t === 'chinook-my' ? 'select count(*) from Artist' : 'select count(*) from artist';
    const n = await query(r.body.connection.url, sql).catch((e) => `error ${(e as Error).message}`);
    s.finalChecks.push(`${t} (${r.body.templateVersion}): ${n} artists`);
    if (n !== '275') s.findings.push(`latest of ${t} answered ${n}, want 275 artists`);
    await ctl.api('DELETE', `/api/v1/instances/${r.body.id}?wait=60`);
  }
  o.say(`chaos: final: ${s.finalChecks.join('; ')}`);
}

async function addDump(bed: Bed, template: string): Promise<void> {
  await mkdir(join(bed.dumpsDir, 'postgres'), { recursive: true });
  await writeFile(join(bed.dumpsDir, 'postgres', `${template}.sql`), await readFile(join(bed.dumpsDir, 'postgres', 'chinook.sql')));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
