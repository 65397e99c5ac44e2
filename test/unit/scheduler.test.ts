// Timers under vitest's fake clock: the tests drive time, none waits for it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startScheduler } from '../../controller/jobs/scheduler.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';

describe('scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a cron task when it is due, and stops', async () => {
    let runs = 0;
    const s = startScheduler([{ name: 'import', cron: '* * * * * *', run: async () => void runs++ }], createMemoryLogger());
    await vi.advanceTimersByTimeAsync(2100);
    expect(runs).toBe(2);
    s.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
  });

  it('runs an interval task every period', async () => {
    let runs = 0;
    const s = startScheduler([{ name: 'sweep', everyMs: 30_000, run: async () => void runs++ }], createMemoryLogger());
    await vi.advanceTimersByTimeAsync(95_000);
    expect(runs).toBe(3);
    s.stop();
  });

  it('refuses an invalid cron expression with its name', () => {
    expect(() => startScheduler([{ name: 'scheduled import', cron: 'every night', run: async () => {} }], createMemoryLogger())).toThrow(
      /invalid cron expression "every night" for scheduled import/,
    );
  });

  it('logs a failing task instead of crashing', async () => {
    const log = createMemoryLogger();
    const s = startScheduler([{ name: 'sweep', everyMs: 20, run: async () => Promise.reject(new Error('boom')) }], log);
    await vi.advanceTimersByTimeAsync(100);
    s.stop();
    expect(log.lines.filter((l) => l.level === 'error').length).toBe(5);
    expect(log.text()).toMatch(/boom/);
  });
});
