/** The banner shown while the model has random weights (the test fixture): its answers are noise. */
import { byId } from './dom';

export function showModelWarning(model: { name: string; randomWeights: boolean; warning?: string | null }): void {
  const banner = byId('model-banner');
  if (!model.randomWeights && !model.warning) {
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  const text = `Model ${model.name}: ${model.warning ?? 'random weights, similarities are meaningless.'}`;
  if (banner.textContent !== text) banner.textContent = text;
  banner.hidden = false;
}
