/**
 * Real CLIP models: the manifest, fetching, verifying. The CLI (cli.ts) is one user; the server
 * can be another (fetch the manifest's default model at start when it is missing).
 */
export { downloadModel, summarize, type DownloadModelOptions, type DownloadModelResult } from './model-download';
export { loadManifest, resolveModel, planFiles, hubEndpoint, type Manifest, type ManifestModel, type ManifestFile, type FormatSelection } from './manifest';
export { createProgress, silentProgress, type Progress } from './progress';
export { listModels, removeModel, readRecord, modelDir, RECORD_FILE, type DownloadRecord, type ListedModel } from './model-folder';
export { verifyModel, type VerifyReport } from './verify';
export { DEFAULT_MANIFEST, DEFAULT_MODELS_DIR } from './cli';
