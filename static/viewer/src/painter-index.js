// Entry point of static/dist/painter.js: defines window.RadPainter.
// Load with a plain <script src=".../dist/painter.js"></script>; works under CSP script-src 'self'.
import { version as cornerstoneVersion } from '@cornerstonejs/core';
import { MAX_SIZE, MIN_SIZE, Painter, create } from './painter.js';

// Directory painter.js was served from: painter.css lives beside it.
const script = typeof document !== 'undefined' ? document.currentScript : null;
const assetBase = script && script.src ? new URL('.', script.src).href : '';

// Add the stylesheet unless the page already links it (a <link> keeps CSP style-src 'self' happy).
function ensureStylesheet() {
  if (!assetBase || typeof document === 'undefined') return;
  const href = new URL('painter.css', assetBase).href;
  const present = [...document.querySelectorAll('link[rel="stylesheet"]')].some((l) => l.href === href);
  if (present) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  link.dataset.radpainter = '';
  (document.head || document.documentElement).appendChild(link);
}
ensureStylesheet();

/**
 * Load a stored mask PNG (URL or data URL, e.g. from toPngDataUrl or the server) as a 0/1
 * Uint8Array for the `masks` option or setMask(). A pixel is 1 when its grey (red) value >= 128.
 */
async function maskFromPng(src, width = 256, height = 256) {
  const img = new Image();
  img.src = src;
  await img.decode();
  if (img.naturalWidth !== width || img.naturalHeight !== height) {
    throw new RangeError(`RadPainter.maskFromPng: image is ${img.naturalWidth}x${img.naturalHeight}, expected ${width}x${height}`);
  }
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, width, height).data;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = d[4 * i] >= 128 && d[4 * i + 3] >= 128 ? 1 : 0;
  return out;
}

const RadPainter = Object.freeze({
  create,
  maskFromPng,
  Painter,
  minBrushSize: MIN_SIZE,
  maxBrushSize: MAX_SIZE,
  cornerstoneVersion,
  assetBase,
});

window.RadPainter = RadPainter;
