// Schema snapshots read from real servers' catalogs, diffed across real migrations, and the schema-only
// command, for both engines, on the Chinook sample.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeCount, diffSchemas, OBJECT_KINDS, type SchemaDiff, type SchemaSnapshot } from '../../controller/domain/schema.js';
import { renderSchemaDiffMarkdown } from '../../controller/domain/schema-markdown.js';
import { startEngineServer, type EngineServer } from '../helpers/engine-server.js';
import { chinookSql, requireDocker } from '../helpers/testbed.js';

/** Every change of the diff as `kind action name`, for exact comparison. */
function changes(d: SchemaDiff): string[] {
  return OBJECT_KINDS.flatMap((k) => (['added', 'removed', 'changed'] as const).flatMap((a) => d.kinds[k][a].map((c) => `${k} ${a} ${c.name}`))).sort();
}

const CASES = {
  postgres: {
    dump: 'postgres' as const,
    database: 'chinook',
    q: (s: string) => `public.${s}`,
    migration: `ALTER TABLE track ADD COLUMN rating integer NOT NULL DEFAULT 0;
      CREATE INDEX track_rating_idx ON track (rating);
      ALTER TABLE track DROP COLUMN composer;`,
    more: `CREATE TABLE tag (tag_id serial PRIMARY KEY, label varchar(40) NOT NULL UNIQUE);
      INSERT INTO tag (label) VALUES ('a'), ('b');
      CREATE VIEW long_track AS SELECT track_id, name FROM track WHERE milliseconds > 600000;
      CREATE MATERIALIZED VIEW genre_count AS SELECT genre_id, count(*) AS n FROM track GROUP BY genre_id;
      CREATE FUNCTION seconds(ms integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT ms / 1000';
      CREATE PROCEDURE touch() LANGUAGE sql AS 'SELECT 1';
      CREATE FUNCTION trim_label() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.label := trim(NEW.label); RETURN NEW; END$$;
      CREATE TRIGGER tag_label BEFORE INSERT OR UPDATE ON tag FOR EACH ROW EXECUTE FUNCTION trim_label();
      ALTER TABLE customer ALTER COLUMN email TYPE varchar(50);
      ALTER TABLE invoice ADD CONSTRAINT invoice_total_check CHECK (total >= 0);
      ALTER TABLE genre ADD CONSTRAINT genre_name_key UNIQUE (name);`,
    expectMore: [
      'column changed public.customer.email', 'constraint added public.genre.genre_name_key', 'constraint added public.invoice.invoice_total_check',
      'routine added public.seconds(ms integer)', 'routine added public.touch()', 'routine added public.trim_label()', 'table added public.tag',
      'trigger added public.tag.tag_label', 'view added public.genre_count', 'view added public.long_track',
    ],
    trigger: 'BEFORE INSERT OR UPDATE FOR EACH ROW',
    names: { track: 'track', composer: 'composer', rating: 'rating', index: 'track_rating_idx', email: 'customer.email', tag: 'tag', label: 'label', id: 'tag_id' },
    insertTag: async (s: EngineServer) => Number((await s.query('chinook', "INSERT INTO tag (label) VALUES (' x ') RETURNING tag_id"))[0].tag_id),
  },
  mariadb: {
    dump: 'mysql' as const,
    database: 'Chinook',
    q: (s: string) => s,
    migration: `ALTER TABLE Track ADD COLUMN Rating INT NOT NULL DEFAULT 0;
      CREATE INDEX IX_TrackRating ON Track (Rating);
      ALTER TABLE Track DROP COLUMN Composer;`,
    more: `CREATE TABLE Tag (TagId INT AUTO_INCREMENT PRIMARY KEY, Label VARCHAR(40) NOT NULL UNIQUE);
      INSERT INTO Tag (Label) VALUES ('a'), ('b');
      CREATE VIEW LongTrack AS SELECT TrackId, Name FROM Track WHERE Milliseconds > 600000;
      CREATE FUNCTION Seconds(ms INT) RETURNS INT DETERMINISTIC RETURN ms DIV 1000;
      CREATE PROCEDURE Touch() SELECT 1;
      CREATE TRIGGER TagLabel BEFORE INSERT ON Tag FOR EACH ROW SET NEW.Label = TRIM(NEW.Label);
      ALTER TABLE Customer MODIFY Email VARCHAR(50) NOT NULL;
      ALTER TABLE Invoice ADD CONSTRAINT CK_Total CHECK (Total >= 0);
      ALTER TABLE Genre ADD CONSTRAINT UQ_GenreName UNIQUE (Name);`,
    expectMore: [
      'column changed Customer.Email', 'constraint added Genre.UQ_GenreName', 'constraint added Invoice.CK_Total', 'routine added Seconds(ms int(11))',
      'routine added Touch()', 'table added Tag', 'trigger added Tag.TagLabel', 'view added LongTrack',
    ],
    trigger: 'BEFORE INSERT FOR EACH ROW',
    names: { track: 'Track', composer: 'Composer', rating: 'Rating', index: 'IX_TrackRating', email: 'Customer.Email', tag: 'Tag', label: 'Label', id: 'TagId' },
    insertTag: async (s: EngineServer) => {
      await s.query('Chinook', "INSERT INTO Tag (Label) VALUES (' x ')");
      return Number((await s.query('Chinook', 'SELECT MAX(TagId) AS id FROM Tag'))[0].id);
    },
  },
};

describe.each(['postgres', 'mariadb'] as const)('schema diff on %s', (engineName) => {
  const c = CASES[engineName];
  let server: EngineServer | undefined;
  let s: EngineServer;
  const read = () => s.engine.readSchema(s.conn(c.database));
  const migrate = async (sql: string) => s.execOk(s.engine.loadSqlCommand(await s.stage(`migration-${Date.now()}.sql`, sql), c.database));

  beforeAll(async () => {
    await requireDocker();
    server = await startEngineServer(engineName, 'instance');
    s = server;
    await s.load(await chinookSql(c.dump), 'load');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('reads the tables, columns, keys and row estimates of the sample from the catalogs', async () => {
    const snap = await read();
    expect(snap.engine).toBe(engineName);
    expect(snap.tables).toHaveLength(11);
    const track = snap.tables.find((t) => t.name === c.q(c.names.track))!;
    expect(track.rows).toBeGreaterThan(0);
    expect(track.columns.map((x) => x.name)).toContain(c.names.composer);
    expect(track.constraints.filter((k) => k.kind === 'foreign')).toHaveLength(3);
    expect(track.constraints.filter((k) => k.kind === 'primary')).toHaveLength(1);
    // Key-implementing indexes count as their constraint, plain ones as indexes.
    expect(snap.tables.flatMap((t) => t.constraints).filter((k) => k.kind === 'primary')).toHaveLength(11);
    expect(snap.tables.flatMap((t) => t.indexes).every((i) => !i.unique)).toBe(true);
    expect(snap.views).toEqual([]);
    expect(snap.routines).toEqual([]);
    expect(snap.triggers).toEqual([]);
  });

  it('shows exactly an added column, an added index and a dropped column, the drop flagged', async () => {
    const before = await read();
    await migrate(c.migration);
    const d = diffSchemas(before, await read());
    const t = c.q(c.names.track);
    expect(changes(d)).toEqual([`column added ${t}.${c.names.rating}`, `column removed ${t}.${c.names.composer}`, `index added ${t}.${c.names.index}`].sort());
    expect(d.warnings.map((w) => `${w.kind} ${w.name}`)).toEqual([`dropped_column ${t}.${c.names.composer}`]);
    expect(d.kinds.column.added[0].details[0]).toMatch(/^int.* NOT NULL DEFAULT 0$/);
    const md = renderSchemaDiffMarkdown(d);
    expect(md).toContain(`- ⚠️ **Dropped column** \`${t}.${c.names.composer}\``);
    expect(md).toContain(`- ➕ \`${t}.${c.names.index}\``);
  });

  it('reads views, routines, triggers, constraints and type changes, and flags the narrowed type', async () => {
    const before = await read();
    await migrate(c.more);
    const after = await read();
    const d = diffSchemas(before, after);
    expect(changes(d)).toEqual(c.expectMore);
    expect(d.warnings.map((w) => `${w.kind} ${w.name}`)).toEqual([`narrowed_type ${c.q(c.names.email)}`]);
    expect(after.triggers.map((t) => t.timing)).toEqual([c.trigger]);
    expect(changeCount(diffSchemas(after, await read()))).toBe(0);
  });

  it('the schema-only command leaves every table empty, the schema intact and counters reset', async () => {
    const before: SchemaSnapshot = await read();
    expect(before.tables.filter((t) => t.rows > 0).length).toBeGreaterThan(5);
    await s.execOk(s.engine.emptyTablesCommand(c.database));
    const after = await read();
    expect(changes(diffSchemas(before, after))).toEqual([]);
    for (const t of after.tables) {
      const name = engineName === 'postgres' ? t.name.split('.').map((p) => `"${p}"`).join('.') : `\`${t.name}\``;
      expect([t.name, Number((await s.query(c.database, `SELECT COUNT(*) AS n FROM ${name}`))[0].n)]).toEqual([t.name, 0]);
      expect(t.rows).toBe(0);
    }
    if (engineName === 'postgres') expect(Number((await s.query(c.database, 'SELECT count(*) AS n FROM genre_count'))[0].n)).toBe(0);
    // The sequence (AUTO_INCREMENT) starts again, and the trigger still fires.
    expect(await c.insertTag(s)).toBe(1);
    expect((await s.query(c.database, `SELECT ${c.names.label} AS label FROM ${c.names.tag}`)).map((r) => r.label)).toEqual(['x']);
  });
});
