// Behaviour every desk page shares. No inline script anywhere: the Content-Security-Policy
// refuses it, so pages declare what they need with data- attributes instead.
"use strict";

// <form data-confirm="…">: ask before submitting (e.g. closing a disaster event).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});

// <button data-print>: print this page (the print views' 印刷 button).
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (button) window.print();
});
