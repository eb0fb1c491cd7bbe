// Entry point of static/dist/viewer.js: defines window.RadViewer.
// Load with a plain <script src=".../dist/viewer.js"></script>; works under CSP script-src 'self'.
import { version as cornerstoneVersion } from '@cornerstonejs/core';
import { create, Viewer } from './viewer.js';
import { PRESETS } from './presets.js';

// Directory viewer.js was served from: viewer.css and computeWorker.js live beside it.
const script = typeof document !== 'undefined' ? document.currentScript : null;
const assetBase = script && script.src ? new URL('.', script.src).href : '';
if (assetBase) globalThis.__RADVIEWER_ASSET_BASE__ = assetBase;

// Add the stylesheet unless the page already links it (a <link> keeps CSP style-src 'self' happy).
function ensureStylesheet() {
  if (!assetBase || typeof document === 'undefined') return;
  const href = new URL('viewer.css', assetBase).href;
  const present = [...document.querySelectorAll('link[rel="stylesheet"]')].some((l) => l.href === href);
  if (present) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  link.dataset.radviewer = '';
  (document.head || document.documentElement).appendChild(link);
}
ensureStylesheet();

const RadViewer = Object.freeze({
  create,
  Viewer,
  presets: Object.freeze(Object.fromEntries(Object.entries(PRESETS).map(([k, v]) => [k, Object.freeze({ ...v })]))),
  cornerstoneVersion,
  assetBase,
});

window.RadViewer = RadViewer;
