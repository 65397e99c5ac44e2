#!/usr/bin/env node
// The committed entry of the `myaas` command. package.json's `bin` points here rather than at the
// compiled CLI because npm links a bin only if its file exists when the package is linked: an
// `npx myaas` run before `npm run build` would otherwise cache a link-less copy and fail with
// "myaas: not found" for good. This file always exists, so it can say what is missing instead.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const cli = fileURLToPath(new URL('../build/controller/cli.js', import.meta.url));

if (!existsSync(cli)) {
  const deps = existsSync(new URL('../node_modules', import.meta.url));
  const steps = deps ? 'npm run build' : 'npm ci && npm run build';
  process.stderr.write(
    `myaas: the command is not built yet (${cli} is missing).\n` +
      `Run \`${steps}\` in ${root} first, then run myaas again.\n`,
  );
  process.exit(1);
}

await import(pathToFileURL(cli).href);
