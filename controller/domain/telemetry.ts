// What the controller reports for operators: the events the core and the edges tell Telemetry
// (app/ports.ts) about, and the counts read at each scrape. Plain data; the metrics adapter
// (host/metrics.ts) turns them into Prometheus series.
import type { EngineName } from './types.js';

/** Bytes of the filesystem that holds the data dir (the pool), as df counts them. */
export interface PoolUsage {
  totalBytes: number;
  usedBytes: number;
  /** available bytes, df's "Avail" */
  freeBytes: number;
}

/** Which instance or template an event is about (labels with few values: no ids, no owners). */
export interface TemplateRef {
  template: string;
  engine: EngineName;
}

export interface ImportReport extends TemplateRef {
  outcome: 'ready' | 'failed';
  durationMs: number;
}

/** How a GitHub webhook delivery was answered. */
export type WebhookOutcome =
  | 'handled' // acted on (or a known event with nothing to do)
  | 'duplicate' // a redelivery, acknowledged only
  | 'ping'
  | 'rejected' // missing or wrong signature
  | 'invalid' // signed, but not a webhook we can read
  | 'failed' // handling failed; GitHub may redeliver
  | 'not_configured'; // no webhook secret on the controller

export interface WebhookReport {
  /** X-GitHub-Event once the signature is verified; `unverified` before, so strangers cannot add label values */
  event: string;
  outcome: WebhookOutcome;
}

export interface GitHubErrorReport {
  /** the client's operation, e.g. `create comment` */
  operation: string;
  /** HTTP status of the last attempt; null when no answer came (network, timeout) */
  status: number | null;
}

/** A number of things of one template in one status. */
export interface StatusCount {
  template: string;
  status: string;
  count: number;
}

/** What the metrics adapter reads at each scrape (cheap: state-DB counts and one statfs). */
export interface MetricsReadings {
  /** null when the data dir's filesystem could not be read */
  pool: PoolUsage | null;
  /** live instances, without the warm pool's unclaimed ones */
  instances: StatusCount[];
  /** the warm pool's unclaimed instances */
  warmPool: StatusCount[];
  /** template versions */
  versions: StatusCount[];
}
