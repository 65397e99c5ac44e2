// Which database of a freshly loaded datadir holds the template's data. Pure.

export interface DbTables {
  name: string;
  tables: number;
}

export interface DatabasePlan {
  database: string;
  drop: string[];
  rename: { from: string; to: string } | null;
}

/**
 * The dump was loaded while connected to `loadDb`. A dump that creates and switches to its own database
 * leaves `loadDb` empty: then its own database is the template's, and the empty one goes.
 */
export function planDatabase(loadDb: string, template: string, dbs: DbTables[], canRename: boolean): DatabasePlan {
  const load = dbs.find((d) => d.name === loadDb);
  const others = dbs.filter((d) => d.name !== loadDb);
  if ((load && load.tables > 0) || others.length === 0) {
    if (canRename && loadDb !== template && !others.some((o) => o.name === template)) {
      return { database: template, drop: [], rename: { from: loadDb, to: template } };
    }
    return { database: loadDb, drop: [], rename: null };
  }
  const target =
    others.find((o) => o.name === template) ??
    others.find((o) => o.name.toLowerCase() === template.toLowerCase()) ??
    [...others].sort((a, b) => b.tables - a.tables)[0];
  return { database: target.name, drop: load ? [loadDb] : [], rename: null };
}

/** The last few lines of a tool's error output: enough to say what failed, short enough for an API reply. */
export function tail(text: string, lines = 6, maxChars = 1500): string {
  const t = text.trim().split('\n').slice(-lines).join('\n');
  return t.length > maxChars ? `…${t.slice(-maxChars)}` : t;
}
