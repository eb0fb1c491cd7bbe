// Shared internals of the RadViewer and RadPainter bundles: Cornerstone core set-up, a
// reference-counted rendering engine per bundle, and a tiny DOM helper. Each bundle is a
// separate IIFE, so each has its own copy of this module's state.
import {
  RenderingEngine,
  getRenderingCapabilities,
  getShouldUseCPURendering,
  init as csInit,
  setUseCPURendering,
} from '@cornerstonejs/core';
import { registerLoaderOnce } from './loader.js';

let coreDone = false;
const engines = new Map(); // engine id -> { engine, users }

export function webglWorks() {
  try {
    const caps = getRenderingCapabilities();
    return !!caps.webgl;
  } catch (e) {
    return false;
  }
}

/** Initialise Cornerstone core and the in-memory image loader (once per bundle). */
export function initCore() {
  if (coreDone) return;
  coreDone = true;
  csInit({ rendering: { webGlContextCount: 2 } });
  registerLoaderOnce();
}

/**
 * Cornerstone's init already switches to CPU rendering when no WebGL context can be made;
 * check again ourselves (cheap, cached) and honour an explicit request for CPU rendering.
 * The setting is global for the page: once one view falls back, all of them render on the CPU.
 */
export function applyRenderer(renderer) {
  if ((renderer === 'cpu' || !webglWorks()) && !getShouldUseCPURendering()) {
    setUseCPURendering(true);
  }
}

export function acquireEngine(id) {
  let entry = engines.get(id);
  if (!entry) {
    entry = { engine: new RenderingEngine(id), users: 0 };
    engines.set(id, entry);
  }
  entry.users += 1;
  return entry.engine;
}

export function releaseEngine(id) {
  const entry = engines.get(id);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users <= 0) {
    try {
      entry.engine.destroy();
    } catch (e) {
      /* ignore */
    }
    engines.delete(id);
  }
}

export function h(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  if (text !== undefined) el.textContent = text;
  return el;
}
