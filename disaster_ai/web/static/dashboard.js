// Dashboard: draw the map layers the plugins contribute, and poll the job queue.
(function () {
  "use strict";
  const mapEl = document.getElementById("map");
  const map = L.map(mapEl, { attributionControl: false, zoomControl: true }).setView([34.87, 138.3], 11);

  fetch(mapEl.dataset.layersUrl, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((body) => {
      if (!body.layers.length) {
        mapEl.insertAdjacentHTML("beforebegin", "<p role=\"status\"></p>");
        mapEl.previousElementSibling.textContent = mapEl.dataset.emptyText;
        return;
      }
      let bounds = null;
      const credits = new Set();
      body.layers.forEach((layer) => {
        (layer.geojson.features || []).forEach((f) => f.properties && f.properties.attribution && credits.add(f.properties.attribution));
        const drawn = L.geoJSON(layer.geojson, { style: () => layer.style }).addTo(map);
        bounds = bounds ? bounds.extend(drawn.getBounds()) : drawn.getBounds();
      });
      if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
      document.getElementById("map-attribution").textContent = Array.from(credits).join(" / ");
      mapEl.dataset.loaded = String(body.layers.length);
    });

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
