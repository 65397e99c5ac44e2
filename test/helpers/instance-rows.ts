// Instance rows as the state DB holds them, for tests of lists: no container or clone is behind them.
import type { InstanceRecord } from '../../controller/domain/types.js';

/**
 * Row `n`: owner api:user-<n>; template shop for every third, chinook otherwise; status failed for
 * every fifth, ready otherwise. Two rows share each millisecond of createdAt, so a cursor's tie-break
 * on id is exercised.
 */
export function instanceRow(n: number, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: `i${String(n).padStart(11, '0')}`, name: `row-${n}`, owner: `api:user-${n}`, template: n % 3 === 0 ? 'shop' : 'chinook', engine: 'postgres',
    versionId: null, pinnedVersionId: null, status: n % 5 === 0 ? 'failed' : 'ready', desired: 'present', port: 20000 + n, password: `pw-${n}`,
    containerId: null, host: null, error: null, generation: 0, appliedGeneration: 0, attempts: 0, retryAt: null, lastFault: null, protected: false, endReason: null, schemaDiff: null, schemaDiffAt: null, expiresAt: null,
    createdAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(n / 2)), readyAt: null, destroyedAt: null, ...over,
  };
}
