/**
 * The web page's API key (CLIP_PAGE_KEY_FILE): with API keys on, the page at / sends this key
 * (`<meta name="clipql-key">`, read by web/src/api.ts), and the key's actions
 * (`<meta name="clipql-actions">`), so the page hides the forms it may not use. Whatever is in a
 * page is public: give this key `read` and the collections the page may show, nothing more (a
 * warning at start says when it has more). Read once at start: a new page key needs a restart.
 */
import { readFileSync } from 'node:fs';
import { ApiKeys } from '../access/api-keys';
import { ACTIONS, has } from '../access/scopes';
import type { Config } from '../config/config';
import { ClipqlError, ErrorCode } from '../errors';

export interface PageKey {
  readonly key: string;
  /** The key's name in the keys file (for the log). */
  readonly name: string;
  /** The actions it has, in ACTIONS order. */
  readonly actions: readonly string[];
  /** Set when the key can do more than read. */
  readonly warning?: string;
}

/** RFC 6750's b64token: safe in a header and in an HTML attribute as it is. */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

export function pageKey(c: Config): PageKey | undefined {
  const file = c.CLIP_PAGE_KEY_FILE;
  if (file === undefined) return undefined;
  const bad = (why: string) => new ClipqlError(ErrorCode.BAD_CONFIG, `CLIP_PAGE_KEY_FILE: ${why}`);
  if (c.CLIP_API_KEYS_FILE === undefined) throw bad('needs CLIP_API_KEYS_FILE (without API keys the page needs no key)');
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw bad(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (!TOKEN.test(key)) throw bad(`${file} must hold one key of letters, digits and ._~+/- (and = at the end)`);
  const found = ApiKeys.fromFile(c.CLIP_API_KEYS_FILE).authenticate(`Bearer ${key}`);
  if (!found) throw bad(`the key in ${file} is not in CLIP_API_KEYS_FILE`);
  const actions = ACTIONS.filter((a) => has(found.scopes, a));
  const more = actions.filter((a) => a !== 'read');
  return {
    key,
    name: found.name,
    actions,
    ...(more.length ? { warning: `the web page's key ${found.name} is public (anyone who loads the page has it) and may ${more.join(', ')}: give it actions=read (docs/production.md)` } : {}),
  };
}
