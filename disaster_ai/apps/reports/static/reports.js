// Reports desk: the first-report countdown ticks every second, and the shelter list filters as
// you type. The pages work without it (the server writes the time left and every shelter).
(function () {
  "use strict";

  function clock(seconds) {
    const abs = Math.abs(seconds);
    const h = Math.floor(abs / 3600);
    const m = Math.floor((abs % 3600) / 60);
    const s = abs % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  document.querySelectorAll(".countdown[data-deadline]").forEach((box) => {
    const shown = box.querySelector(".countdown-clock");
    if (!shown) return; // the first report has been issued
    const label = box.querySelector(".countdown-label");
    const deadline = Date.parse(box.dataset.deadline);
    // The server's clock decides: keep its offset to this browser's clock.
    const offset = deadline - Date.now() - Number(shown.dataset.seconds) * 1000;
    function tick() {
      const left = Math.round((deadline - offset - Date.now()) / 1000);
      shown.textContent = clock(left);
      const over = left < 0;
      box.classList.toggle("is-overdue", over);
      box.classList.toggle("is-soon", !over && left <= 600);
      if (label) label.textContent = over ? box.dataset.labelOver : box.dataset.labelLeft;
    }
    tick();
    window.setInterval(tick, 1000);
  });

  const filter = document.querySelector("[data-filter]");
  if (filter) {
    const cards = Array.from(document.querySelectorAll(filter.dataset.filter));
    filter.addEventListener("input", () => {
      const needle = filter.value.trim().normalize("NFKC").toLowerCase();
      cards.forEach((card) => {
        const haystack = (card.dataset.name || "").normalize("NFKC").toLowerCase();
        card.hidden = Boolean(needle) && !haystack.includes(needle);
      });
    });
  }
})();
