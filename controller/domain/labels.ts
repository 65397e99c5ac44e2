// The Docker labels that mark what myaas made. Containers are found by these, never by name, so a
// crashed attempt's leftovers are found too. No owner, name or secret ever goes into a label: a
// warm-pool instance changes hands while its container runs, and labels are readable by anyone
// who can list containers.

export const LABEL = {
  /** the data dir of the controller that made it: several controllers may share one Docker engine */
  home: 'myaas.home',
  role: 'myaas.role',
  instance: 'myaas.instance',
  template: 'myaas.template',
  version: 'myaas.version',
  engine: 'myaas.engine',
} as const;

export type Role = 'instance' | 'import';
export type Labels = Record<string, string>;

export const homeSelector = (home: string): Labels => ({ [LABEL.home]: home });
export const instanceSelector = (home: string, instanceId: string): Labels => ({ [LABEL.home]: home, [LABEL.instance]: instanceId });
export const versionSelector = (home: string, versionId: string): Labels => ({ [LABEL.home]: home, [LABEL.version]: versionId });

export function instanceLabels(home: string, i: { id: string; template: string }, v: { id: string; engine: string }): Labels {
  return {
    [LABEL.home]: home,
    [LABEL.role]: 'instance',
    [LABEL.instance]: i.id,
    [LABEL.template]: i.template,
    [LABEL.version]: v.id,
    [LABEL.engine]: v.engine,
  };
}

export function importLabels(home: string, v: { id: string; template: string }): Labels {
  return { [LABEL.home]: home, [LABEL.role]: 'import', [LABEL.version]: v.id, [LABEL.template]: v.template };
}

export const roleOf = (labels: Labels): Role | null => {
  const r = labels[LABEL.role];
  return r === 'instance' || r === 'import' ? r : null;
};
