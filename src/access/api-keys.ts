/**
 * API keys (CLIP_API_KEYS_FILE). The file holds no secret: one key a line as
 *
 *   name:sha256-hex-of-the-key[:field=value,field=value...]
 *
 * with the fields (all optional, docs/production.md has examples)
 *   requests=N, images=N     per-minute limits overriding the defaults (access.ts); 0: unlimited
 *   actions=read+write       what the key may do; absent: everything (scopes.ts)
 *   collections=photos+web-* the collections it may touch; absent: all
 *   expires=2027-01-01       refused from then on (a date-time such as 2027-01-01T12:00:00Z too)
 *
 * `name` is what logs and metrics show (never the key). Blank lines and lines starting with `#`
 * are ignored. A malformed line, a repeated name or a repeated hash is an error at start-up that
 * names the line. Clients send `Authorization: Bearer <key>`; the server hashes what it receives
 * and looks the hash up, so comparing never touches the key itself, and a timing difference in the
 * lookup could only tell an attacker about a hash, not about a key.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClipqlError, ErrorCode } from '../errors';
import { FULL_ACCESS, parseActions, parseCollections, parseExpiry, type KeyScopes } from './scopes';

/** Per-key overrides of the default limits; absent fields take the default. 0 means unlimited. */
export interface KeyLimits {
  readonly requestsPerMinute?: number;
  readonly imagesPerMinute?: number;
}

export interface ApiKey {
  readonly name: string;
  readonly limits: KeyLimits;
  readonly scopes: KeyScopes;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX = /^[0-9a-f]{64}$/;
const OVERRIDE_KEYS: Record<string, keyof KeyLimits> = { requests: 'requestsPerMinute', images: 'imagesPerMinute' };
const GRAMMAR = 'name:sha256-hex[:requests=N,images=N,actions=read+write+admin+metrics,collections=NAME+PREFIX*,expires=ISO-DATE]';

export class ApiKeys {
  private constructor(private readonly byHash: ReadonlyMap<string, ApiKey>) {}

  static fromFile(file: string): ApiKeys {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `CLIP_API_KEYS_FILE: cannot read ${file}: ${(e as Error).message}`);
    }
    return ApiKeys.parse(text, file);
  }

  /** Parses the file's text; `source` names it in errors. */
  static parse(text: string, source = 'CLIP_API_KEYS_FILE'): ApiKeys {
    const byHash = new Map<string, ApiKey>();
    const names = new Set<string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fail = (why: string) => new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source} line ${i + 1}: ${why} (expected ${GRAMMAR})`);
      // Only the first two ":" separate: an expiry's time has its own.
      const [name, hash, ...rest] = line.split(':');
      const fields = rest.join(':');
      if (hash === undefined) throw fail('wrong number of ":"-separated fields');
      if (!NAME.test(name)) throw fail(`the name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . -`);
      const hex = hash.toLowerCase();
      if (!HEX.test(hex)) throw fail('the second field must be the 64 hex digits of the key\'s sha256 (`printf %s "$KEY" | sha256sum`), not the key');
      if (names.has(name)) throw fail(`the name ${name} appears twice`);
      if (byHash.has(hex)) throw fail(`the hash of ${name} is also ${byHash.get(hex)!.name}'s`);
      const limits: Record<string, number> = {};
      const scopes: { actions?: KeyScopes['actions']; collections?: readonly string[]; expiresAt?: number } = {};
      const seen = new Set<string>();
      for (const part of fields === '' ? [] : fields.split(',')) {
        const eq = part.indexOf('=');
        const k = part.slice(0, eq < 0 ? part.length : eq).trim();
        const v = eq < 0 ? '' : part.slice(eq + 1).trim();
        if (seen.has(k)) throw fail(`${k} is given twice`);
        seen.add(k);
        try {
          if (k === 'actions') scopes.actions = parseActions(v);
          else if (k === 'collections') scopes.collections = parseCollections(v);
          else if (k === 'expires') scopes.expiresAt = parseExpiry(v);
          else {
            const field = OVERRIDE_KEYS[k];
            const n = Number(v);
            if (!field) throw new Error(`unknown field ${JSON.stringify(part)}: the fields are requests=, images=, actions=, collections= and expires=`);
            if (v === '' || !Number.isInteger(n) || n < 0) throw new Error(`bad limit ${JSON.stringify(part)}: use ${k}=N, N >= 0 (0: unlimited)`);
            limits[field] = n;
          }
        } catch (e) {
          throw fail((e as Error).message);
        }
      }
      names.add(name);
      byHash.set(hex, { name, limits, scopes: { ...FULL_ACCESS, ...(scopes.actions ? { actions: scopes.actions, explicit: true } : {}), collections: scopes.collections, expiresAt: scopes.expiresAt } });
    });
    if (byHash.size === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: no keys (every request would be refused)`);
    return new ApiKeys(byHash);
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Every key, in file order. */
  list(): ApiKey[] {
    return [...this.byHash.values()];
  }

  /** The key a request's Authorization header names, or undefined (no header, not Bearer, unknown key). */
  authenticate(authorization: string | undefined): ApiKey | undefined {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    return this.byHash.get(createHash('sha256').update(m[1], 'utf8').digest('hex'));
  }
}
