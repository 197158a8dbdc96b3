/** The similarity heatmap: SVG generated in code, PNG rasterised by sharp, thumbnails by sharp. */
export { renderHeatmap, renderHeatmapSvg, clampWidth, MAX_HEATMAP_CELLS_PER_SIDE, MAX_HEATMAP_WIDTH, MIN_HEATMAP_WIDTH, type HeatmapImage, type HeatmapInput } from './svg';
export { renderHeatmapPng } from './png';
export { makeThumbnail, type Thumbnail } from '../preprocess/image/thumbnail';
export { ylOrRd, YLORRD_HEX } from './colormap';
