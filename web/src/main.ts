/** The page's entry point: service info (models, backends), then the forms. */
import { WebServiceInfoDocument, describeError, errorsOf, request, ENDPOINT } from './api';
import { showModelWarning } from './banner';
import { setupClassify } from './classify';
import { setupCollections } from './collections';
import { byId, h } from './dom';
import { setupSimilarity } from './similarity';

async function loadServiceInfo(): Promise<void> {
  const info = byId('service-info');
  const selects = Array.from(document.querySelectorAll<HTMLSelectElement>('select.backend-select'));
  const modelSelects = Array.from(document.querySelectorAll<HTMLSelectElement>('select.model-select'));
  try {
    const data = await request(ENDPOINT, WebServiceInfoDocument);
    const model = data.models.find((m) => m.isDefault) ?? data.models[0];
    // Every form that encodes chooses among the served models (CLIP_MODELS); the default is preselected.
    for (const select of modelSelects) {
      select.replaceChildren(...data.models.map((m) => h('option', { value: m.name, selected: m.isDefault }, `${m.name} (D = ${m.embedDim ?? '?'}, ${m.imageSize} px)${m.isDefault ? ', default' : ''}`)));
    }
    for (const select of selects) {
      select.replaceChildren(
        ...data.backends.map((b) =>
          h('option', { value: b.name, selected: b.isDefault }, `${b.name} (${b.healthy ? b.device : b.device === 'not started' ? 'starts on first use' : 'unavailable'})${b.isDefault ? ', default' : ''}`),
        ),
      );
    }
    const def = data.backends.find((b) => b.isDefault);
    const others = data.models.length > 1 ? ` (of ${data.models.length}: ${data.models.map((m) => m.name).join(', ')})` : '';
    info.textContent = model ? `Model ${model.name}${others}${def ? `, default backend ${def.name} on ${def.device}` : ''}.` : 'No model loaded.';
    if (model) showModelWarning(model);
  } catch (e) {
    info.textContent = `Could not read the service's status: ${errorsOf(e).map(describeError).join(' ')}`;
    for (const select of [...selects, ...modelSelects]) select.replaceChildren(h('option', { value: '' }, 'default'));
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
