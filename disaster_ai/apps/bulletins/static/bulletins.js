// Bulletin event page: after 今すぐ発行 the page waits for the issuing job and reloads itself
// when the bulletin is there (or says that it failed). Without JavaScript the page says to
// reload by hand.
(function () {
  "use strict";
  const box = document.querySelector("[data-job-wait]");
  if (!box) return;
  const url = box.dataset.jobWait;
  const started = Date.now();
  const GIVE_UP_MS = 5 * 60 * 1000;

  function done(state) {
    if (state === "succeeded") {
      // Drop ?job= so a later reload does not wait again; the list shows the new bulletin.
      window.location.replace(box.dataset.reloadUrl);
      return true;
    }
    if (state === "failed") {
      box.textContent = box.dataset.failedText;
      box.classList.add("error");
      return true;
    }
    return false;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((job) => {
        if (job && done(job.state)) return;
        if (Date.now() - started < GIVE_UP_MS) window.setTimeout(poll, 1000);
      })
      .catch(() => {
        if (Date.now() - started < GIVE_UP_MS) window.setTimeout(poll, 3000);
      });
  }
  box.hidden = false;
  window.setTimeout(poll, 500);
})();
