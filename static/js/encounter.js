// The student's case page: order studies over the encounter's websocket, watch them stream in
// (progress, predicted-x0 previews), then read the final image in the viewer.
(function () {
  "use strict";
  const root = document.getElementById("encounter");
  if (!root) return;
  const encounterId = root.dataset.encounter;
  const statusEl = document.getElementById("imaging-status");
  const progressEl = document.getElementById("progress");
  const barEl = document.getElementById("progress-bar");
  const progressText = document.getElementById("progress-text");
  const previewsEl = document.getElementById("previews");
  const viewerHost = document.getElementById("viewer");
  const provenanceEl = document.getElementById("provenance");
  const orderButtons = Array.from(document.querySelectorAll("button.order"));

  let socket = null;
  let retry = 0;
  let viewer = null;
  let shownJob = null;
  let pollTimer = null;
  const jobs = new Map(); // job id -> last known state

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "imaging-status" + (kind ? " " + kind : "");
  }

  function studyStatus(studyId, text) {
    const el = document.querySelector('[data-study-status="' + studyId + '"]');
    if (el) el.textContent = text;
  }

  function showProgress(step, total) {
    progressEl.hidden = false;
    const pct = total ? Math.round((100 * step) / total) : 0;
    barEl.style.width = pct + "%";
    progressText.textContent = "step " + step + " of " + total;
  }

  function addPreview(dataUrl, step, total) {
    const img = document.createElement("img");
    img.src = dataUrl;
    img.alt = "preview at step " + step + " of " + total;
    img.className = "preview";
    img.title = "step " + step + " / " + total;
    previewsEl.appendChild(img);
    previewsEl.scrollLeft = previewsEl.scrollWidth;
  }

  async function ensureViewer() {
    if (viewer || !window.RadViewer) return viewer;
    viewer = await window.RadViewer.create(viewerHost, { readOnly: true });
    return viewer;
  }

  async function showFinal(state) {
    if (shownJob === state.id) return;
    shownJob = state.id;
    progressEl.hidden = false;
    barEl.style.width = "100%";
    progressText.textContent = "done: " + state.steps + " steps";
    provenanceEl.textContent =
      "model " + state.model_version + " · seed " + state.seed + " · " + state.sampler + ", " + state.steps +
      " steps, guidance " + state.guidance;
    const meta = state.pixels || {};
    const v = await ensureViewer();
    if (v) {
      const response = await fetch(state.pixels_url, { credentials: "same-origin" });
      if (!response.ok) throw new Error("could not load the image (" + response.status + ")");
      const buffer = await response.arrayBuffer();
      const dtype = response.headers.get("X-Dtype") || meta.dtype;
      const pixelData =
        dtype === "int16" ? new Int16Array(buffer) : dtype === "uint8" ? new Uint8Array(buffer) : new Uint16Array(buffer);
      v.showImage({
        width: meta.width,
        height: meta.height,
        pixelData: pixelData,
        photometric: meta.photometric || "MONOCHROME2",
        modality: meta.modality,
        windowCenter: meta.window_center,
        windowWidth: meta.window_width,
        label: state.model_version + " · seed " + state.seed,
      });
    } else {
      viewerHost.innerHTML = "";
      const img = document.createElement("img");
      img.src = state.display_url;
      img.alt = "generated study";
      img.className = "final-fallback";
      viewerHost.appendChild(img);
    }
    viewerHost.dataset.job = String(state.id);
    viewerHost.classList.add("has-image");
    setStatus("Study ready. Read it in the viewer: drag to window, right-drag to zoom.", "ok");
    send({ type: "viewed", job: state.id });
  }

  function handleJob(state) {
    const known = jobs.get(state.id);
    if (!state.study && known) state.study = known.study; // worker events do not carry the study
    jobs.set(state.id, state);
    if (state.study) {
      const text = { queued: "queued", running: "generating…", done: "ready", failed: "failed", cancelled: "cancelled" };
      studyStatus(state.study, text[state.status] || state.status);
    }
    if (state.status === "queued") {
      setStatus("Queued: the generator will start shortly.");
      showProgress(0, state.steps);
    } else if (state.status === "running") {
      setStatus("Generating the study…");
      showProgress(state.step, state.steps);
    } else if (state.status === "done") {
      showFinal(state).catch(function (err) { setStatus(String(err.message || err), "error"); });
    } else if (state.status === "failed") {
      setStatus("The study could not be generated: " + state.error + " You can order it again.", "error");
      orderButtons.forEach(function (b) { b.disabled = false; });
    } else if (state.status === "cancelled") {
      setStatus("The study was cancelled. You can order it again.", "error");
      orderButtons.forEach(function (b) { b.disabled = false; });
    }
  }

  function onMessage(event) {
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    switch (msg.type) {
      case "state":
        msg.jobs.forEach(handleJob);
        break;
      case "queued": case "started": case "done": case "failed": case "cancelled": case "job":
        handleJob(msg.job);
        break;
      case "progress":
        setStatus("Generating the study…");
        showProgress(msg.step, msg.total);
        addPreview(msg.preview, msg.step, msg.total);
        break;
      case "error":
        setStatus(msg.error, "error");
        orderButtons.forEach(function (b) { b.disabled = false; });
        break;
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function pollRunningJobs() {
    // fallback while the socket is down: the job resource is the source of truth
    jobs.forEach(function (state, id) {
      if (state.status === "queued" || state.status === "running") {
        fetch("/imaging/jobs/" + id + "/", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (s) { if (s) handleJob(Object.assign({ study: state.study }, s)); });
      }
    });
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/encounters/" + encounterId + "/imaging/");
    socket.addEventListener("open", function () {
      retry = 0;
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", function (event) {
      if (event.code >= 4400 && event.code < 4500) {
        setStatus("You cannot open the imaging of this case (code " + event.code + ").", "error");
        return;
      }
      if (!pollTimer) pollTimer = setInterval(pollRunningJobs, 3000);
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * Math.pow(2, retry));
    });
  }

  orderButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      previewsEl.innerHTML = "";
      shownJob = null;
      if (send({ type: "order", study: Number(button.dataset.study) })) {
        button.disabled = true;
        setStatus("Ordering…");
      } else {
        setStatus("Not connected yet; try again in a moment.", "error");
      }
    });
  });

  connect();
})();
