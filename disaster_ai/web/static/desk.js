// Behaviour every desk page shares. No inline script anywhere: the Content-Security-Policy
// refuses it, so pages declare what they need with data- attributes instead.
"use strict";

// <form data-confirm="…">: ask before submitting (e.g. closing a disaster event).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
