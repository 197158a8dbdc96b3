/** Structured JSON logs (pino). LOG_LEVEL sets the level (default info; "silent" for tests). */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { service: 'clipql' } });
}
