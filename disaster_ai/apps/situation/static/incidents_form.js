// Incident form: a small map; a click (or Enter on the focused map, at its centre) sets the
// point's longitude/latitude fields. Without JavaScript the fields and the district picker work
// alone. Forms marked data-once disable their buttons after the first submit.
(function () {
  "use strict";
  document.querySelectorAll("form[data-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      window.setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });

  const mapEl = document.getElementById("incident-map");
  if (!mapEl || !window.L) return;
  const lonEl = document.getElementById("lon");
  const latEl = document.getElementById("lat");
  const districtEl = document.getElementById("district_key");
  const statusEl = document.getElementById("incident-map-status");
  mapEl.hidden = false;
  document.querySelectorAll("[data-js-hint]").forEach((node) => { node.hidden = false; });
  document.querySelectorAll("[data-nojs-hint]").forEach((node) => { node.hidden = true; });
  const d = mapEl.dataset;
  const map = L.map(mapEl, { attributionControl: false, keyboard: true, zoomSnap: 0.25 }).setView([36.5, 137.5], 5);
  if (d.tileUrl) L.tileLayer(d.tileUrl, { maxZoom: Number(d.tileMaxZoom) || 18 }).addTo(map);
  let marker = null;
  mapEl.daiMap = map; // for tests and plugins: the Leaflet map

  function setPoint(latlng, announce) {
    const lon = latlng.lng.toFixed(6);
    const lat = latlng.lat.toFixed(6);
    lonEl.value = lon;
    latEl.value = lat;
    if (districtEl) districtEl.value = "";
    if (marker) marker.setLatLng(latlng);
    else marker = L.marker(latlng, { keyboard: false, title: "" }).addTo(map);
    mapEl.dataset.lon = lon;
    mapEl.dataset.lat = lat;
    if (announce) statusEl.textContent = d.pointSet.replace("{lon}", lon).replace("{lat}", lat);
  }

  function pointFromFields() {
    const lon = parseFloat(lonEl.value);
    const lat = parseFloat(latEl.value);
    return Number.isFinite(lon) && Number.isFinite(lat) ? L.latLng(lat, lon) : null;
  }

  map.on("click", (e) => setPoint(e.latlng, true));
  mapEl.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target === mapEl) {
      e.preventDefault();
      setPoint(map.getCenter(), true);
    }
  });
  [lonEl, latEl].forEach((input) => input.addEventListener("change", () => {
    const point = pointFromFields();
    if (point) {
      if (marker) marker.setLatLng(point); else marker = L.marker(point, { keyboard: false }).addTo(map);
      map.panTo(point);
    }
  }));

  fetch(d.url, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((body) => {
      let bounds = null;
      body.layers.forEach((layer) => {
        const features = (layer.geojson && layer.geojson.features) || [];
        if (!features.length) return;
        const drawn = layer.kind === "incidents"
          ? L.geoJSON(layer.geojson, { pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4, color: "#374151", weight: 1, fillOpacity: 0.6, interactive: false }) })
          : L.geoJSON(layer.geojson, { style: () => ({ color: "#1f2937", weight: 1, fillOpacity: 0.04 }), interactive: false });
        drawn.addTo(map);
        if (layer.kind === "districts") bounds = drawn.getBounds();
      });
      const point = pointFromFields();
      if (point) {
        setPoint(point, false);
        map.setView(point, 15);
      } else if (bounds && bounds.isValid()) {
        map.fitBounds(bounds, { padding: [6, 6] });
      }
      mapEl.dataset.loaded = "true";
    })
    .catch(() => { mapEl.dataset.loaded = "false"; });
})();
