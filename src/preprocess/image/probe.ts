/**
 * What the API needs of an image before (and often instead of) decoding it: its content key and
 * its header facts, with every check short of decoding the pixels (format, size, declared pixels).
 * Damage further into the file (truncation) surfaces when the image is decoded for its embedding,
 * only if one is needed and not cached.
 */
import { inspectImage, type DecodeLimits } from './decode';
import { hashImage } from './work-counts';

export interface ImageProbe {
  /** sha256 of the bytes, hex: the embedding cache's key. */
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly mode: string;
}

export async function probeImage(bytes: Uint8Array, limits?: Partial<DecodeLimits>): Promise<ImageProbe> {
  const d = await inspectImage(bytes, limits);
  return { sha256: hashImage(bytes), width: d.width, height: d.height, format: d.format, mode: d.mode };
}
