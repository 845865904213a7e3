// Dashboard: draw the map layers the plugins contribute, poll the job queue, and keep the panels
// live (polling /dashboard/feed.json). The panels come from the apps and plugins
// (dai_dashboard_panels): this script names none of them. Each poll replaces a panel's body with
// the one drawn again on the server, unless the panel keeps itself live with its own script
// (data-live="script"), which hears the "dai:panel" event on its card.
(function () {
  "use strict";
  const mapEl = document.getElementById("map");

  function showEmpty() {
    mapEl.insertAdjacentHTML("beforebegin", "<p role=\"status\"></p>");
    mapEl.previousElementSibling.textContent = mapEl.dataset.emptyText;
  }

  // --- districts shaded by the notice level in force (STANDARDS.md §2.1 colours) -----------
  // The map-data JSON carries each district's level (notice_level, notice_label …); the feed
  // polls keep it current without reloading the geometry. Tooltips and the legend under the
  // map write the level number and name, so colour is never the only signal.
  const levelData = (() => {
    const node = document.getElementById("dashboard-levels");
    try { return node ? JSON.parse(node.textContent) : { levels: [] }; } catch (e) { return { levels: [] }; }
  })();
  const levelStyle = {};
  (levelData.levels || []).forEach((lv) => { levelStyle[lv.level] = lv; });
  let districtController = null;

  function escapeText(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function levelsFromFeatures(features) {
    const out = {};
    (features || []).forEach((f) => {
      const p = f.properties || {};
      if (p.notice_level) out[p.key] = { level: p.notice_level, label: p.notice_label || "" };
    });
    return out;
  }

  function shadeDistricts(byKey) {
    const drawn = districtController && districtController.drawn && districtController.drawn.districts;
    if (!drawn) return;
    let shaded = 0;
    drawn.leaflet.eachLayer((layer) => {
      const p = layer.feature.properties;
      const entry = byKey[p.key];
      const style = entry && levelStyle[entry.level];
      layer.setStyle(style
        ? { fillColor: style.fill, fillOpacity: 0.45, color: "#1f2937", weight: 2 }
        : { fillColor: "#93c5fd", fillOpacity: 0.08, color: "#1f2937", weight: 1.5 });
      const name = escapeText(p.name || p.key);
      const text = entry ? `<strong>${name}</strong>${escapeText(entry.label)}` : `<strong>${name}</strong>${escapeText(levelData.none || "")}`;
      if (layer.getTooltip()) layer.setTooltipContent(text);
      else layer.bindTooltip(text, { sticky: true, className: "dai-district-tip" });
      p.notice_level = entry ? entry.level : null;
      p.notice_label = entry ? entry.label : "";
      const path = layer.getElement && layer.getElement();
      if (path) {
        path.setAttribute("data-district", p.key);
        path.setAttribute("data-notice-level", entry ? String(entry.level) : "0");
      }
      if (entry) shaded += 1;
    });
    mapEl.dataset.shadedDistricts = String(shaded);
    mapEl.daiDistrictLevels = byKey;
    mapEl.daiDistrictLayers = drawn.leaflet;
  }

  if (window.DaiSituationMap) {
    // The situation app's layered map: districts, hazard zones, shelters, incidents (with
    // popups, legend and layer toggles) plus every other plugin's layers.
    const d = mapEl.dataset;
    const controller = window.DaiSituationMap.create(mapEl, {
      tiles: d.tileUrl ? { url: d.tileUrl, attribution: d.tileAttribution || "", max_zoom: Number(d.tileMaxZoom) || 18 } : null,
      attributionEl: document.getElementById("map-attribution"), sheltersUrl: d.sheltersUrl,
    });
    window.DaiSituationMap.fetchJson(d.layersUrl).then((body) => {
      const layers = body.layers.map((layer) => Object.assign({ kind: (layer.style && layer.style.kind) || "other" }, layer));
      if (!layers.some((layer) => (layer.geojson.features || []).length)) showEmpty();
      controller.setLayers(layers);
      districtController = controller;
      mapEl.daiMap = controller.map;
      const districts = layers.find((layer) => layer.kind === "districts");
      shadeDistricts(levelsFromFeatures(districts && districts.geojson.features));
      const seconds = Number(d.refreshSeconds) || 0;
      if (seconds > 0 && d.liveUrl) {
        setInterval(() => {
          if (document.hidden) return;
          window.DaiSituationMap.fetchJson(d.liveUrl).then((live) => controller.updateLayers(live.layers)).catch(() => {});
        }, seconds * 1000);
      }
    }).catch(() => {});
  } else {
    const map = L.map(mapEl, { attributionControl: false, zoomControl: true }).setView([36.5, 137.5], 5);
    fetch(mapEl.dataset.layersUrl, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((body) => {
        if (!body.layers.length) {
          showEmpty();
          return;
        }
        let bounds = null;
        const credits = new Set();
        body.layers.forEach((layer) => {
          if (layer.geojson.attribution) credits.add(layer.geojson.attribution);
          (layer.geojson.features || []).forEach((f) => f.properties && f.properties.attribution && credits.add(f.properties.attribution));
          const drawn = L.geoJSON(layer.geojson, { style: () => layer.style }).addTo(map);
          bounds = bounds ? bounds.extend(drawn.getBounds()) : drawn.getBounds();
        });
        if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
        document.getElementById("map-attribution").textContent = Array.from(credits).join(" / ");
        mapEl.dataset.loaded = String(body.layers.length);
      });
  }

  const jobsEl = document.getElementById("jobs");
  function refreshJobs() {
    fetch(jobsEl.dataset.url, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((body) => {
        jobsEl.replaceChildren();
        if (!body.jobs.length) {
          const li = document.createElement("li");
          li.textContent = jobsEl.dataset.emptyText;
          jobsEl.appendChild(li);
        }
        body.jobs.forEach((job) => {
          const li = document.createElement("li");
          li.className = "job job--" + job.state;
          const text = document.createElement("span");
          text.textContent = `#${job.id} ${job.title || job.kind} — ${job.state_label || job.state} ${job.progress}% ${job.stage || job.message || ""}`;
          const bar = document.createElement("progress");
          bar.max = 100;
          bar.value = Number(job.progress) || 0;
          bar.setAttribute("aria-label", `#${job.id} ${job.title || job.kind}`);
          li.append(text, bar);
          jobsEl.appendChild(li);
        });
      })
      .catch(() => {});
  }
  if (jobsEl) {
    refreshJobs();
    setInterval(refreshJobs, 5000);
  }

  // --- live panels ---------------------------------------------------------------------------
  const feedRoot = document.getElementById("dashboard-feed");
  if (!feedRoot) return;
  const S = JSON.parse(document.getElementById("dashboard-strings").textContent);
  const feedStatus = document.getElementById("feed-status");

  function updatePanel(panel, data) {
    const card = feedRoot.querySelector(`[data-panel="${CSS.escape(panel.key)}"]`);
    if (!card) return;  // a panel that appeared after the page loaded shows on the next load
    if (!card.hasAttribute("data-live")) {
      const target = card.querySelector(".panel-body");
      if (target && target.innerHTML !== panel.html) target.innerHTML = panel.html;
    }
    card.dispatchEvent(new CustomEvent("dai:panel", { bubbles: true, detail: { key: panel.key, data, html: panel.html } }));
    // a panel may shade the map's districts by the notice level in force
    if (data && data.district_levels) shadeDistricts(data.district_levels);
  }

  function poll() {
    if (document.hidden) return;
    const since = feedRoot.dataset.sinceId;
    const url = feedRoot.dataset.url + (since ? `?since_id=${encodeURIComponent(since)}` : "");
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((body) => {
        if (feedStatus) feedStatus.textContent = "";
        (body.panels || []).forEach((panel) => updatePanel(panel, body[panel.key] || {}));
        if (body.since_id !== null && body.since_id !== undefined) feedRoot.dataset.sinceId = String(body.since_id);
        feedRoot.dataset.polled = String(Number(feedRoot.dataset.polled || 0) + 1);
      })
      .catch(() => { if (feedStatus) feedStatus.textContent = S.offline; });
  }
  const seconds = Number(feedRoot.dataset.seconds) || 5;
  setInterval(poll, seconds * 1000);
})();
