// Shelter page: filter the cards by name, kana or address as you type (the page works without it).
(function () {
  "use strict";
  const input = document.querySelector("[data-shelter-filter]");
  if (!input) return;
  const cards = Array.from(document.querySelectorAll(".shelter-card"));
  input.addEventListener("input", () => {
    const needle = input.value.trim().normalize("NFKC").toLowerCase();
    cards.forEach((card) => {
      const haystack = (card.dataset.name || "").normalize("NFKC").toLowerCase();
      card.hidden = Boolean(needle) && !haystack.includes(needle);
    });
  });
})();
