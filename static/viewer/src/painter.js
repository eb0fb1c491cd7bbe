// RadPainter: binary mask painter for imaging findings.
//
// Cornerstone3D (StackViewport) shows the anatomy preview and owns the camera (zoom / pan);
// masks are our own Uint8Array labelmaps (0/1, row-major, width x height) drawn on a 2D canvas
// laid over the viewport with the same world->canvas transform. See docs/PAINTER.md for why.
import { Enums as csEnums, getShouldUseCPURendering, setUseCPURendering } from '@cornerstonejs/core';
import { acquireEngine, applyRenderer, h, initCore, releaseEngine } from './core.js';
import { addRecord, newSeriesUID, normalise, releaseImages } from './loader.js';
import { countOnes, fillPolygon, floodFill, sameArray, snapCentre, stampDisc, stampSegment } from './raster.js';
import { encodeBinaryPng, pngDataUrl } from './png.js';

const { Events, ViewportType } = csEnums;

const ENGINE_ID = 'radpainter-engine';
const TOOLS = {
  brush: { key: 'b', label: 'Brush', title: 'Brush (b): paint; hold Shift or Alt to erase' },
  eraser: { key: 'e', label: 'Eraser', title: 'Eraser (e)' },
  polygon: { key: 'p', label: 'Polygon', title: 'Polygon (p): click vertices; double-click, Enter or a click on the first vertex closes; Esc cancels; Shift/Alt while closing cuts out' },
  fill: { key: 'f', label: 'Fill', title: 'Fill (f): flood-fill the closed region under the click; Shift/Alt+click clears a connected region' },
  pan: { key: 'h', label: 'Pan', title: 'Pan (h) on left drag; always: middle drag or Space+drag; wheel zooms at the cursor' },
};
const KEY_TO_TOOL = Object.fromEntries(Object.entries(TOOLS).map(([t, d]) => [d.key, t]));
export const MIN_SIZE = 1;
export const MAX_SIZE = 64;
const DEFAULT_SIZE = 8;
const DEFAULT_OPACITY = 0.5;
const MAX_UNDO = 100;
const MIN_ZOOM = 0.25; // relative to "fitted"
const MAX_ZOOM = 40;
const VERTEX_MERGE_PX = 4; // a click this close (screen px) to the last vertex adds none (double-click)
const CLOSE_PX = 6; // a click this close (screen px) to the first vertex closes the polygon
const ACTIONS = new Set(['stroke', 'erase', 'polygon', 'fill', 'undo', 'redo', 'clear', 'set']);

let painterCounter = 0;

function fail(msg) {
  throw new TypeError(`RadPainter: ${msg}`);
}

function sizeStep(size, dir) {
  const step = size < 10 ? 1 : size < 24 ? 2 : 4;
  return Math.max(MIN_SIZE, Math.min(MAX_SIZE, size + dir * step));
}

function toBinary(arr, n, what) {
  if (!arr || typeof arr.length !== 'number') fail(`${what} must be a Uint8Array of ${n} values`);
  if (arr.length !== n) fail(`${what} has ${arr.length} values, expected ${n}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = arr[i] ? 1 : 0;
  return out;
}

function cssColor([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

export class Painter {
  constructor(element, options = {}) {
    if (!(element instanceof HTMLElement)) fail('create: element must be a DOM element');
    painterCounter += 1;
    this.id = `radpainter-${painterCounter}`;
    this.element = element;
    this.options = options;
    const W = options.width === undefined ? 256 : options.width;
    const H = options.height === undefined ? 256 : options.height;
    if (!Number.isInteger(W) || !Number.isInteger(H) || W <= 0 || H <= 0 || W > 4096 || H > 4096) {
      fail(`bad mask size ${W}x${H}`);
    }
    this.width = W;
    this.height = H;
    const findings = options.findings;
    if (!Array.isArray(findings) || findings.length === 0) fail('findings must be a non-empty array');
    this.findings = findings.map((f, i) => {
      if (!f || typeof f.key !== 'string' || !f.key) fail(`findings[${i}].key must be a non-empty string`);
      const c = Array.isArray(f.color) && f.color.length >= 3 ? f.color.slice(0, 3).map((v) => Math.max(0, Math.min(255, v | 0))) : [255, 80, 80];
      return { key: f.key, label: f.label == null ? f.key : String(f.label), color: c };
    });
    const keys = new Set();
    for (const f of this.findings) {
      if (keys.has(f.key)) fail(`duplicate finding key ${JSON.stringify(f.key)}`);
      keys.add(f.key);
    }
    this.masks = new Map();
    this.sizes = new Map();
    for (const f of this.findings) {
      this.masks.set(f.key, new Uint8Array(W * H));
      this.sizes.set(f.key, Number.isInteger(f.brushSize) ? f.brushSize : DEFAULT_SIZE);
    }
    const given = options.masks || {};
    for (const [k, m] of Object.entries(given)) {
      if (!this.masks.has(k)) fail(`masks: unknown finding ${JSON.stringify(k)}`);
      this.masks.set(k, toBinary(m, W * H, `masks[${JSON.stringify(k)}]`));
    }
    this.active = this.findings[0].key;
    this.tool = 'brush';
    this.opacity = Number.isFinite(options.opacity) ? Math.max(0, Math.min(1, options.opacity)) : DEFAULT_OPACITY;
    this._undo = [];
    this._redo = [];
    this._listeners = new Set();
    this._cleanup = [];
    this._destroyed = false;
    this._drag = null;
    this._poly = null; // [[x, y], ...] while a polygon is being drawn
    this._pointer = null; // last pointer position over the stage, canvas css px
    this._space = false;
    this._modErase = false;
    this._xf = null;
    this._fitScale = 1;
    this._layers = new Map();
    this._imageIds = [];
  }

  // ---------------------------------------------------------------- set-up
  async _mount() {
    initCore();
    applyRenderer(this.options.renderer || 'auto');
    this._buildDom();
    this.engine = acquireEngine(ENGINE_ID);
    this._engineHeld = true;
    this.viewportId = `${this.id}-vp`;
    const input = {
      viewportId: this.viewportId,
      type: ViewportType.STACK,
      element: this.vpEl,
      defaultOptions: { background: [0, 0, 0] },
    };
    try {
      this.engine.enableElement(input);
    } catch (e) {
      if (getShouldUseCPURendering()) throw e;
      console.warn('RadPainter: GPU rendering failed, falling back to CPU rendering', e);
      setUseCPURendering(true);
      this.engine.enableElement(input);
    }
    this.viewport = this.engine.getViewport(this.viewportId);
    this.renderer = getShouldUseCPURendering() ? 'cpu' : 'gpu';
    this.root.dataset.renderer = this.renderer;
    for (const f of this.findings) this._refreshLayer(f.key);
    await this._showBackground(this.options.background);
    this._wireEvents();
    this._resizeCanvas();
    this.resetView();
    this._updateUi();
    return this;
  }

  async _showBackground(bg) {
    const W = this.width;
    const H = this.height;
    const img = bg || { width: W, height: H, pixelData: new Uint8Array(W * H), windowCenter: 128, windowWidth: 256 };
    if (!img || typeof img !== 'object') fail('background must be an image object');
    // World units = mask pixels, whatever the preview's own size: the mask always covers the image.
    const rec = normalise({
      ...img,
      columnPixelSpacing: W / (img.width | 0 || W),
      rowPixelSpacing: H / (img.height | 0 || H),
      label: img.label || '',
    });
    this._spacing = [rec.columnPixelSpacing, rec.rowPixelSpacing];
    const id = addRecord(rec, newSeriesUID(), 0);
    this._imageIds = [id];
    await this.viewport.setStack([id], 0);
  }

  _buildDom() {
    const root = h('div', { class: 'rp-root', tabindex: '0', 'aria-label': 'Mask painter', 'data-rp': 'root' });
    const bar = h('div', { class: 'rp-toolbar', role: 'toolbar', 'aria-label': 'Painter tools' });
    const btn = (action, text, title, extra = {}) => {
      const b = h('button', { type: 'button', class: 'rp-btn', 'data-action': action, title, tabindex: '-1', ...extra }, text);
      bar.appendChild(b);
      return b;
    };
    const sep = () => bar.appendChild(h('span', { class: 'rp-sep', 'aria-hidden': 'true' }));
    this.toolButtons = {};
    for (const [name, d] of Object.entries(TOOLS)) {
      this.toolButtons[name] = btn(`tool:${name}`, `${d.label} (${d.key})`, d.title, { 'aria-pressed': 'false' });
    }
    btn('reset-view', 'Reset view', 'Reset zoom and pan (r)');
    sep();
    const sizeWrap = h('label', { class: 'rp-field', title: 'Brush size in mask pixels ([ and ])' });
    sizeWrap.appendChild(h('span', {}, 'Size'));
    this.sizeInput = h('input', { type: 'range', min: MIN_SIZE, max: MAX_SIZE, step: 1, 'data-rp': 'size', tabindex: '-1', 'aria-label': 'Brush size' });
    this.sizeValue = h('span', { class: 'rp-value', 'data-rp': 'size-value' });
    sizeWrap.append(this.sizeInput, this.sizeValue);
    bar.appendChild(sizeWrap);
    const opWrap = h('label', { class: 'rp-field', title: 'Mask opacity' });
    opWrap.appendChild(h('span', {}, 'Opacity'));
    this.opacityInput = h('input', { type: 'range', min: 0, max: 100, step: 5, 'data-rp': 'opacity', tabindex: '-1', 'aria-label': 'Mask opacity' });
    this.opacityValue = h('span', { class: 'rp-value', 'data-rp': 'opacity-value' });
    opWrap.append(this.opacityInput, this.opacityValue);
    bar.appendChild(opWrap);
    sep();
    this.undoBtn = btn('undo', 'Undo', 'Undo (Ctrl+Z)');
    this.redoBtn = btn('redo', 'Redo', 'Redo (Ctrl+Y, Ctrl+Shift+Z)');
    btn('clear', 'Clear', 'Clear the active mask (undoable)');

    const body = h('div', { class: 'rp-body' });
    const side = h('div', { class: 'rp-side', 'data-rp': 'findings', role: 'listbox', 'aria-label': 'Findings' });
    side.appendChild(h('div', { class: 'rp-side-title' }, 'Findings'));
    this.findingItems = new Map();
    this.findings.forEach((f, i) => {
      const item = h('button', {
        type: 'button', class: 'rp-finding', role: 'option', tabindex: '-1', 'data-key': f.key,
        title: `${f.label} (${i < 9 ? `key ${i + 1}` : f.key})`,
      });
      const sw = h('span', { class: 'rp-swatch', 'aria-hidden': 'true' });
      sw.style.backgroundColor = cssColor(f.color);
      const label = h('span', { class: 'rp-finding-label' }, f.label);
      const count = h('span', { class: 'rp-count', 'data-rp': 'count' }, '0');
      item.append(sw, label, count);
      side.appendChild(item);
      this.findingItems.set(f.key, { item, count });
    });
    const stage = h('div', { class: 'rp-stage', 'data-rp': 'stage' });
    const vpEl = h('div', { class: 'rp-viewport', 'data-rp': 'viewport' });
    const canvas = h('canvas', { class: 'rp-overlay-canvas', 'data-rp': 'overlay' });
    const cursor = h('div', { class: 'rp-cursor', 'data-rp': 'cursor', 'aria-hidden': 'true' });
    const ov = h('div', { class: 'rp-overlay', 'aria-live': 'off' });
    this.ov = {
      finding: h('div', { class: 'rp-ov rp-tl', 'data-rp': 'active' }),
      pos: h('div', { class: 'rp-ov rp-tr', 'data-rp': 'pos' }),
      tool: h('div', { class: 'rp-ov rp-bl', 'data-rp': 'tool' }),
      zoom: h('div', { class: 'rp-ov rp-br', 'data-rp': 'zoom' }),
    };
    Object.values(this.ov).forEach((e) => ov.appendChild(e));
    stage.append(vpEl, canvas, cursor, ov);
    body.append(side, stage);
    root.append(bar, body);
    this.element.classList.add('rp-host');
    this.element.appendChild(root);
    Object.assign(this, { root, toolbar: bar, side, stage, vpEl, canvas, cursorEl: cursor });
    this.ctx = canvas.getContext('2d');
  }

  _on(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this._cleanup.push(() => target.removeEventListener(type, fn, opts));
  }

  _wireEvents() {
    const c = this.canvas;
    this._on(this.vpEl, Events.CAMERA_MODIFIED, () => this._syncView());
    this._on(this.vpEl, Events.IMAGE_RENDERED, () => this._syncView());
    this._on(c, 'pointerdown', (e) => this._onPointerDown(e));
    this._on(c, 'pointermove', (e) => this._onPointerMove(e));
    this._on(c, 'pointerup', (e) => this._onPointerUp(e));
    this._on(c, 'pointercancel', (e) => this._onPointerUp(e));
    this._on(c, 'pointerleave', () => {
      if (!this._drag) {
        this._pointer = null;
        this._updateCursor();
        this.ov.pos.textContent = '';
      }
    });
    this._on(c, 'dblclick', (e) => {
      if (this.tool === 'polygon' && this._poly) {
        e.preventDefault();
        this._closePolygon(e.shiftKey || e.altKey);
      }
    });
    this._on(c, 'wheel', (e) => this._onWheel(e), { passive: false });
    this._on(c, 'contextmenu', (e) => e.preventDefault());
    this._on(this.root, 'pointerdown', (e) => {
      if (e.target.closest('.rp-btn, .rp-finding')) e.preventDefault();
      if (!e.target.closest('input')) this.root.focus({ preventScroll: true });
    });
    this._on(this.toolbar, 'click', (e) => {
      const b = e.target.closest('.rp-btn');
      if (b) this._action(b.dataset.action);
    });
    this._on(this.side, 'click', (e) => {
      const b = e.target.closest('.rp-finding');
      if (b) this.setActive(b.dataset.key);
    });
    this._on(this.sizeInput, 'input', () => this.setBrushSize(Number(this.sizeInput.value)));
    this._on(this.opacityInput, 'input', () => this.setOpacity(Number(this.opacityInput.value) / 100));
    // sliders hand keyboard focus back so b/e/[/] keep working
    this._on(this.sizeInput, 'change', () => this.root.focus({ preventScroll: true }));
    this._on(this.opacityInput, 'change', () => this.root.focus({ preventScroll: true }));
    this._on(this.root, 'keydown', (e) => this._onKey(e, true));
    this._on(this.root, 'keyup', (e) => this._onKey(e, false));
    this._on(window, 'blur', () => {
      this._space = false;
      this._setModErase(false);
    });
    if (typeof ResizeObserver !== 'undefined') {
      let raf = 0;
      const ro = new ResizeObserver(() => {
        cancelAnimationFrame(raf);
        raf = requestAnimationFrame(() => this._onResize());
      });
      ro.observe(this.stage);
      this._cleanup.push(() => {
        cancelAnimationFrame(raf);
        ro.disconnect();
      });
    }
  }

  _onResize() {
    if (this._destroyed || !this.engine) return;
    // Keep the zoom level; the view is re-centred (pan is not kept across a resize).
    const zoom = this.zoom;
    this.engine.resize(true, true);
    this._resizeCanvas();
    this.resetView();
    if (Math.abs(zoom - 1) > 1e-3) this._zoomAt(null, zoom);
  }

  _resizeCanvas() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.stage.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(this.stage.clientHeight * dpr));
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== hgt) this.canvas.height = hgt;
    this._dpr = dpr;
  }

  // ---------------------------------------------------------------- view geometry
  // Mask coordinate u (pixel i covers [i, i+1)) -> world. On the GPU (vtk.js) path background
  // pixel k is centred at world k * spacing, so the image (and the mask) spans world
  // [-spacing/2, W - spacing/2]. Cornerstone's CPU fallback puts the image corner at world 0
  // instead (checked with screenshots: both draw the image at the same canvas pixels), so there
  // the offset is 0. The browser test checks both paths against the on-screen image position.
  _maskToWorld(u, v) {
    const half = this.renderer === 'cpu' ? 0 : 0.5;
    return [u - half * this._spacing[0], v - half * this._spacing[1], 0];
  }

  _computeTransform() {
    const vp = this.viewport;
    const W = this.width;
    const H = this.height;
    const o = vp.worldToCanvas(this._maskToWorld(0, 0));
    const x = vp.worldToCanvas(this._maskToWorld(W, 0));
    const y = vp.worldToCanvas(this._maskToWorld(0, H));
    // canvas = [a c e; b d f] * [u v 1]
    const a = (x[0] - o[0]) / W;
    const b = (x[1] - o[1]) / W;
    const c = (y[0] - o[0]) / H;
    const d = (y[1] - o[1]) / H;
    return { a, b, c, d, e: o[0], f: o[1], det: a * d - b * c, scale: Math.sqrt(Math.abs(a * d - b * c)) };
  }

  /** canvas css px -> continuous mask coordinates */
  _toMask(px, py) {
    const t = this._xf;
    const x = px - t.e;
    const y = py - t.f;
    return [(t.d * x - t.c * y) / t.det, (-t.b * x + t.a * y) / t.det];
  }

  /** continuous mask coordinates -> canvas css px */
  _toCanvas(u, v) {
    const t = this._xf;
    return [t.a * u + t.c * v + t.e, t.b * u + t.d * v + t.f];
  }

  /** Screen pixels per mask pixel right now. */
  get scale() {
    return this._xf ? this._xf.scale : 1;
  }

  /** Zoom relative to "image fitted to the view" (1 after resetView). */
  get zoom() {
    return this._xf ? this._xf.scale / this._fitScale : 1;
  }

  _syncView() {
    if (this._destroyed || !this.viewport) return;
    this._xf = this._computeTransform();
    this._draw();
    this._updateCursor();
    this.ov.zoom.textContent = `Zoom: ${this.zoom.toFixed(2)}x${this.renderer === 'cpu' ? ' \u00B7 CPU' : ''}`;
  }

  resetView() {
    this._alive();
    const vp = this.viewport;
    vp.resetCamera({ resetPan: true, resetZoom: true, resetToCenter: true });
    vp.render();
    this._xf = this._computeTransform();
    this._fitScale = this._xf.scale;
    this._syncView();
  }

  _zoomAt(point, factor) {
    const vp = this.viewport;
    const cur = this.zoom;
    const target = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, cur * factor));
    const f = target / cur;
    if (!Number.isFinite(f) || Math.abs(f - 1) < 1e-9) return;
    const p = point || [this.stage.clientWidth / 2, this.stage.clientHeight / 2];
    const cam = vp.getCamera();
    const w0 = vp.canvasToWorld(p);
    vp.setCamera({ parallelScale: cam.parallelScale / f });
    const w1 = vp.canvasToWorld(p);
    const c2 = vp.getCamera();
    const d = [w0[0] - w1[0], w0[1] - w1[1], w0[2] - w1[2]];
    vp.setCamera({
      focalPoint: [c2.focalPoint[0] + d[0], c2.focalPoint[1] + d[1], c2.focalPoint[2] + d[2]],
      position: [c2.position[0] + d[0], c2.position[1] + d[1], c2.position[2] + d[2]],
    });
    vp.render();
    this._syncView();
  }

  /** Zoom by `factor` about the view centre (or a canvas point [x, y]). */
  zoomBy(factor, point) {
    this._alive();
    this._zoomAt(point || null, factor);
  }

  _panBy(dx, dy) {
    const vp = this.viewport;
    const w0 = vp.canvasToWorld([0, 0]);
    const w1 = vp.canvasToWorld([dx, dy]);
    const d = [w0[0] - w1[0], w0[1] - w1[1], w0[2] - w1[2]];
    const cam = vp.getCamera();
    vp.setCamera({
      focalPoint: [cam.focalPoint[0] + d[0], cam.focalPoint[1] + d[1], cam.focalPoint[2] + d[2]],
      position: [cam.position[0] + d[0], cam.position[1] + d[1], cam.position[2] + d[2]],
    });
    vp.render();
    this._syncView();
  }

  // ---------------------------------------------------------------- drawing the overlay
  _refreshLayer(key) {
    const W = this.width;
    const H = this.height;
    let layer = this._layers.get(key);
    if (!layer) {
      const cv = document.createElement('canvas');
      cv.width = W;
      cv.height = H;
      const ctx = cv.getContext('2d');
      layer = { cv, ctx, img: ctx.createImageData(W, H) };
      this._layers.set(key, layer);
    }
    const [r, g, b] = this.findings.find((f) => f.key === key).color;
    const m = this.masks.get(key);
    const px = layer.img.data;
    for (let i = 0, p = 0; i < m.length; i++, p += 4) {
      if (m[i]) {
        px[p] = r;
        px[p + 1] = g;
        px[p + 2] = b;
        px[p + 3] = 255;
      } else {
        px[p + 3] = 0;
      }
    }
    layer.ctx.putImageData(layer.img, 0, 0);
  }

  _draw() {
    const ctx = this.ctx;
    const dpr = this._dpr || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const t = this._xf;
    if (!t) return;
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = this.opacity;
    ctx.setTransform(dpr * t.a, dpr * t.b, dpr * t.c, dpr * t.d, dpr * t.e, dpr * t.f);
    // non-active masks first, the active one on top
    for (const f of this.findings) if (f.key !== this.active) ctx.drawImage(this._layers.get(f.key).cv, 0, 0);
    ctx.drawImage(this._layers.get(this.active).cv, 0, 0);
    ctx.globalAlpha = 1;
    if (this._poly && this._poly.length) this._drawPolygonPreview(ctx, dpr);
  }

  _drawPolygonPreview(ctx, dpr) {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pts = this._poly.map(([u, v]) => this._toCanvas(u, v));
    const color = cssColor(this.findings.find((f) => f.key === this.active).color);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    if (this._pointer) {
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      const [lx, ly] = pts[pts.length - 1];
      ctx.moveTo(lx, ly);
      ctx.lineTo(this._pointer[0], this._pointer[1]);
      if (pts.length >= 2) ctx.lineTo(pts[0][0], pts[0][1]);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const [x, y] of pts) {
      ctx.beginPath();
      ctx.arc(x, y, 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  _updateCursor() {
    const el = this.cursorEl;
    const show = !!(this._pointer && this._xf && (this.tool === 'brush' || this.tool === 'eraser') && !this._space && !(this._drag && this._drag.type === 'pan'));
    el.classList.toggle('rp-visible', show);
    this.stage.classList.toggle('rp-panning', !!(this._space || this.tool === 'pan' || (this._drag && this._drag.type === 'pan')));
    this.stage.dataset.tool = this.tool;
    if (!show) return;
    const size = this.brushSize;
    const [u, v] = this._toMask(this._pointer[0], this._pointer[1]);
    const [x, y] = this._toCanvas(snapCentre(u, size), snapCentre(v, size));
    const d = size * this._xf.scale; // true to size: brush diameter in mask px x screen px per mask px
    el.style.width = `${d}px`;
    el.style.height = `${d}px`;
    el.style.transform = `translate(${x - d / 2}px, ${y - d / 2}px)`;
    el.classList.toggle('rp-erasing', this.tool === 'eraser' || this._modErase || !!(this._drag && this._drag.erase));
  }

  // ---------------------------------------------------------------- input
  _point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  _onPointerDown(e) {
    if (this._drag) return;
    const p = this._point(e);
    this._pointer = p;
    const panning = e.button === 1 || (e.button === 0 && (this._space || this.tool === 'pan'));
    if (panning) {
      e.preventDefault();
      this._drag = { type: 'pan', last: p, pointerId: e.pointerId };
      this.canvas.setPointerCapture(e.pointerId);
      this._updateCursor();
      return;
    }
    if (e.button !== 0) return;
    const [u, v] = this._toMask(p[0], p[1]);
    const erase = e.shiftKey || e.altKey;
    if (this.tool === 'brush' || this.tool === 'eraser') {
      e.preventDefault();
      const key = this.active;
      const mask = this.masks.get(key);
      const drag = {
        type: 'stroke', key, erase: this.tool === 'eraser' || erase, before: mask.slice(), last: [u, v],
        pointerId: e.pointerId, size: this.brushSize,
      };
      this._drag = drag;
      this.canvas.setPointerCapture(e.pointerId);
      const s = drag.size;
      if (stampDisc(mask, this.width, this.height, snapCentre(u, s), snapCentre(v, s), s, drag.erase ? 0 : 1)) {
        this._refreshLayer(key);
      }
      this._draw();
      this._updateCursor();
    } else if (this.tool === 'polygon') {
      e.preventDefault();
      if (!this._poly) this._poly = [];
      if (this._poly.length >= 3) {
        // clicking the first vertex again closes the polygon, as in most drawing tools
        const [fx, fy] = this._toCanvas(this._poly[0][0], this._poly[0][1]);
        if (Math.hypot(fx - p[0], fy - p[1]) < CLOSE_PX) {
          this._closePolygon(erase);
          return;
        }
      }
      const last = this._poly[this._poly.length - 1];
      if (last) {
        const [lx, ly] = this._toCanvas(last[0], last[1]);
        if (Math.hypot(lx - p[0], ly - p[1]) < VERTEX_MERGE_PX) return;
      }
      this._poly.push([u, v]);
      this._draw();
    } else if (this.tool === 'fill') {
      e.preventDefault();
      const i = Math.floor(u);
      const j = Math.floor(v);
      if (i < 0 || j < 0 || i >= this.width || j >= this.height) return;
      this._edit(this.active, 'fill', (m) => floodFill(m, this.width, this.height, i, j, erase ? 0 : 1));
    }
  }

  _onPointerMove(e) {
    const p = this._point(e);
    this._pointer = p;
    const d = this._drag;
    if (d && d.type === 'pan') {
      this._panBy(p[0] - d.last[0], p[1] - d.last[1]);
      d.last = p;
      return;
    }
    if (d && d.type === 'stroke') {
      const mask = this.masks.get(d.key);
      const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      const pts = events.length ? events.map((ev) => this._point(ev)) : [p];
      let changed = false;
      for (const q of pts) {
        const [u, v] = this._toMask(q[0], q[1]);
        if (stampSegment(mask, this.width, this.height, d.last[0], d.last[1], u, v, d.size, d.erase ? 0 : 1)) changed = true;
        d.last = [u, v];
      }
      if (changed) {
        this._refreshLayer(d.key);
        this._draw();
      }
    } else if (this._poly) {
      this._draw();
    }
    this._updateCursor();
    if (this._xf) {
      const [u, v] = this._toMask(p[0], p[1]);
      const i = Math.floor(u);
      const j = Math.floor(v);
      this.ov.pos.textContent = i >= 0 && j >= 0 && i < this.width && j < this.height ? `x ${i}  y ${j}` : '';
    }
  }

  _onPointerUp(e) {
    const d = this._drag;
    if (!d || (d.pointerId !== undefined && e.pointerId !== d.pointerId)) return;
    this._drag = null;
    try {
      this.canvas.releasePointerCapture(e.pointerId);
    } catch (err) {
      /* not captured */
    }
    if (d.type === 'stroke') {
      const after = this.masks.get(d.key);
      if (!sameArray(d.before, after)) {
        // a cancelled pointer (e.g. touch turned into a gesture) still keeps what was painted
        this._commit(d.key, d.erase ? 'erase' : 'stroke', d.before, after.slice());
      }
    }
    this._updateCursor();
  }

  _onWheel(e) {
    e.preventDefault();
    if (!this._xf) return;
    const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
    const dy = e.deltaY * unit;
    if (!dy) return;
    this._zoomAt(this._point(e), 2 ** (-dy / 400)); // 4 notches of 100 = 2x
  }

  _setModErase(on) {
    if (this._modErase === on) return;
    this._modErase = on;
    this._updateCursor();
  }

  _onKey(e, down) {
    if (e.target && e.target.closest && e.target.closest('input')) {
      if (!(e.key === '[' || e.key === ']')) return;
    }
    this._setModErase(e.shiftKey || e.altKey);
    if (e.key === ' ' || e.key === 'Spacebar') {
      e.preventDefault();
      this._space = down;
      this._updateCursor();
      return;
    }
    if (!down) return;
    if (e.key === 'Alt') e.preventDefault(); // keep the browser menu bar out of Alt+drag erasing
    const k = e.key;
    const lower = k.length === 1 ? k.toLowerCase() : k;
    let handled = true;
    if (e.ctrlKey || e.metaKey) {
      if (lower === 'z' && !e.shiftKey) this.undo();
      else if (lower === 'y' || (lower === 'z' && e.shiftKey)) this.redo();
      else handled = false;
    } else if (e.altKey) {
      handled = false;
    } else if (KEY_TO_TOOL[lower]) {
      this.setTool(KEY_TO_TOOL[lower]);
    } else if (k === '[' || k === ']') {
      this.setBrushSize(sizeStep(this.brushSize, k === ']' ? 1 : -1));
    } else if (k === 'Enter') {
      if (this._poly) this._closePolygon(e.shiftKey);
    } else if (k === 'Escape') {
      if (this._poly) this._cancelPolygon();
      else handled = false;
    } else if (k === '+' || k === '=') {
      this._zoomAt(this._pointer, 1.25);
    } else if (k === '-' || k === '_') {
      this._zoomAt(this._pointer, 0.8);
    } else if (lower === 'r' || k === '0') {
      this.resetView();
    } else if (/^[1-9]$/.test(k) && Number(k) <= this.findings.length) {
      this.setActive(this.findings[Number(k) - 1].key);
    } else {
      handled = false;
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  _action(action) {
    if (!action) return;
    if (action.startsWith('tool:')) this.setTool(action.slice(5));
    else if (action === 'reset-view') this.resetView();
    else if (action === 'undo') this.undo();
    else if (action === 'redo') this.redo();
    else if (action === 'clear') this.clear(this.active);
  }

  // ---------------------------------------------------------------- polygon
  _closePolygon(subtract) {
    const pts = this._poly;
    this._poly = null;
    if (pts && pts.length >= 3) {
      this._edit(this.active, 'polygon', (m) => fillPolygon(m, this.width, this.height, pts, subtract ? 0 : 1));
    }
    this._draw();
  }

  _cancelPolygon() {
    this._poly = null;
    this._draw();
  }

  // ---------------------------------------------------------------- edits, undo, events
  _edit(key, action, fn) {
    const mask = this.masks.get(key);
    const before = mask.slice();
    if (!fn(mask)) return false;
    if (sameArray(before, mask)) return false;
    this._commit(key, action, before, mask.slice());
    return true;
  }

  _commit(key, action, before, after) {
    this._undo.push({ key, before, after });
    if (this._undo.length > MAX_UNDO) this._undo.shift();
    this._redo.length = 0;
    this._refreshLayer(key);
    this._draw();
    this._updateUi();
    this._emit(key, action);
  }

  _emit(key, action) {
    if (!ACTIONS.has(action)) return;
    const ev = { key, action };
    for (const cb of [...this._listeners]) {
      try {
        cb(ev);
      } catch (err) {
        console.error('RadPainter: onChange callback failed', err);
      }
    }
  }

  onChange(cb) {
    if (typeof cb !== 'function') fail('onChange: callback must be a function');
    this._listeners.add(cb);
    return () => {
      this._listeners.delete(cb);
    };
  }

  undo() {
    this._alive();
    this._finishDrag();
    const step = this._undo.pop();
    if (!step) return false;
    this.masks.get(step.key).set(step.before);
    this._redo.push(step);
    this._refreshLayer(step.key);
    this._draw();
    this._updateUi();
    this._emit(step.key, 'undo');
    return true;
  }

  redo() {
    this._alive();
    this._finishDrag();
    const step = this._redo.pop();
    if (!step) return false;
    this.masks.get(step.key).set(step.after);
    this._undo.push(step);
    this._refreshLayer(step.key);
    this._draw();
    this._updateUi();
    this._emit(step.key, 'redo');
    return true;
  }

  get canUndo() {
    return this._undo.length > 0;
  }

  get canRedo() {
    return this._redo.length > 0;
  }

  _finishDrag() {
    // ctrl+z in the middle of a stroke: end the stroke first so it is one undo step.
    const d = this._drag;
    if (d && d.type === 'stroke') this._onPointerUp({ pointerId: d.pointerId });
  }

  // ---------------------------------------------------------------- public API
  _key(key) {
    const k = key === undefined ? this.active : key;
    if (!this.masks.has(k)) throw new RangeError(`RadPainter: unknown finding ${JSON.stringify(k)}`);
    return k;
  }

  setActive(key) {
    this._alive();
    const k = this._key(key);
    if (k === this.active) return;
    this._finishDrag();
    this._poly = null;
    this.active = k;
    this._draw();
    this._updateUi();
  }

  getActive() {
    return this.active;
  }

  setTool(name) {
    this._alive();
    if (!TOOLS[name]) throw new RangeError(`RadPainter: unknown tool ${JSON.stringify(name)}; use one of ${Object.keys(TOOLS).join(', ')}`);
    if (name !== 'polygon') this._poly = null;
    this.tool = name;
    this._draw();
    this._updateUi();
  }

  getTool() {
    return this.tool;
  }

  get brushSize() {
    return this.sizes.get(this.active);
  }

  /** Brush diameter in mask pixels for the active finding (remembered per finding). */
  setBrushSize(size) {
    this._alive();
    const s = Math.max(MIN_SIZE, Math.min(MAX_SIZE, Math.round(Number(size)) || MIN_SIZE));
    this.sizes.set(this.active, s);
    this._updateUi();
  }

  setOpacity(value) {
    this._alive();
    const v = Number(value);
    this.opacity = Math.max(0, Math.min(1, Number.isFinite(v) ? v : DEFAULT_OPACITY));
    this._draw();
    this._updateUi();
  }

  getMask(key) {
    return this.masks.get(this._key(key)).slice();
  }

  getMasks() {
    const out = {};
    for (const [k, m] of this.masks) out[k] = m.slice();
    return out;
  }

  setMask(key, arr) {
    this._alive();
    const k = this._key(key);
    const next = toBinary(arr, this.width * this.height, 'setMask: mask');
    return this._edit(k, 'set', (m) => {
      m.set(next);
      return true;
    });
  }

  clear(key) {
    this._alive();
    const k = this._key(key);
    return this._edit(k, 'clear', (m) => {
      m.fill(0);
      return true;
    });
  }

  toPngDataUrl(key) {
    const k = this._key(key);
    return pngDataUrl(encodeBinaryPng(this.masks.get(k), this.width, this.height));
  }

  /** PNG bytes of one mask (1-bit greyscale), e.g. to upload with FormData. */
  toPngBytes(key) {
    const k = this._key(key);
    return encodeBinaryPng(this.masks.get(k), this.width, this.height);
  }

  _updateUi() {
    if (this._destroyed) return;
    for (const [name, b] of Object.entries(this.toolButtons)) {
      b.classList.toggle('rp-active', name === this.tool);
      b.setAttribute('aria-pressed', String(name === this.tool));
    }
    for (const f of this.findings) {
      const { item, count } = this.findingItems.get(f.key);
      const on = f.key === this.active;
      item.classList.toggle('rp-active', on);
      item.setAttribute('aria-selected', String(on));
      count.textContent = String(countOnes(this.masks.get(f.key)));
    }
    const size = this.brushSize;
    this.sizeInput.value = String(size);
    this.sizeValue.textContent = `${size} px`;
    const op = Math.round(this.opacity * 100);
    this.opacityInput.value = String(op);
    this.opacityValue.textContent = `${op}%`;
    this.undoBtn.disabled = !this._undo.length;
    this.redoBtn.disabled = !this._redo.length;
    const f = this.findings.find((x) => x.key === this.active);
    this.ov.finding.textContent = f.label;
    this.ov.tool.textContent = `${TOOLS[this.tool].label}${this.tool === 'brush' || this.tool === 'eraser' ? ` ${size} px` : ''}`;
    this._updateCursor();
  }

  // ---------------------------------------------------------------- teardown
  _alive() {
    if (this._destroyed) throw new Error('RadPainter: this painter has been destroyed');
  }

  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    this._listeners.clear();
    for (const fn of this._cleanup.splice(0)) fn();
    try {
      if (this.engine) this.engine.disableElement(this.viewportId);
    } catch (e) {
      /* ignore */
    }
    if (this._engineHeld) releaseEngine(ENGINE_ID);
    this._engineHeld = false;
    this.engine = null;
    this.viewport = null;
    releaseImages(this._imageIds);
    this._imageIds = [];
    this._layers.clear();
    if (this.root && this.root.parentNode) this.root.parentNode.removeChild(this.root);
    this.element.classList.remove('rp-host');
  }
}

export async function create(element, options = {}) {
  const p = new Painter(element, options);
  try {
    await p._mount();
  } catch (e) {
    p.destroy();
    throw e;
  }
  return p;
}
