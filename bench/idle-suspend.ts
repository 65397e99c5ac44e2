// `npx tsx bench/idle-suspend.ts [rounds] [instances]`: what MYAAS_IDLE_SUSPEND costs and saves, now
// the "wake" series of `npm run bench` (bench/lib/wake.ts): wake-to-first-query per engine beside the
// direct path on a running instance, and memory of `instances` mostly-suspended instances against all
// running. This runs only that series, on the btrfs pool and the smallest data set of each engine, and
// writes bench/results/wake/ (results.json, results.md, wake.svg).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const rounds = process.argv[2] ?? '10';
const instances = process.argv[3] ?? '20';
const here = dirname(fileURLToPath(import.meta.url));
const args = [
  join(here, 'run.ts'), '--series', 'wake', '--sizes', 'pg-s10,my-s1', '--drivers', 'btrfs', '--no-alternatives',
  '--wake-rounds', rounds, '--wake-instances', instances, '--out', join(here, 'results', 'wake'),
];
// The same Node with the same loader (tsx) this script runs under.
const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
