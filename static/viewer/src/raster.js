// Exact binary raster operations on Uint8Array masks (row-major, 0/1) for RadPainter.
//
// Coordinates are continuous mask coordinates: pixel (i, j) covers [i, i+1) x [j, j+1) and its
// centre is (i + 0.5, j + 0.5). A pixel belongs to a shape when its centre does.

/**
 * Snap a brush centre so that a brush of `size` pixels (its diameter) covers a symmetric block:
 * odd sizes centre on a pixel centre, even sizes on a pixel corner. Size 1 = exactly one pixel.
 */
export function snapCentre(u, size) {
  return size % 2 === 1 ? Math.floor(u) + 0.5 : Math.round(u);
}

/** Set (value 1) or clear (value 0) the disc of diameter `size` centred at (cx, cy). Returns true if anything changed. */
export function stampDisc(mask, w, h, cx, cy, size, value) {
  const r = size / 2;
  const r2 = r * r + 1e-9;
  const i0 = Math.max(0, Math.floor(cx - r));
  const i1 = Math.min(w - 1, Math.ceil(cx + r));
  const j0 = Math.max(0, Math.floor(cy - r));
  const j1 = Math.min(h - 1, Math.ceil(cy + r));
  let changed = false;
  for (let j = j0; j <= j1; j++) {
    const dy = j + 0.5 - cy;
    const row = j * w;
    for (let i = i0; i <= i1; i++) {
      const dx = i + 0.5 - cx;
      if (dx * dx + dy * dy <= r2 && mask[row + i] !== value) {
        mask[row + i] = value;
        changed = true;
      }
    }
  }
  return changed;
}

/**
 * Sweep the brush from (x0, y0) to (x1, y1) (unsnapped mask coordinates), stamping snapped discs
 * every quarter pixel so fast strokes leave no gaps. The start point is stamped too.
 */
export function stampSegment(mask, w, h, x0, y0, x1, y1, size, value) {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const steps = Math.max(1, Math.ceil(len * 4));
  let changed = false;
  let lastX = NaN;
  let lastY = NaN;
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    const cx = snapCentre(x0 + (x1 - x0) * t, size);
    const cy = snapCentre(y0 + (y1 - y0) * t, size);
    if (cx === lastX && cy === lastY) continue;
    lastX = cx;
    lastY = cy;
    if (stampDisc(mask, w, h, cx, cy, size, value)) changed = true;
  }
  return changed;
}

/** Fill (or clear) the polygon given as [[x, y], ...] in mask coordinates, even-odd rule on pixel centres. */
export function fillPolygon(mask, w, h, points, value) {
  const n = points.length;
  if (n < 3) return false;
  let changed = false;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const [, y] of points) {
    ymin = Math.min(ymin, y);
    ymax = Math.max(ymax, y);
  }
  const j0 = Math.max(0, Math.floor(ymin - 0.5));
  const j1 = Math.min(h - 1, Math.ceil(ymax - 0.5));
  const xs = [];
  for (let j = j0; j <= j1; j++) {
    const yc = j + 0.5;
    xs.length = 0;
    for (let k = 0; k < n; k++) {
      const [ax, ay] = points[k];
      const [bx, by] = points[(k + 1) % n];
      if ((ay <= yc && by > yc) || (by <= yc && ay > yc)) {
        xs.push(ax + ((yc - ay) * (bx - ax)) / (by - ay));
      }
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // pixel centres i + 0.5 in [xa, xb)
      const ia = Math.max(0, Math.ceil(xs[k] - 0.5));
      const ib = Math.min(w - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
      const row = j * w;
      for (let i = ia; i <= ib; i++) {
        if (mask[row + i] !== value) {
          mask[row + i] = value;
          changed = true;
        }
      }
    }
  }
  return changed;
}

/**
 * Flood-fill the 4-connected region of pixels equal to mask[seed] with `value`.
 * 4-connectivity means a ring drawn with 8-connected (diagonal) steps still holds the fill.
 */
export function floodFill(mask, w, h, x, y, value) {
  if (x < 0 || y < 0 || x >= w || y >= h) return false;
  const seed = y * w + x;
  const from = mask[seed];
  if (from === value) return false;
  const stack = new Int32Array(w * h);
  let top = 0;
  stack[top++] = seed;
  mask[seed] = value;
  while (top > 0) {
    const p = stack[--top];
    const px = p % w;
    if (px > 0 && mask[p - 1] === from) { mask[p - 1] = value; stack[top++] = p - 1; }
    if (px < w - 1 && mask[p + 1] === from) { mask[p + 1] = value; stack[top++] = p + 1; }
    if (p >= w && mask[p - w] === from) { mask[p - w] = value; stack[top++] = p - w; }
    if (p < w * (h - 1) && mask[p + w] === from) { mask[p + w] = value; stack[top++] = p + w; }
  }
  return true;
}

export function countOnes(mask) {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

export function sameArray(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
