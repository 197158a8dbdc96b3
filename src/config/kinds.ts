/**
 * The kinds of value a setting takes. Each parses the raw text of an environment variable or
 * throws a `KindError` saying what it accepts; `allowed` says the same for the generated docs.
 * Parsing is strict: "30s" is not a number of milliseconds, "yes" is not a boolean, "" is nothing
 * (an empty variable is refused: unset it to get the default).
 */
export class KindError extends Error {}

export interface Kind<T> {
  /** What the kind accepts, for messages and README ("an integer from 1 to 65535"). */
  readonly allowed: string;
  parse(raw: string): T;
}

const INT = /^[+-]?\d+$/;

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  const allowed = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return {
    allowed,
    parse(raw) {
      const t = raw.trim();
      if (!INT.test(t)) throw new KindError(`not an integer; expected ${allowed}`);
      const n = Number(t);
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new KindError(`out of bounds; expected ${allowed}`);
      return n;
    },
  };
}

/** Milliseconds, as a plain integer (no units: "30s" is refused rather than read as NaN). */
export const ms = (min = 1): Kind<number> => {
  const k = int(min);
  const allowed = `${k.allowed} (milliseconds, no unit)`;
  return {
    allowed,
    parse(raw) {
      try {
        return k.parse(raw);
      } catch (e) {
        throw new KindError((e as Error).message.replace(k.allowed, allowed));
      }
    },
  };
};

export const bool: Kind<boolean> = {
  allowed: '0 or 1 (also false or true)',
  parse(raw) {
    const t = raw.trim().toLowerCase();
    if (t === '1' || t === 'true') return true;
    if (t === '0' || t === 'false') return false;
    throw new KindError('not a boolean; expected 0 or 1 (also false or true)');
  },
};

export function oneOf<T extends string>(...values: T[]): Kind<T> {
  const allowed = `one of ${values.join(', ')}`;
  return {
    allowed,
    parse(raw) {
      const t = raw.trim().toLowerCase();
      if (!(values as string[]).includes(t)) throw new KindError(`not a known value; expected ${allowed}`);
      return t as T;
    },
  };
}

export const text: Kind<string> = { allowed: 'any text', parse: (raw) => raw };

/** A comma-separated list; entries trimmed and lower-cased, empty entries dropped. */
export const hostList: Kind<readonly string[]> = {
  allowed: 'a comma-separated list of host[:port]',
  parse(raw) {
    const hosts = raw.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    const bad = hosts.find((h) => !/^[a-z0-9.\-[\]:]+$/.test(h));
    if (bad !== undefined) throw new KindError(`bad entry ${JSON.stringify(bad)}; expected host[:port] entries such as images.internal:8080`);
    return hosts;
  },
};

/** A kind with its own parser (devices, batch-size lists): `parse` throws KindError with the reason. */
export function custom<T>(allowed: string, parse: (raw: string) => T): Kind<T> {
  return { allowed, parse };
}
