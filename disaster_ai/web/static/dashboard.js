// Dashboard: draw the map layers the plugins contribute, and poll the job queue.
(function () {
  "use strict";
  const mapEl = document.getElementById("map");

  function showEmpty() {
    mapEl.insertAdjacentHTML("beforebegin", "<p role=\"status\"></p>");
    mapEl.previousElementSibling.textContent = mapEl.dataset.emptyText;
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
      const seconds = Number(d.refreshSeconds) || 0;
      if (seconds > 0 && d.liveUrl) {
        setInterval(() => {
          if (document.hidden) return;
          window.DaiSituationMap.fetchJson(d.liveUrl).then((live) => controller.updateLayers(live.layers)).catch(() => {});
        }, seconds * 1000);
      }
    }).catch(() => {});
  } else {
    const map = L.map(mapEl, { attributionControl: false, zoomControl: true }).setView([34.87, 138.3], 11);
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
          li.textContent = `#${job.id} ${job.kind} — ${job.state} ${job.progress}% ${job.message || ""}`;
          jobsEl.appendChild(li);
        });
      })
      .catch(() => {});
  }
  refreshJobs();
  setInterval(refreshJobs, 5000);
})();
