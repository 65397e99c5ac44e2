// API callers as the campaign plays them: each named instance's last wish (present or absent) is
// recorded when it is made, and its request is sent, one after another per name, and sent again after
// the controller comes back if it got no answer (a client retrying), until the controller answers.
import type { ApiReply, ControllerProc } from './controller.js';
import type { Want } from './checks.js';

/** Where the current controller is, or a wait for the next one to start. */
export interface ControllerSlot {
  current(): Promise<ControllerProc>;
}

export function createSlot() {
  let ctl: ControllerProc | null = null;
  let waiters: Array<(c: ControllerProc) => void> = [];
  return {
    set(c: ControllerProc | null) {
      ctl = c;
      if (c) {
        for (const w of waiters) w(c);
        waiters = [];
      }
    },
    get: () => ctl,
    current(): Promise<ControllerProc> {
      if (ctl && !ctl.exited()) return Promise.resolve(ctl);
      return new Promise((r) => waiters.push(r));
    },
  };
}

interface Intent {
  template: string;
  present: boolean;
}

export function createApiActors(slot: ControllerSlot, onFinding: (s: string) => void) {
  const intents = new Map<string, Intent>();
  const chains = new Map<string, Promise<void>>();
  const counts = { create: 0, destroy: 0, reset: 0, retried: 0 };

  /** Sends until the controller answers; 5xx (e.g. Docker restarting) is tried again too. */
  async function send<T>(what: string, fn: (c: ControllerProc) => Promise<ApiReply<T>>): Promise<ApiReply<T>> {
    for (let attempt = 0; ; attempt++) {
      const c = await slot.current();
      const r = await fn(c).catch(() => null);
      if (r && r.status < 500) {
        if (r.status >= 400) onFinding(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        return r;
      }
      counts.retried++;
      await new Promise((res) => setTimeout(res, Math.min(2000, 200 * (attempt + 1))));
    }
  }

  async function liveId(c: ControllerProc, name: string, template: string): Promise<string | null> {
    const list = await c.api<Array<{ id: string; owner: string; template: string }>>('GET', '/api/v1/instances');
    if (list.status >= 500) throw new Error(`list answered ${list.status}`);
    return list.body.find((i) => i.owner === `api:${name}` && i.template === template)?.id ?? null;
  }

  function enqueue(name: string, fn: () => Promise<void>) {
    const next = (chains.get(name) ?? Promise.resolve()).then(fn, fn);
    chains.set(name, next);
    void next.finally(() => {
      if (chains.get(name) === next) chains.delete(name);
    });
  }

  return {
    counts,
    intents,
    create(name: string, template: string) {
      intents.set(name, { template, present: true });
      counts.create++;
      enqueue(name, async () => {
        await send(`create ${name}`, (c) => c.api('POST', '/api/v1/instances', { template, name }));
      });
    },
    destroy(name: string) {
      const i = intents.get(name);
      if (!i) return;
      i.present = false;
      counts.destroy++;
      enqueue(name, async () => {
        // The id is looked up each time: a create that got no answer may or may not have been recorded.
        await send(`destroy ${name}`, async (c) => {
          const id = await liveId(c, name, i.template);
          return id ? c.api('DELETE', `/api/v1/instances/${id}`) : { status: 200, body: null };
        });
      });
    },
    reset(name: string) {
      const i = intents.get(name);
      if (!i?.present) return;
      counts.reset++;
      enqueue(name, async () => {
        await send(`reset ${name}`, async (c) => {
          const id = await liveId(c, name, i.template);
          // Its create ran before it on the same chain and was answered, so a missing one is a finding.
          if (!id) return { status: 404, body: { error: `no live instance api:${name}` } };
          return c.api('POST', `/api/v1/instances/${id}/reset`);
        });
      });
    },
    /** resolves once every request made so far was answered */
    async idle() {
      while (chains.size) await Promise.all([...chains.values()]);
    },
    wanted(): Want[] {
      return [...intents].map(([name, i]) => ({ owner: `api:${name}`, template: i.template, present: i.present }));
    },
  };
}

export type ApiActors = ReturnType<typeof createApiActors>;
