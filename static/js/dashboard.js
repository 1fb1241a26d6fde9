// The escalation dashboard: live sections, highlights, focus after actions, trend charts.
// Without JavaScript the page is complete when loaded, and every action is a plain form.
"use strict";

(() => {
  const live = () => Array.from(document.querySelectorAll("[data-live-url]"));
  if (live().length === 0) return;

  // Polling is driven from here, not by hx-trigger="every 5s [...]": the condition of such a
  // trigger is evaluated JavaScript, which the htmx config (allowEval: false) and the
  // Content-Security-Policy (no unsafe-eval) rule out.
  const POLL_MS = 5000;
  const HIGHLIGHT_MS = 4000;
  let timer = null;
  let running = false;
  let lastSuccess = new Date();

  const clock = (date) =>
    date.toLocaleTimeString(document.documentElement.lang || undefined, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
    });

  function setTime(id, date) {
    const element = document.getElementById(id);
    if (!element) return;
    element.textContent = clock(date);
    element.setAttribute("datetime", date.toISOString());
  }

  function showUpdated() {
    setTime("dashboard-updated-time", lastSuccess);
    document.getElementById("dashboard-updated").hidden = false;
    document.getElementById("dashboard-stale").hidden = true;
  }

  function showStale() {
    setTime("dashboard-stale-time", lastSuccess);
    document.getElementById("dashboard-stale").hidden = false;
  }

  // What a row looked like: key → signature (a new key or a changed signature is a change).
  function signatures(root) {
    const found = new Map();
    for (const row of root.querySelectorAll("[data-key]")) found.set(row.dataset.key, row.dataset.sig);
    for (const badge of root.querySelectorAll("[data-count]")) {
      found.set(`count-${badge.dataset.count}`, badge.textContent.trim());
    }
    return found;
  }

  function highlight(root, before) {
    const mark = (element) => {
      element.classList.add("dash-changed");
      window.setTimeout(() => element.classList.remove("dash-changed"), HIGHLIGHT_MS);
    };
    for (const row of root.querySelectorAll("[data-key]")) {
      if (before.get(row.dataset.key) !== row.dataset.sig) mark(row);
    }
    for (const badge of root.querySelectorAll("[data-count]")) {
      if (before.get(`count-${badge.dataset.count}`) !== badge.textContent.trim()) mark(badge);
    }
  }

  // What the user was doing in a section survives its update: ticked boxes, open details,
  // chosen options and the focused control (matched by id).
  function remember(root) {
    const ticked = Array.from(root.querySelectorAll("input[type=checkbox]:checked"), (i) => i.id);
    const open = Array.from(root.querySelectorAll("details[open][id]"), (d) => d.id);
    const chosen = Array.from(root.querySelectorAll("select[id]"), (s) => [s.id, s.value]);
    // The focused control, by id, or by its row and place in the row (buttons carry no id).
    const active = root.contains(document.activeElement) ? document.activeElement : null;
    const row = active?.closest("[data-key]");
    const focused = active
      ? {
          id: active.id,
          row: row?.dataset.key,
          index: row ? Array.from(row.querySelectorAll(FOCUSABLE)).indexOf(active) : -1,
        }
      : null;
    return { ticked, open, chosen, focused };
  }

  const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function refocus(root, focused) {
    if (!focused) return;
    let target = focused.id ? document.getElementById(focused.id) : null;
    if (!target && focused.row) {
      const row = Array.from(root.querySelectorAll("[data-key]")).find(
        (r) => r.dataset.key === focused.row,
      );
      target = row?.querySelectorAll(FOCUSABLE)[focused.index] ?? row?.querySelector(FOCUSABLE);
    }
    // The row is gone (acknowledged elsewhere, say): the section's heading keeps the place.
    target ??= root.querySelector("h2");
    target?.focus({ preventScroll: true });
  }

  function restore(root, state) {
    for (const id of state.ticked) {
      const box = document.getElementById(id);
      if (box) box.checked = true;
    }
    for (const id of state.open) document.getElementById(id)?.setAttribute("open", "");
    for (const [id, value] of state.chosen) {
      const select = document.getElementById(id);
      if (select && Array.from(select.options).some((o) => o.value === value)) select.value = value;
    }
    refocus(root, state.focused);
  }

  const busy = (root) => {
    // Someone is choosing in a select or typing in the section: update it next time.
    const active = document.activeElement;
    return root.contains(active) && active.matches("select, textarea, input:not([type=checkbox])");
  };

  async function refresh(section) {
    const response = await fetch(section.dataset.liveUrl + window.location.search, {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      cache: "no-store",
    });
    // A signed-out session is redirected to the login page: that is not an update.
    if (!response.ok || response.redirected) throw new Error(`HTTP ${response.status}`);
    const html = await response.text();
    if (html === section.dataset.lastHtml || busy(section)) return;
    const before = signatures(section);
    const state = remember(section);
    section.innerHTML = html;
    section.dataset.lastHtml = html;
    window.htmx?.process(section);
    restore(section, state);
    highlight(section, before);
  }

  let again = false;

  async function tick() {
    // One update at a time: a request for another while one runs (an action's refresh) is
    // served right after it, and only one timer is ever pending.
    if (running) {
      again = true;
      return;
    }
    window.clearTimeout(timer);
    if (document.visibilityState === "visible") {
      running = true;
      try {
        await Promise.all(live().map(refresh));
        lastSuccess = new Date();
        showUpdated();
      } catch {
        showStale();
      } finally {
        running = false;
      }
    }
    if (again) {
      again = false;
      tick();
      return;
    }
    // Paused while the tab is hidden: the next tick comes when it is shown again.
    if (document.visibilityState === "visible") timer = window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") tick();
    else window.clearTimeout(timer);
  });
  // An action succeeded (HX-Trigger from the server): show its effect at once.
  document.body.addEventListener("dashboard-refresh", () => tick());

  // After an action, focus moves to what changed: the message about it, or the panel.
  document.body.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (!(target instanceof Element)) return;
    if (target.id === "dashboard-status") {
      if (target.textContent.trim()) target.focus();
      else document.getElementById("panel-heading")?.focus();
    } else if (target.id === "dashboard-panel") {
      document.getElementById("panel-heading")?.focus();
    }
  });

  document.addEventListener("click", (event) => {
    const close = event.target instanceof Element && event.target.closest("[data-close-panel]");
    if (!close) return;
    event.preventDefault();
    document.getElementById("dashboard-panel").replaceChildren();
    document.querySelector("h1")?.focus();
  });

  // Filters: a change applies at once; empty fields stay out of the (bookmarkable) URL.
  const filters = document.getElementById("dashboard-filters");
  filters?.addEventListener("change", () => filters.requestSubmit());
  filters?.addEventListener("submit", () => {
    for (const field of filters.elements) if (field.name && field.value === "") field.disabled = true;
  });

  showUpdated();
  timer = window.setTimeout(tick, POLL_MS);

  // --- Trend charts (the tables beside them hold the same figures) ---------------------------
  function charts() {
    const data = JSON.parse(document.getElementById("trend-data")?.textContent || "null");
    if (!data || !window.Chart) return;
    // Colours with at least 4.5:1 against white, told apart by dash as well as hue.
    const colours = ["#0b5ed7", "#b02a37", "#146c43", "#6f42c1", "#8a5300", "#495057"];
    const dashes = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [10, 4]];
    const base = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true } },
    };
    const labels = data.days;
    new window.Chart(document.getElementById("chart-escalations"), {
      type: "line",
      data: {
        labels,
        datasets: data.per_level.map((series, i) => ({
          label: series.label,
          data: series.values,
          borderColor: colours[i % colours.length],
          backgroundColor: colours[i % colours.length],
          borderDash: dashes[i % dashes.length],
        })),
      },
      options: base,
    });
    // Series names come from the page (translated there): no words in this file.
    const compliance = document.getElementById("chart-compliance");
    new window.Chart(compliance, {
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: compliance.dataset.label,
            data: data.compliance,
            borderColor: colours[2],
            backgroundColor: colours[2],
            spanGaps: true,
          },
        ],
      },
      options: { ...base, plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 100 } } },
    });
    const tta = document.getElementById("chart-tta");
    new window.Chart(tta, {
      type: "bar",
      data: { labels, datasets: [{ label: tta.dataset.label, data: data.tta, backgroundColor: colours[0] }] },
      options: { ...base, plugins: { legend: { display: false } } },
    });
  }
  charts();
})();
