// The notice drafting form, progressively enhanced (the form works without this script):
// - a district picker on a Leaflet map, kept in step with the district checkboxes both ways (the
//   checkboxes, sorted by reading, stay the keyboard and no-JS way to choose);
// - a filter over the district checkboxes (name, reading in hiragana or katakana, or key); a
//   ticked district stays ticked while hidden by the filter;
// - the reason suggestions of the chosen hazard only;
// - the hazard zone of the chosen hazard, drawn for context;
// - a live preview of every channel, side by side, fetched ~400 ms after the last change from
//   POST preview.json (the form's own CSRF token travels with the fields);
// - copy buttons on every channel text, with a visible confirmation;
// - each channel's length and limit (counted by the server as the carriers count), over the
//   limit said in words and not in colour alone.
// Every string comes translated from the page (#notice-form-strings).
(function () {
  "use strict";
  const form = document.getElementById("notice-form");
  if (!form) return;
  const S = JSON.parse(document.getElementById("notice-form-strings").textContent);
  const list = document.getElementById("districts");
  const boxes = () => Array.from(form.querySelectorAll("input[type=checkbox][name=districts]"));
  const hazardSelect = form.querySelector("select[name=hazard]");
  const pickedEl = document.getElementById("district-picked");
  const live = document.getElementById("live-preview");
  const liveStatus = document.getElementById("live-preview-status");
  const liveBody = document.getElementById("live-preview-body");
  const levelFill = {};
  (S.levels || []).forEach((lv) => { levelFill[lv.level] = lv; });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function selectedKeys() {
    return boxes().filter((b) => b.checked).map((b) => b.value);
  }

  function optionFor(key) {
    return boxes().find((b) => b.value === key);
  }

  function nameOf(box) {
    const item = box.closest("li");
    return item ? item.dataset.name : box.value;
  }

  // --- the district filter ------------------------------------------------------------------
  function toHiragana(text) {
    return text.normalize("NFKC").replace(/[\u30a1-\u30f6]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60));
  }
  const filterBox = document.getElementById("district-filter-box");
  const filterInput = document.getElementById("district-filter");
  const filterCount = document.getElementById("district-filter-count");
  if (filterBox && filterInput && list) {
    filterBox.hidden = false;
    const items = Array.from(list.querySelectorAll("li"));
    const applyFilter = () => {
      const want = toHiragana(filterInput.value.trim().toLowerCase()).replace(/\s+/g, "");
      let shown = 0;
      items.forEach((item) => {
        const hay = [item.dataset.name, item.dataset.reading, item.dataset.key].map((t) => toHiragana(String(t || "").toLowerCase()));
        const match = !want || hay.some((t) => t.includes(want));
        item.hidden = !match;
        if (match) shown += 1;
      });
      filterCount.textContent = want ? S.filter_count.replace("{shown}", shown).replace("{total}", items.length) : "";
      list.dataset.shown = String(shown);
    };
    // the filter is not a field of the notice: no preview on typing in it
    ["input", "change"].forEach((type) => filterInput.addEventListener(type, (e) => { e.stopPropagation(); applyFilter(); }));
    filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") e.preventDefault(); });
  }

  // --- reason suggestions of the chosen hazard -------------------------------------------------
  const reasonList = document.getElementById("reasons");
  function fillReasons() {
    if (!reasonList || !hazardSelect) return;
    const hazard = hazardSelect.value;
    if (reasonList.dataset.hazard === hazard) return;
    reasonList.replaceChildren(...((S.reasons || {})[hazard] || []).map((r) => { const o = el("option"); o.value = r; return o; }));
    reasonList.dataset.hazard = hazard;
  }
  if (hazardSelect) hazardSelect.addEventListener("change", fillReasons);
  fillReasons();

  // --- copy buttons ---------------------------------------------------------------------
  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyFallback(pre) {
    selectText(pre);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function addCopyButton(article) {
    const pre = article.querySelector("pre[data-copy]");
    const head = article.querySelector(".channel-head") || article;
    if (!pre || head.querySelector(".copy-button")) return;
    const title = (head.querySelector("h3") || {}).textContent || "";
    const button = el("button", "copy-button", S.copy);
    button.type = "button";
    button.setAttribute("aria-label", S.copy_label.replace("{channel}", title));
    const done = el("span", "copy-done");
    done.setAttribute("role", "status");
    done.setAttribute("aria-live", "polite");
    let timer = null;
    function confirm(ok) {
      done.textContent = ok ? S.copied : S.copy_failed;
      article.dataset.copied = ok ? "true" : "false";
      clearTimeout(timer);
      timer = setTimeout(() => { done.textContent = ""; }, 4000);
    }
    button.addEventListener("click", () => {
      const text = pre.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(() => confirm(true), () => confirm(copyFallback(pre)));
      } else {
        confirm(copyFallback(pre));
      }
    });
    head.append(button, done);
  }

  function enhanceCopy(root) {
    root.querySelectorAll("article.channel").forEach(addCopyButton);
  }
  document.querySelectorAll("section.preview").forEach(enhanceCopy);

  // --- live preview -----------------------------------------------------------------------
  let timer = null;
  let sequence = 0;
  let controller = null;

  // The lengths under a channel's title: "件名: 12字（上限15字）" …; over the limit, a word first.
  function lengthLines(lengths, keys) {
    const box = el("div", "channel-lengths");
    keys.forEach((key) => {
      const c = lengths && lengths[key];
      if (!c) return;
      const p = el("p", "channel-length" + (c.over ? " over-limit" : ""));
      p.dataset.count = String(c.count);
      if (c.limit) p.dataset.limit = String(c.limit);
      if (c.over) p.append(el("strong", null, S.over_limit), " ");
      p.append(`${c.label}: ${c.text}`);
      box.appendChild(p);
    });
    return box;
  }

  function channelArticle(key, text, lengths, keys) {
    const article = el("article", "channel");
    article.dataset.channel = key;
    const head = el("div", "channel-head");
    head.appendChild(el("h3", null, S[key]));
    article.appendChild(head);
    if (lengths) article.appendChild(lengthLines(lengths, keys || [key]));
    const pre = el("pre", null, text);
    pre.setAttribute("data-copy", "");
    pre.tabIndex = 0; // a long text scrolls: reachable with the keyboard too
    article.appendChild(pre);
    addCopyButton(article);
    return article;
  }

  function renderResult(result) {
    const parts = [];
    (result.warnings_text || []).forEach((text) => {
      const p = el("p", "warning", text);
      p.setAttribute("role", "status");
      parts.push(p);
    });
    if (result.fallback) {
      const p = el("p", "warning", S.fallback);
      p.setAttribute("role", "alert");
      parts.push(p);
    }
    parts.push(el("h3", null, S.shelters));
    const shelters = el("ul", "live-shelters");
    (result.shelters.length ? result.shelters : [null]).forEach((s) => {
      shelters.appendChild(el("li", null, s ? `${s.name} — ${s.why}` : S.none));
    });
    parts.push(shelters);
    const channels = el("div", "channels");
    const n = result.lengths || null;
    channels.append(
      channelArticle("radio", result.radio, n),
      channelArticle("mail", `${result.mail.title}\n\n${result.mail.body}`, n, ["mail_title", "mail_body"]),
      channelArticle("web_long", result.web.long, n),
      channelArticle("web_short", result.web.short, n),
      channelArticle("en", result.en, n),
      channelArticle("easy_ja", result.easy_ja, n),
      channelArticle("cap", result.cap),
    );
    parts.push(channels);
    parts.push(el("h3", null, S.guard));
    if (result.guard.ok) {
      parts.push(el("p", "guard-ok", S.no_violation));
    } else {
      const list = el("ul", "guard-violations");
      (result.guard.violations || []).forEach((v) => list.appendChild(el("li", "error", `${v.channel_label || v.channel} / ${v.rule_label || v.rule}: ${v.message}`)));
      parts.push(list);
    }
    liveBody.replaceChildren(...parts);
  }

  // --- errors beside the fields, and the shelters fieldset -----------------------------------
  const saveButton = document.getElementById("notice-save");
  const shelterSlot = document.getElementById("shelter-choice-slot");

  function controlsOf(field) {
    const box = form.querySelector(`[data-field="${field}"]`);
    return box ? Array.from(box.querySelectorAll("input:not([type=hidden]):not(#district-filter), select, textarea")) : [];
  }

  function clearFieldErrors() {
    form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; p.hidden = true; });
    form.querySelectorAll("[data-field].has-error").forEach((box) => box.classList.remove("has-error"));
    form.querySelectorAll("[aria-invalid]").forEach((control) => {
      control.removeAttribute("aria-invalid");
      const hint = control.dataset.hint;
      if (hint) control.setAttribute("aria-describedby", hint);
      else control.removeAttribute("aria-describedby");
    });
    const summary = document.getElementById("notice-error-summary");
    if (summary) summary.hidden = true;
  }

  // Shows the message beside the control the service named; false when the form has none.
  function showFieldError(error) {
    const slot = error && error.field ? document.getElementById(`err-${error.field}`) : null;
    if (!slot) return false;
    slot.textContent = error.message;
    slot.hidden = false;
    const box = form.querySelector(`[data-field="${error.field}"]`);
    if (box) box.classList.add("has-error");
    controlsOf(error.field).forEach((control) => {
      const before = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== slot.id);
      if (!("hint" in control.dataset)) control.dataset.hint = before.join(" ");
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", [slot.id].concat(before).join(" "));
    });
    return true;
  }

  // The server renders the fieldset (ticks, suggestions, the other shelters, the fingerprint
  // that lets Save store exactly this preview); keep the focus where the operator was.
  function replaceShelters(html) {
    if (!shelterSlot || typeof html !== "string") return;
    const active = document.activeElement;
    let focus = null;
    if (active && shelterSlot.contains(active)) {
      focus = active.id ? `#${active.id}` : `input[name="${active.name}"][value="${CSS.escape(active.value)}"]`;
    }
    shelterSlot.innerHTML = html;
    if (focus) {
      const again = shelterSlot.querySelector(focus);
      if (again) again.focus();
    }
  }

  function showLive() {
    live.hidden = false;
    // The server-rendered preview (after a full-page preview) is now out of date.
    document.querySelectorAll("section.preview").forEach((section) => { section.hidden = true; });
  }

  function refresh() {
    if (!selectedKeys().length) {
      live.hidden = false;
      liveStatus.textContent = S.choose_district;
      return;
    }
    const mine = ++sequence;
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    live.setAttribute("aria-busy", "true");
    liveStatus.textContent = S.updating;
    fetch(form.dataset.previewUrl, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" }, signal: controller ? controller.signal : undefined,
    })
      .then((r) => r.json().then((body) => ({ status: r.status, body })))
      .then(({ status, body }) => {
        if (mine !== sequence) return;
        live.removeAttribute("aria-busy");
        showLive();
        if (body.ok) {
          clearFieldErrors();
          replaceShelters(body.result.shelters_html);
          renderResult(body.result);
          if (saveButton) saveButton.hidden = false;
          liveStatus.textContent = S.updated;
          live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
        } else {
          clearFieldErrors();
          const error = body.error || {};
          const beside = showFieldError(error);
          const text = beside ? error.summary : (error.summary || error.message || `HTTP ${status}`);
          const p = el("p", "error", text || `HTTP ${status}`);
          p.setAttribute("role", "alert");
          liveBody.replaceChildren(p);
          if (saveButton) saveButton.hidden = true;  // nothing valid to save
          liveStatus.textContent = "";
        }
      })
      .catch((e) => {
        if (mine !== sequence || (e && e.name === "AbortError")) return;
        live.removeAttribute("aria-busy");
        liveStatus.textContent = S.failed;
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);

  // --- the district picker on the map --------------------------------------------------------
  const mapEl = document.getElementById("notice-map");
  if (!mapEl || !window.L) return;
  mapEl.hidden = false;
  const hint = document.getElementById("notice-map-hint");
  if (hint) hint.hidden = false;
  const map = L.map(mapEl, { zoomControl: true, zoomSnap: 0.25 }).setView([36.5, 137.5], 5);
  map.attributionControl.setPrefix("Leaflet");
  if (mapEl.dataset.tileUrl) { // the configured base map (MAP_TILES / MAP_TILE_URL), if any
    L.tileLayer(mapEl.dataset.tileUrl, {
      maxZoom: Number(mapEl.dataset.tileMaxZoom) || 18, attribution: mapEl.dataset.tileAttribution || "",
    }).addTo(map);
  }
  map.createPane("dai-zones").style.zIndex = 390;
  mapEl.daiMap = map;
  const byKey = {};
  let zones = null;
  let zoneFeatures = [];

  function styleFor(key) {
    const option = optionFor(key);
    const chosen = option && option.checked;
    return chosen
      ? { color: "#1d4ed8", weight: 4, fillColor: "#2563eb", fillOpacity: 0.45, dashArray: null }
      : { color: "#1f2937", weight: 1.2, fillColor: "#93c5fd", fillOpacity: 0.12, dashArray: null };
  }

  function describePicked() {
    if (!pickedEl) return;
    const names = boxes().filter((b) => b.checked).map(nameOf);
    pickedEl.textContent = names.length ? S.selected.replace("{names}", names.join("、")) : S.none_selected;
  }

  function restyle() {
    Object.keys(byKey).forEach((key) => {
      const layer = byKey[key];
      layer.setStyle(styleFor(key));
      const path = layer.getElement && layer.getElement();
      if (path) path.setAttribute("data-selected", optionFor(key) && optionFor(key).checked ? "true" : "false");
    });
    mapEl.dataset.selected = selectedKeys().join(",");
    describePicked();
  }

  function drawZones() {
    if (zones) map.removeLayer(zones);
    const hazard = hazardSelect ? hazardSelect.value : "";
    const shown = zoneFeatures.filter((f) => f.properties && f.properties.hazard === hazard);
    zones = L.geoJSON({ type: "FeatureCollection", features: shown }, {
      pane: "dai-zones", interactive: false,
      style: () => ({ color: "#0e7490", weight: 0.5, fillColor: "#67e8f9", fillOpacity: 0.35 }),
    }).addTo(map);
    mapEl.dataset.zoneFeatures = String(shown.length);
  }

  function toggle(key) {
    const option = optionFor(key);
    if (!option) return;
    option.checked = !option.checked;
    option.dispatchEvent(new Event("change", { bubbles: true }));
  }

  if (list) list.addEventListener("change", restyle);
  if (hazardSelect) hazardSelect.addEventListener("change", drawZones);

  fetch(mapEl.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((body) => {
      const districts = body.layers.find((l) => l.kind === "districts");
      const hazards = body.layers.find((l) => l.kind === "hazard_zones");
      zoneFeatures = (hazards && hazards.geojson.features) || [];
      if (!districts) return;
      const credits = [districts.attribution, hazards && hazards.attribution].filter(Boolean).join(" / ");
      const drawn = L.geoJSON(districts.geojson, {
        attribution: escapeHtml(credits),
        filter: (f) => Boolean(optionFor(f.properties.key)),
        style: (f) => styleFor(f.properties.key),
        onEachFeature: (f, layer) => {
          const p = f.properties;
          byKey[p.key] = layer;
          const level = p.notice_level ? `<br>${escapeHtml(p.notice_label || "")}` : "";
          layer.bindTooltip(`<strong>${escapeHtml(p.name || p.key)}</strong>${level}`, { sticky: true });
          layer.on("click", () => toggle(p.key));
        },
      }).addTo(map);
      const bounds = drawn.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8] });
      drawZones();
      restyle();
      mapEl.dataset.loaded = "true";
    })
    .catch(() => { mapEl.dataset.loaded = "failed"; });
})();
