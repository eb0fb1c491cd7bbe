// Test/demo page for the RadViewer bundle: synthetic images only, no server API.
// Query string: ?renderer=cpu forces Cornerstone's CPU rendering; ?demo=stack|image shows one at once.
(function () {
  'use strict';

  // 256x256 Uint16 diagonal gradient (0..4095) with a bright disc and a dark square.
  function makeGradient(size) {
    const n = size || 256;
    const px = new Uint16Array(n * n);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        let v = Math.round(((x + y) / (2 * (n - 1))) * 4095);
        const dx = x - n * 0.68;
        const dy = y - n * 0.32;
        if (dx * dx + dy * dy < (n * 0.12) ** 2) v = 4000;
        if (x > n * 0.18 && x < n * 0.36 && y > n * 0.6 && y < n * 0.78) v = 200;
        px[y * n + x] = v;
      }
    }
    return {
      width: n, height: n, pixelData: px, photometric: 'MONOCHROME2',
      windowCenter: 2048, windowWidth: 4096, label: 'synthetic gradient 256x256 (uint16)',
    };
  }

  // One axial slice of a crude chest phantom, stored as Int16 (HU + 1024) with intercept -1024.
  function makeSlice(k, count) {
    const n = 256;
    const px = new Int16Array(n * n);
    const cx = n / 2;
    const cy = n / 2;
    const t = count > 1 ? k / (count - 1) : 0.5;
    const lungR = 38 + 14 * Math.sin(Math.PI * t);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        let hu = -1000; // air
        const bx = (x - cx) / 110;
        const by = (y - cy) / 80;
        if (bx * bx + by * by < 1) {
          hu = 40; // soft tissue
          for (const side of [-1, 1]) {
            const lx = (x - (cx + side * 48)) / lungR;
            const ly = (y - (cy - 6)) / (lungR * 1.25);
            if (lx * lx + ly * ly < 1) hu = -820; // lung
          }
          const sx = x - cx;
          const sy = y - (cy + 52);
          if (sx * sx + sy * sy < 13 * 13) hu = 700; // vertebral body
          const hx = x - (cx + 10);
          const hy = y - (cy + 12);
          if (hx * hx + hy * hy < (22 + 6 * t) ** 2) hu = 60; // heart
          const nx = x - (cx + 44);
          const ny = y - (cy - 20 + 30 * t);
          if (nx * nx + ny * ny < 36) hu = 30; // a nodule drifting through the slices
        }
        px[y * n + x] = hu + 1024;
      }
    }
    return {
      width: n, height: n, pixelData: px, photometric: 'MONOCHROME2',
      windowCenter: 40, windowWidth: 400, rescaleSlope: 1, rescaleIntercept: -1024,
      rowPixelSpacing: 1.2, columnPixelSpacing: 1.2,
      label: `synthetic chest phantom, slice ${k + 1} of ${count}`,
    };
  }

  function makeStack(count) {
    const out = [];
    for (let k = 0; k < count; k++) out.push(makeSlice(k, count));
    return out;
  }

  const params = new URLSearchParams(location.search);
  const status = document.getElementById('status');
  const events = [];
  window.rvTest = { makeGradient, makeSlice, makeStack, events, viewer: null, error: null };
  window.rvTest.ready = (async () => {
    try {
      const viewer = await window.RadViewer.create(document.getElementById('viewer'), {
        readOnly: true,
        renderer: params.get('renderer') || 'auto',
      });
      viewer.onEvent((e) => events.push(e));
      window.rvTest.viewer = viewer;
      if (params.get('demo') === 'stack') await viewer.showStack(makeStack(10), 0);
      else if (params.get('demo') === 'image') await viewer.showImage(makeGradient());
      status.textContent = `ready (${viewer.renderer} rendering, Cornerstone3D ${window.RadViewer.cornerstoneVersion})`;
      return true;
    } catch (e) {
      window.rvTest.error = String((e && e.stack) || e);
      status.textContent = `error: ${e}`;
      throw e;
    }
  })();
})();
