// What the GitHub layer needs from the rest of the controller. The lead implements these over the
// state DB and the reconciler (controller/jobs/instance-service.ts) and wires them in main.ts.
import type { InstanceDto } from '../http/contract.js';

/** An instance as the GitHub layer sees it: the API shape plus when its template's data was taken. */
export interface InstanceView extends InstanceDto {
  /** ISO time the instance's template version finished importing ("data as of"), if known */
  dataAsOf: string | null;
}

export interface InstancePort {
  /** Get-or-create on (owner, template). Returns at once; provisioning goes on in the background. */
  ensure(req: { owner: string; template: string }): Promise<{ instance: InstanceView; created: boolean }>;
  /** Destroys every live instance of `owner` (idempotent); returns how many it asked to destroy. */
  destroyOwner(owner: string): Promise<number>;
  /** Resets every live instance of `owner` to its template's latest version. */
  resetOwner(owner: string): Promise<number>;
  /** Live (not destroyed) instances whose owner key starts with `prefix`, e.g. `gh:octo/repo#`. */
  listByOwnerPrefix(prefix: string): Promise<InstanceView[]>;
  /** Called after every status change of any instance (provisioning, ready, failed, destroyed). */
  onChange(listener: (instance: InstanceView) => void): () => void;
}

/** Remembers webhook deliveries so a redelivery is acknowledged but not acted on twice. */
export interface DeliveryLog {
  /** true the first time `deliveryId` is seen, false afterwards */
  firstTime(deliveryId: string): Promise<boolean>;
}
