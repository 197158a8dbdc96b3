/**
 * The soak's request mix, from a seed: valid requests (similarity, classify, embeddings; duplicate
 * images inside a request and across requests; captions up to the length limit; some images never
 * seen before, so the backend keeps working rather than answering from the cache) and invalid
 * ones (each with the code a correct server answers). Shares, by weight:
 *   valid ~70%: similarity 30, duplicates 8, long captions 8, embedCaptions 8, classify 8, fresh images 8
 *   invalid ~30%: bad base64, truncated, not an image, SVG, caption over the limit, empty list,
 *                 parse error, unknown field, malformed JSON, bomb header (5 each, 2 for the last)
 */
import { readFileSync } from 'node:fs';
import { patternImage, pngDeclaring } from '../helpers/images';
import { notebook } from '../helpers/shared';
import { rng, type Shot } from './harness';

const SIM = 'query($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions) { scores bestCaptionPerImage { caption score } } }';
const CLASSIFY = 'query($image: ImageInput!, $labels: [String!]!) { classify(image: $image, labels: $labels) { labels { label probability } } }';
const CAPTIONS = 'query($captions: [String!]!) { embedCaptions(captions: $captions) { tokenCount truncated embedding } }';

/** The server's caption limit the mix is built against (CLIP_MAX_CAPTION_CHARS default). */
export const MAX_CAPTION_CHARS = 2000;

export interface Mix {
  shot(i: number): Promise<Shot>;
}

export async function buildMix(seed: number): Promise<Mix> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pool = [
    ...(await Promise.all(Array.from({ length: 12 }, (_, k) => patternImage(100 + k, (['png', 'jpeg', 'webp'] as const)[k % 3], 64 + 8 * k, 48 + 4 * k)))),
    ...notebook().map((it) => readFileSync(it.path)),
  ].map((b) => b.toString('base64'));
  const words = ['a', 'photo', 'of', 'the', 'cat', 'dog', 'rocket', 'horse', 'coffee', 'page', 'astronaut', 'on', 'grey', 'red', 'small', 'big', 'camera', 'motorcycle'];
  const caption = (n = 4 + int(8)) => Array.from({ length: n }, () => words[int(words.length)]).join(' ');
  const longCaption = () => {
    let s = '';
    while (s.length < MAX_CAPTION_CHARS - 20) s += `${caption(6)}, `;
    return s.slice(0, MAX_CAPTION_CHARS - int(20));
  };
  const img = () => ({ base64: pool[int(pool.length)] });
  const truncated = (await patternImage(7, 'png', 96, 80)).subarray(0, 300).toString('base64');
  const bomb = (await pngDeclaring(20_000, 20_000)).toString('base64');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>').toString('base64');

  const kinds: Array<[string, number, (i: number) => Promise<Shot> | Shot]> = [
    ['similarity', 30, () => ({ kind: 'similarity', expect: 'ok', body: { query: SIM, variables: { images: Array.from({ length: 1 + int(3) }, img), captions: Array.from({ length: 1 + int(4) }, () => caption()) } } })],
    ['duplicates', 8, () => {
      const one = img();
      return { kind: 'duplicates', expect: 'ok', body: { query: SIM, variables: { images: [one, one, img(), one], captions: ['a photo', 'a photo', caption()] } } };
    }],
    ['long-caption', 8, () => ({ kind: 'long-caption', expect: 'ok', body: { query: SIM, variables: { images: [img()], captions: [longCaption(), caption()] } } })],
    ['embed-captions', 8, () => ({ kind: 'embed-captions', expect: 'ok', body: { query: CAPTIONS, variables: { captions: Array.from({ length: 1 + int(6) }, () => caption()) } } })],
    ['classify', 8, () => ({ kind: 'classify', expect: 'ok', body: { query: CLASSIFY, variables: { image: img(), labels: ['cat', 'dog', 'rocket', caption(2)] } } })],
    ['fresh-image', 8, async (i) => {
      const [w, h, captions] = [40 + int(60), 30 + int(60), [caption()]]; // every draw before the await: the stream stays seeded
      const png = await patternImage(10_000 + seed * 100_003 + i, 'png', w, h);
      return { kind: 'fresh-image', expect: 'ok', body: { query: SIM, variables: { images: [{ base64: png.toString('base64') }], captions } } };
    }],
    ['bad-base64', 5, () => ({ kind: 'bad-base64', expect: 'BAD_USER_INPUT', body: { query: SIM, variables: { images: [{ base64: '@@@ not base64 @@@' }], captions: ['x'] } } })],
    ['truncated', 5, () => ({ kind: 'truncated', expect: 'BAD_IMAGE', body: { query: SIM, variables: { images: [{ base64: truncated }], captions: ['x'] } } })],
    ['not-an-image', 5, () => ({ kind: 'not-an-image', expect: 'BAD_IMAGE', body: { query: SIM, variables: { images: [{ base64: Buffer.from(`plain text ${int(1e9)}`).toString('base64') }], captions: ['x'] } } })],
    ['svg', 5, () => ({ kind: 'svg', expect: 'UNSUPPORTED_FORMAT', body: { query: SIM, variables: { images: [{ base64: svg }], captions: ['x'] } } })],
    ['caption-over-limit', 5, () => ({ kind: 'caption-over-limit', expect: 'TOO_MANY_INPUTS', body: { query: SIM, variables: { images: [img()], captions: ['y'.repeat(MAX_CAPTION_CHARS + 1 + int(100))] } } })],
    ['empty-list', 5, () => ({ kind: 'empty-list', expect: 'BAD_USER_INPUT', body: { query: SIM, variables: { images: [], captions: ['x'] } } })],
    ['parse-error', 5, () => ({ kind: 'parse-error', expect: 'GRAPHQL_PARSE_FAILED', body: { query: '{ similarity(images: [ }' } })],
    ['unknown-field', 5, () => ({ kind: 'unknown-field', expect: 'GRAPHQL_VALIDATION_FAILED', body: { query: '{ models { name noSuchField } }' } })],
    ['malformed-json', 5, () => ({ kind: 'malformed-json', expect: 'BAD_REQUEST', body: '{"query": "{ models { name } }", ' })],
    ['bomb-header', 2, () => ({ kind: 'bomb-header', expect: 'IMAGE_TOO_LARGE', body: { query: SIM, variables: { images: [{ base64: bomb }], captions: ['x'] } } })],
  ];
  const total = kinds.reduce((s, k) => s + k[1], 0);
  return {
    async shot(i) {
      let r = random() * total;
      for (const [, w, make] of kinds) {
        if (r < w) return make(i);
        r -= w;
      }
      return kinds[0][2](i);
    },
  };
}
