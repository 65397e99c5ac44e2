// Claims of warm instances waiting for the reconciler's handover. Held in memory on purpose: a claim
// whose handover is lost with the process has a new generation, so the reconciler rebuilds it.
import type { Handover, HandoverBook } from '../app/ports.js';

export function createHandoverBook(): HandoverBook {
  const book = new Map<string, Handover>();
  return {
    put: (id, h) => void book.set(id, h),
    has: (id) => book.has(id),
    take(id) {
      const h = book.get(id) ?? null;
      book.delete(id);
      return h;
    },
    clear() {
      for (const h of book.values()) void h.session?.then((s) => s.close()).catch(() => undefined);
      book.clear();
    },
  };
}
