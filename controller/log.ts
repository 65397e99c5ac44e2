import { pino, type Logger as Pino } from 'pino';

/** The controller's logger. Secrets are redacted by key wherever they appear. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Pino {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['password', '*.password', 'adminPassword', '*.adminPassword', 'token', '*.token', 'url', '*.url', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination as never,
  );
}
