/**
 * SigLIP's vision tower beside CLIP's at the same shapes (ViT-B/16, 224 px, random weights), in
 * process on onnxruntime with the service's session options (raw.ts), interleaved rounds: does
 * SigLIP's cost follow its FLOPs? The towers are made once by vision_towers.py (transformers'
 * own classes, exported to ONNX) into --dir.
 *
 *   node dist/scripts/bench/backends/siglip-vs-clip.js [--dir /tmp/clipql-b16-towers] [--rounds 3] [--seconds 8] [--batch 16]
 * Prints each round's images/s and RESULT {json}: the median rates, their ratio, and the FLOPs ratio.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPython } from '../../../src/paths';
import { answer, args, log, median, REPO, runChild, runNode } from '../common';

async function main(): Promise<void> {
  const a = args();
  const dir = a.dir ?? path.join(os.tmpdir(), 'clipql-b16-towers');
  const rounds = Number(a.rounds ?? 3);
  const seconds = a.seconds ?? '8';
  const batch = a.batch ?? '16';
  const flopsFile = path.join(dir, 'flops.json');
  if (!fs.existsSync(flopsFile)) {
    log(`making the two ViT-B/16 towers in ${dir} (transformers, then torch.onnx)`);
    const flops = await runChild<Record<string, { gflops: number }>>(defaultPython(), [path.join(REPO, 'scripts', 'bench', 'backends', 'vision_towers.py'), dir]);
    fs.writeFileSync(flopsFile, JSON.stringify(flops));
  }
  const flops = JSON.parse(fs.readFileSync(flopsFile, 'utf8')) as Record<'clip' | 'siglip', { gflops: number }>;
  const rates: Record<'clip' | 'siglip', number[]> = { clip: [], siglip: [] };
  for (let r = 0; r < rounds; r++) {
    for (const kind of r % 2 ? (['siglip', 'clip'] as const) : (['clip', 'siglip'] as const)) {
      const res = await runNode<{ results: Array<{ itemsPerSecond: number }> }>('serving/raw', ['--model', path.join(dir, `${kind}-b-16`), '--tower', 'image', '--batches', batch, '--seconds', seconds]);
      rates[kind].push(res.results[0].itemsPerSecond);
      log(`round ${r + 1}: ${kind} ${res.results[0].itemsPerSecond.toFixed(2)} images/s`);
    }
  }
  const clip = median(rates.clip);
  const siglip = median(rates.siglip);
  answer({ batch: Number(batch), rates, clipPerSecond: clip, siglipPerSecond: siglip, speedRatio: siglip / clip, flops, costRatio: clip / siglip, flopsRatio: flops.siglip.gflops / flops.clip.gflops });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
