// The Store in memory, with the state DB's unique rules (one live instance per owner and template,
// per name, per port), so the core's races can be tested without a database.
import type { InstancePatch, Store, VersionPatch } from '../../../controller/app/ports.js';
import { UniqueViolation } from '../../../controller/domain/errors.js';
import type { PullRequestRecord, RepositoryRecord } from '../../../controller/domain/github.js';
import type { InstanceRecord, TemplateVersion } from '../../../controller/domain/types.js';

export interface MemoryStore extends Store {
  instances: Map<string, InstanceRecord>;
  versions: Map<string, TemplateVersion>;
  /** every instance write, in order: [id, patch] */
  writes: Array<[string, InstancePatch]>;
}

const copy = <T>(x: T): T => structuredClone(x);
const live = (i: InstanceRecord) => i.status !== 'destroyed';

export function createMemoryStore(): MemoryStore {
  const instances = new Map<string, InstanceRecord>();
  const versions = new Map<string, TemplateVersion>();
  const deliveries = new Set<string>();
  const pulls = new Map<string, PullRequestRecord>();
  const repos = new Map<string, RepositoryRecord>();
  const writes: Array<[string, InstancePatch]> = [];
  const tick = () => Promise.resolve(); // every call yields, as a real round trip does

  function checkUnique(rec: InstanceRecord, except: string | null): void {
    for (const o of instances.values()) {
      if (o.id === except || !live(o) || !live(rec)) continue;
      if (o.name === rec.name) throw new UniqueViolation('instances_name_live');
      if (rec.port !== null && o.port === rec.port) throw new UniqueViolation('instances_port_live');
    }
  }

  const store: MemoryStore = {
    instances,
    versions,
    writes,
    async insertVersion(v) {
      await tick();
      versions.set(v.id, copy({ phase: null, ...v }));
    },
    async updateVersion(id, patch: VersionPatch) {
      await tick();
      const v = versions.get(id);
      if (v) versions.set(id, { ...v, ...copy(patch) });
    },
    async getVersion(id) {
      await tick();
      const v = versions.get(id);
      return v ? copy(v) : null;
    },
    async latestReady(template) {
      await tick();
      const ready = [...versions.values()].filter((v) => v.template === template && v.status === 'ready');
      ready.sort((a, b) => +(b.readyAt ?? 0) - +(a.readyAt ?? 0) || +b.createdAt - +a.createdAt);
      return ready[0] ? copy(ready[0]) : null;
    },
    async listVersions(filter = {}) {
      await tick();
      return [...versions.values()]
        .filter((v) => (!filter.template || v.template === filter.template) && (!filter.status || filter.status.includes(v.status)))
        .sort((a, b) => a.template.localeCompare(b.template) || +b.createdAt - +a.createdAt)
        .map(copy);
    },
    async getOrCreateInstance(rec) {
      await tick();
      const existing = [...instances.values()].find((i) => live(i) && i.owner === rec.owner && i.template === rec.template);
      if (existing) return { instance: copy(existing), created: false };
      checkUnique(rec, null);
      instances.set(rec.id, copy(rec));
      return { instance: copy(rec), created: true };
    },
    async findLive(owner, template) {
      await tick();
      const i = [...instances.values()].find((x) => live(x) && x.owner === owner && x.template === template);
      return i ? copy(i) : null;
    },
    async liveByName(name) {
      await tick();
      const i = [...instances.values()].find((x) => live(x) && x.name === name);
      return i ? copy(i) : null;
    },
    async getInstance(id) {
      await tick();
      const i = instances.get(id);
      return i ? copy(i) : null;
    },
    async updateInstance(id, patch) {
      await tick();
      const i = instances.get(id);
      if (!i) return;
      const next = { ...i, ...copy(patch) };
      checkUnique(next, id);
      instances.set(id, next);
      writes.push([id, copy(patch)]);
    },
    async listLive(filter = {}) {
      await tick();
      return [...instances.values()]
        .filter((i) => live(i))
        .filter((i) => !filter.ownerPrefix || i.owner.startsWith(filter.ownerPrefix))
        .filter((i) => !filter.template || i.template === filter.template)
        .filter((i) => !filter.status || filter.status.includes(i.status))
        .sort((a, b) => +a.createdAt - +b.createdAt)
        .map(copy);
    },
    async pageLive(q) {
      await tick();
      const after = q.after;
      return [...instances.values()]
        .filter((i) => live(i))
        .filter((i) => !q.excludeOwnerPrefix || !i.owner.startsWith(q.excludeOwnerPrefix))
        .filter((i) => !q.owners || q.owners.includes(i.owner))
        .filter((i) => !q.templates || q.templates.includes(i.template))
        .filter((i) => !q.status || q.status.includes(i.status))
        .filter((i) => !after || +i.createdAt > +after.createdAt || (+i.createdAt === +after.createdAt && i.id > after.id))
        .sort((a, b) => +a.createdAt - +b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, q.limit)
        .map(copy);
    },
    async claimWarm(id, poolOwner, patch) {
      await tick();
      const i = instances.get(id);
      if (!i || i.owner !== poolOwner || i.status !== 'ready' || i.desired !== 'present') return null;
      const next = { ...i, ...copy(patch) };
      checkUnique(next, id);
      instances.set(id, next);
      writes.push([id, copy(patch)]);
      return copy(next);
    },
    async expired(now) {
      await tick();
      return [...instances.values()].filter((i) => live(i) && i.desired === 'present' && !i.protected && i.expiresAt !== null && i.expiresAt <= now).map(copy);
    },
    async livePorts() {
      await tick();
      return [...instances.values()].filter((i) => live(i) && i.port !== null).map((i) => i.port as number);
    },
    async countLive(filter) {
      await tick();
      return [...instances.values()].filter((i) => live(i) && filter.status.includes(i.status) && (!filter.ownerPrefix || i.owner.startsWith(filter.ownerPrefix))).length;
    },
    async getPullRequest(repo, number) {
      await tick();
      const p = pulls.get(`${repo}#${number}`);
      return p ? copy(p) : null;
    },
    async savePullRequest(p) {
      await tick();
      pulls.set(`${p.repo}#${p.number}`, copy(p));
    },
    async getRepository(name) {
      await tick();
      const r = repos.get(name);
      return r ? copy(r) : null;
    },
    async pinRepository(r) {
      await tick();
      if (!repos.has(r.name)) repos.set(r.name, copy(r));
      return copy(repos.get(r.name)!);
    },
    async touchRepository(name, patch) {
      await tick();
      const r = repos.get(name);
      if (r) repos.set(name, { ...r, ...copy(patch) });
    },
    async forgetRepository(name) {
      await tick();
      return repos.delete(name);
    },
    async versionsInUse() {
      await tick();
      return new Set([...instances.values()].filter((i) => live(i) && i.versionId !== null).map((i) => i.versionId as string));
    },
    async deliverySeen(id) {
      await tick();
      return deliveries.has(id);
    },
    async recordDelivery(id) {
      await tick();
      deliveries.add(id);
    },
  };
  return store;
}
