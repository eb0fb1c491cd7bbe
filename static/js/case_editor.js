// The case editor: knowledge-graph autocomplete for the diagnosis and differentials, suggestions from
// the diagnosis that the educator accepts or drops, and the view list following the modality.
(function () {
  "use strict";
  const form = document.getElementById("case-editor");
  if (!form) return;
  const readOnly = form.dataset.readonly === "1";
  if (readOnly) {
    form.querySelectorAll("input, select, textarea, button").forEach(function (el) {
      if (el.name !== "csrfmiddlewaretoken") el.disabled = true;
    });
  }
  const $ = function (sel) { return form.querySelector(sel); };
  const diagnosisInput = $("[name=diagnosis]");
  const diagnosisId = $("[name=diagnosis_id]");
  const diagnosisLink = document.getElementById("diagnosis-link");
  const suggestButton = document.getElementById("suggest");
  const suggestionsEl = document.getElementById("suggestions");
  const differentialsField = $("[name=differentials]");
  const chips = document.getElementById("differentials");
  const VIEWS = { cxr: ["PA", "AP"], ct: ["axial"], lap: ["scope"] };
  // KG vital parameters -> the editor's vital fields
  const VITAL_NAMES = { respiratory_rate: "resp_rate", systolic_bp: "bp_systolic", diastolic_bp: "bp_diastolic" };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function kgSearch(query, type) {
    const response = await fetch("/kg/search.json?type=" + (type || "disease") + "&q=" + encodeURIComponent(query),
      { credentials: "same-origin" });
    if (!response.ok) return [];
    return (await response.json()).results;
  }

  // a small combobox: type, see matches, click or Enter to pick
  function autocomplete(input, list, onPick, type) {
    let timer = null;
    let results = [];
    let active = -1;
    function render() {
      list.innerHTML = "";
      results.forEach(function (r, i) {
        const item = el("li", { role: "option", "data-id": r.id, class: i === active ? "active" : "" });
        item.appendChild(el("strong", {}, r.label));
        const also = (r.abbreviations || []).concat(r.synonyms || []).slice(0, 4).join(", ");
        if (also || r.icd10) item.appendChild(el("span", { class: "muted" }, " " + [r.icd10, also].filter(Boolean).join(" · ")));
        item.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        list.appendChild(item);
      });
      list.hidden = results.length === 0;
    }
    function pick(i) {
      const r = results[i];
      if (!r) return;
      results = [];
      render();
      onPick(r);
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim();
      timer = setTimeout(async function () {
        results = q.length >= 2 ? await kgSearch(q, type) : [];
        active = results.length ? 0 : -1;
        render();
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { active = Math.min(active + 1, results.length - 1); render(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
      else if (e.key === "Enter") { pick(active); e.preventDefault(); }
      else if (e.key === "Escape") { results = []; render(); }
    });
    input.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });
  }

  // names of the nodes the saved case links (the server sends them; picks made here add their own)
  const names = JSON.parse(document.getElementById("kg-names").textContent);

  function showDiagnosisLink(r) {
    diagnosisLink.textContent = "";
    if (r) {
      diagnosisLink.append("Linked to ");
      diagnosisLink.appendChild(el("a", { href: "/kg/nodes/" + r.id + "/" }, r.label + (r.icd10 ? " (" + r.icd10 + ")" : "")));
    } else {
      diagnosisLink.textContent = "Free text: pick a knowledge-graph disease to link it.";
    }
  }

  function linkDiagnosis(r) {
    diagnosisId.value = r ? r.id : "";
    if (r) diagnosisInput.value = r.label;
    showDiagnosisLink(r);
    suggestButton.disabled = !r || readOnly;
  }
  if (names[diagnosisId.value]) showDiagnosisLink(Object.assign({ id: diagnosisId.value }, names[diagnosisId.value]));

  autocomplete(diagnosisInput, document.getElementById("diagnosis-results"), linkDiagnosis);
  diagnosisInput.addEventListener("input", function () {
    if (diagnosisId.value) linkDiagnosis(null); // typing again unlinks until a disease is picked
  });

  // differentials as chips backed by the hidden comma-separated field
  const labels = {};
  Object.keys(names).forEach(function (id) { labels[id] = names[id].label; });
  function differentialIds() { return differentialsField.value.split(",").filter(Boolean); }
  function renderChips() {
    chips.innerHTML = "";
    differentialIds().forEach(function (id) {
      const chip = el("li", { class: "chip", "data-id": id }, labels[id] || id.replace("disease:", "").replace(/_/g, " "));
      if (!readOnly) {
        const remove = el("button", { type: "button", "aria-label": "Remove " + (labels[id] || id) }, "×");
        remove.addEventListener("click", function () {
          differentialsField.value = differentialIds().filter(function (x) { return x !== id; }).join(",");
          renderChips();
        });
        chip.appendChild(remove);
      }
      chips.appendChild(chip);
    });
  }
  function addDifferential(r) {
    labels[r.id] = r.label;
    const ids = differentialIds();
    if (ids.indexOf(r.id) === -1 && r.id !== diagnosisId.value) ids.push(r.id);
    differentialsField.value = ids.join(",");
    renderChips();
  }
  const differentialSearch = document.getElementById("differential-search");
  autocomplete(differentialSearch, document.getElementById("differential-results"), function (r) {
    addDifferential(r);
    differentialSearch.value = "";
  });
  renderChips();

  // findings from the knowledge graph: pick an imaging finding, it fills the next empty row with the
  // generator's key (findings the generator cannot draw are shown but refused)
  const findingSearch = document.getElementById("finding-search");
  if (findingSearch) {
    const findingResults = document.getElementById("finding-results");
    const FINDING_KEYS = Array.from(form.querySelectorAll("[name=finding_0_key] option")).map(function (o) { return o.value; });
    autocomplete(findingSearch, findingResults, function (r) {
      findingSearch.value = "";
      if (!r.phantom_key || FINDING_KEYS.indexOf(r.phantom_key) === -1) {
        findingSearch.placeholder = r.label + " cannot be drawn by the generator; pick another finding";
        return;
      }
      const row = Array.from(form.querySelectorAll("tr.finding-row")).find(function (tr) {
        return !tr.querySelector("[name$=_key]").value;
      });
      if (!row) { findingSearch.placeholder = "All finding rows are used"; return; }
      const key = row.querySelector("[name$=_key]");
      key.value = r.phantom_key;
      key.dispatchEvent(new Event("change", { bubbles: true }));
    }, "imaging_finding");
  }

  // modality decides the views on offer
  const modality = $("[name=study_modality]");
  const view = $("[name=study_view]");
  function syncViews() {
    const allowed = VIEWS[modality.value] || [];
    Array.from(view.options).forEach(function (o) { o.hidden = allowed.indexOf(o.value) === -1; });
    if (allowed.indexOf(view.value) === -1) view.value = allowed[0];
    $("[name=slice_count]").closest("label").hidden = modality.value !== "ct";
    $("[name=frame_count]").closest("label").hidden = modality.value !== "lap";
  }
  // a study title the educator has not changed follows the modality and view ("Chest X-ray PA" -> "CT chest")
  const studyTitle = $("[name=study_title]");
  function defaultTitle() {
    return { cxr: "Chest X-ray " + view.value, ct: "CT chest", lap: "Laparoscopy" }[modality.value] || "";
  }
  let shownDefault = defaultTitle();
  function syncTitle() {
    const next = defaultTitle();
    if (!studyTitle.value.trim() || studyTitle.value === shownDefault) studyTitle.value = next;
    shownDefault = next;
  }
  modality.addEventListener("change", function () { syncViews(); syncTitle(); });
  view.addEventListener("change", syncTitle);
  syncViews();

  // suggestions from the diagnosis: shown as checkboxes, applied only when the educator says so
  function findingRows() {
    return Array.from(form.querySelectorAll("tr.finding-row")).map(function (row) {
      return {
        key: row.querySelector("[name$=_key]"), side: row.querySelector("[name$=_laterality]"),
        location: row.querySelector("[name$=_location]"),
        severity: row.querySelector("[name$=_severity]"), size: row.querySelector("[name$=_size_mm]"),
      };
    });
  }

  // a typical value inside the KG's range (its middle; one bound when the range is open)
  function vitalMid(v) {
    const low = v.min, high = v.max;
    if ((low === null || low === undefined) && (high === null || high === undefined)) return null;
    if (low === null || low === undefined) return high;
    if (high === null || high === undefined) return low;
    return Math.round(((low + high) / 2) * 10) / 10;
  }

  function option(group, label, apply) {
    const id = "sug-" + Math.random().toString(36).slice(2);
    const line = el("label", { class: "suggestion", for: id });
    const box = el("input", { type: "checkbox", id: id, checked: "checked" });
    line.appendChild(box);
    line.append(" " + label);
    line._apply = apply;
    group.appendChild(line);
  }

  // the prompt, composed from the findings rows (then free to edit)
  const composeButton = document.getElementById("compose-prompt");
  if (composeButton) {
    composeButton.addEventListener("click", function () {
      const head = { cxr: form.querySelector("[name=study_view]").value + " chest radiograph",
                     ct: "Axial CT of the chest", lap: "Laparoscopic view" }[modality.value];
      const parts = findingRows().filter(function (r) { return r.key.value; }).map(function (r) {
        const label = r.key.options[r.key.selectedIndex].text.toLowerCase();
        const words = [r.severity.value !== "moderate" ? r.severity.value : "moderate",
                       r.side.value !== "none" ? r.side.value : "", label].filter(Boolean).join(" ");
        const where = r.location.value ? " in the " + r.location.value : "";
        const size = r.size.value ? " (" + r.size.value + " mm)" : "";
        return words + where + size;
      });
      const text = head + ": " + (parts.length ? parts.join("; ") : "no abnormality") + ".";
      const promptField = form.querySelector("[name=study_prompt]");
      promptField.value = text;
      promptField.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  suggestButton.addEventListener("click", async function () {
    if (!diagnosisId.value) return;
    const response = await fetch("/kg/suggest/" + encodeURIComponent(diagnosisId.value) + ".json", { credentials: "same-origin" });
    if (!response.ok) { suggestionsEl.hidden = false; suggestionsEl.textContent = "No suggestions for this diagnosis."; return; }
    const data = await response.json();
    suggestionsEl.innerHTML = "";
    suggestionsEl.hidden = false;
    suggestionsEl.appendChild(el("h3", {}, "Suggested from " + data.disease.label + " (untick what you do not want)"));
    const mod = modality.value;
    const renderable = (data.phantom && data.phantom[mod]) || [];
    const fGroup = el("div", { class: "suggestion-group" });
    fGroup.appendChild(el("strong", {}, "Imaging findings (" + mod.toUpperCase() + ")"));
    renderable.forEach(function (f) {
      const text = [f.key.replace(/_/g, " "), f.laterality !== "none" ? f.laterality : "", f.location || "", f.severity || "", f.size_mm ? f.size_mm + " mm" : ""].filter(Boolean).join(", ");
      option(fGroup, text, function () {
        const row = findingRows().find(function (r) { return !r.key.value; });
        if (!row) return;
        row.key.value = f.key;
        row.side.value = f.laterality || "none";
        row.severity.value = f.severity || "moderate";
        row.size.value = f.size_mm || "";
        const location = f.location || "";
        const known = Array.from(row.location.options).some(function (o) { return o.value === location; });
        row.location.value = known ? location : "";
      });
    });
    if (!renderable.length) fGroup.appendChild(el("p", { class: "muted" }, "The generator draws none of this disease's findings in this modality."));
    suggestionsEl.appendChild(fGroup);
    const vGroup = el("div", { class: "suggestion-group" });
    vGroup.appendChild(el("strong", {}, "Vital signs"));
    (data.vitals || []).forEach(function (v) {
      const name = VITAL_NAMES[v.parameter] || v.parameter;
      const input = form.querySelector("[name=vital_" + name + "]");
      const mid = vitalMid(v);
      // monitors show whole numbers; only temperature keeps a decimal
      const value = mid === null ? null : name === "temperature" ? Math.round(mid * 10) / 10 : Math.round(mid);
      if (value === null || !input) return;
      option(vGroup, v.label + ": " + value + " " + (v.unit || ""), function () { input.value = value; });
    });
    suggestionsEl.appendChild(vGroup);
    const dGroup = el("div", { class: "suggestion-group" });
    dGroup.appendChild(el("strong", {}, "Differentials"));
    (data.differentials || []).forEach(function (d) {
      option(dGroup, d.label, function () { addDifferential(d); });
    });
    suggestionsEl.appendChild(dGroup);
    const sGroup = el("div", { class: "suggestion-group" });
    sGroup.appendChild(el("strong", {}, "Symptoms (added to the presenting complaint)"));
    (data.symptoms || []).slice(0, 6).forEach(function (s) {
      option(sGroup, s.label, function () {
        const pc = form.querySelector("[name=presenting_complaint]");
        if (pc.value.toLowerCase().indexOf(s.label.toLowerCase()) === -1) pc.value = (pc.value ? pc.value.replace(/\.?\s*$/, "; ") : "") + s.label;
      });
    });
    suggestionsEl.appendChild(sGroup);
    const apply = el("button", { type: "button", class: "primary", id: "apply-suggestions" }, "Apply the ticked suggestions");
    apply.addEventListener("click", function () {
      suggestionsEl.querySelectorAll("label.suggestion").forEach(function (line) {
        if (line.querySelector("input").checked) line._apply();
      });
      suggestionsEl.hidden = true;
    });
    const drop = el("button", { type: "button" }, "Drop all");
    drop.addEventListener("click", function () { suggestionsEl.hidden = true; });
    suggestionsEl.append(apply, " ", drop);
  });
})();

// Prompt grounding: as the educator types, what the prompt was understood as, and what is flagged.
(function () {
  "use strict";
  const prompt = document.querySelector("#case-editor [name=study_prompt]");
  const out = document.getElementById("grounding");
  const modality = document.querySelector("#case-editor [name=study_modality]");
  if (!prompt || !out) return;
  let timer = null;
  let asked = 0;
  function chip(text, cls) {
    const span = document.createElement("span");
    span.className = "ground " + cls;
    span.textContent = text;
    return span;
  }
  async function ground() {
    const text = prompt.value.trim();
    const ticket = ++asked;
    if (!text) { out.innerHTML = ""; return; }
    const response = await fetch("/kg/ground.json?modality=" + modality.value + "&text=" + encodeURIComponent(text),
      { credentials: "same-origin" });
    if (!response.ok || ticket !== asked) return;
    const data = await response.json();
    out.innerHTML = "";
    if (data.matches.length) out.appendChild(chip("Understood as:", "label"));
    data.matches.forEach(function (m) {
      const detail = [m.laterality, m.severity].filter(Boolean).join(", ");
      const text = (m.negated ? "no " : "") + m.label + (detail ? " (" + detail + ")" : "");
      out.appendChild(chip(text, m.negated ? "negated" : m.drawable ? "ok" : "unsupported"));
    });
    data.unmatched.forEach(function (u) { out.appendChild(chip("not understood: “" + u + "”", "unmatched")); });
    data.flags.forEach(function (f) { out.appendChild(chip("⚠ " + f, "flag")); });
  }
  prompt.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ground, 400); });
  modality.addEventListener("change", ground);
  ground();
})();
