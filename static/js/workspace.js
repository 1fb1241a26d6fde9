// The agent workspace: keyboard shortcuts, focus and announcements after htmx swaps, and the
// list's tick boxes. Everything here is an addition: the pages work without it.
"use strict";

(() => {
  const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Say `text` through the page's polite live region (base.html). Emptied first, so that the
  // same sentence twice in a row is read out twice.
  function announce(text) {
    const region = document.getElementById("live-status");
    const words = (text || "").replace(/\s+/g, " ").trim();
    if (!region || !words) return;
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = words;
    }, 60);
  }

  function focusOn(element) {
    if (!(element instanceof HTMLElement)) return false;
    if (!element.matches(FOCUSABLE)) element.setAttribute("tabindex", "-1");
    element.focus();
    return true;
  }

  // After htmx swapped the ticket (or the list's results) in: focus goes to what changed, not
  // back to the page's body; the bulk report is announced. On afterSwap, in the same task as
  // the swap (and the out-of-band confirmation in #ticket-messages), not on afterSettle: that
  // comes a settle delay later, and in between the focus was on the body (the clicked button
  // is gone), so a screen reader or a quick keyboard user would start from the top.
  const handled = new WeakSet();
  document.addEventListener("htmx:afterSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!xhr || handled.has(xhr)) return;
    handled.add(xhr);
    const ticket = document.getElementById("ticket");
    const report = document.getElementById("bulk-report");
    const swappedTicket = ticket && ticket.contains(event.detail.elt);
    if (swappedTicket || event.detail.elt === ticket) {
      // The confirmation itself went to #ticket-messages, a live region outside the swap.
      if (xhr.status >= 400) {
        const messages = document.getElementById("ticket-messages");
        focusOn(ticket.querySelector('[aria-invalid="true"]') || messages?.querySelector(".alert-danger"));
      } else {
        const selector = xhr.getResponseHeader("X-Helpdesk-Focus");
        const target = selector ? ticket.querySelector(selector) : null;
        focusOn(target || document.getElementById("ticket-title"));
      }
      return;
    }
    if (report && (report === event.detail.elt || document.getElementById("results")?.contains(report))) {
      announce(report.textContent);
      focusOn(report);
      return;
    }
    const results = document.getElementById("results");
    if (results && xhr.status >= 400) {
      focusOn(results.querySelector('[aria-invalid="true"]') || results.querySelector(".alert-danger"));
    }
  });

  // --- The list: a selected row (j/k), opened with o, ticked with x -------------------------

  function rows() {
    return Array.from(document.querySelectorAll("[data-ticket-row]"));
  }

  function currentRow() {
    return document.querySelector("[data-ticket-row].workspace-row-selected");
  }

  function select(row) {
    for (const other of rows()) other.classList.remove("workspace-row-selected");
    if (!row) return;
    row.classList.add("workspace-row-selected");
    focusOn(row.querySelector("[data-ticket-link]"));
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (all.length === 0) return false;
    const index = all.indexOf(currentRow());
    const next = index === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
    return true;
  }

  // Tabbing or clicking into a row makes it the selected one as well.
  document.addEventListener("focusin", (event) => {
    const row = event.target instanceof Element ? event.target.closest("[data-ticket-row]") : null;
    if (row && !row.classList.contains("workspace-row-selected")) {
      for (const other of rows()) other.classList.remove("workspace-row-selected");
      row.classList.add("workspace-row-selected");
    }
  });

  document.addEventListener("change", (event) => {
    const all = event.target;
    if (!(all instanceof HTMLInputElement) || !all.hasAttribute("data-select-all")) return;
    for (const box of document.querySelectorAll('input[name="tickets"][form="bulk-form"]')) {
      box.checked = all.checked;
    }
  });

  // Saving a view saves the filters as they are now: htmx may have changed them since the page
  // (and the form's hidden copy of them) was rendered.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const filters = document.getElementById("ticket-filters");
    if (!(form instanceof HTMLFormElement) || form.id !== "save-view" || !filters) return;
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) {
      if (typeof value === "string" && value !== "") params.append(key, value);
    }
    form.elements.namedItem("query").value = params.toString();
  });

  // --- Shortcuts --------------------------------------------------------------------------

  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || target.closest("input, textarea, select, [contenteditable]") !== null)
    );
  }

  function openShortcuts() {
    const dialog = document.getElementById("shortcuts-dialog");
    if (dialog instanceof HTMLDialogElement && !dialog.open) dialog.showModal();
    return dialog !== null;
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-close-dialog]") : null;
    button?.closest("dialog")?.close();
  });

  const SHORTCUTS = {
    j: () => move(1),
    k: () => move(-1),
    o: () => {
      const link = currentRow()?.querySelector("[data-ticket-link]");
      if (!link) return false;
      window.location.assign(link.href);
      return true;
    },
    x: () => {
      const box = currentRow()?.querySelector('input[name="tickets"]');
      if (!box) return false;
      box.checked = !box.checked;
      return true;
    },
    r: () => {
      const body = document.querySelector("#reply-form textarea");
      if (!body) return false;
      body.scrollIntoView({ block: "center" });
      return focusOn(body);
    },
    "/": () => {
      const search = document.getElementById("id_q");
      if (search) return focusOn(search);
      const list = document.querySelector("[data-search-url]")?.dataset.searchUrl;
      if (!list) return false;
      window.location.assign(`${list}#search`);
      return true;
    },
    "?": openShortcuts,
  };

  document.addEventListener("keydown", (event) => {
    // Escape leaves the search field, so that the shortcuts work again.
    if (event.key === "Escape" && event.target instanceof HTMLInputElement && event.target.type === "search") {
      event.target.blur();
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    const action = SHORTCUTS[event.key];
    if (action && action()) event.preventDefault();
  });

  // "/" on a page without the search field comes to the list with #search: focus it there.
  document.addEventListener("DOMContentLoaded", () => {
    if (window.location.hash === "#search") focusOn(document.getElementById("id_q"));
  });
})();
