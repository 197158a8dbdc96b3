/**
 * The model families clipql serves, chosen from config.json as transformers' auto classes choose
 * (`model_type` first, then `architectures`). One line per family.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { clipFamily } from './clip';
import type { ModelFamily } from './family';
import { siglipFamily } from './siglip';

export const FAMILIES: readonly ModelFamily[] = [clipFamily, siglipFamily];

/**
 * The family of a config.json. A config that names no type and no architecture is CLIP's (the
 * committed tiny bundles and older exports say nothing). BAD_MODEL, naming what is served, for
 * anything else.
 */
export function familyOf(config: Readonly<Record<string, unknown>>, file: string, families: readonly ModelFamily[] = FAMILIES): ModelFamily {
  const type = config.model_type;
  const archs = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  if (typeof type === 'string') {
    const f = families.find((x) => x.modelTypes.includes(type));
    if (f) return f;
  } else if (archs.length) {
    const f = families.find((x) => archs.some((a) => x.architectures.includes(a)));
    if (f) return f;
  } else if (type === undefined) return families[0];
  const served = families.map((f) => `${f.name} (${f.modelTypes.join(', ')})`).join('; ');
  throw new ClipqlError(
    ErrorCode.BAD_MODEL,
    `${file}: model_type ${JSON.stringify(type ?? null)}, architectures ${JSON.stringify(archs)} is not a model family clipql serves; served: ${served}`,
    { details: { file, modelType: typeof type === 'string' ? type : null } },
  );
}
