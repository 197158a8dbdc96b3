/**
 * OpenAI's embeddings API (https://platform.openai.com/docs/api-reference/embeddings) over
 * clipql's core path: the same request context, limits, DataLoaders, batchers and caches as the
 * GraphQL resolvers (schema/requests.ts), so an embedding here is the one `embedImages` /
 * `embedCaptions` return with `normalize: true` (the default): L2-normalised, float32.
 *
 *   { model?, input: string | string[], encoding_format?: "float" | "base64", dimensions?, user?,
 *     modality?: "text" | "image" }
 *
 * `modality: "image"` is Infinity's extension: each input is an http(s) URL (fetched under the
 * same SSRF rules and limits as GraphQL's ImageInput.url) or a data URI (ImageInput.base64).
 * `base64` is the float32 array's bytes, little-endian, as OpenAI sends it (the official clients
 * ask for it by default and decode it). `usage.prompt_tokens` counts the CLIP tokens read (start
 * and end tokens included, at most 77 a caption); images count 0.
 */
import { ClipqlError, ErrorCode } from '../../errors';
import type { ServedModel, ServedModels } from '../../served-models';
import type { RequestContext } from '../../schema/context';
import type { ImageInput } from '../../schema/inputs';
import { checkCaptions, checkImages, imageEmbeddings, readImages, resolveBackend, textEmbeddings } from '../../schema/requests';
import { embeddingView } from '../../schema/views';

export interface EmbeddingsResponse {
  readonly object: 'list';
  readonly data: Array<{ readonly object: 'embedding'; readonly index: number; readonly embedding: number[] | string }>;
  readonly model: string;
  readonly usage: { readonly prompt_tokens: number; readonly total_tokens: number };
}

const bad = (message: string, argument: string) => new ClipqlError(ErrorCode.BAD_USER_INPUT, `${argument}: ${message}`, { details: { argument } });

export async function createEmbeddings(body: unknown, models: ServedModels, contextFor: (model: ServedModel) => RequestContext): Promise<EmbeddingsResponse> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'the body must be a JSON object: {"model", "input", "encoding_format"}');
  const req = body as Record<string, unknown>;
  if (req.model !== undefined && req.model !== null && typeof req.model !== 'string') throw bad('must be a string', 'model');
  const model = models.resolve(req.model as string | undefined);
  const format = req.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw bad(`must be "float" or "base64", got ${JSON.stringify(format)}`, 'encoding_format');
  const modality = req.modality ?? 'text';
  if (modality !== 'text' && modality !== 'image') throw bad(`must be "text" or "image", got ${JSON.stringify(modality)}`, 'modality');
  const inputs = inputList(req.input);
  const ctx = contextFor(model);
  const dim = model.pipeline.bundle.embedDim;
  if (req.dimensions !== undefined && req.dimensions !== null && req.dimensions !== dim) throw bad(`this model's embeddings have ${dim} dimensions; it cannot shorten them (got ${JSON.stringify(req.dimensions)})`, 'dimensions');
  const backend = await resolveBackend(ctx, null);
  let raw: Float32Array[];
  let tokens = 0;
  if (modality === 'image') {
    const images = inputs.map(imageInput);
    checkImages(images, ctx, 'input');
    const refs = await readImages(images, ctx, 'input');
    raw = await imageEmbeddings(refs, ctx, backend, 'input');
  } else {
    checkCaptions(inputs, ctx, 'input');
    raw = await textEmbeddings(inputs, ctx, backend, 'input');
    // the tokens the text tower reads: special ones included, padding not, cut at the context
    for (const t of inputs) tokens += Math.min(model.pipeline.tokenizer.untruncatedLength(t), model.pipeline.bundle.contextLength);
  }
  return {
    object: 'list',
    data: raw.map((r, index) => {
      const values = embeddingView(r, true);
      return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(values) : values };
    }),
    model: model.name,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** `input` as a list of strings; OpenAI's token-id arrays are refused (CLIP has its own tokenizer). */
function inputList(input: unknown): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list)) throw bad('must be a string or an array of strings', 'input');
  if (list.length === 0) throw bad('must not be empty', 'input');
  list.forEach((x, i) => {
    if (typeof x === 'string') return;
    const tokens = typeof x === 'number' || (Array.isArray(x) && x.every((v) => typeof v === 'number'));
    throw bad(tokens ? 'token-id arrays are not supported: send the text (LangChain: check_embedding_ctx_length=False)' : 'must be a string', typeof input === 'string' ? 'input' : `input[${i}]`);
  });
  return list as string[];
}

/** An image input as GraphQL's ImageInput: a data URI as `base64`, an http(s) URL as `url`. */
function imageInput(s: string, i: number): ImageInput {
  if (/^data:/i.test(s)) return { base64: s } as ImageInput;
  if (/^https?:\/\//i.test(s)) return { url: s } as ImageInput;
  throw bad('with "modality": "image", each input is an http(s) URL or a data: URI', `input[${i}]`);
}

/** float32 little-endian bytes, base64: what OpenAI's `encoding_format: "base64"` carries. */
export function float32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}
