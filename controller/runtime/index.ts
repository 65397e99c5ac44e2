// The one place a Runtime is built; callers name the kind from configuration.

import { AppError } from '../domain/errors.js';
import { createDockerRuntime } from './docker.js';
import type { Runtime } from './runtime.js';

export type RuntimeKind = 'docker';

export interface RuntimeOptions {
  /** DOCKER_HOST as configured; null or absent means the local socket. */
  dockerHost?: string | null;
}

export function createRuntime(kind: RuntimeKind, opts: RuntimeOptions = {}): Runtime {
  switch (kind) {
    case 'docker':
      return createDockerRuntime(opts);
    default:
      // Reachable when the kind comes from untyped configuration.
      throw new AppError('bad_request', `unknown runtime "${String(kind)}": the only runtime is "docker"`);
  }
}

export type { Bind, ContainerInfo, ContainerSpec, ExecOutput, Runtime, RuntimeEvent } from './runtime.js';
