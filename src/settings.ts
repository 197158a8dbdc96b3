/** Reading numeric settings from the environment, with a clear error for a bad value. */
import { ClipqlError, ErrorCode } from './errors';

export function intSetting(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
