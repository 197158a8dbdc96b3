/** The page's entry point: service info (model, backends), then the two forms. */
import { WebServiceInfoDocument, describeError, errorsOf, request, ENDPOINT } from './api';
import { showModelWarning } from './banner';
import { setupClassify } from './classify';
import { setupCollections } from './collections';
import { byId, h } from './dom';
import { setupSimilarity } from './similarity';

async function loadServiceInfo(): Promise<void> {
  const info = byId('service-info');
  const selects = Array.from(document.querySelectorAll<HTMLSelectElement>('select.backend-select'));
  try {
    const data = await request(ENDPOINT, WebServiceInfoDocument);
    const model = data.models[0];
    for (const select of selects) {
      select.replaceChildren(
        ...data.backends.map((b) =>
          h('option', { value: b.name, selected: b.isDefault }, `${b.name} (${b.healthy ? b.device : b.device === 'not started' ? 'starts on first use' : 'unavailable'})${b.isDefault ? ', default' : ''}`),
        ),
      );
    }
    const def = data.backends.find((b) => b.isDefault);
    info.textContent = model ? `Model ${model.name}${def ? `, default backend ${def.name} on ${def.device}` : ''}.` : 'No model loaded.';
    if (model) showModelWarning(model);
  } catch (e) {
    info.textContent = `Could not read the service's status: ${errorsOf(e).map(describeError).join(' ')}`;
    for (const select of selects) select.replaceChildren(h('option', { value: '' }, 'default'));
  }
}

function start(): void {
  setupSimilarity();
  setupClassify();
  setupCollections();
  void loadServiceInfo();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
