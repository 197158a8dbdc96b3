/**
 * Real CLIP models: the manifest, fetching, verifying. The CLI (cli.ts) is one user; the server
 * can be another (fetch the manifest's default model at start when it is missing).
 */
export { fetchModel, summarize, type FetchModelOptions, type FetchModelResult } from './fetch';
export { loadManifest, resolveModel, planFiles, hubEndpoint, type Manifest, type ManifestModel, type ManifestFile, type FormatSelection } from './manifest';
export { createProgress, silentProgress, type Progress } from './progress';
export { listModels, removeModel, readRecord, modelDir, RECORD_FILE, type FetchRecord, type ListedModel } from './store';
export { verifyModel, type VerifyReport } from './verify';
export { DEFAULT_MANIFEST, DEFAULT_MODELS_DIR } from './cli';
