// The import floors of docs/architecture.md, enforced by dependency-cruiser in `npm test`
// (`npm run lint:imports`). Lowest first: a module may import its own floor and the floors below.
//   0 leaves   controller/domain/, contract.ts, config.ts, log.ts
//   1 lib      controller/lib/ (generic helpers: retry, clock, queues, events)
//   2 adapters controller/{engines,storage,runtime,db,host}/ (one side effect each); volume/ (the volume plugin) over storage
//   3 core     controller/app/ (services, ports.ts) and controller/jobs/ (reconciler, importer, …)
//   4 edges    controller/github/, controller/http/
//   5 roots    controller/main.ts, controller/cli.ts (the only ones that build real clients)
const ADAPTERS = '^controller/(engines|storage|runtime|db|host)/';
const OURS = '^controller/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Folders and files must not import each other in a loop.',
      severity: 'error',
      from: { path: OURS },
      to: { circular: true },
    },
    {
      name: 'leaves-import-nothing',
      comment: 'contract.ts, config.ts and log.ts import nothing of ours.',
      severity: 'error',
      from: { path: '^controller/(contract|config|log)\\.ts$' },
      to: { path: OURS },
    },
    {
      name: 'domain-imports-only-domain',
      comment: 'domain/ is pure words and rules: it imports nothing of ours outside domain/.',
      severity: 'error',
      from: { path: '^controller/domain/' },
      to: { path: OURS, pathNot: '^controller/domain/' },
    },
    {
      name: 'lib-imports-only-domain',
      severity: 'error',
      from: { path: '^controller/lib/' },
      to: { path: OURS, pathNot: '^controller/(domain|lib)/' },
    },
    {
      name: 'adapters-import-only-domain-and-lib',
      comment: 'engines/, storage/, runtime/, db/, host/ import only domain/, lib/ and their own folder.',
      severity: 'error',
      from: { path: `${ADAPTERS}` },
      to: { path: OURS, pathNot: ['^controller/(domain|lib)/', '^controller/$1/'] },
    },
    {
      name: 'volume-plugin-over-storage',
      comment: 'volume/ (a node\'s Docker volume driver, `myaas volume-plugin`) serves storage/ volumes; it knows nothing of the core.',
      severity: 'error',
      from: { path: '^controller/volume/' },
      to: { path: OURS, pathNot: ['^controller/(domain|lib|volume)/', '^controller/storage/storage\\.ts$'] },
    },
    {
      name: 'core-uses-adapters-through-ports',
      comment: 'app/ and jobs/ reach adapters only through the interfaces of app/ports.ts.',
      severity: 'error',
      from: { path: '^controller/(app|jobs)/', pathNot: '^controller/app/ports\\.ts$' },
      to: { path: ADAPTERS },
    },
    {
      name: 'ports-name-adapter-types-only',
      comment: 'app/ports.ts names the adapters\' interfaces; it never loads their code.',
      severity: 'error',
      from: { path: '^controller/app/ports\\.ts$' },
      to: { path: ADAPTERS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'core-stays-below-the-edges',
      comment: 'app/ and jobs/ know nothing of HTTP, GitHub, configuration, the contract or the roots.',
      severity: 'error',
      from: { path: '^controller/(app|jobs)/' },
      to: { path: '^controller/(http|github)/|^controller/(contract|config|log|main|cli|cli-client)\\.ts$' },
    },
    {
      name: 'jobs-use-services-through-ports',
      severity: 'error',
      from: { path: '^controller/jobs/' },
      to: { path: '^controller/app/', pathNot: '^controller/app/ports\\.ts$' },
    },
    {
      name: 'services-use-jobs-through-ports',
      severity: 'error',
      from: { path: '^controller/app/' },
      to: { path: '^controller/jobs/' },
    },
    {
      name: 'edges-use-the-core-through-ports',
      comment: 'github/ and http/ use the services through app/ports.ts, never jobs/ or adapters.',
      severity: 'error',
      from: { path: '^controller/(github|http)/' },
      to: { path: [`${ADAPTERS}`, '^controller/jobs/', '^controller/app/(?!ports\\.ts$)', '^controller/(main|cli|cli-client)\\.ts$'] },
    },
    {
      name: 'github-below-http',
      severity: 'error',
      from: { path: '^controller/github/' },
      to: { path: '^controller/http/|^controller/contract\\.ts$' },
    },
    {
      name: 'action-imports-only-contract-types',
      comment: 'The Action is bundled on its own: it takes only types from controller/contract.ts.',
      severity: 'error',
      from: { path: '^action/' },
      to: { path: OURS, pathNot: '^controller/contract\\.ts$' },
    },
    {
      name: 'action-contract-types-only',
      severity: 'error',
      from: { path: '^action/' },
      to: { path: '^controller/contract\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'cli-client-imports-only-contract',
      severity: 'error',
      from: { path: '^controller/cli-client\\.ts$' },
      to: { path: OURS, pathNot: '^controller/contract\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
