// The import floors are enforced by dependency-cruiser (`npm run lint:imports`, part of `npm test`).
// This proves the rules bite: a small tree that breaks each of them must be reported, rule by rule,
// and the real tree must pass.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const config = require('../../.dependency-cruiser.cjs');
const rules = { forbidden: config.forbidden };
const options = { ...config.options, tsConfig: undefined, ruleSet: rules, validate: true };

/** Files of a tree that breaks one rule each: the file → what it imports. */
const BAD: Record<string, { imports: string[]; rule: string }> = {
  'controller/config.ts': { imports: ['./domain/types'], rule: 'leaves-import-nothing' },
  'controller/domain/types.ts': { imports: ['../lib/clock'], rule: 'domain-imports-only-domain' },
  'controller/lib/clock.ts': { imports: ['../storage/storage'], rule: 'lib-imports-only-domain' },
  'controller/storage/storage.ts': { imports: ['../runtime/runtime'], rule: 'adapters-import-only-domain-and-lib' },
  'controller/runtime/runtime.ts': { imports: [], rule: '' },
  'controller/jobs/reconciler.ts': { imports: ['../runtime/runtime', '../app/instances'], rule: 'core-uses-adapters-through-ports' },
  'controller/app/instances.ts': { imports: ['../jobs/importer', '../http/api'], rule: 'services-use-jobs-through-ports' },
  'controller/jobs/importer.ts': { imports: [], rule: '' },
  'controller/app/ports.ts': { imports: ['../db/queries'], rule: 'ports-name-adapter-types-only' },
  'controller/db/queries.ts': { imports: [], rule: '' },
  'controller/http/api.ts': { imports: ['../runtime/runtime', '../github/oidc'], rule: 'edges-use-the-core-through-ports' },
  'controller/github/oidc.ts': { imports: ['../http/present'], rule: 'github-below-http' },
  'controller/http/present.ts': { imports: ['../github/oidc'], rule: 'no-circular' },
  'action/index.ts': { imports: ['../controller/http/api'], rule: 'action-imports-only-contract-types' },
};

let root: string;
let result: ICruiseResult;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'myaas-floors-'));
  for (const [file, { imports }] of Object.entries(BAD)) {
    await mkdir(join(root, dirname(file)), { recursive: true });
    await writeFile(join(root, file), `${imports.map((m, i) => `import * as m${i} from '${m}';\nvoid m${i};`).join('\n')}\nexport const x = 1;\n`);
  }
  const cwd = process.cwd();
  process.chdir(root);
  try {
    result = (await cruise(['controller', 'action'], options)).output as ICruiseResult;
  } finally {
    process.chdir(cwd);
  }
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('import floors', () => {
  // reconciler → app/instances and app/instances → http/api break these two as well
  const also = ['jobs-use-services-through-ports', 'core-stays-below-the-edges'];
  const wanted = [...new Set([...Object.values(BAD).map((b) => b.rule).filter(Boolean), ...also])];
  it.each(wanted)('rule %s reports its violation', (rule) => {
    const hits = result.summary.violations.filter((v) => v.rule.name === rule);
    expect(hits.length, JSON.stringify(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`))).toBeGreaterThan(0);
  });

  it('the controller as it is keeps every rule', async () => {
    const real = (await cruise(['controller', 'action'], { ...config.options, ruleSet: rules, validate: true })).output as ICruiseResult;
    expect(real.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
    expect(real.summary.totalCruised).toBeGreaterThan(50);
  });
});
