// Helpdesk agent UI: the little JavaScript the pages need beyond htmx and Bootstrap.
// Everything works without it; it only makes things tidier.
"use strict";

// Lets the stylesheet hide what only the pages without JavaScript need.
document.documentElement.classList.add("js");

// Filter forms push their URL into the history: leave out the fields that are empty, so that
// the address reads "?status=open&q=vpn" rather than "?status=open&q=vpn&team=&level=".
document.addEventListener("htmx:configRequest", (event) => {
  const { verb, formData } = event.detail;
  if (verb !== "get" || !formData) return;
  for (const [key, value] of Array.from(formData.entries())) {
    if (value === "") formData.delete(key);
  }
});

// The reply box of an escalated ticket: choosing a template adds its text (the option's
// data-body, read as text, never as HTML) to the end of the reply textarea, after what is
// already written. Delegated, so that it also works after htmx has swapped the ticket in.
// Without JavaScript the select's own GET form fills the textarea on the server.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-reply-template")) return;
  const textarea = document.getElementById(select.dataset.target);
  const body = select.selectedOptions[0]?.dataset.body;
  if (!textarea || typeof body !== "string" || body === "") return;
  const text = textarea.value;
  const gap = text === "" || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
  textarea.value = text + gap + body;
  textarea.focus();
  textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  select.value = "";
});

// Under the Content-Security-Policy (style-src 'self', no inline styles) htmx cannot copy a
// style attribute from the old element to the new one while it settles a swap; the browser
// refuses and reports it. Old elements only ever carry an empty style="" (left behind by
// scripts that set and cleared a style), so drop those before htmx swaps.
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  if (!(target instanceof Element)) return;
  for (const element of [target, ...target.querySelectorAll("[style]")]) {
    if (element.getAttribute("style") === "") element.removeAttribute("style");
  }
});
