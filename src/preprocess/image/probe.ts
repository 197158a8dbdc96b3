/**
 * What the API needs of an image before (and often instead of) decoding it: its content key and
 * its header facts, with every check short of decoding the pixels (format, size, declared pixels).
 * Damage further into the file (truncation) surfaces when the image is decoded for its embedding,
 * only if one is needed and not cached.
 */
import { isClipqlError } from '../../errors';
import type { ImageTransformConfig } from './config';
import { inspectForDecode, inspectImage, type DecodeLimits } from './decode';
import { preprocessPixels, type PreprocessMode } from './transform';
import { hashImage } from './work-counts';

export interface ImageProbe {
  /** sha256 of the bytes, hex: the embedding cache's key. */
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly mode: string;
}

/** `sha256`: the bytes' hash when the caller has it (not hashed again). */
export async function probeImage(bytes: Uint8Array, limits?: Partial<DecodeLimits>, sha256?: string): Promise<ImageProbe> {
  const d = await inspectImage(bytes, limits);
  return { sha256: sha256 ?? hashImage(bytes), width: d.width, height: d.height, format: d.format, mode: d.mode };
}

/**
 * A probe, and the crop (preprocessPixels) of the same bytes from the same trip to a thread: what
 * the API asks of an image it has not seen before and will embed (pipeline.probeImage). The
 * probe's checks fail it as probeImage does; damage found only by decoding travels beside the
 * probe as `pixelError`, so that it fails the embedding alone, as a decode after the probe would.
 */
export interface ProbedImage extends ImageProbe {
  readonly pixels?: Uint8Array;
  readonly pixelError?: { readonly code: string; readonly message: string; readonly details?: Record<string, unknown> };
}

export async function probeAndCrop(bytes: Uint8Array, cfg: ImageTransformConfig, mode: PreprocessMode | undefined, limits?: Partial<DecodeLimits>, sha256?: string): Promise<ProbedImage> {
  // One header read for both (the decode takes the probe's inspection).
  const inspection = await inspectForDecode(bytes, limits);
  const { width, height, format, mode: pilMode } = inspection.info;
  const probe = { sha256: sha256 ?? hashImage(bytes), width, height, format, mode: pilMode };
  try {
    const { pixels } = await preprocessPixels(bytes, cfg, { mode, limits, inspection });
    return { ...probe, pixels };
  } catch (e) {
    const pixelError = isClipqlError(e) ? { code: e.code, message: e.message, details: e.details } : { code: 'INTERNAL_SERVER_ERROR', message: `preprocessing failed: ${(e as Error).message}` };
    return { ...probe, pixelError };
  }
}
