/** Reading numeric settings from the environment, with a clear error for a bad value. */
import { ClipqlError, ErrorCode } from './errors';

export function intSetting(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A 0/1 switch: unset or '' gives `fallback`; anything but 0 or 1 is an error. */
export function flagSetting(env: Readonly<Record<string, string | undefined>>, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== '0' && raw !== '1') throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${name} must be 0 or 1, got ${JSON.stringify(raw)}`);
  return raw === '1';
}
