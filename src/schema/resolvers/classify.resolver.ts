import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { ClipqlError, ErrorCode } from '../../errors';
import { probabilities } from '../../similarity/similarity';
import type { RequestContext } from '../context';
import { ImageInput } from '../inputs';
import { checkCaptions, imageEmbeddings, MODEL_ARGUMENT, readImages, resolveBackend, scoresOf, textEmbeddings } from '../requests';
import { Classification, LabelScore } from '../types';
import { backendView, computedField, imageView, modelView } from '../views';

@Resolver(() => Classification)
export class ClassifyResolver {
  @Query(() => Classification, { description: 'Zero-shot classification, as in the CLIP notebook: the image against one prompt per label, ranked by cosine; probabilities by the model family\'s rule (CLIP: softmax of 100 × cosine over the labels; SigLIP: sigmoid(exp(logit_scale) × cosine + logit_bias) for each label on its own).' })
  async classify(
    @Arg('image', () => ImageInput) image: ImageInput,
    @Arg('labels', () => [String]) labels: string[],
    @Arg('template', () => String, { defaultValue: 'a photo of a {}', description: 'Prompt template; "{}" is replaced by each label.' }) template: string,
    @Arg('backend', () => String, { nullable: true }) backendName: string | null,
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<Classification> {
    const ctx = request.forModel(modelName);
    checkCaptions(labels, ctx, 'labels');
    if (!template.includes('{}')) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `template must contain "{}" where the label goes, got ${JSON.stringify(template.slice(0, 100))}`, { details: { argument: 'template' } });
    }
    const backend = await resolveBackend(ctx, backendName);
    const [ref] = await readImages([image], ctx, 'image');
    const prompts = labels.map((l) => template.split('{}').join(l));
    const [[img], txt] = await Promise.all([imageEmbeddings([ref], ctx, backend, 'image'), textEmbeddings(prompts, ctx, backend, 'labels')]);
    const scores = scoresOf(txt, [img]).map((row) => row[0]);
    let probs: number[] | undefined;
    const probability = (i: number) => (probs ??= probabilities(scores, ctx.pipeline.bundle.probability))[i];
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    const embedder = await ctx.pipeline.embedder(backend);
    return Object.assign(new Classification(), {
      image: imageView(ref, 0, backend, ctx.model.name),
      labels: order.map((i, rank) => computedField(Object.assign(new LabelScore(), { label: labels[i], prompt: prompts[i], score: scores[i], rank: rank + 1 }), 'probability', () => probability(i))),
      model: modelView(ctx, img.length),
      backend: backendView(embedder.backend, backend === ctx.pipeline.defaultBackend),
    });
  }
}
