import type { EngineName } from '../domain/types.js';
import type { Clock } from '../lib/clock.js';
import type { Engine } from './engine.js';
import { createMariadbEngine } from './mariadb.js';
import { createPostgresEngine } from './postgres.js';

export type { Engine } from './engine.js';

/** The engine named `name`; throws on an unknown name. */
export function createEngine(name: string, clock: Clock): Engine {
  switch (name as EngineName) {
    case 'postgres':
      return createPostgresEngine(clock);
    case 'mariadb':
      return createMariadbEngine(clock);
    default:
      throw new Error(`unknown engine ${JSON.stringify(name)}: use postgres or mariadb`);
  }
}
