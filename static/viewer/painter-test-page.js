// Test/demo page for the RadPainter bundle: a synthetic 256x256 chest radiograph-like preview and
// two findings. Query string: ?renderer=cpu forces Cornerstone's CPU rendering.
(function () {
  'use strict';

  // 256x256 Uint16 (0..4095) "chest X-ray": bright body, dark lungs, mediastinum, ribs, a gradient.
  function makeChest() {
    const n = 256;
    const px = new Uint16Array(n * n);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        let v = 300 + 4 * y; // background gradient
        const bx = (x - 128) / 112;
        const by = (y - 138) / 118;
        if (bx * bx + by * by < 1) {
          v = 2600; // soft tissue
          for (const side of [-1, 1]) {
            const lx = (x - (128 + side * 52)) / 40;
            const ly = (y - 120) / 78;
            if (lx * lx + ly * ly < 1) {
              v = 900 + 300 * ly; // lung
              if (Math.abs(Math.sin((y + 6 * Math.abs(lx)) / 9)) < 0.18) v += 700; // ribs
            }
          }
          const hx = (x - 138) / 36;
          const hy = (y - 170) / 30;
          if (hx * hx + hy * hy < 1) v = 2900; // heart
          if (Math.abs(x - 128) < 9) v = 3400; // spine
        }
        px[y * n + x] = v;
      }
    }
    return { width: n, height: n, pixelData: px, photometric: 'MONOCHROME2', windowCenter: 2048, windowWidth: 4096 };
  }

  const findings = [
    { key: 'nodule:left', label: 'Lung nodule (left)', color: [255, 80, 80] },
    { key: 'effusion:right', label: 'Pleural effusion (right)', color: [80, 170, 255] },
  ];

  const params = new URLSearchParams(location.search);
  const status = document.getElementById('status');
  const changes = [];
  window.rpTest = { makeChest, findings, changes, painter: null, error: null };
  window.rpTest.ready = (async () => {
    try {
      const painter = await window.RadPainter.create(document.getElementById('painter'), {
        width: 256,
        height: 256,
        background: makeChest(),
        findings,
        renderer: params.get('renderer') || 'auto',
      });
      painter.onChange((e) => changes.push(e));
      window.rpTest.painter = painter;
      status.textContent = `ready (${painter.renderer} rendering, Cornerstone3D ${window.RadPainter.cornerstoneVersion})`;
      return true;
    } catch (e) {
      window.rpTest.error = String((e && e.stack) || e);
      status.textContent = `error: ${e}`;
      throw e;
    }
  })();
})();
