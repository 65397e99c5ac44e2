// `npm run soak [-- --seed N --minutes 12 --pull-requests 200 --repos 5 --max-open 30]`: the soak on a
// private Docker engine and pool; prints its seed first, the controller's memory series and a summary.
// Exit code 1 on any finding, leak or growing memory.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { printSummary } from './lib/report.js';
import { newSeed } from './lib/rng.js';
import { runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    minutes: { type: 'string', default: '12' },
    'pull-requests': { type: 'string', default: '200' },
    repos: { type: 'string', default: '5' },
    'max-open': { type: 'string', default: '30' },
    'check-every': { type: 'string', default: '60' },
    name: { type: 'string', default: 'soak' },
    ports: { type: 'string', default: '21500-21999' },
    'no-mariadb': { type: 'boolean', default: false },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : newSeed();
console.log(`soak: seed ${seed} (replay: npm run soak -- --seed ${seed})`);
const summary = await runSoak({
  seed,
  minutes: Number(values.minutes),
  pullRequests: Number(values['pull-requests']),
  repos: Number(values.repos),
  maxOpen: Number(values['max-open']),
  checkEverySeconds: Number(values['check-every']),
  name: values.name!,
  ports: values.ports!,
  workDir: fileURLToPath(new URL('../work/', import.meta.url)),
  mariadb: !values['no-mariadb'],
  say: (l) => console.log(l),
});
const { rss, ...rest } = summary;
printSummary('soak', rest, (l) => console.log(l));
console.log(`soak: controller RSS (s:MiB) ${rss.map(([t, m]) => `${t}:${m}`).join(' ')}`);
process.exit(summary.findings.length || summary.leaks.length || !summary.rssVerdict.startsWith('flat') ? 1 : 0);
