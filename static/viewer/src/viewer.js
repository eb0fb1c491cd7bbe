// RadViewer: a small 2D / stack viewer on Cornerstone3D (StackViewport) for the teaching app.
import {
  Enums as csEnums,
  getShouldUseCPURendering,
  setUseCPURendering,
  utilities as csUtils,
} from '@cornerstonejs/core';
import {
  Enums as toolsEnums,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  init as toolsInit,
} from '@cornerstonejs/tools';
import { addRecord, getRecord, newSeriesUID, normalise, releaseImages } from './loader.js';
import { acquireEngine, applyRenderer, h, initCore, releaseEngine as releaseSharedEngine } from './core.js';
import { PRESETS, presetKey } from './presets.js';

const { Events, ViewportType } = csEnums;
const { MouseBindings, KeyboardBindings } = toolsEnums;
const { toWindowLevel, toLowHighRange } = csUtils.windowLevel;

const ENGINE_ID = 'radviewer-engine';
const EMIT_DELAY_MS = 250; // coalesce drags / wheel spins into one analytics event
const DEFAULT_FPS = 10;

// ---------------------------------------------------------------- shared state
let toolsDone = false;
let viewerCounter = 0;

function initOnce(renderer) {
  initCore();
  if (!toolsDone) {
    toolsDone = true;
    toolsInit();
    for (const T of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) addTool(T);
  }
  applyRenderer(renderer);
}

function getEngine() {
  return acquireEngine(ENGINE_ID);
}

function releaseEngine() {
  releaseSharedEngine(ENGINE_ID);
}

function roundWL(v) {
  return Math.round(v);
}

// ---------------------------------------------------------------- the viewer
export class Viewer {
  constructor(element, options = {}) {
    if (!(element instanceof HTMLElement)) throw new TypeError('RadViewer.create: element must be a DOM element');
    viewerCounter += 1;
    this.id = `radviewer-${viewerCounter}`;
    this.element = element;
    this.options = { readOnly: true, renderer: 'auto', fps: 0, ...options };
    this.readOnly = this.options.readOnly !== false;
    this.imageIds = [];
    this.seriesUID = '';
    this.fps = DEFAULT_FPS;
    this.primaryTool = WindowLevelTool.toolName;
    this._listeners = new Set();
    this._timers = { windowed: 0, scrolled: 0 };
    this._programmatic = 0;
    this._reportedIndex = -1;
    this._reportedWL = null;
    this._lastView = { fitted: true, zoom: 1 };
    this._dragging = false;
    this._cineTimer = 0;
    this._destroyed = false;
    this._showToken = 0;
    this._cleanup = [];
  }

  // ---------------------------------------------------------------- set-up
  async _mount() {
    initOnce(this.options.renderer);
    this._buildDom();
    this.engine = getEngine();
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
      // A WebGL context that was probed fine can still fail to come up (driver blocklists,
      // too many contexts). Fall back to CPU rendering rather than showing nothing.
      if (getShouldUseCPURendering()) throw e;
      console.warn('RadViewer: GPU rendering failed, falling back to CPU rendering', e);
      setUseCPURendering(true);
      this.engine.enableElement(input);
    }
    this.viewport = this.engine.getViewport(this.viewportId);
    this.renderer = getShouldUseCPURendering() ? 'cpu' : 'gpu';
    this.root.dataset.renderer = this.renderer;
    this._setupTools();
    this._wireEvents();
    this._updateToolbar();
    this._updateOverlay();
    return this;
  }

  _buildDom() {
    const root = h('div', { class: 'rv-root', tabindex: '0', 'aria-label': 'Image viewer', 'data-rv': 'root' });
    const bar = h('div', { class: 'rv-toolbar', role: 'toolbar', 'aria-label': 'Viewer tools' });
    const btn = (action, text, title, extra = {}) => {
      const b = h('button', { type: 'button', class: 'rv-btn', 'data-action': action, title, tabindex: '-1', ...extra }, text);
      bar.appendChild(b);
      return b;
    };
    const sep = () => bar.appendChild(h('span', { class: 'rv-sep', 'aria-hidden': 'true' }));
    this.toolButtons = {
      [WindowLevelTool.toolName]: btn('tool:wl', 'W/L', 'Window/level on left drag'),
      [PanTool.toolName]: btn('tool:pan', 'Pan', 'Pan on left drag (always: middle drag, shift+left drag)'),
      [ZoomTool.toolName]: btn('tool:zoom', 'Zoom', 'Zoom on left drag (z); always: right drag, ctrl+wheel'),
    };
    this.presetSep = sep();
    this.presetButtons = [];
    for (const [key, p] of Object.entries(PRESETS)) {
      if (key === 'default') continue;
      this.presetButtons.push(btn(`preset:${key}`, p.label, `${p.label} W ${p.windowWidth} / L ${p.windowCenter}${p.key ? ` (key ${p.key})` : ''}`));
    }
    sep();
    this.invertBtn = btn('invert', 'Invert', 'Invert (i)');
    btn('reset', 'Reset', 'Reset view (space)');
    this.cineBtn = btn('cine', '\u25B6 Cine', 'Play/pause cine (c)', { 'aria-pressed': 'false' });

    const stage = h('div', { class: 'rv-stage' });
    const vpEl = h('div', { class: 'rv-viewport', 'data-rv': 'viewport' });
    const ov = h('div', { class: 'rv-overlay', 'aria-live': 'off' });
    this.ov = {
      label: h('div', { class: 'rv-ov rv-tl', 'data-rv': 'label' }),
      slice: h('div', { class: 'rv-ov rv-tr', 'data-rv': 'slice' }),
      wl: h('div', { class: 'rv-ov rv-bl', 'data-rv': 'wl' }),
      zoom: h('div', { class: 'rv-ov rv-br', 'data-rv': 'zoom' }),
    };
    Object.values(this.ov).forEach((e) => ov.appendChild(e));
    this.emptyEl = h('div', { class: 'rv-empty', 'data-rv': 'empty' }, 'No image');
    stage.append(vpEl, ov, this.emptyEl);
    root.append(bar, stage);
    this.element.classList.add('rv-host');
    this.element.appendChild(root);
    this.root = root;
    this.toolbar = bar;
    this.stage = stage;
    this.vpEl = vpEl;
    this.root.classList.add('rv-is-empty');
  }

  _setupTools() {
    const tg = ToolGroupManager.createToolGroup(`${this.id}-tools`);
    this.toolGroup = tg;
    for (const T of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) tg.addTool(T.toolName);
    tg.addViewport(this.viewportId, ENGINE_ID);
    this._applyBindings();
  }

  _applyBindings() {
    const { Primary, Secondary, Auxiliary, Wheel } = MouseBindings;
    const b = {
      [WindowLevelTool.toolName]: [],
      [PanTool.toolName]: [{ mouseButton: Auxiliary }, { mouseButton: Primary, modifierKey: KeyboardBindings.Shift }],
      [ZoomTool.toolName]: [{ mouseButton: Secondary }, { mouseButton: Wheel, modifierKey: KeyboardBindings.Ctrl }],
      [StackScrollTool.toolName]: [{ mouseButton: Wheel }],
    };
    b[this.primaryTool].push({ mouseButton: Primary });
    for (const [name, bindings] of Object.entries(b)) {
      this.toolGroup.setToolDisabled(name);
      this.toolGroup.setToolActive(name, { bindings });
    }
    for (const [name, el] of Object.entries(this.toolButtons)) {
      el.classList.toggle('rv-active', name === this.primaryTool);
      el.setAttribute('aria-pressed', String(name === this.primaryTool));
    }
  }

  _on(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this._cleanup.push(() => target.removeEventListener(type, fn, opts));
  }

  _wireEvents() {
    const vpEl = this.vpEl;
    this._on(vpEl, Events.IMAGE_RENDERED, () => this._updateOverlay());
    // W/L changes count as 'windowed' only when the learner drags (a new slice bringing its own
    // default window is not windowing); keys, buttons and setPreset() emit directly.
    this._on(vpEl, Events.VOI_MODIFIED, () => {
      if (!this._programmatic && this._dragging && !this._sameAsReported()) this._schedule('windowed');
      this._updateOverlay();
    });
    this._on(vpEl, 'pointerdown', () => {
      this._dragging = true;
    });
    const endDrag = () => {
      if (!this._dragging) return;
      this._dragging = false;
      // a drag reports once, when it ends (see _schedule): report it now rather than after the delay
      if (this._timers.windowed) this._emit('windowed');
    };
    this._on(window, 'pointerup', endDrag);
    this._on(window, 'pointercancel', endDrag);
    this._on(vpEl, Events.STACK_NEW_IMAGE, (e) => {
      const idx = e.detail && Number.isInteger(e.detail.imageIdIndex) ? e.detail.imageIdIndex : this.currentIndex();
      if (!this._cineTimer && idx !== this._reportedIndex) this._schedule('scrolled');
      this._updateOverlay();
    });
    this._on(vpEl, 'contextmenu', (e) => e.preventDefault());
    // Keep keyboard focus on the viewer when the toolbar or image is clicked.
    this._on(this.root, 'pointerdown', (e) => {
      if (e.target.closest('.rv-btn')) e.preventDefault();
      this.root.focus({ preventScroll: true });
    });
    this._on(this.toolbar, 'click', (e) => {
      const b = e.target.closest('.rv-btn');
      if (b) this._action(b.dataset.action);
    });
    this._on(this.root, 'keydown', (e) => this._onKey(e));
    if (typeof ResizeObserver !== 'undefined') {
      let raf = 0;
      const ro = new ResizeObserver(() => {
        cancelAnimationFrame(raf);
        raf = requestAnimationFrame(() => this._resize());
      });
      ro.observe(this.stage);
      this._cleanup.push(() => {
        cancelAnimationFrame(raf);
        ro.disconnect();
      });
    }
  }

  _resize() {
    if (this._destroyed || !this.engine) return;
    // The element already has its new size here: use the state measured at the last render.
    const fitted = this._lastView.fitted;
    const zoomRel = this._lastView.zoom;
    this.engine.resize(true, true);
    this._engineSize = [this.vpEl.clientWidth, this.vpEl.clientHeight];
    if (this.imageIds.length) {
      // An untouched view stays fitted; a zoomed one keeps its zoom relative to fit.
      this._fit(false);
      if (!fitted && Math.abs(zoomRel - 1) > 1e-3) this.viewport.setZoom(this.viewport.getZoom() * zoomRel);
      this.viewport.render();
    }
    this._updateOverlay();
  }

  _action(action) {
    if (!action) return;
    if (action.startsWith('preset:')) this.setPreset(action.slice(7));
    else if (action === 'tool:wl') this._setPrimaryTool(WindowLevelTool.toolName);
    else if (action === 'tool:pan') this._setPrimaryTool(PanTool.toolName);
    else if (action === 'tool:zoom') this._setPrimaryTool(ZoomTool.toolName);
    else if (action === 'invert') this.invert();
    else if (action === 'reset') this.reset();
    else if (action === 'cine') this.toggleCine();
  }

  _setPrimaryTool(name) {
    if (this.primaryTool === name) return;
    this.primaryTool = name;
    this._applyBindings();
  }

  _onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    let handled = true;
    switch (k) {
      case '1':
      case '2':
      case '3':
      case '4': {
        if (!this._showsHounsfield()) {
          handled = false; // the presets are CT windows: a radiograph or a photo has none
          break;
        }
        const name = Object.keys(PRESETS).find((p) => PRESETS[p].key === k);
        this.setPreset(name);
        break;
      }
      case 'z':
      case 'Z':
        this._setPrimaryTool(this.primaryTool === ZoomTool.toolName ? WindowLevelTool.toolName : ZoomTool.toolName);
        break;
      case '+':
        this.zoomBy(1.25);
        break;
      case '-':
      case '_':
        this.zoomBy(0.8);
        break;
      case '=':
        this.fit();
        break;
      case 'r':
      case 'R':
        this.rotate(90);
        break;
      case 'l':
      case 'L':
        this.rotate(-90);
        break;
      case 'h':
      case 'H':
        this.flip('horizontal');
        break;
      case 'v':
      case 'V':
        this.flip('vertical');
        break;
      case 'i':
      case 'I':
        this.invert();
        break;
      case 'c':
      case 'C':
        this.toggleCine();
        break;
      case 'ArrowUp':
        this.scroll(-1);
        break;
      case 'ArrowDown':
        this.scroll(1);
        break;
      case 'Home':
        this.goTo(0);
        break;
      case 'End':
        this.goTo(this.imageIds.length - 1);
        break;
      case ' ':
      case 'Spacebar':
        this.reset();
        break;
      default:
        handled = false;
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  // ---------------------------------------------------------------- analytics events
  onEvent(cb) {
    if (typeof cb !== 'function') throw new TypeError('RadViewer.onEvent: callback must be a function');
    this._listeners.add(cb);
    return () => this._listeners.delete(cb);
  }

  _state() {
    const wl = this._windowLevel();
    return {
      index: this.currentIndex(),
      windowCenter: wl ? wl.windowCenter : null,
      windowWidth: wl ? wl.windowWidth : null,
    };
  }

  _emit(type) {
    clearTimeout(this._timers[type]);
    this._timers[type] = 0;
    if (this._destroyed || !this.imageIds.length) return;
    const ev = { type, ...this._state() };
    if (type !== 'windowed') this._reportedIndex = ev.index;
    this._reportedWL = [ev.windowWidth, ev.windowCenter];
    for (const cb of [...this._listeners]) {
      try {
        cb(ev);
      } catch (err) {
        console.error('RadViewer: onEvent callback failed', err);
      }
    }
  }

  _sameAsReported() {
    const wl = this._windowLevel();
    const r = this._reportedWL;
    return !!(wl && r && wl.windowWidth === r[0] && wl.windowCenter === r[1]);
  }

  _schedule(type) {
    clearTimeout(this._timers[type]);
    this._timers[type] = setTimeout(() => {
      // a pause in the middle of a W/L drag is not its end: the pending event waits for the pointer to lift
      if (type === 'windowed' && this._dragging) return;
      this._emit(type);
    }, EMIT_DELAY_MS);
  }

  // ---------------------------------------------------------------- images
  showImage(img) {
    return this.showStack([img], 0);
  }

  async showStack(images, index = 0) {
    this._alive();
    if (!Array.isArray(images)) throw new TypeError('RadViewer.showStack: images must be an array');
    const recs = images.map((img) => normalise(img)); // validate everything before touching the view
    const token = ++this._showToken;
    this.stopCine();
    const old = this.imageIds;
    this.seriesUID = newSeriesUID();
    const ids = recs.map((r, i) => addRecord(r, this.seriesUID, i));
    this.imageIds = ids;
    this.fps = this.options.fps > 0 ? this.options.fps : recs[0] && recs[0].frameRate > 0 ? recs[0].frameRate : DEFAULT_FPS;
    if (!ids.length) {
      this.root.classList.add('rv-is-empty');
      releaseImages(old);
      this._updateToolbar();
      this._updateOverlay();
      return;
    }
    const start = Math.max(0, Math.min(ids.length - 1, Number.isInteger(index) ? index : 0));
    this._reportedIndex = start;
    await this.viewport.setStack(ids.slice(), start);
    if (token !== this._showToken || this._destroyed) return;
    releaseImages(old.filter((id) => !ids.includes(id)));
    this.root.classList.remove('rv-is-empty');
    this._fit(false);
    this.viewport.render();
    this._updateToolbar();
    this._updateOverlay();
    this._emit('viewed');
  }

  async appendImage(img) {
    this._alive();
    const rec = normalise(img);
    if (!this.imageIds.length) return this.showStack([img], 0);
    const id = addRecord(rec, this.seriesUID, this.imageIds.length);
    this.imageIds.push(id);
    const vp = this.viewport;
    const vpIds = vp.getImageIds();
    const map = vp.imageKeyToIndexMap;
    if (Array.isArray(vpIds) && vpIds !== this.imageIds && map instanceof Map) {
      // Grow the viewport's stack in place: no reload, camera / W/L / slice are kept.
      const i = vpIds.length;
      vpIds.push(id);
      map.set(id, i);
      map.set(csUtils.imageIdToURI(id), i);
    } else {
      // Cornerstone internals changed: fall back to re-setting the stack, keeping the view.
      const cur = this.currentIndex();
      const props = vp.getProperties();
      const pres = vp.getViewPresentation ? vp.getViewPresentation() : null;
      await vp.setStack(this.imageIds.slice(), cur);
      if (props && props.voiRange) vp.setProperties({ voiRange: props.voiRange, invert: props.invert });
      if (pres) vp.setViewPresentation(pres);
      vp.render();
    }
    this._updateToolbar();
    this._updateOverlay();
  }

  currentIndex() {
    if (!this.imageIds.length || !this.viewport) return 0;
    const i = this.viewport.getCurrentImageIdIndex();
    return Number.isInteger(i) ? i : 0;
  }

  get numberOfImages() {
    return this.imageIds.length;
  }

  goTo(index) {
    this._alive();
    const n = this.imageIds.length;
    if (!n) return Promise.resolve();
    const i = Math.max(0, Math.min(n - 1, index | 0));
    if (i === this.currentIndex()) return Promise.resolve();
    return this.viewport.setImageIdIndex(i);
  }

  scroll(delta) {
    return this.goTo(this.currentIndex() + delta);
  }

  // ---------------------------------------------------------------- display
  setPreset(name) {
    this._alive();
    const key = presetKey(name);
    if (!key) throw new RangeError(`RadViewer.setPreset: unknown preset ${JSON.stringify(name)}; use one of ${Object.keys(PRESETS).join(', ')}`);
    if (!this.imageIds.length) return;
    let ww;
    let wc;
    if (key === 'default') {
      const rec = getRecord(this.viewport.getCurrentImageId());
      if (!rec) return;
      ww = rec.windowWidth;
      wc = rec.windowCenter;
    } else {
      if (!this._showsHounsfield()) {
        const rec = getRecord(this.viewport.getCurrentImageId());
        throw new RangeError(`RadViewer.setPreset: ${JSON.stringify(name)} is a CT window in HU and this image is ${rec ? rec.modality : 'not CT'}; use 'default' or setWindow()`);
      }
      ({ windowWidth: ww, windowCenter: wc } = PRESETS[key]);
    }
    this.setWindow(ww, wc);
  }

  /** Whether the image on show holds CT numbers, the unit the window presets are written in. */
  _showsHounsfield() {
    if (!this.imageIds.length || !this.viewport) return false;
    const rec = getRecord(this.viewport.getCurrentImageId() || this.imageIds[0]);
    return !!rec && rec.modality === 'CT';
  }

  /** Set window width / level (center) directly, e.g. from a case's teaching notes. */
  setWindow(windowWidth, windowCenter) {
    this._alive();
    if (!this.imageIds.length) return;
    const voiRange = toLowHighRange(windowWidth, windowCenter);
    this._programmatic += 1;
    try {
      this.viewport.setProperties({ voiRange });
    } finally {
      this._programmatic -= 1;
    }
    this.viewport.render();
    this._updateOverlay();
    this._emit('windowed');
  }

  invert() {
    this._alive();
    if (!this.imageIds.length) return;
    const inv = !!this.viewport.getProperties().invert;
    this._programmatic += 1;
    try {
      this.viewport.setProperties({ invert: !inv });
    } finally {
      this._programmatic -= 1;
    }
    this.viewport.render();
    this._updateToolbar();
  }

  zoomBy(factor) {
    this._alive();
    if (!this.imageIds.length) return;
    this.viewport.setZoom(this.viewport.getZoom() * factor);
    this.viewport.render();
  }

  fit() {
    this._alive();
    if (!this.imageIds.length) return;
    this._fit(true);
  }

  _fit(render) {
    const vp = this.viewport;
    // resetCamera also drops rotation and flips on the GPU path; fitting should not.
    const rot = (vp.getRotation && vp.getRotation()) || 0;
    const cam = vp.getCamera();
    vp.resetCamera({ resetPan: true, resetZoom: true, resetToCenter: true });
    const after = vp.getCamera();
    if (!!after.flipHorizontal !== !!cam.flipHorizontal || !!after.flipVertical !== !!cam.flipVertical) {
      vp.setCamera({ flipHorizontal: !!cam.flipHorizontal, flipVertical: !!cam.flipVertical });
    }
    if (Math.round((vp.getRotation && vp.getRotation()) || 0) !== Math.round(rot)) vp.setRotation(rot);
    if (render) vp.render();
  }

  /** Zoom relative to "image fitted to the viewport" (1.00x after reset or '='), same on CPU and GPU. */
  _relZoom() {
    const vp = this.viewport;
    if (!vp || !this.imageIds.length) return 1;
    const rec = getRecord(vp.getCurrentImageId());
    const el = this.vpEl;
    const cam = vp.getCamera();
    if (!rec || !cam || !(cam.parallelScale > 0) || !el.clientWidth || !el.clientHeight) return 1;
    const quarter = Math.round(((vp.getRotation && vp.getRotation()) || 0) / 90) % 2 === 1;
    let wmm = rec.width * rec.columnPixelSpacing;
    let hmm = rec.height * rec.rowPixelSpacing;
    if (quarter) [wmm, hmm] = [hmm, wmm];
    const fit = Math.min(el.clientWidth / wmm, el.clientHeight / hmm); // css px per mm when fitted
    const now = el.clientHeight / (2 * cam.parallelScale); // css px per mm now
    return now / fit;
  }

  _isFitted() {
    const vp = this.viewport;
    if (!vp || !this.imageIds.length) return true;
    const rec = getRecord(vp.getCurrentImageId());
    const fp = vp.getCamera().focalPoint;
    if (!rec || !fp) return false;
    const cx = ((rec.width - 1) * rec.columnPixelSpacing) / 2;
    const cy = ((rec.height - 1) * rec.rowPixelSpacing) / 2;
    const off = Math.hypot(fp[0] - cx, fp[1] - cy);
    return Math.abs(this._relZoom() - 1) < 0.01 && off < Math.min(rec.columnPixelSpacing, rec.rowPixelSpacing);
  }

  rotate(degrees) {
    this._alive();
    if (!this.imageIds.length) return;
    const vp = this.viewport;
    const cur = (vp.getRotation && vp.getRotation()) || 0;
    vp.setRotation((((Math.round(cur) + degrees) % 360) + 360) % 360);
    vp.render();
  }

  flip(direction) {
    this._alive();
    if (!this.imageIds.length) return;
    const cam = this.viewport.getCamera();
    if (direction === 'vertical') this.viewport.setCamera({ flipVertical: !cam.flipVertical });
    else this.viewport.setCamera({ flipHorizontal: !cam.flipHorizontal });
    this.viewport.render();
  }

  reset() {
    this._alive();
    if (!this.imageIds.length) return;
    const vp = this.viewport;
    this._programmatic += 1;
    try {
      const cam = vp.getCamera();
      if (cam.flipHorizontal || cam.flipVertical) vp.setCamera({ flipHorizontal: false, flipVertical: false });
      if (vp.getRotation && vp.getRotation()) vp.setRotation(0);
      vp.resetProperties();
    } finally {
      this._programmatic -= 1;
    }
    this._fit(false);
    vp.render();
    this._updateToolbar();
    this._updateOverlay();
    if (!this._sameAsReported()) this._emit('windowed');
  }

  // ---------------------------------------------------------------- cine
  get cinePlaying() {
    return !!this._cineTimer;
  }

  toggleCine() {
    if (this._cineTimer) this.stopCine();
    else this.playCine();
  }

  playCine(fps) {
    this._alive();
    if (this.imageIds.length < 2 || this._cineTimer) return;
    if (fps > 0) this.fps = fps;
    this._cineTimer = setInterval(() => {
      const n = this.imageIds.length;
      if (n < 2) return this.stopCine();
      this.viewport.setImageIdIndex((this.currentIndex() + 1) % n);
    }, 1000 / this.fps);
    this._updateToolbar();
  }

  stopCine() {
    if (!this._cineTimer) return;
    clearInterval(this._cineTimer);
    this._cineTimer = 0;
    if (this.currentIndex() !== this._reportedIndex) this._schedule('scrolled');
    this._updateToolbar();
  }

  // ---------------------------------------------------------------- overlay / toolbar
  _windowLevel() {
    if (!this.viewport || !this.imageIds.length) return null;
    const p = this.viewport.getProperties();
    if (!p || !p.voiRange) return null;
    const { windowWidth, windowCenter } = toWindowLevel(p.voiRange.lower, p.voiRange.upper);
    return { windowWidth: roundWL(windowWidth), windowCenter: roundWL(windowCenter) };
  }

  _updateOverlay() {
    if (this._destroyed) return;
    const n = this.imageIds.length;
    if (!n) {
      for (const el of Object.values(this.ov)) el.textContent = '';
      return;
    }
    const idx = this.currentIndex();
    const rec = getRecord(this.imageIds[idx]);
    const wl = this._windowLevel();
    const zoom = this._relZoom();
    const size = [this.vpEl.clientWidth, this.vpEl.clientHeight];
    if (!this._engineSize) this._engineSize = size;
    // A render between the element's resize and _resize() still has the old camera at the new size: its
    // zoom is not what the user set, so it must not become the view _resize() restores.
    if (size[0] === this._engineSize[0] && size[1] === this._engineSize[1]) {
      this._lastView = { fitted: this._isFitted(), zoom };
    }
    this.ov.label.textContent = rec ? rec.label : '';
    this.ov.slice.textContent = n > 1 ? `Slice ${idx + 1}/${n}` : '';
    this.ov.wl.textContent = wl ? `W/L: ${wl.windowWidth}/${wl.windowCenter}` : '';
    this.ov.zoom.textContent = `Zoom: ${zoom.toFixed(2)}x${this.renderer === 'cpu' ? ' \u00B7 CPU' : ''}`;
  }

  _updateToolbar() {
    if (this._destroyed) return;
    const hounsfield = this._showsHounsfield();
    this.presetSep.hidden = !hounsfield;
    for (const b of this.presetButtons) b.hidden = !hounsfield;
    const stack = this.imageIds.length > 1;
    this.cineBtn.hidden = !stack;
    const playing = !!this._cineTimer;
    this.cineBtn.textContent = playing ? '\u275A\u275A Pause' : '\u25B6 Cine';
    this.cineBtn.setAttribute('aria-pressed', String(playing));
    this.cineBtn.classList.toggle('rv-active', playing);
    const inv = this.viewport && this.imageIds.length ? !!this.viewport.getProperties().invert : false;
    this.invertBtn.classList.toggle('rv-active', inv);
    this.invertBtn.setAttribute('aria-pressed', String(inv));
  }

  // ---------------------------------------------------------------- teardown
  _alive() {
    if (this._destroyed) throw new Error('RadViewer: this viewer has been destroyed');
  }

  destroy() {
    if (this._destroyed) return;
    this.stopCine();
    this._destroyed = true;
    clearTimeout(this._timers.windowed);
    clearTimeout(this._timers.scrolled);
    this._listeners.clear();
    for (const fn of this._cleanup.splice(0)) fn();
    try {
      ToolGroupManager.destroyToolGroup(`${this.id}-tools`);
    } catch (e) {
      /* ignore */
    }
    try {
      if (this.engine) this.engine.disableElement(this.viewportId);
    } catch (e) {
      /* ignore */
    }
    if (this.engine) releaseEngine();
    this.engine = null;
    this.viewport = null;
    releaseImages(this.imageIds);
    this.imageIds = [];
    if (this.root && this.root.parentNode) this.root.parentNode.removeChild(this.root);
    this.element.classList.remove('rv-host');
  }
}

export async function create(element, options = {}) {
  const v = new Viewer(element, options);
  try {
    await v._mount();
  } catch (e) {
    v.destroy();
    throw e;
  }
  return v;
}
