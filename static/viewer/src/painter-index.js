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

const RadPainter = Object.freeze({
  create,
  Painter,
  minBrushSize: MIN_SIZE,
  maxBrushSize: MAX_SIZE,
  cornerstoneVersion,
  assetBase,
});

window.RadPainter = RadPainter;
