import type { EngineName } from '../domain/types.js';
import type { Engine } from './engine.js';
import { createMariadbEngine } from './mariadb.js';
import { createPostgresEngine } from './postgres.js';

export type { Engine } from './engine.js';

/** The engine named `name`; throws on an unknown name. */
export function createEngine(name: string): Engine {
  switch (name as EngineName) {
    case 'postgres':
      return createPostgresEngine();
    case 'mariadb':
      return createMariadbEngine();
    default:
      throw new Error(`unknown engine ${JSON.stringify(name)}: use postgres or mariadb`);
  }
}
