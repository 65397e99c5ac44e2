// The importer over fakes: the order of an import's steps, what a success publishes, what a failure
// leaves (nothing, and latest unchanged), and one import per template at a time.
import { describe, expect, it } from 'vitest';
import type { Dump } from '../../controller/domain/dumps.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';
import { gate } from '../helpers/fakes/world.js';

const dump = (template: string, over: Partial<Dump> = {}): Dump => ({
  template, engine: 'postgres', format: 'sql', file: `${template}.sql`, afterFile: null, sizeBytes: 100, fingerprint: '100:1', ...over,
});

/** exec answers of an import server whose dump created and switched to its own database `own`. */
function server(own: string | null, fail: Record<string, string> = {}) {
  const seen: string[][] = [];
  return {
    seen,
    exec: async (argv: string[]) => {
      seen.push(argv);
      if (fail[argv[0]]) return { exitCode: 1, stderr: fail[argv[0]] };
      if (argv[0] === 'list-databases') return { exitCode: 0, stdout: own ? `${own}\nload_shop\n` : 'load_shop\n' };
      if (argv[0] === 'count-tables') return { exitCode: 0, stdout: argv[1] === own || (!own && argv[1] === 'load_shop') ? '7' : '0' };
      return { exitCode: 0, stdout: '' };
    },
  };
}

describe('importer', () => {
  it('loads, picks the database, seals, and publishes the version as latest, retiring the previous one', async () => {
    const core = buildCore();
    const old = await core.addVersion('shop');
    core.world.dumps.put(dump('shop', { afterFile: 'shop.after.sql' }));
    const s = server(null);
    core.world.faults.exec = s.exec;
    const phases: string[] = [];
    core.importer.onProgress((_v, p) => phases.push(p));
    const finished: string[] = [];
    core.importer.onFinished((t) => finished.push(t));
    const { version, done } = await core.importer.start('shop');
    expect(version.status).toBe('importing');
    const v = await done;
    expect(v).toMatchObject({ status: 'ready', database: 'shop', sizeBytes: 1234, dumpFingerprint: '100:1' });
    expect(phases).toEqual([
      'preparing datadir', 'initialising datadir', 'starting import server', 'loading shop.sql', 'running shop.after.sql', 'shutting down cleanly', 'sealing', 'ready',
    ]);
    expect(s.seen.map((a) => a[0])).toEqual(['ping', 'createdb', 'load', 'list-databases', 'count-tables', 'rename', 'load']);
    expect(s.seen.find((a) => a[0] === 'rename')).toEqual(['rename', 'load_shop', 'shop']);
    expect(core.world.volumes.get(`${DATA}/templates/shop/${v.id}`)).toMatchObject({ sealed: true, password: v.adminPassword });
    expect((await core.store.getVersion(old.id))?.status).toBe('retired');
    expect((await core.store.latestReady('shop'))?.id).toBe(v.id);
    expect(core.world.containers.size).toBe(0);
    expect([...core.world.files.written.keys()].filter((k) => k.includes('/staging/'))).toEqual([]);
    expect(finished).toEqual(['shop']);
  });

  it('follows a dump that created its own database and drops the empty load database', async () => {
    const core = buildCore();
    core.world.dumps.put(dump('shop'));
    const s = server('Shop');
    core.world.faults.exec = s.exec;
    const v = await (await core.importer.start('shop')).done;
    expect(v.database).toBe('Shop');
    expect(s.seen.find((a) => a[0] === 'dropdb')).toEqual(['dropdb', 'load_shop']);
  });

  it('a failed load is recorded with the tool’s words; nothing is left and latest stays as it was', async () => {
    const core = buildCore();
    const old = await core.addVersion('shop');
    core.world.dumps.put(dump('shop'));
    core.world.faults.exec = server(null, { load: 'psql:/dumps/shop.sql:12: ERROR:  relation "x" does not exist' }).exec;
    const v = await (await core.importer.start('shop')).done;
    expect(v.status).toBe('failed');
    expect(v.error).toBe('loading shop.sql failed: psql:/dumps/shop.sql:12: ERROR:  relation "x" does not exist');
    expect((await core.store.getVersion(v.id))).toMatchObject({ status: 'failed', phase: null });
    expect((await core.store.latestReady('shop'))?.id).toBe(old.id);
    expect(core.world.volumes.has(`${DATA}/templates/shop/${v.id}`)).toBe(false);
    expect(core.world.containers.size).toBe(0);
  });

  it('a full pool is reported as such, with what to do', async () => {
    const core = buildCore();
    core.world.dumps.put(dump('shop'));
    core.world.faults.exec = server(null, { load: 'could not extend file: No space left on device' }).exec;
    const v = await (await core.importer.start('shop')).done;
    expect(v.error).toMatch(/the storage pool is full .*free space or grow the pool/);
  });

  it('runs one import per template: a second start returns the running one', async () => {
    const core = buildCore();
    core.world.dumps.put(dump('shop'));
    const held = gate();
    const s = server(null);
    core.world.faults.exec = async (argv) => {
      if (argv[0] === 'load') await held.wait();
      return s.exec(argv);
    };
    const a = await core.importer.start('shop');
    const b = await core.importer.start('shop');
    expect(b.version.id).toBe(a.version.id);
    expect(core.importer.isRunning(a.version.id)).toBe(true);
    held.open();
    await a.done;
    expect(core.importer.runningTemplates()).toEqual([]);
    expect((await core.store.listVersions({ template: 'shop' })).length).toBe(1);
  });

  it('once a version is latest, a new import starts while its schema-only variant is still being cut', async () => {
    const core = buildCore({ schemaVariants: true });
    core.world.dumps.put(dump('shop'));
    const cutting = gate();
    const variantHeld = gate();
    const s = server(null);
    core.world.faults.exec = async (argv) => {
      if (argv[0] === 'empty-tables') {
        cutting.open();
        await variantHeld.wait();
      }
      return s.exec(argv);
    };
    const first = await core.importer.start('shop');
    await cutting.wait();
    expect((await core.store.getVersion(first.version.id))?.status).toBe('ready');
    // Before the fix this returned the first (finished) import: a changed dump was never loaded.
    const second = await core.importer.start('shop');
    expect(second.version.id).not.toBe(first.version.id);
    expect(core.importer.runningTemplates()).toEqual(['shop']);
    variantHeld.open();
    await Promise.all([first.done, second.done]);
    const variants = await core.store.listVersions({ template: 'shop.schema' });
    expect(variants.filter((v) => v.status === 'ready')).toHaveLength(1);
    expect((await core.store.latestReady('shop'))?.id).toBe(second.version.id);
  });

  it('refuses a template without a dump before recording anything', async () => {
    const core = buildCore();
    await expect(core.importer.start('none')).rejects.toThrow('no dump for template "none"');
    expect(await core.store.listVersions()).toEqual([]);
  });
});
