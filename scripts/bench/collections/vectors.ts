/**
 * Evaluation vectors for the store benchmark, unit length, D wide:
 *
 *   random      uniform on the sphere (Gaussian, normalised): HNSW's worst case, no structure;
 *   structured  what image embeddings look like more: `clusters` centres drawn N(0, I) in a
 *               `latent`-dimensional space, each point its centre plus N(0, spread² I) there,
 *               projected to D by one fixed Gaussian matrix (latent -> D), plus N(0, noise² I) in
 *               D, then normalised. Defaults 200 clusters, latent 64, spread 0.5, noise 0.05 (the
 *               parameters of the faiss measurement in ../shared/FACTS.md, with the spread stated).
 * Queries come from the same distribution (a fresh seed).
 */
import { randomUnit } from '../common';

export interface StructuredParams {
  readonly clusters: number;
  readonly latent: number;
  readonly spread: number;
  readonly noise: number;
}

export const STRUCTURED: StructuredParams = { clusters: 200, latent: 64, spread: 0.5, noise: 0.05 };

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** A generator of unit vectors of `kind`; `shape` (the centres and projection) is drawn from `shapeRng` once. */
export function vectorSource(kind: 'random' | 'structured', dim: number, shapeRng: () => number, p: StructuredParams = STRUCTURED): (r: () => number) => Float32Array {
  if (kind === 'random') return (r) => randomUnit(r, dim);
  const centres = Array.from({ length: p.clusters }, () => Float64Array.from({ length: p.latent }, () => gauss(shapeRng)));
  const proj = Float64Array.from({ length: p.latent * dim }, () => gauss(shapeRng) / Math.sqrt(p.latent));
  return (r) => {
    const c = centres[Math.floor(r() * p.clusters) % p.clusters];
    const z = Float64Array.from(c, (x) => x + p.spread * gauss(r));
    const v = new Float32Array(dim);
    let s = 0;
    for (let d = 0; d < dim; d++) {
      let x = p.noise * gauss(r);
      for (let k = 0; k < p.latent; k++) x += z[k] * proj[k * dim + d];
      v[d] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[d] *= inv;
    return v;
  };
}
