import { describe, expect, it } from 'vitest';
import { startScheduler } from '../../controller/jobs/scheduler.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';

describe('scheduler', () => {
  it('runs a cron task when it is due, and stops', async () => {
    const log = createMemoryLogger();
    let runs = 0;
    const s = startScheduler([{ name: 'import', cron: '* * * * * *', run: async () => void runs++ }], log);
    await new Promise((r) => setTimeout(r, 2100));
    s.stop();
    const seen = runs;
    expect(seen).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(runs).toBe(seen);
  });
  it('refuses an invalid cron expression with its name', () => {
    expect(() => startScheduler([{ name: 'scheduled import', cron: 'every night', run: async () => {} }], createMemoryLogger())).toThrow(
      /invalid cron expression "every night" for scheduled import/,
    );
  });
  it('logs a failing task instead of crashing', async () => {
    const log = createMemoryLogger();
    const s = startScheduler([{ name: 'sweep', everyMs: 20, run: async () => Promise.reject(new Error('boom')) }], log);
    await new Promise((r) => setTimeout(r, 100));
    s.stop();
    expect(log.text()).toMatch(/boom/);
  });
});
