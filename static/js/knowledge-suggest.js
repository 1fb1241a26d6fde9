// Knowledge base: articles suggested while someone types, and the agents' link picker.
//
// Any text input or textarea marked with data-knowledge-suggest="<fragment URL>" shows, a
// moment after typing stops, the HTML fragment that URL answers for ?q=<text> (the public
// suggestions: /help/suggest/). Options, all data attributes of the input:
//   data-knowledge-context="portal-new-ticket"  where the suggestions are shown (counted with
//                                                a "solved" click), sent as ?context=
//   data-knowledge-results="<id>"               the element to fill; else one is added after
//                                                the input
//   data-knowledge-language="<id of a select>"  sent as ?lang= (the picker's link language)
//   data-min-chars="3"                          fewer characters show nothing
// "This solved my problem" buttons in the fragment (data-knowledge-solved="<URL>") are posted
// with the fragment's CSRF token; the answer replaces the button. "Insert link" buttons
// (data-knowledge-insert) put "[title](url)" into the textarea named by the data-target of
// the enclosing [data-knowledge-picker]. Everything is delegated from the document, so it
// works for inputs added later (htmx swaps) and the file may be loaded more than once.
"use strict";

(() => {
  if (window.knowledgeSuggestReady) return;
  window.knowledgeSuggestReady = true;

  const DELAY_MS = 300;
  const timers = new WeakMap();
  const requests = new WeakMap();
  const boxes = new WeakMap();

  const isSuggestInput = (element) =>
    (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) &&
    element.hasAttribute("data-knowledge-suggest");

  function resultsBox(input) {
    const id = input.dataset.knowledgeResults;
    const named = id ? document.getElementById(id) : null;
    if (named) return named;
    let box = boxes.get(input);
    if (!box || !box.isConnected) {
      box = document.createElement("div");
      box.className = "knowledge-suggest-results mt-2";
      box.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", box);
      boxes.set(input, box);
    }
    return box;
  }

  async function suggest(input) {
    const box = resultsBox(input);
    const text = input.value.trim();
    requests.get(input)?.abort();
    if (text.length < Number(input.dataset.minChars || 3)) {
      box.replaceChildren();
      return;
    }
    const url = new URL(input.dataset.knowledgeSuggest, window.location.href);
    url.searchParams.set("q", text);
    if (input.dataset.knowledgeContext) url.searchParams.set("context", input.dataset.knowledgeContext);
    const language = input.dataset.knowledgeLanguage
      ? document.getElementById(input.dataset.knowledgeLanguage)
      : null;
    if (language) url.searchParams.set("lang", language.value);
    const controller = new AbortController();
    requests.set(input, controller);
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { "HX-Request": "true" },
        signal: controller.signal,
      });
      if (!response.ok) return;
      // A fragment our own server rendered, escaped by its templates.
      box.innerHTML = await response.text();
    } catch (error) {
      if (error.name !== "AbortError") console.warn("knowledge suggestions:", error);
    }
  }

  function later(input) {
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(() => suggest(input), DELAY_MS));
  }

  document.addEventListener("input", (event) => {
    if (isSuggestInput(event.target)) later(event.target);
  });

  // The picker's language select: search again with the other language.
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.id) return;
    for (const input of document.querySelectorAll(`[data-knowledge-language="${CSS.escape(select.id)}"]`)) {
      if (isSuggestInput(input)) suggest(input);
    }
  });

  // Enter in a search box that is not part of its form's data (the picker, inside the reply
  // form) searches at once instead of sending the reply.
  document.addEventListener("keydown", (event) => {
    const input = event.target;
    if (event.key !== "Enter" || !isSuggestInput(input) || input.name) return;
    event.preventDefault();
    clearTimeout(timers.get(input));
    suggest(input);
  });

  function markdownLink(title, url) {
    const text = title.replace(/[\\[\]]/g, "\\$&");
    const target = url.replace(/[()\s]/g, (c) => encodeURIComponent(c));
    return `[${text}](${target})`;
  }

  function insertLink(button) {
    const picker = button.closest("[data-knowledge-picker]");
    const textarea = picker ? document.getElementById(picker.dataset.target) : null;
    if (!textarea) return;
    const link = markdownLink(button.dataset.title || "", button.dataset.url || "");
    const start = textarea.selectionStart ?? textarea.value.length;
    const end = textarea.selectionEnd ?? start;
    const before = textarea.value.slice(0, start);
    const gap = before === "" || /\s$/.test(before) ? "" : " ";
    textarea.value = before + gap + link + textarea.value.slice(end);
    const caret = before.length + gap.length + link.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function solved(button) {
    const holder = button.closest("[data-csrf]");
    const body = new FormData();
    body.set("source", button.dataset.source || "suggestion");
    body.set("context", button.dataset.context || "");
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.knowledgeSolved, {
        method: "POST",
        credentials: "same-origin",
        headers: { "HX-Request": "true", "X-CSRFToken": holder ? holder.dataset.csrf : "" },
        body,
      });
      if (!response.ok) {
        button.disabled = false;
        return;
      }
      const answer = document.createElement("span");
      answer.innerHTML = await response.text();
      button.replaceWith(...answer.childNodes);
    } catch (error) {
      button.disabled = false;
      console.warn("knowledge deflection:", error);
    }
  }

  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    const insert = event.target.closest("[data-knowledge-insert]");
    if (insert) {
      event.preventDefault();
      insertLink(insert);
      return;
    }
    const solvedButton = event.target.closest("[data-knowledge-solved]");
    if (solvedButton) {
      event.preventDefault();
      solved(solvedButton);
    }
  });
})();
