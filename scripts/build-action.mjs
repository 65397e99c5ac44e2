#!/usr/bin/env node
// Bundles the Action (action/index.ts, action/post.ts) into dist/action/, which is committed because
// a runner executes `uses:` actions straight from the repository, without npm install.
//
//   node scripts/build-action.mjs           write dist/action/
//   node scripts/build-action.mjs --check   rebuild in memory and fail if dist/action/ differs (stale)
//
// ESM output: @actions/core and @actions/github are ESM-only, and ESM runs the same on Node 20 (our
// machines) and Node 24 (GitHub's runners). Their CommonJS dependencies call require() for Node
// built-ins, which ESM lacks, so every output file starts with a require made by createRequire.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'action');

// Pins the module type of the bundle, whatever package.json sits above it in a checkout.
const extraFiles = { 'package.json': '{\n  "type": "module"\n}\n' };

async function bundle() {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { index: 'action/index.ts', post: 'action/post.ts' },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // index and post share @actions/core; one chunk keeps the committed bundle half the size.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: {
      js: "import { createRequire as __myaasCreateRequire } from 'node:module';\nconst require = __myaasCreateRequire(import.meta.url);",
    },
    write: false,
    logLevel: 'warning',
  });
  const files = new Map(Object.entries(extraFiles));
  for (const f of result.outputFiles) files.set(relative(outdir, f.path).split('\\').join('/'), f.text);
  return files;
}

async function listFiles(dir, prefix = '') {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const out = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}

async function write(files) {
  await rm(outdir, { recursive: true, force: true });
  for (const [name, text] of files) {
    const path = join(outdir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  console.log(`wrote ${[...files.keys()].map((f) => `dist/action/${f}`).join(', ')}`);
}

async function check(files) {
  const problems = [];
  for (const [name, text] of files) {
    let current = null;
    try {
      current = await readFile(join(outdir, name), 'utf8');
    } catch {
      problems.push(`missing dist/action/${name}`);
      continue;
    }
    if (current !== text) problems.push(`dist/action/${name} differs from a fresh build`);
  }
  for (const name of await listFiles(outdir)) {
    if (!files.has(name)) problems.push(`dist/action/${name} is not produced by the build any more`);
  }
  if (problems.length) {
    console.error(`dist/action is stale:\n  ${problems.join('\n  ')}\nRun \`npm run build:action\` and commit dist/.`);
    process.exit(1);
  }
  console.log('dist/action is up to date');
}

const files = await bundle();
if (process.argv.includes('--check')) await check(files);
else await write(files);
