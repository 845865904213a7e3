// Dashboard: draw the map layers the plugins contribute, poll the job queue, and keep the
// incident feed, the notices in force and the latest bulletin live (polling /dashboard/feed.json).
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

  function levelsFromNotices(items, strings) {
    const out = {};
    (items || []).forEach((n) => {
      if (!n.district_key || !levelStyle[n.level]) return;
      const current = out[n.district_key];
      if (current && current.level >= n.level) return;
      const head = `${strings.level.replace("{level}", n.level)} ${n.name}`;
      out[n.district_key] = { level: n.level, label: n.hazard_label ? `${head} (${n.hazard_label})` : head };
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

  // --- live panels: incident feed, notices in force, latest bulletin ------------------------
  const feedRoot = document.getElementById("dashboard-feed");
  if (!feedRoot) return;
  const S = JSON.parse(document.getElementById("dashboard-strings").textContent);
  const feedEl = document.getElementById("incident-feed");
  const feedEmpty = document.getElementById("incident-feed-empty");
  const feedStatus = document.getElementById("feed-status");
  let lastId = feedRoot.dataset.lastId === "" ? null : Number(feedRoot.dataset.lastId);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function lifeBadge() {
    const badge = el("span", "life-badge");
    const icon = el("span", null, "⚠");
    icon.setAttribute("aria-hidden", "true");
    badge.append(icon, " " + S.life_threat);
    return badge;
  }

  function feedItem(item) {
    const li = el("li", "feed-item is-new" + (item.life_threat ? " is-life" : ""));
    li.dataset.id = String(item.id);
    const a = el("a");
    a.href = item.url;
    const time = el("time", null, item.time);
    time.dateTime = item.occurred_at;
    time.title = `${item.day} ${item.time}`;
    a.append(time, " ", el("span", "feed-cat", item.category_label), " ");
    if (item.life_threat) a.append(lifeBadge(), " ");
    const where = [item.district_name, item.place_name].filter(Boolean).join(" · ");
    a.append(el("span", "feed-where", where), " ", el("span", "feed-status", item.status_label));
    li.appendChild(a);
    return li;
  }

  function renderNotices(notices) {
    const target = document.getElementById("notices");
    if (!notices.available || !target || target.hasAttribute("data-unavailable")) return;
    target.replaceChildren();
    if (!notices.items.length) {
      target.appendChild(el("li", "none", S.no_notices));
      return;
    }
    notices.items.forEach((n) => {
      const li = el("li", `notice lv-${n.level}`);
      li.appendChild(el("span", `level-badge lv-${n.level}`, n.label || `${S.level.replace("{level}", n.level)} ${n.name}`));
      li.append(" ", el("span", null, [n.district_name, n.hazard_label].filter(Boolean).join(" · ")));
      if (n.closed_shelters && n.closed_shelters.length && S.closed_shelters) {
        li.append(" ", el("strong", "error closed-shelters", S.closed_shelters.replace("{names}", n.closed_shelters.join("、"))));
      }
      target.appendChild(li);
    });
  }

  function renderBulletin(bulletin) {
    const target = document.getElementById("latest-bulletin");
    if (!bulletin.available || !target) return;
    const p = el("p");
    if (bulletin.item) {
      const a = el("a", null, bulletin.item.title || `#${bulletin.item.number}`);
      a.href = bulletin.item.url;
      const time = el("time", null, bulletin.item.issued);
      time.dateTime = bulletin.item.issued_at;
      p.append(a, el("br"), time);
    } else {
      p.className = "none";
      p.textContent = S.no_bulletin;
    }
    target.replaceChildren(p);
  }

  // panels of the apps and plugins (dai_dashboard_panels) that the page draws the same way
  function renderPanels(panels) {
    (panels || []).forEach((panel) => {
      const card = document.querySelector(`[data-panel="${CSS.escape(panel.key)}"] .panel-items`);
      if (!card) return;  // a panel that appeared after the page loaded shows on the next load
      card.replaceChildren();
      if (!panel.items || !panel.items.length) {
        card.appendChild(el("li", "none", panel.empty || ""));
        return;
      }
      panel.items.forEach((item) => {
        const li = el("li");
        if (item.url) {
          const a = el("a", null, item.label);
          a.href = item.url;
          li.appendChild(a);
        } else {
          li.textContent = item.label;
        }
        if (item.note) li.append(" ", el("span", "hint", item.note));
        card.appendChild(li);
      });
    });
  }

  function poll() {
    if (document.hidden) return;
    const url = feedRoot.dataset.url + (lastId === null ? "" : `?since_id=${lastId}`);
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((body) => {
        feedStatus && (feedStatus.textContent = "");
        const incidents = body.incidents;
        if (incidents.available && feedEl) {
          incidents.items.forEach((item) => {
            if (feedEl.querySelector(`[data-id="${item.id}"]`)) return;
            feedEl.prepend(feedItem(item));
          });
          while (feedEl.children.length > 50) feedEl.lastElementChild.remove();
          if (feedEmpty) feedEmpty.hidden = feedEl.children.length > 0;
          lastId = incidents.last_id;
          feedRoot.dataset.lastId = String(lastId);
        }
        renderNotices(body.notices);
        if (body.notices && body.notices.available) shadeDistricts(levelsFromNotices(body.notices.items, S));
        renderBulletin(body.bulletin);
        renderPanels(body.panels);
        feedRoot.dataset.polled = String(Number(feedRoot.dataset.polled || 0) + 1);
      })
      .catch(() => { if (feedStatus) feedStatus.textContent = S.offline; });
  }
  const seconds = Number(feedRoot.dataset.seconds) || 5;
  setInterval(poll, seconds * 1000);
})();
