/**
 * The collection view: pick or create a collection, add image files to it (the file name is the
 * id), search it by a caption or by an image, and show the hits as thumbnails with their scores.
 */
import type { WebSearchQuery, WebSearchQueryVariables } from '../../client/gql/graphql';
import { WebAddImagesDocument, WebCollectionsDocument, WebCreateCollectionDocument, WebSearchDocument, describeError, errorsOf, mayDo, request, ENDPOINT } from './api';
import { byId, fileToDataUrl, h, setFieldError } from './dom';

export function setupCollections(): void {
  const select = byId<HTMLSelectElement>('collection-select');
  const info = byId('collection-info');
  const pickForm = byId<HTMLFormElement>('collection-pick-form');
  const nameEl = byId<HTMLInputElement>('collection-name');
  const modelEl = byId<HTMLSelectElement>('collection-model');
  const nameError = byId('collection-name-error');
  const addForm = byId<HTMLFormElement>('collection-add-form');
  const filesEl = byId<HTMLInputElement>('collection-files');
  const addButton = byId<HTMLButtonElement>('collection-add');
  const addStatus = byId('collection-add-status');
  const addError = byId('collection-add-error');
  const searchForm = byId<HTMLFormElement>('collection-search-form');
  const textEl = byId<HTMLInputElement>('collection-query-text');
  const queryFileEl = byId<HTMLInputElement>('collection-query-file');
  const kEl = byId<HTMLInputElement>('collection-k');
  const searchButton = byId<HTMLButtonElement>('collection-search');
  const searchStatus = byId('collection-search-status');
  const searchError = byId('collection-search-error');
  const resultEl = byId('collection-result');
  const counts = new Map<string, number>();
  // Adding to a collection and searching it send no model: the server encodes with the served
  // model bound to the collection (its weights, under whatever name serves them).

  // A key that may only read (CLIP_PAGE_KEY_FILE): no creating or adding.
  const writes = mayDo('write');
  if (!writes) {
    // style, not the hidden attribute: the stylesheet's display rules would override it.
    for (const el of [addForm, nameEl.closest('div')!]) el.style.display = 'none';
  }

  const describeSelected = () => {
    const name = select.value;
    info.textContent = name ? `${counts.get(name) ?? 0} image${counts.get(name) === 1 ? '' : 's'} in “${name}”.` : writes ? 'No collection yet: create one.' : 'No collection to search.';
  };

  /** Reloads the list, keeping (or moving to) `selected`. */
  async function refresh(selected = select.value): Promise<void> {
    try {
      const data = await request(ENDPOINT, WebCollectionsDocument);
      counts.clear();
      for (const c of data.collections) counts.set(c.name, c.count);
      select.replaceChildren(...data.collections.map((c) => h('option', { value: c.name, selected: c.name === selected }, `${c.name} (${c.count}, ${c.model})`)));
      describeSelected();
    } catch (e) {
      info.textContent = `Could not list the collections: ${errorsOf(e).map(describeError).join(' ')}`;
    }
  }

  select.addEventListener('change', describeSelected);
  // A new query clears the other kind: exactly one of caption and image is sent.
  textEl.addEventListener('input', () => {
    if (textEl.value) queryFileEl.value = '';
  });
  queryFileEl.addEventListener('change', () => {
    if (queryFileEl.files?.length) textEl.value = '';
  });

  pickForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      setFieldError(nameError, '', nameEl);
      const name = nameEl.value.trim();
      if (!name) {
        setFieldError(nameError, 'Write a name for the new collection.', nameEl);
        nameEl.focus();
        return;
      }
      try {
        await request(ENDPOINT, WebCreateCollectionDocument, { name, model: modelEl.value || null });
        nameEl.value = '';
        await refresh(name);
      } catch (err) {
        setFieldError(nameError, errorsOf(err).map(describeError).join(' '), nameEl);
        nameEl.focus();
      }
    })();
  });

  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      setFieldError(addError, '', filesEl);
      const files = Array.from(filesEl.files ?? []);
      const collection = select.value;
      if (!collection || files.length === 0) {
        setFieldError(addError, collection ? 'Choose one or more image files.' : 'Create or choose a collection first.', filesEl);
        filesEl.focus();
        return;
      }
      addButton.disabled = true;
      addStatus.textContent = `Adding ${files.length} image${files.length === 1 ? '' : 's'}…`;
      try {
        const images = await Promise.all(files.map(async (f) => ({ base64: await fileToDataUrl(f) })));
        const data = await request(ENDPOINT, WebAddImagesDocument, { collection, images, ids: files.map((f) => f.name), metadata: files.map((f) => ({ name: f.name, type: f.type })), model: null });
        // The count comes from the answer itself, so the info line agrees with the status line at
        // once; refresh() then reloads the list (other tabs may have added too).
        counts.set(collection, data.addImages.count);
        describeSelected();
        addStatus.textContent = `Added ${data.addImages.ids.length}; “${collection}” holds ${data.addImages.count}.`;
        filesEl.value = '';
        await refresh(collection);
      } catch (err) {
        addStatus.textContent = 'The images were not added.';
        setFieldError(addError, errorsOf(err).map((x) => (x.argument ? `${x.argument}: ${describeError(x)}` : describeError(x))).join(' '), filesEl);
        filesEl.focus();
      } finally {
        addButton.disabled = false;
      }
    })();
  });

  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      setFieldError(searchError, '', textEl, queryFileEl);
      const collection = select.value;
      const text = textEl.value.trim();
      const file = queryFileEl.files?.[0];
      if (!collection || (!text && !file)) {
        setFieldError(searchError, collection ? 'Write a caption or choose an image to search with.' : 'Create or choose a collection first.', textEl, queryFileEl);
        textEl.focus();
        return;
      }
      searchButton.disabled = true;
      resultEl.setAttribute('aria-busy', 'true');
      searchStatus.textContent = 'Searching…';
      try {
        const k = Math.min(100, Math.max(1, Number(kEl.value) || 8));
        const model = null;
        const vars: WebSearchQueryVariables = file ? { collection, image: { base64: await fileToDataUrl(file) }, k, model } : { collection, text, k, model };
        const data = await request(ENDPOINT, WebSearchDocument, vars);
        render(resultEl, data.search, file ? `the image ${file.name}` : `“${text}”`);
        searchStatus.textContent = `Done: ${data.search.hits.length} hit${data.search.hits.length === 1 ? '' : 's'}.`;
      } catch (err) {
        resultEl.replaceChildren();
        searchStatus.textContent = 'The search failed.';
        setFieldError(searchError, errorsOf(err).map(describeError).join(' '), textEl, queryFileEl);
      } finally {
        searchButton.disabled = false;
        resultEl.removeAttribute('aria-busy');
      }
    })();
  });

  void refresh();
}

function render(container: HTMLElement, result: WebSearchQuery['search'], query: string): void {
  const list = h('ol', { id: 'collection-hits', class: 'hits', 'aria-label': `Images nearest to ${query}, best first` });
  for (const hit of result.hits) {
    const img = hit.thumbnail ? h('img', { src: hit.thumbnail, alt: `Thumbnail of ${hit.id}`, width: 96, height: 96 }) : h('span', { class: 'no-preview' }, 'no preview');
    list.appendChild(
      h('li', { class: 'hit', 'data-id': hit.id, 'data-score': hit.score }, h('figure', { class: 'hit-figure' }, img, h('figcaption', {}, h('span', { class: 'hit-id' }, `${hit.rank}. ${hit.id}`), h('span', { class: 'hit-score' }, hit.score.toFixed(3))))),
    );
  }
  container.replaceChildren(h('h3', {}, `Nearest to ${query}`), h('p', { class: 'meta' }, `Model ${result.model}; score = cosine similarity.`), list);
}
