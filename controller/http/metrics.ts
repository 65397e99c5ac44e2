// Prometheus text exposition of what the state DB and the reconciler know.
import type { Store } from '../db/store.js';

export function createMetrics(deps: { store: Store; provisionSeconds: () => number[] }) {
  return async (): Promise<string> => {
    const out: string[] = [];
    const instances = await deps.store.listLive();
    const byStatus = new Map<string, number>();
    for (const i of instances) byStatus.set(`${i.template}\u0000${i.status}`, (byStatus.get(`${i.template}\u0000${i.status}`) ?? 0) + 1);
    out.push('# HELP myaas_instances Live instances by template and status.', '# TYPE myaas_instances gauge');
    for (const [k, n] of byStatus) {
      const [template, status] = k.split('\u0000');
      out.push(`myaas_instances{template="${template}",status="${status}"} ${n}`);
    }
    const versions = await deps.store.listVersions();
    out.push('# HELP myaas_template_versions Template versions by template and status.', '# TYPE myaas_template_versions gauge');
    const vs = new Map<string, number>();
    for (const v of versions) vs.set(`${v.template}\u0000${v.status}`, (vs.get(`${v.template}\u0000${v.status}`) ?? 0) + 1);
    for (const [k, n] of vs) {
      const [template, status] = k.split('\u0000');
      out.push(`myaas_template_versions{template="${template}",status="${status}"} ${n}`);
    }
    const secs = deps.provisionSeconds();
    out.push('# HELP myaas_provision_seconds Request-to-ready time of instances provisioned since start.', '# TYPE myaas_provision_seconds summary');
    out.push(`myaas_provision_seconds_count ${secs.length}`, `myaas_provision_seconds_sum ${secs.reduce((a, b) => a + b, 0).toFixed(3)}`);
    return `${out.join('\n')}\n`;
  };
}
