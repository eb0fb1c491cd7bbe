// The editor's mask painter: one binary mask per finding row, painted over the case patient's own
// anatomy. Each edit writes the row's hidden PNG field and lets autosave store it; a finding with an
// empty mask is drawn where the simulator puts it in this patient (inference/placement.py).
// "Typical placement" shows that place as an editable mask: it fills the selected finding's layer
// with the simulator's mask of it (the generator follows a mask far better than it places a finding
// on its own), as one undoable edit.
(function () {
  "use strict";
  const panel = document.getElementById("mask-panel");
  const form = document.getElementById("case-editor");
  if (!panel || !form || !window.RadPainter) return;
  const host = document.getElementById("painter-host");
  const statusEl = document.getElementById("mask-status");
  const typicalBtn = document.getElementById("mask-typical");
  const caption = document.getElementById("mask-caption");
  const COLORS = [[255, 82, 82], [64, 196, 255], [255, 214, 0], [105, 240, 174]];
  const SIZE = 256;
  let painter = null;
  let background = null;

  function rows() {
    return Array.from(form.querySelectorAll("tr.finding-row")).map(function (row) {
      const key = row.querySelector("[name$=_key]");
      const side = row.querySelector("[name$=_laterality]");
      const mask = row.querySelector("input[type=hidden][name$=_mask]");
      const field = function (name) { const el = row.querySelector("[name$=_" + name + "]"); return el ? el.value : ""; };
      return { row: row, key: key, side: side, mask: mask, location: field("location"),
               severity: field("severity"), size: field("size_mm") };
    }).filter(function (r) { return r.key.value; });
  }

  function layerKey(r) { return r.key.value + ":" + (r.side.value || "none"); }

  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? "error small" : "muted small";
  }

  function decode(b64) {
    // a stored binary PNG -> Uint8Array of 0/1
    return new Promise(function (resolve, reject) {
      const img = new Image();
      img.onload = function () {
        const canvas = document.createElement("canvas");
        canvas.width = SIZE; canvas.height = SIZE;
        const ctx = canvas.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
        const out = new Uint8Array(SIZE * SIZE);
        for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i] > 127 ? 1 : 0;
        resolve(out);
      };
      img.onerror = function () { reject(new Error("a stored mask could not be read")); };
      img.src = "data:image/png;base64," + b64;
    });
  }

  async function loadBackground() {
    const response = await fetch(panel.dataset.anatomy, { credentials: "same-origin" });
    if (!response.ok) throw new Error("the anatomy preview could not be loaded (" + response.status + ")");
    const buffer = await response.arrayBuffer();
    const dtype = response.headers.get("X-Dtype");
    const pixelData = dtype === "int16" ? new Int16Array(buffer) : new Uint16Array(buffer);
    const ct = dtype === "int16";
    const slice = response.headers.get("X-Slice");
    if (slice !== null && caption) {
      caption.textContent = "over this patient's CT slice " + (Number(slice) + 1) + " of " +
        response.headers.get("X-Slices") + " (z " + response.headers.get("X-Slice-Z-Mm") +
        " mm, the widest lungs); masks are drawn on this slice";
    }
    return { width: Number(response.headers.get("X-Width")), height: Number(response.headers.get("X-Height")),
             pixelData: pixelData, photometric: "MONOCHROME2",
             windowCenter: ct ? -600 : 2048, windowWidth: ct ? 1500 : 4096 };
  }

  async function build() {
    const current = rows();
    if (painter) { painter.destroy(); painter = null; }
    host.innerHTML = "";
    if (typicalBtn) typicalBtn.disabled = !current.length;
    if (!current.length) {
      setStatus("Choose a finding above, then paint where it is.", false);
      return;
    }
    const findings = [];
    const masks = {};
    const seen = {};
    for (let i = 0; i < current.length; i++) {
      const r = current[i];
      const key = layerKey(r);
      if (seen[key]) continue;
      seen[key] = true;
      const label = r.key.options[r.key.selectedIndex].text + (r.side.value !== "none" ? " (" + r.side.value + ")" : "");
      findings.push({ key: key, label: label, color: COLORS[findings.length % COLORS.length] });
      if (r.mask.value) masks[key] = await decode(r.mask.value);
    }
    painter = await window.RadPainter.create(host, { width: SIZE, height: SIZE, background: background,
                                                     findings: findings, masks: masks });
    painter.onChange(function (change) {
      const key = change.key;
      const mask = painter.getMask(key);
      let any = false;
      for (let i = 0; i < mask.length; i++) { if (mask[i]) { any = true; break; } }
      const value = any ? painter.toPngDataUrl(key).split(",")[1] : "";
      rows().forEach(function (r) {
        if (layerKey(r) === key) r.mask.value = value;
      });
      setStatus(any ? "Mask of " + key + " changed." : "Mask of " + key + " is empty: it is drawn at its typical place.", false);
      form.dispatchEvent(new Event("change"));
    });
    setStatus("Paint with the brush ([ and ] change its size); hold Shift to erase; Ctrl+Z undoes a stroke.", false);
  }

  async function placeTypically() {
    if (!painter) return;
    const key = painter.getActive();
    const r = rows().find(function (row) { return layerKey(row) === key; });
    if (!r) return;
    const params = new URLSearchParams({ key: r.key.value, laterality: r.side.value || "none",
                                         location: r.location, severity: r.severity, size_mm: r.size });
    typicalBtn.disabled = true;
    setStatus("Placing " + key + " as the simulator would in this patient…", false);
    try {
      const response = await fetch(panel.dataset.typical + "?" + params.toString(), { credentials: "same-origin" });
      const data = await response.json().catch(function () { return {}; });
      if (!response.ok) throw new Error(data.error || "the typical placement could not be made (" + response.status + ")");
      painter.setMask(key, await decode(data.mask_png_b64));
      setStatus("Typical placement of " + key + " in this patient: edit it with the brush, or undo it with Ctrl+Z.", false);
    } catch (err) {
      setStatus(String(err.message || err), true);
    } finally {
      typicalBtn.disabled = false;
    }
  }

  if (typicalBtn) typicalBtn.addEventListener("click", placeTypically);

  form.addEventListener("change", function (e) {
    // a finding added, removed or moved to the other side: rebuild the layers
    if (e.target && /finding_\d+_(key|laterality)$/.test(e.target.name || "")) build();
  });

  loadBackground()
    .then(function (bg) { background = bg; return build(); })
    .catch(function (err) { setStatus(String(err.message || err), true); });
})();
