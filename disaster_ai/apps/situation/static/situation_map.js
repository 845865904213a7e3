// The layered situation map (Leaflet, served by the app; no CDN).
//
// DaiSituationMap.create(element, options) → controller with setLayers(layers) and
// updateLayers(layers). Layers are {id, kind, title, attribution, geojson, style}; kind is one
// of districts, hazard_zones, shelters, incidents, or anything else (drawn with its style).
// Elements with a data-situation-map attribute are mounted automatically (the situation page);
// the dashboard calls create() itself. Labels come translated from the server (feature
// properties) or from the JSON strings block #dai-map-strings.
(function () {
  "use strict";

  // Category → [colour, symbol], from the one registry of incident categories (the page's
  // strings; dai_incident_categories). White text on each colour is ≥ 4.5:1; the symbol and
  // the legend make the category readable without colour.
  const CATEGORY = Object.assign({ other: ["#374151", "他"] }, strings().categories || {});
  // Shelter marker (status and suitability for the map's hazard, from the server) → symbol:
  // shape and symbol differ too, not only the colour. Closed shelters are small quiet dots
  // (their × appears from NEAR_ZOOM on), so that 80 closed ones never bury the open ones.
  const SHELTER = { usable: "✓", unsafe: "!", open_not_designated: "○", closed_suitable: "", closed: "×" };
  const SHELTER_ORDER = ["usable", "open_not_designated", "unsafe", "closed_suitable", "closed"];
  const NEAR_ZOOM = 15; // closed shelters drawn full size from here
  const LABEL_ZOOM = 13; // district names written from here
  // Hazard ranks come coloured from the server (palette.py: blues, far from every level colour).
  const RANK_FALLBACK = "#6baed6";
  // A district's level colour (notice_fill) and label (notice_label) come with its properties,
  // from the one registry of levels and hazards (disaster_ai/levels.py, disaster_ai/hazards.py).

  function strings() {
    const el = document.getElementById("dai-map-strings");
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function shortTime(iso) {
    return iso ? String(iso).slice(0, 16).replace("T", " ") : "";
  }

  function rows(pairs) {
    const dl = el("dl", "dai-facts");
    pairs.forEach(([label, value]) => {
      if (value === undefined || value === null || value === "" || value === false) return;
      dl.appendChild(el("dt", null, label));
      dl.appendChild(el("dd", null, value === true ? "✓" : value));
    });
    return dl;
  }

  // A layer's credit line: its own, its collection's, or the one its features carry.
  function creditOf(layer) {
    if (layer.attribution) return layer.attribution;
    if (layer.geojson.attribution) return layer.geojson.attribution;
    const credits = new Set();
    (layer.geojson.features || []).forEach((f) => f.properties && f.properties.attribution && credits.add(f.properties.attribution));
    return Array.from(credits).join(" / ");
  }

  // A credit without its own leading 「出典：」: the line that lists them starts with one already.
  function bareCredit(credit) {
    return String(credit || "").replace(/^\s*(出典\s*[:：]\s*)+/, "").trim();
  }

  function shelterMarker(p) {
    return p.marker || (p.state === "closed" ? "closed" : p.state) || "closed";
  }

  function create(mapEl, options) {
    options = options || {};
    const t = Object.assign({}, strings(), options.strings || {});
    // With a credit line outside the map (attributionEl) the map carries no attribution box,
    // so no credit ever covers the data; without one, Leaflet's box stays (collapsed by CSS).
    const map = L.map(mapEl, {
      zoomControl: true, zoomSnap: 0.25, zoomDelta: 0.5, attributionControl: !options.attributionEl,
    }).setView([36.5, 137.5], 5);
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
    // the map's box changes when the panels beside it fill in: keep the centre where it was
    if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize({ debounceMoveend: true })).observe(mapEl);
    const labels = L.layerGroup();
    function zoomClasses() {
      const zoom = map.getZoom();
      mapEl.classList.toggle("dai-near", zoom >= NEAR_ZOOM);
      mapEl.classList.toggle("dai-labels", zoom >= LABEL_ZOOM);
    }
    map.on("zoomend", zoomClasses);
    zoomClasses();
    map.createPane("dai-districts").style.zIndex = 400;
    map.createPane("dai-hazards").style.zIndex = 410;
    map.createPane("dai-labels").style.zIndex = 420; // names above the shading, under the markers
    map.getPane("dai-labels").style.pointerEvents = "none";
    const overlays = {};
    const baseLayers = {};
    const drawn = {}; // id → {leaflet, layer}
    let control = null;
    let legend = null;
    let fitted = false;
    let incidentsByDistrict = {};
    let lastAnswerDate = null;

    if (options.tiles && options.tiles.url) {
      const tiles = L.tileLayer(options.tiles.url, {
        attribution: escapeHtml(options.tiles.attribution || ""), maxZoom: options.tiles.max_zoom || 18,
        className: "dai-base-tiles",
      }).addTo(map);
      baseLayers[escapeHtml(t.base_map || "Base map")] = tiles;
    }

    // --- popups -------------------------------------------------------------------------
    function incidentPopup(p) {
      const box = el("div", "dai-popup");
      const title = el("strong", null, `#${p.id} ${p.category_label || p.category}`);
      box.appendChild(title);
      if (p.life_threat) box.appendChild(el("p", "dai-popup-alert", `⚠ ${t.life_threat || "Life-threatening"}`));
      box.appendChild(rows([
        [t.status, p.status_label || p.status], [t.occurred, shortTime(p.occurred_at)],
        [t.people, p.people], [t.vulnerable, p.vulnerable], [t.district, p.district_name || p.district_key],
        [t.place, p.place_name], [t.source, p.source_label || p.source], [t.description, p.description],
      ]));
      if (p.location_precision === "district") box.appendChild(el("p", "dai-note", t.approximate));
      return box;
    }

    function shelterPopup(p) {
      const box = el("div", "dai-popup");
      box.appendChild(el("strong", null, p.name));
      if (p.name_kana) box.appendChild(el("div", "dai-kana", p.name_kana));
      const marker = shelterMarker(p);
      box.appendChild(el("p", `dai-state dai-state--${marker}`, `${SHELTER[marker] || ""} ${p.marker_label || p.state_label || p.state}`));
      let capacity = "";
      if (p.capacity !== null && p.capacity !== undefined) {
        capacity = String(p.capacity) + (p.capacity_derived ? ` (${t.derived})` : "");
      }
      const zones = (p.hazard_zones || []).map((z) => [z.hazard_label, z["class"]].filter(Boolean).join(" ")).join(", ");
      box.appendChild(rows([
        [t.occupancy, p.is_open ? String(p.occupancy) : ""], [t.capacity, capacity],
        [t.over_capacity, p.over_capacity ? "!" : ""], ["", p.address],
        [t.designated_for, (p.designated_for_labels || []).join("、") || t.none_designated],
        [t.inside_zone, zones], [t.updated, p.updated_at ? `${shortTime(p.updated_at)} ${p.updated_by || ""}` : ""],
      ]));
      if (options.sheltersUrl) {
        const link = el("a", null, t.update_shelter || "Update");
        link.href = options.sheltersUrl;
        box.appendChild(link);
      }
      return box;
    }

    function districtPopup(p) {
      const box = el("div", "dai-popup");
      box.appendChild(el("strong", null, p.name || p.key));
      if (p.name_kana) box.appendChild(el("div", "dai-kana", p.name_kana));
      const counts = incidentsByDistrict[p.key] || { all: 0, life: 0 };
      const population = p.population !== undefined ? p.population : p.pop2015_est;
      box.appendChild(rows([
        [t.notice_level, p.notice_level ? `${p.notice_level}` : ""],
        [t.population, population], [t.open_incidents, `${counts.all} (⚠ ${counts.life})`],
      ]));
      return box;
    }

    function hazardPopup(p) {
      const box = el("div", "dai-popup");
      box.appendChild(el("strong", null, p.hazard_label || p.hazard || p.name || ""));
      box.appendChild(rows([[t.rank, p.class_label], ["", p.name]]));
      return box;
    }

    // --- one Leaflet layer per kind -------------------------------------------------------
    function build(layer) {
      const kind = layer.kind || (layer.style && layer.style.kind) || layer.id;
      const attribution = escapeHtml(creditOf(layer));
      if (kind === "districts") {
        return L.geoJSON(layer.geojson, {
          pane: "dai-districts", attribution,
          style: (f) => {
            const level = f.properties && f.properties.notice_level;
            return { color: "#1f2937", weight: 1.5, fillColor: level ? f.properties.notice_fill || "#93c5fd" : "#93c5fd",
                     fillOpacity: level ? 0.35 : 0.08, className: "dai-district" };
          },
          onEachFeature: (f, l) => {
            l.bindTooltip(escapeHtml((f.properties.notice_level ? `Lv${f.properties.notice_level} ` : "") + (f.properties.name || f.properties.key)), { sticky: true });
            l.bindPopup(() => districtPopup(f.properties));
          },
        });
      }
      if (kind === "hazard_zones") {
        return L.geoJSON(layer.geojson, {
          pane: "dai-hazards", attribution,
          style: (f) => {
            const colour = f.properties.fill || RANK_FALLBACK;
            return { color: colour, weight: 1, opacity: 0.9, fillColor: colour, fillOpacity: 0.6, className: "dai-hazard" };
          },
          onEachFeature: (f, l) => l.bindPopup(() => hazardPopup(f.properties)),
        });
      }
      if (kind === "shelters") {
        return L.geoJSON(layer.geojson, {
          attribution,
          pointToLayer: (f, latlng) => {
            const p = f.properties;
            const marker = shelterMarker(p);
            const closed = marker === "closed" || marker === "closed_suitable";
            const html = `<span class="dai-shelter dai-shelter--${escapeHtml(marker)}" data-state="${escapeHtml(p.state)}" data-marker="${escapeHtml(marker)}">${SHELTER[marker] || ""}</span>`;
            const size = closed ? 20 : 26; // the box; a closed one draws a small dot inside it
            return L.marker(latlng, {
              icon: L.divIcon({ className: closed ? "dai-icon dai-icon--closed" : "dai-icon", html, iconSize: [size, size], iconAnchor: [size / 2, size / 2], popupAnchor: [0, -10] }),
              zIndexOffset: closed ? -1000 : 100,
              title: `${p.name} — ${p.marker_label || p.state_label || p.state}`, alt: p.name, riseOnHover: true,
            });
          },
          onEachFeature: (f, l) => l.bindPopup(() => shelterPopup(f.properties)),
        });
      }
      if (kind === "incidents") {
        return L.geoJSON(layer.geojson, {
          attribution,
          pointToLayer: (f, latlng) => {
            const p = f.properties;
            const [colour, symbol] = CATEGORY[p.category] || CATEGORY.other;
            const life = p.life_threat ? " dai-incident--life" : "";
            const html = `<span class="dai-incident${life}" style="background:${colour}" data-category="${escapeHtml(p.category)}">${symbol}${p.life_threat ? "<b class=\"dai-life-mark\">!</b>" : ""}</span>`;
            return L.marker(latlng, {
              icon: L.divIcon({ className: "dai-icon", html, iconSize: [28, 28], iconAnchor: [14, 14], popupAnchor: [0, -12] }),
              title: `#${p.id} ${p.category_label || p.category}${p.life_threat ? " ⚠ " + (t.life_threat || "") : ""}`,
              zIndexOffset: p.life_threat ? 1000 : 0, riseOnHover: true,
            });
          },
          onEachFeature: (f, l) => l.bindPopup(() => incidentPopup(f.properties)),
        });
      }
      const style = Object.assign({ interactive: false }, layer.style || {});
      return L.geoJSON(layer.geojson, { style: () => style, interactive: false, attribution });
    }

    function countIncidents(layer) {
      incidentsByDistrict = {};
      (layer.geojson.features || []).forEach((f) => {
        const key = f.properties.district_key;
        if (!key) return;
        const entry = incidentsByDistrict[key] || (incidentsByDistrict[key] = { all: 0, life: 0 });
        entry.all += 1;
        if (f.properties.life_threat) entry.life += 1;
      });
    }

    // --- legend ---------------------------------------------------------------------------
    function renderLegend() {
      if (legend) legend.remove();
      legend = L.control({ position: "bottomleft" });
      legend.onAdd = () => {
        const box = el("details", "dai-legend");
        box.open = window.innerWidth >= 800;
        box.appendChild(el("summary", null, t.legend || "Legend"));
        const list = el("ul");
        const add = (symbolNode, label) => {
          const li = el("li");
          li.appendChild(symbolNode);
          li.appendChild(el("span", null, label));
          list.appendChild(li);
        };
        const shelters = drawn.shelters && drawn.shelters.layer.geojson.features;
        if (shelters && shelters.length) {
          const seen = {};
          shelters.forEach((f) => { seen[shelterMarker(f.properties)] = f.properties.marker_label || f.properties.state_label; });
          const hazard = drawn.shelters.layer.geojson.hazard_label;
          SHELTER_ORDER.forEach((marker) => {
            if (!seen[marker]) return;
            const label = hazard && (marker === "open_not_designated" || marker === "closed_suitable") ? `${seen[marker]} (${hazard})` : seen[marker];
            add(el("span", `dai-shelter dai-shelter--${marker}`, SHELTER[marker]), label);
          });
        }
        const incidents = drawn.incidents && drawn.incidents.layer.geojson.features;
        if (incidents && incidents.length) {
          const seen = {};
          incidents.forEach((f) => { seen[f.properties.category] = f.properties.category_label; });
          Object.keys(CATEGORY).forEach((category) => {
            if (!seen[category]) return;
            const mark = el("span", "dai-incident", CATEGORY[category][1]);
            mark.style.background = CATEGORY[category][0];
            add(mark, seen[category]);
          });
          if (incidents.some((f) => f.properties.life_threat)) {
            const mark = el("span", "dai-incident dai-incident--life dai-incident--legend", "!");
            mark.style.background = "#b91c1c";
            add(mark, t.life_threat);
          }
        }
        const districts = drawn.districts && drawn.districts.layer.geojson.features;
        if (districts && districts.length) {
          // the notices in force, highest level first: level, name and hazard written out
          const seen = {};
          districts.forEach((f) => {
            const p = f.properties || {};
            if (p.notice_level && p.notice_label) seen[p.notice_label] = p;
          });
          Object.values(seen).sort((a, b) => b.notice_level - a.notice_level).forEach((p) => {
            const swatch = el("span", "dai-swatch");
            swatch.style.background = p.notice_fill || "#93c5fd";
            add(swatch, p.notice_label);
          });
        }
        const hazards = drawn.hazard_zones && drawn.hazard_zones.layer.geojson;
        if (hazards && (hazards.ranks || []).length) {
          hazards.ranks.forEach((label, i) => {
            const swatch = el("span", "dai-swatch");
            swatch.style.background = (hazards.rank_colours || [])[i] || RANK_FALLBACK;
            add(swatch, label);
          });
        }
        box.appendChild(list);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      };
      legend.addTo(map);
    }

    // --- attribution and summary -------------------------------------------------------------
    function renderCredits() {
      const target = options.attributionEl;
      if (!target) return;
      const credits = [];
      Object.values(drawn).forEach(({ layer }) => {
        creditOf(layer).split(" / ").forEach((credit) => {
          credit = bareCredit(credit);
          if (credit && !credits.includes(credit)) credits.push(credit);
        });
      });
      target.textContent = "";
      const tiles = options.tiles && options.tiles.attribution ? options.tiles : null;
      if (!credits.length && !tiles) return;
      target.appendChild(document.createTextNode(`${t.data_sources || "Data sources"}: ${credits.join(" / ")}`));
      if (tiles) { // the base map's credit, linked where its terms ask for a link
        if (credits.length) target.appendChild(document.createTextNode(" / "));
        const credit = tiles.attribution_url ? el("a", null, bareCredit(tiles.attribution)) : el("span", null, bareCredit(tiles.attribution));
        if (tiles.attribution_url) { credit.href = tiles.attribution_url; credit.rel = "noopener"; }
        target.appendChild(credit);
      }
    }

    function renderSummary(generatedAt, answerDate) {
      if (answerDate) lastAnswerDate = new Date(answerDate);
      const target = options.summaryEl;
      if (!target || !t.summary) return;
      const incidents = (drawn.incidents && drawn.incidents.layer.geojson.features) || [];
      const shelters = (drawn.shelters && drawn.shelters.layer.geojson.features) || [];
      target.textContent = t.summary
        .replace("{incidents}", incidents.length)
        .replace("{life}", incidents.filter((f) => f.properties.life_threat).length)
        .replace("{open}", shelters.filter((f) => f.properties.is_open).length)
        .replace("{shelters}", shelters.length)
        .replace("{time}", clockTime(generatedAt));
    }

    // "as of HH:MM": the time of the last answer (a 304 keeps an older generated_at in its body,
    // so the answer's Date header is preferred), in Japan time.
    function clockTime(generatedAt) {
      const when = lastAnswerDate || (generatedAt ? new Date(generatedAt) : null);
      if (!when || isNaN(when.getTime())) return shortTime(generatedAt).slice(11) || "";
      return when.toLocaleTimeString("ja-JP", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }

    function drawLabels(layer) {
      labels.clearLayers();
      (layer.geojson.features || []).forEach((f) => {
        const p = f.properties || {};
        if (!p.label_point) return;
        labels.addLayer(L.marker([p.label_point[1], p.label_point[0]], {
          icon: L.divIcon({ className: "dai-district-label", html: `<span>${escapeHtml(p.name || p.key)}</span>`, iconSize: null }),
          interactive: false, keyboard: false, pane: "dai-labels",
        }));
      });
      if (!map.hasLayer(labels)) labels.addTo(map);
    }

    function markLoaded() {
      mapEl.dataset.loaded = "true";
      Object.keys(drawn).forEach((id) => {
        mapEl.dataset[`count${id.replace(/(^|_)(\w)/g, (m, s, c) => c.toUpperCase())}`] =
          String((drawn[id].layer.geojson.features || []).length);
      });
    }

    // --- public API -----------------------------------------------------------------------
    function setLayers(layers) {
      Object.values(drawn).forEach(({ leaflet }) => map.removeLayer(leaflet));
      Object.keys(drawn).forEach((id) => delete drawn[id]);
      Object.keys(overlays).forEach((name) => delete overlays[name]);
      addLayers(layers);
    }

    // Add layers to those drawn (the map page draws its first part, then the details).
    function addLayers(layers) {
      if (control) control.remove();
      let bounds = null;
      layers.forEach((layer) => {
        if (!layer.geojson) return;
        if (drawn[layer.id]) { updateLayers([layer]); return; }
        if (layer.kind === "incidents" || layer.id === "incidents") countIncidents(layer);
        const leaflet = build(layer).addTo(map);
        drawn[layer.id] = { leaflet, layer };
        if (layer.kind === "districts") {
          drawLabels(layer);
          // the first paint: what the browser test times (performance.getEntriesByName)
          if (window.performance && performance.mark && !performance.getEntriesByName("dai-map-districts").length) {
            performance.mark("dai-map-districts");
          }
        }
        overlays[`<span class="dai-overlay" data-layer="${escapeHtml(layer.id)}">${escapeHtml(layer.title || layer.id)}</span>`] = leaflet;
        if (layer.kind === "districts" || layer.kind === "other" || layer.kind === "shelters") {
          const b = leaflet.getBounds();
          if (b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
        }
      });
      control = L.control.layers(Object.keys(baseLayers).length ? baseLayers : null, overlays, {
        collapsed: window.innerWidth < 800,
      }).addTo(map);
      if (!fitted && bounds && bounds.isValid()) {
        map.fitBounds(bounds, { padding: [10, 10] });
        fitted = true;
      }
      renderLegend();
      renderCredits();
      markLoaded();
    }

    function updateLayers(layers, generatedAt, answerDate) {
      layers.forEach((layer) => {
        const existing = drawn[layer.id];
        if (!existing) return;
        if (layer.kind === "districts") drawLabels(layer);
        if (layer.kind === "incidents" || layer.id === "incidents") countIncidents(layer);
        const visible = map.hasLayer(existing.leaflet);
        const fresh = build(layer);
        const name = Object.keys(overlays).find((n) => overlays[n] === existing.leaflet);
        map.removeLayer(existing.leaflet);
        if (visible) fresh.addTo(map);
        if (name) {
          overlays[name] = fresh;
          control.removeLayer(existing.leaflet);
          control.addOverlay(fresh, name);
        }
        drawn[layer.id] = { leaflet: fresh, layer };
      });
      renderLegend();
      if (generatedAt !== undefined) renderSummary(generatedAt, answerDate);
      markLoaded();
    }

    return { map, setLayers, addLayers, updateLayers, renderSummary, drawn };
  }

  // The map data answers carry an ETag: the browser revalidates (If-None-Match → 304) and
  // reuses its copy. The body gets the answer's Date as answer_date (see clockTime).
  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const date = r.headers.get("Date");
      return r.json().then((body) => {
        if (body && typeof body === "object" && date) body.answer_date = date;
        return body;
      });
    });
  }

  // Mount a page's map from its data attributes, load everything once, then refresh the
  // live layers (incidents, shelters) every data-refresh-seconds.
  function mount(mapEl) {
    const d = mapEl.dataset;
    const summaryEl = d.summaryId ? document.getElementById(d.summaryId) : null;
    const t = strings();
    const controller = create(mapEl, {
      tiles: d.tileUrl ? {
        url: d.tileUrl, attribution: d.tileAttribution || "", attribution_url: d.tileAttributionUrl || "",
        max_zoom: Number(d.tileMaxZoom) || 18,
      } : null,
      attributionEl: d.attributionId ? document.getElementById(d.attributionId) : null,
      summaryEl, sheltersUrl: d.sheltersUrl,
    });
    const fail = () => { if (summaryEl) summaryEl.textContent = t.load_failed || "Loading failed"; };
    fetchJson(d.url).then((body) => {
      controller.setLayers(body.layers);
      focusFromLocation(controller, mapEl);
      controller.renderSummary(body.generated_at, body.answer_date);
      const empty = body.layers.every((l) => !(l.geojson.features || []).length);
      if (empty && summaryEl) summaryEl.textContent = t.no_layers || "";
      if (d.detailsUrl) { // the heavy layers (hazard zones) after the first paint
        mapEl.dataset.details = "loading";
        fetchJson(d.detailsUrl).then((details) => {
          controller.addLayers(details.layers);
          mapEl.dataset.details = "loaded";
        }).catch(fail);
      }
      const seconds = Number(d.refreshSeconds) || 0;
      if (seconds > 0 && d.liveUrl) {
        setInterval(() => {
          if (document.hidden) return;
          fetchJson(d.liveUrl).then((live) => controller.updateLayers(live.layers, live.generated_at, live.answer_date)).catch(fail);
        }, seconds * 1000);
      }
    }).catch(fail);
    return controller;
  }

  // --- focus (the desk's search): ?focus=lat,lon&zoom=16&label=… centres the map on a place
  // and marks it. Kept apart from the drawing above; it only moves the view. ---------------
  function focusFromLocation(controller, mapEl) {
    const params = new URLSearchParams(window.location.search);
    const parts = (params.get("focus") || "").split(",").map(Number);
    if (parts.length !== 2 || !parts.every(Number.isFinite)) return;
    const [lat, lon] = parts;
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    const zoom = Math.min(19, Math.max(5, Number(params.get("zoom")) || 16));
    controller.map.setView([lat, lon], zoom);
    const marker = L.circleMarker([lat, lon], {
      radius: 14, color: "#111827", weight: 3, fill: false, interactive: false, className: "dai-focus",
    }).addTo(controller.map);
    const label = (params.get("label") || "").slice(0, 80);
    if (label) {
      const text = document.createElement("span"); // a text node: the label comes from the URL
      text.textContent = label;
      marker.bindTooltip(text, { permanent: true, direction: "top", offset: [0, -12] });
    }
    mapEl.dataset.focus = `${lat},${lon}`;
  }

  window.DaiSituationMap = { create, mount, fetchJson, focusFromLocation };
  document.querySelectorAll("[data-situation-map]").forEach(mount);
})();
