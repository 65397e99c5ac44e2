// Column types as the catalogs print them (PostgreSQL's format_type, MariaDB's COLUMN_TYPE), reduced
// to what decides whether every existing value still fits after a type change. Pure.
import type { EngineName } from './types.js';

type Family = 'int' | 'decimal' | 'float' | 'string' | 'binary' | 'datetime' | 'time' | 'date' | 'enum' | 'other';

export interface ColumnType {
  family: Family;
  /** integers: storage bytes and sign */
  bytes?: number;
  unsigned?: boolean;
  /** strings and binaries: maximum length (Infinity when unbounded) */
  length?: number;
  /** decimals: digits in total and after the point (Infinity when unbounded) */
  precision?: number;
  scale?: number;
  /** times: fractional-second digits */
  fraction?: number;
  /** enums: the allowed values */
  values?: string[];
  /** the text without modifiers, for types we do not model */
  base: string;
}

const INT_BYTES: Record<string, number> = {
  tinyint: 1, smallint: 2, int2: 2, mediumint: 3, int: 4, integer: 4, int4: 4, bigint: 8, int8: 8,
  serial: 4, bigserial: 8, smallserial: 2,
};
const FLOAT_BYTES: Record<string, number> = { real: 4, float4: 4, float: 4, 'double precision': 8, double: 8, float8: 8 };
// MariaDB's sized text and blob types; PostgreSQL's text, bytea and unsized varchar are unbounded.
const TEXT_LENGTH: Record<string, number> = {
  tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295, json: 4_294_967_295,
};
const BLOB_LENGTH: Record<string, number> = { tinyblob: 255, blob: 65_535, mediumblob: 16_777_215, longblob: 4_294_967_295 };
const STRING = new Set(['character varying', 'varchar', 'character', 'char', 'nvarchar', 'nchar', 'bpchar', 'citext']);
const FIXED_CHAR = new Set(['character', 'char', 'nchar']);
const BINARY = new Set(['binary', 'varbinary']);

function args(text: string): string[] {
  const m = /\(([^)]*)\)/.exec(text);
  return m ? m[1].split(',').map((s) => s.trim()) : [];
}

function enumValues(text: string): string[] {
  const inner = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
  return [...inner.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
}

/** The parts of a column type that matter for what values it holds. */
export function parseColumnType(engine: EngineName, text: string): ColumnType {
  const t = text.trim().toLowerCase();
  const unsigned = /\bunsigned\b/.test(t);
  const base = t.replace(/\(.*?\)/g, '').replace(/\b(unsigned|zerofill|signed)\b/g, '').replace(/\s+/g, ' ').trim();
  const n = args(t).map(Number);
  if (t.endsWith('[]')) return { family: 'other', base: t };
  if (base in INT_BYTES) return { family: 'int', bytes: INT_BYTES[base], unsigned, base };
  if (base === 'numeric' || base === 'decimal') {
    // PostgreSQL's bare numeric is unbounded; MariaDB's bare decimal means decimal(10,0).
    if (n.length === 0) {
      return engine === 'postgres' ? { family: 'decimal', precision: Infinity, scale: Infinity, base } : { family: 'decimal', precision: 10, scale: 0, base };
    }
    return { family: 'decimal', precision: n[0], scale: n[1] ?? 0, base };
  }
  if (base in FLOAT_BYTES) return { family: 'float', bytes: FLOAT_BYTES[base], base };
  // char without a length is char(1); varchar without one (PostgreSQL only) is unbounded.
  if (STRING.has(base)) return { family: 'string', length: n.length ? n[0] : FIXED_CHAR.has(base) ? 1 : Infinity, base };
  if (base in TEXT_LENGTH) return { family: 'string', length: engine === 'postgres' ? Infinity : TEXT_LENGTH[base], base };
  if (base === 'bytea') return { family: 'binary', length: Infinity, base };
  if (BINARY.has(base)) return { family: 'binary', length: n.length ? n[0] : 1, base };
  if (base in BLOB_LENGTH) return { family: 'binary', length: BLOB_LENGTH[base], base };
  if (base === 'enum') return { family: 'enum', values: enumValues(text), base };
  const timeDefault = engine === 'postgres' ? 6 : 0;
  if (/^(timestamp|datetime)\b/.test(base)) return { family: 'datetime', fraction: n.length ? n[0] : timeDefault, base };
  if (/^time\b/.test(base)) return { family: 'time', fraction: n.length ? n[0] : timeDefault, base };
  if (base === 'date') return { family: 'date', base };
  return { family: 'other', base: t };
}

function intRange(t: ColumnType): [number, number] {
  const bits = 8 * (t.bytes ?? 8);
  return t.unsigned ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}

/** Digits (and sign) needed to print any value of `t`, or Infinity when unbounded or unknown. */
function printedLength(t: ColumnType): number {
  switch (t.family) {
    case 'int': {
      const [lo, hi] = intRange(t);
      return Math.max(String(lo).length, String(hi).length);
    }
    case 'decimal':
      return (t.precision ?? Infinity) + 2;
    case 'date':
      return 10;
    case 'datetime':
      return 32;
    case 'time':
      return 24;
    case 'enum':
      return Math.max(0, ...(t.values ?? []).map((v) => v.length));
    case 'string':
      return t.length ?? Infinity;
    default:
      return Infinity;
  }
}

/** Mantissa bits of a float type: integers up to 2^bits convert exactly. */
const MANTISSA: Record<number, number> = { 4: 24, 8: 53 };

/**
 * Why changing a column from `before` to `after` may not keep every existing value (a narrowed type),
 * or null when `after` holds everything `before` could. Unknown types count as narrowing when they differ.
 */
export function narrowing(engine: EngineName, beforeText: string, afterText: string): string | null {
  const b = parseColumnType(engine, beforeText);
  const a = parseColumnType(engine, afterText);
  const change = `${beforeText} → ${afterText}`;
  if (b.family === a.family) {
    switch (a.family) {
      case 'int': {
        const [blo, bhi] = intRange(b);
        const [alo, ahi] = intRange(a);
        return alo > blo || ahi < bhi ? `smaller integer range (${change})` : null;
      }
      case 'decimal': {
        const digits = (t: ColumnType) => (t.precision ?? Infinity) - (t.scale ?? 0);
        if ((a.scale ?? 0) < (b.scale ?? 0)) return `fewer decimal places (${change})`;
        return digits(a) < digits(b) || (a.precision ?? Infinity) < (b.precision ?? Infinity) ? `lower numeric precision (${change})` : null;
      }
      case 'float':
        return (a.bytes ?? 8) < (b.bytes ?? 8) ? `less floating-point precision (${change})` : null;
      case 'string':
      case 'binary':
        return (a.length ?? Infinity) < (b.length ?? Infinity) ? `shorter maximum length (${change})` : null;
      case 'datetime':
      case 'time':
        return (a.fraction ?? 0) < (b.fraction ?? 0) ? `fewer fractional-second digits (${change})` : null;
      case 'enum': {
        const gone = (b.values ?? []).filter((v) => !(a.values ?? []).includes(v));
        return gone.length ? `enum values removed: ${gone.join(', ')} (${change})` : null;
      }
      case 'date':
        return null;
      default:
        return a.base === b.base ? null : `type changed (${change}); existing values may not convert`;
    }
  }
  // Across families: only conversions that provably keep every value pass.
  if (a.family === 'string' && printedLength(b) <= (a.length ?? Infinity)) return null;
  if (b.family === 'int' && a.family === 'decimal') {
    const digits = printedLength(b) - (intRange(b)[0] < 0 ? 1 : 0);
    return (a.precision ?? Infinity) - (a.scale ?? 0) >= digits ? null : `lower numeric precision (${change})`;
  }
  if (b.family === 'int' && a.family === 'float') {
    const [lo, hi] = intRange(b);
    return Math.max(-lo, hi) <= 2 ** (MANTISSA[a.bytes ?? 8] ?? 53) ? null : `integers lose precision as floating point (${change})`;
  }
  if (b.family === 'date' && a.family === 'datetime') return null;
  return `type changed (${change}); existing values may not convert`;
}
