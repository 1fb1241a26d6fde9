// Helpdesk agent UI: the little JavaScript the pages need beyond htmx and Bootstrap.
// Everything works without it; it only makes things tidier.
"use strict";

// Filter forms push their URL into the history: leave out the fields that are empty, so that
// the address reads "?status=open&q=vpn" rather than "?status=open&q=vpn&team=&level=".
document.addEventListener("htmx:configRequest", (event) => {
  const { verb, formData } = event.detail;
  if (verb !== "get" || !formData) return;
  for (const [key, value] of Array.from(formData.entries())) {
    if (value === "") formData.delete(key);
  }
});
