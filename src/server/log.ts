/** Structured JSON logs (pino). LOG_LEVEL sets the level (default info; "silent" for tests). */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(env: Readonly<Record<string, string | undefined>> = process.env): Logger {
  return pino({ level: env.LOG_LEVEL ?? 'info', base: { service: 'clipql' } });
}
