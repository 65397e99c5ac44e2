// Prometheus text exposition of what the state DB and the reconciler know.

export interface MetricsSource {
  /** live instances and all template versions, by template and status */
  counts(): Promise<{ instances: Array<{ template: string; status: string }>; versions: Array<{ template: string; status: string }> }>;
  /** request-to-ready seconds of instances provisioned since start */
  provisionSeconds(): number[];
  /** the storage pool's size, free space, reserve and per-instance limit */
  pool?(): Promise<{ totalBytes: number; freeBytes: number; reserveBytes: number; limitBytes: number }>;
}

function tally(rows: Array<{ template: string; status: string }>): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(`${r.template}\u0000${r.status}`, (m.get(`${r.template}\u0000${r.status}`) ?? 0) + 1);
  return m;
}

export function createMetrics(source: MetricsSource) {
  return async (): Promise<string> => {
    const out: string[] = [];
    const { instances, versions } = await source.counts();
    const series = (name: string, help: string, rows: Array<{ template: string; status: string }>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const [k, n] of tally(rows)) {
        const [template, status] = k.split('\u0000');
        out.push(`${name}{template="${template}",status="${status}"} ${n}`);
      }
    };
    series('myaas_instances', 'Live instances by template and status.', instances);
    series('myaas_template_versions', 'Template versions by template and status.', versions);
    const secs = source.provisionSeconds();
    out.push('# HELP myaas_provision_seconds Request-to-ready time of instances provisioned since start.', '# TYPE myaas_provision_seconds summary');
    out.push(`myaas_provision_seconds_count ${secs.length}`, `myaas_provision_seconds_sum ${secs.reduce((a, b) => a + b, 0).toFixed(3)}`);
    const pool = await source.pool?.().catch(() => null);
    if (pool) {
      const gauge = (name: string, help: string, v: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
      gauge('myaas_pool_size_bytes', 'Size of the storage pool holding templates, clones and state.', pool.totalBytes);
      gauge('myaas_pool_free_bytes', 'Free bytes of the storage pool.', pool.freeBytes);
      gauge('myaas_pool_reserve_bytes', 'Free bytes below which new instances and imports are refused (MYAAS_DISK_RESERVE).', pool.reserveBytes);
      gauge('myaas_instance_disk_limit_bytes', 'Bytes one instance may write (MYAAS_DISK_LIMIT); 0 when none is enforced.', pool.limitBytes);
    }
    return `${out.join('\n')}\n`;
  };
}
