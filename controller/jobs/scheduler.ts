// Timers: the reconcile sweep, the pull-request sweep, and scheduled re-imports (cron).
import { Cron } from 'croner';
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';

export interface ScheduledTask {
  name: string;
  run: () => Promise<unknown>;
  everyMs?: number;
  cron?: string | null;
}

export function startScheduler(tasks: ScheduledTask[], log: Logger): { stop(): void } {
  const stops: Array<() => void> = [];
  for (const t of tasks) {
    const fire = () => {
      t.run().catch((e) => log.error({ task: t.name, err: messageOf(e) }, 'scheduled task failed'));
    };
    if (t.everyMs && t.everyMs > 0) {
      const h = setInterval(fire, t.everyMs);
      h.unref();
      stops.push(() => clearInterval(h));
    }
    if (t.cron) {
      let job: Cron;
      try {
        job = new Cron(t.cron, { protect: true }, fire);
      } catch (e) {
        throw new Error(`invalid cron expression ${JSON.stringify(t.cron)} for ${t.name}: ${messageOf(e)}`);
      }
      stops.push(() => job.stop());
      log.info({ task: t.name, cron: t.cron, next: job.nextRun()?.toISOString() }, 'scheduled');
    }
  }
  return { stop: () => stops.forEach((s) => s()) };
}
