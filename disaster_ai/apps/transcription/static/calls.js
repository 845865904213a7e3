// Seek the call's audio player to a transcript segment when it is clicked.
(function () {
  var player = document.getElementById("call-audio");
  if (!player) return;
  document.querySelectorAll("button.segment[data-start]").forEach(function (button) {
    button.addEventListener("click", function () {
      player.currentTime = parseFloat(button.dataset.start) || 0;
      player.play();
    });
  });
})();

// Upload with a progress bar (without JavaScript the form posts as usual). The server answers
// {"redirect": url}; the browser then loads that page, which shows the flash message.
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return; // a double click sends once
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((100 * e.loaded) / e.total);
      bar.value = percent;
      status.textContent = form.dataset.sending.replace("{percent}", percent);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = form.dataset.sent;
    });
    xhr.addEventListener("load", function () {
      var answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (err) {
        answer = null;
      }
      if (xhr.status < 400 && answer && answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      fail();
    });
    xhr.addEventListener("error", fail);
    function fail() {
      button.disabled = false;
      bar.hidden = true;
      status.textContent = form.dataset.failed;
    }
    xhr.send(new FormData(form));
  });
})();

// The mini-map of the call's place: the incident's point (or its district, outlined) among the
// districts, zoomed to the place. Without JavaScript or Leaflet the caption and its link stay.
(function () {
  var el = document.getElementById("call-map");
  if (!el || !window.L || !window.fetch) return;
  var d = el.dataset;
  var lat = parseFloat(d.lat);
  var lon = parseFloat(d.lon);
  var hasPoint = isFinite(lat) && isFinite(lon);
  el.hidden = false;
  var map = L.map(el, { attributionControl: false, zoomControl: true, scrollWheelZoom: false, keyboard: true });
  el.daiMap = map; // for tests and plugins: the Leaflet map
  if (d.tileUrl) L.tileLayer(d.tileUrl, { maxZoom: Number(d.tileMaxZoom) || 18 }).addTo(map);
  if (hasPoint) {
    map.setView([lat, lon], 15);
    L.circleMarker([lat, lon], { radius: 8, color: "#b00020", weight: 3, fillColor: "#ffffff", fillOpacity: 1 }).addTo(map);
  }
  fetch(d.layersUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(function (body) {
      var districts = (body.layers || []).filter(function (l) { return l.id === "districts"; })[0];
      if (!districts) return;
      var chosen = null;
      var layer = L.geoJSON(districts.geojson, {
        interactive: false,
        style: function (feature) {
          var mine = d.district && feature.properties && feature.properties.key === d.district;
          return mine
            ? { color: "#1f5fa8", weight: 3, fillOpacity: 0.15 }
            : { color: "#555555", weight: 1, fillOpacity: 0 };
        },
        onEachFeature: function (feature, item) {
          if (d.district && feature.properties && feature.properties.key === d.district) chosen = item;
        },
      }).addTo(map);
      if (!hasPoint) map.fitBounds((chosen || layer).getBounds(), { maxZoom: 15 });
      el.dataset.drawn = "1";
    })
    .catch(function () {
      if (!hasPoint) el.hidden = true;
    });
})();
