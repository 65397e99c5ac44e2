// `npm run chaos [-- --seed N --kills 60 --docker-restarts 6 --minutes 40 --no-mariadb]`: the chaos
// campaign on a private Docker engine and pool (scripts/private-docker.sh); prints its seed first so
// any failure replays with --seed, and a summary at the end. Exit code 1 on any finding or leak.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runChaos } from './chaos-run.js';
import { printSummary } from './lib/report.js';
import { newSeed } from './lib/rng.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    kills: { type: 'string', default: '60' },
    'docker-restarts': { type: 'string', default: '6' },
    minutes: { type: 'string', default: '45' },
    name: { type: 'string', default: 'chaos' },
    ports: { type: 'string', default: '21000-21499' },
    'no-mariadb': { type: 'boolean', default: false },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : newSeed();
console.log(`chaos: seed ${seed} (replay: npm run chaos -- --seed ${seed})`);
const summary = await runChaos({
  seed,
  kills: Number(values.kills),
  dockerRestarts: Number(values['docker-restarts']),
  maxMinutes: Number(values.minutes),
  name: values.name!,
  ports: values.ports!,
  workDir: fileURLToPath(new URL('../work/', import.meta.url)),
  mariadb: !values['no-mariadb'],
  convergeTimeoutMs: 240_000,
  say: (l) => console.log(l),
});
printSummary('chaos', summary, (l) => console.log(l));
process.exit(summary.findings.length || summary.leaks.length ? 1 : 0);
