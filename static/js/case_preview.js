// The editor's autosave and draft previews. Autosave posts the form a moment after the last change;
// errors come back per field and nothing is saved until the draft is valid. Previews save the draft,
// then stream 1 or 4 variants over ws/cases/<id>/preview/ exactly as a student's study streams.
(function () {
  "use strict";
  const form = document.getElementById("case-editor");
  if (!form || !form.dataset.autosave) return;
  const statusEl = document.getElementById("autosave-status");
  let dirty = false;
  let timer = null;
  let saving = null;

  function clearErrors() {
    form.querySelectorAll(".error.autosave-error").forEach(function (e) { e.remove(); });
    form.querySelectorAll(".has-error").forEach(function (e) { e.classList.remove("has-error"); });
  }

  function showErrors(errors) {
    clearErrors();
    const general = [];
    Object.keys(errors).forEach(function (name) {
      const messages = errors[name].map(function (e) { return e.message || e; });
      const input = form.querySelector('[name="' + name + '"]');
      const host = input && input.type !== "hidden" ? input.closest("label, td") : null;
      if (!host) { general.push.apply(general, messages); return; }
      host.classList.add("has-error");
      messages.forEach(function (m) {
        const span = document.createElement("span");
        span.className = "error autosave-error";
        span.textContent = m;
        host.appendChild(span);
      });
    });
    return general;
  }

  async function save() {
    clearTimeout(timer);
    if (saving) await saving;
    const body = new FormData(form);
    statusEl.textContent = "Saving…";
    saving = fetch(form.dataset.autosave, { method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": body.get("csrfmiddlewaretoken") } })
      .then(async function (response) {
        const data = await response.json().catch(function () { return {}; });
        if (data.saved) {
          dirty = false;
          clearErrors();
          statusEl.textContent = "Saved at " + new Date(data.saved_at).toLocaleTimeString();
          statusEl.className = "muted small";
          return true;
        }
        const general = showErrors(data.errors || {});
        statusEl.textContent = "Not saved: " + (general.join(" ") || "fix the fields marked in red.");
        statusEl.className = "error small";
        return false;
      })
      .catch(function () {
        statusEl.textContent = "Not saved: the server could not be reached. Your changes are still here.";
        statusEl.className = "error small";
        return false;
      });
    const ok = await saving;
    saving = null;
    return ok;
  }

  form.addEventListener("input", function () {
    dirty = true;
    statusEl.textContent = "Unsaved changes";
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  });
  form.addEventListener("change", function () { dirty = true; clearTimeout(timer); timer = setTimeout(save, 800); });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (e) { if (dirty) { e.preventDefault(); e.returnValue = ""; } });

  // ---- previews --------------------------------------------------------------------------------------
  const panel = document.getElementById("preview-panel");
  if (!panel) return;
  const variantsEl = document.getElementById("variants");
  const previewStatus = document.getElementById("preview-status");
  const seedInput = form.querySelector("[name=seed]");
  const tiles = new Map(); // job id -> tile
  let socket = null;
  let ready = null;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/cases/" + panel.dataset.case + "/preview/");
    ready = new Promise(function (resolve) { socket.addEventListener("open", resolve); });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", function (e) {
      if (e.code < 4400) setTimeout(connect, 1000);
    });
  }

  function tile(state, seed) {
    const box = document.createElement("figure");
    box.className = "variant";
    box.dataset.job = state.id;
    const img = document.createElement("img");
    img.alt = "preview, seed " + seed;
    const bar = document.createElement("div");
    bar.className = "progress";
    bar.innerHTML = '<div class="progress-bar"></div><span>queued</span>';
    const caption = document.createElement("figcaption");
    caption.textContent = "seed " + seed + " ";
    const pin = document.createElement("button");
    pin.type = "button";
    pin.className = "pin";
    pin.textContent = "Pin this seed";
    pin.disabled = true;
    pin.addEventListener("click", function () {
      seedInput.value = String(seed);
      form.querySelector("[name=seed_policy]").value = "fixed";
      variantsEl.querySelectorAll(".variant").forEach(function (v) { v.classList.remove("pinned"); });
      box.classList.add("pinned");
      dirty = true;
      save();
    });
    caption.appendChild(pin);
    const reading = document.createElement("div");
    reading.className = "reading";
    box.append(img, bar, caption, reading);
    return { box: box, img: img, bar: bar, pin: pin, seed: seed, reading: reading };
  }

  // "nodule:right" -> "right nodule"; "tension_pneumothorax" -> "tension pneumothorax"
  function labelText(label) {
    const parts = label.split(":");
    const name = parts[0].replace(/_/g, " ");
    return parts[1] ? parts[1] + " " + name : name;
  }

  function findingText(f) {
    const side = f.laterality && f.laterality !== "none" ? f.laterality + " " : "";
    return side + f.key.replace(/_/g, " ");
  }

  // The independent reader's reading of a finished preview: which asked findings it sees, what else it calls.
  function showReading(t, reading) {
    t.reading.innerHTML = "";
    if (!reading) return;
    if (!reading.available) {
      t.reading.textContent = "Reader check unavailable: " + reading.reason + ".";
      return;
    }
    const missed = reading.findings.filter(function (f) { return !f.seen; });
    const verdict = document.createElement("p");
    verdict.className = "verdict " + (missed.length || reading.extra.length ? "warn" : "ok");
    verdict.textContent = missed.length || reading.extra.length
      ? "Reader: " + [missed.length ? missed.length + " not seen" : "", reading.extra.length
        ? reading.extra.length + " not in the case" : ""].filter(Boolean).join(", ")
      : "Reader sees the case, nothing else";
    const list = document.createElement("ul");
    reading.findings.forEach(function (f) {
      const li = document.createElement("li");
      li.className = f.seen ? "seen" : "missed";
      let text = (f.seen ? "✓ " : "✗ ") + findingText(f);
      if (!f.seen) {
        text += f.called.length ? " (called: " + f.called.map(labelText).join(", ") + ")" : " (not seen)";
        if (f.reader_sensitivity !== null && f.reader_sensitivity !== undefined && f.reader_sensitivity < 0.8) {
          text += "; on phantoms the reader finds " + Math.round(100 * f.reader_sensitivity) + "% at " +
            f.severity + " severity: look yourself";
        }
      }
      li.textContent = text;
      list.appendChild(li);
    });
    reading.extra.forEach(function (label) {
      const li = document.createElement("li");
      li.className = "extra";
      li.textContent = "+ " + labelText(label) + " (not in the case)";
      list.appendChild(li);
    });
    if (!reading.findings.length && !reading.extra.length) {
      const li = document.createElement("li");
      li.className = "seen";
      li.textContent = "✓ no finding called (a normal case)";
      list.appendChild(li);
    }
    t.reading.append(verdict, list);
    t.reading.title = "The independent reader model (" + reading.reader + ") that judges the generator. " +
      "It is advice: check the image yourself.";
  }

  function update(state) {
    const t = tiles.get(state.id);
    if (!t) return;
    const label = t.bar.querySelector("span");
    if (state.status === "done") {
      t.img.src = state.display_url;
      t.bar.querySelector(".progress-bar").style.width = "100%";
      label.textContent = "done · " + state.model_version;
      t.pin.disabled = false;
      t.box.classList.add("done");
      showReading(t, state.reading);
    } else if (state.status === "failed" || state.status === "cancelled") {
      label.textContent = state.status + (state.error ? ": " + state.error : "");
      t.box.classList.add("failed");
    } else if (state.status === "running") {
      label.textContent = "generating…";
    }
  }

  function onMessage(event) {
    const msg = JSON.parse(event.data);
    if (msg.type === "queued") {
      msg.jobs.forEach(function (state) {
        const t = tile(state, state.seed);
        tiles.set(state.id, t);
        variantsEl.appendChild(t.box);
      });
      previewStatus.textContent = msg.jobs.length + " preview" + (msg.jobs.length > 1 ? "s" : "") + " queued.";
    } else if (msg.type === "progress") {
      const t = tiles.get(msg.job);
      if (!t) return;
      t.img.src = msg.preview;
      t.box.dataset.stepsSeen = String(Number(t.box.dataset.stepsSeen || 0) + 1);
      t.bar.querySelector(".progress-bar").style.width = Math.round((100 * msg.step) / msg.total) + "%";
      t.bar.querySelector("span").textContent = "step " + msg.step + " of " + msg.total;
    } else if (msg.job && typeof msg.job === "object") {
      update(msg.job);
    } else if (msg.type === "error") {
      previewStatus.textContent = msg.error;
      previewStatus.className = "error small";
    }
  }

  function randomSeed() { return Math.floor(Math.random() * 2147483647); }

  async function preview(seeds) {
    previewStatus.className = "muted small";
    previewStatus.textContent = "Saving the draft…";
    if (!(await save())) {
      previewStatus.textContent = "Fix the draft first: previews draw what is saved.";
      previewStatus.className = "error small";
      return;
    }
    await ready;
    variantsEl.innerHTML = "";
    tiles.clear();
    socket.send(JSON.stringify({ type: "preview", seeds: seeds }));
  }

  document.getElementById("preview-one").addEventListener("click", function () {
    preview([Number(seedInput.value) || 0]);
  });
  document.getElementById("preview-reroll").addEventListener("click", function () { preview([randomSeed()]); });
  document.getElementById("preview-four").addEventListener("click", function () {
    preview([randomSeed(), randomSeed(), randomSeed(), randomSeed()]);
  });
  connect();
})();
