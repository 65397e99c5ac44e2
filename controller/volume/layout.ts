// Where the volume plugin keeps things on a node's pool. Templates sit where the controller's
// importer (and template shipping) put them, so one pool serves both; volumes get their own folder,
// apart from the controller's instances/, so neither side's orphan sweep touches the other's.
import { join } from 'node:path';
import { AppError } from '../domain/errors.js';
import { assertTemplateName } from '../domain/names.js';

// Docker's own rule for volume names, capped: names become directory names on the pool.
const VOLUME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// Version ids as the controller makes them (v20261121t083015-k3x9), or any such safe word.
const VERSION = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function assertVolumeName(name: unknown): string {
  if (typeof name !== 'string' || !VOLUME.test(name) || name.includes('..')) {
    throw new AppError(
      'invalid_name',
      `invalid volume name ${JSON.stringify(name)}: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

export function assertVersionId(id: unknown): string {
  if (typeof id !== 'string' || !VERSION.test(id) || id.includes('..')) {
    throw new AppError('invalid_name', `invalid template version ${JSON.stringify(id)}: expected an id like v20261121t083015-k3x9`);
  }
  return id;
}

export function createPoolLayout(dataDir: string) {
  const volumesDir = join(dataDir, 'volumes');
  return {
    dataDir,
    templatesDir: join(dataDir, 'templates'),
    volumesDir,
    version: (template: string, version: string) => join(dataDir, 'templates', assertTemplateName(template), assertVersionId(version)),
    /** a volume's folder: meta.json and data/ */
    volume: (name: string) => join(volumesDir, assertVolumeName(name)),
    /** the clone itself: what containers mount */
    data: (name: string) => join(volumesDir, assertVolumeName(name), 'data'),
    meta: (name: string) => join(volumesDir, assertVolumeName(name), 'meta.json'),
    /** where a volume is built before it is renamed into place; a leading dot is never a volume name */
    building: (name: string, nonce: string) => join(volumesDir, `.building-${assertVolumeName(name)}-${nonce}`),
    isBuilding: (entry: string) => entry.startsWith('.building-'),
  };
}

export type PoolLayout = ReturnType<typeof createPoolLayout>;
