/**
 * Which model `npm start` serves:
 *   1. CLIP_MODEL, when set;
 *   2. else the manifest's default model (ViT-L-14-336) when models/<name> holds a fetched copy;
 *   3. else it fetches that model (unless CLIP_AUTO_FETCH=0);
 *   4. and when that fails (offline), the committed tiny model with seeded random weights — never
 *      silently: the log says so loudly at start, and every answer carries model.randomWeights and
 *      model.warning.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { groupEnv, type Config } from '../config/config';
import { downloadModel, loadManifest, readRecord, silentProgress, DEFAULT_MANIFEST, DEFAULT_MODELS_DIR } from '../download';
import { TINY_MODEL_DIR } from '../paths';
import type { Logger } from './log';

export async function chooseModel(config: Config, log: Logger): Promise<string> {
  if (config.CLIP_MODEL) return config.CLIP_MODEL;
  let name = 'ViT-L-14-336';
  try {
    name = (await loadManifest(DEFAULT_MANIFEST)).default ?? name;
    const dir = path.join(DEFAULT_MODELS_DIR, name);
    if (existsSync(dir) && (await readRecord(dir).catch(() => undefined))) return dir;
    if (config.CLIP_AUTO_FETCH) {
      log.info({ model: name }, `CLIP_MODEL is not set and ${name} is not in models/: fetching it (npm run models -- download ${name}); set CLIP_AUTO_FETCH=0 to skip`);
      await downloadModel({ manifestPath: DEFAULT_MANIFEST, modelsDir: DEFAULT_MODELS_DIR, name, env: groupEnv(config, 'downloads'), progress: silentProgress, retries: 1, connectTimeoutMs: 10_000 });
      return dir;
    }
  } catch (e) {
    log.warn({ model: name, reason: (e as Error).message }, `could not get ${name}`);
  }
  log.warn(
    { model: path.basename(TINY_MODEL_DIR) },
    `SERVING THE TINY TEST MODEL WITH RANDOM WEIGHTS: its similarities are meaningless. For real CLIP: npm run models -- download ${name}, then start with CLIP_MODEL=models/${name}.`,
  );
  return TINY_MODEL_DIR;
}
