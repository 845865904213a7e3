// The JMA page refreshes its live part (warnings in force, suggestions, feed state, history)
// every 15 s: a light poll of /apps/jma/live, so that a new telegram shows without a reload.
(function () {
  "use strict";
  var live = document.getElementById("jma-live");
  if (!live) { return; }
  var every = parseInt(live.getAttribute("data-refresh-seconds") || "15", 10) * 1000;
  function refresh() {
    fetch(live.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) {
          live.innerHTML = html;
          live.setAttribute("data-refreshed", new Date().toISOString());
        }
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, every);
})();
