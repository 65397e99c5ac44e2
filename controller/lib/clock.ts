// Time as a dependency: services and jobs take a Clock, so tests drive time instead of waiting for it.

export interface Clock {
  /** epoch milliseconds */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  };
}
