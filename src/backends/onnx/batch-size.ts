/**
 * How large a batch the CPU session should run, per tower.
 *
 * On a CPU, batching buys little (the matrix products of one image are already large enough to
 * keep the cores busy) and can cost: every layer materialises activations whose size grows with
 * the batch, and once they outgrow the caches each run streams them through memory. The largest
 * per-image activation in a CLIP transformer is the attention scores (heads x tokens x tokens) or
 * the MLP's hidden layer (tokens x intermediate), in float32:
 *
 *   ViT-B/32 image  12 x 50 x 50 = 0.1 MB / 50 x 3072 = 0.6 MB   -> batches of 16 fit
 *   ViT-L/14@336px  16 x 577 x 577 = 21 MB / 577 x 4096 = 9.5 MB  -> a batch of 1 fits
 *   text towers     8-12 x 77 x 77 = 0.2-0.3 MB / 77 x 2048-3072 = 0.6-0.9 MB
 *
 * Measured here (BENCHMARKS.md, scripts/bench/serving/NOTES.md): the ViT-L/14@336px image tower costs
 * more core-time per image at batch 8 than at batch 1 and much more at 32, where ViT-B/32 gains up
 * to 1.35 x from batching. So a tower's batch is capped at the largest that keeps its biggest
 * per-layer activation within CLIP_ONNX_BATCH_BYTES (default 32 MiB, about one L3 cache),
 * and at CLIP_ONNX_MAX_BATCH; at least 1. A config without the shapes gets CLIP_ONNX_MAX_BATCH.
 */

export interface TowerShape {
  /** Sequence length: patches + 1 for an image tower, the context length for a text tower. */
  readonly tokens: number;
  readonly heads: number;
  readonly intermediate: number;
}

/** Bytes of the largest per-item activation of one layer (float32). */
export function activationBytes(s: TowerShape): number {
  return 4 * Math.max(s.heads * s.tokens * s.tokens, s.tokens * s.intermediate);
}

export function batchFor(shape: TowerShape | undefined, budgetBytes: number, maxBatch: number): number {
  if (!shape) return maxBatch;
  return Math.max(1, Math.min(maxBatch, Math.floor(budgetBytes / activationBytes(shape))));
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : undefined);

/** The two towers' shapes from a bundle's config.json (Hugging Face CLIPConfig), where it has them. */
export function towerShapes(config: Readonly<Record<string, unknown>>, imageSize: number, contextLength: number): { image?: TowerShape; text?: TowerShape } {
  const v = (config.vision_config ?? {}) as Record<string, unknown>;
  const t = (config.text_config ?? {}) as Record<string, unknown>;
  const patch = num(v.patch_size);
  const shape = (tokens: number | undefined, c: Record<string, unknown>): TowerShape | undefined => {
    const heads = num(c.num_attention_heads);
    const intermediate = num(c.intermediate_size);
    return tokens && heads && intermediate ? { tokens, heads, intermediate } : undefined;
  };
  return {
    image: shape(patch ? Math.floor(imageSize / patch) ** 2 + 1 : undefined, v),
    text: shape(contextLength, t),
  };
}
