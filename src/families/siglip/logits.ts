/**
 * SigLIP's logit_scale and logit_bias from a whole-model ONNX graph (onnx/model.onnx of the
 * Transformers.js / onnx-community layout, optimum's export of SiglipModel), where they live only as
 * initializers. SiglipModel.forward computes
 *
 *   logits_per_text  = (text_embeds @ image_embeds.T) * logit_scale.exp() + logit_bias
 *   logits_per_image = logits_per_text.T
 *
 * so the graph's logits output is Add(Mul(·, S), B) (either operand order), behind at most a few
 * Transpose / Identity / Cast nodes, where B is a scalar initializer or Constant and S is either
 * Exp(a scalar) or, after the exporter folded the constants (optimum does), exp(logit_scale) itself
 * under a made-up name. That shape is what is read: it is what the model computes, whatever the
 * exporter named things. A graph without it, but with initializers named logit_scale and
 * logit_bias, is read by those names.
 */
import type { GraphNode, OnnxGraph } from '../onnx-graph';

export interface SiglipLogits {
  /** exp(logit_scale). */
  readonly scale: number;
  readonly bias: number;
  /** How they were found: the graph's Add(Mul(cos, scale), bias), or initializers by name. */
  readonly via: 'graph' | 'names';
}

const PASS_THROUGH = new Set(['Transpose', 'Identity', 'Cast']);
const OUTPUTS = ['logits_per_text', 'logits_per_image'];

/** The number a value name holds when it is a constant scalar (an initializer, a Constant node, through Identity / Cast). */
function constant(g: OnnxGraph, name: string, depth = 0): number | undefined {
  if (g.scalars.has(name)) return g.scalars.get(name);
  const p = g.producers.get(name);
  if (!p || depth > 4) return undefined;
  if (p.op === 'Constant') return p.scalar;
  if ((p.op === 'Identity' || p.op === 'Cast') && p.inputs.length >= 1) return constant(g, p.inputs[0], depth + 1);
  return undefined;
}

/** The producer of `name`, skipping pass-through nodes. */
function producer(g: OnnxGraph, name: string): GraphNode | undefined {
  let p = g.producers.get(name);
  for (let i = 0; p && PASS_THROUGH.has(p.op) && i < 8; i++) p = g.producers.get(p.inputs[0] ?? '');
  return p;
}

/** [the constant operand's value, the other operand] of a binary node, when exactly one operand is constant. */
function split(g: OnnxGraph, node: GraphNode): [number, string] | undefined {
  if (node.inputs.length !== 2) return undefined;
  const [a, b] = node.inputs.map((n) => constant(g, n));
  if (a !== undefined && b === undefined) return [a, node.inputs[1]];
  if (b !== undefined && a === undefined) return [b, node.inputs[0]];
  return undefined;
}

/** The scale operand of the Mul: exp(s) for Exp(s), else the folded value itself. */
function scaleOf(g: OnnxGraph, mul: GraphNode): number | undefined {
  const direct = split(g, mul);
  if (direct) return direct[0];
  for (const input of mul.inputs) {
    const p = producer(g, input);
    if (p?.op === 'Exp' && p.inputs.length === 1) {
      const s = constant(g, p.inputs[0]);
      if (s !== undefined) return Math.exp(s);
    }
  }
  return undefined;
}

export function siglipLogits(g: OnnxGraph): SiglipLogits | undefined {
  for (const out of OUTPUTS) {
    const add = producer(g, out);
    if (add?.op !== 'Add') continue;
    const biased = split(g, add);
    if (!biased) continue;
    const mul = producer(g, biased[1]);
    const scale = mul?.op === 'Mul' ? scaleOf(g, mul) : undefined;
    if (scale !== undefined && Number.isFinite(scale) && Number.isFinite(biased[0])) return { scale, bias: biased[0], via: 'graph' };
  }
  const [s, b] = [g.scalars.get('logit_scale'), g.scalars.get('logit_bias')];
  if (s !== undefined && b !== undefined) return { scale: Math.exp(s), bias: b, via: 'names' };
  return undefined;
}
