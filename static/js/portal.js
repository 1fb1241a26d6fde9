// The customer portal's script (no inline scripts: strict CSP).
//
// Hook for suggestions while a new ticket's subject is typed: the element
// [data-portal-suggestions] names the subject field; after a pause in typing, this dispatches
// a "portal:subject" event on that element with {detail: {subject}}. A suggestions module
// (the knowledge base) listens for it, fills the element and unhides it.
(function () {
  "use strict";
  function announceSubject() {
    var box = document.querySelector("[data-portal-suggestions]");
    if (!box) return;
    var input = document.getElementById(box.dataset.subjectField);
    if (!input) return;
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        box.dispatchEvent(
          new CustomEvent("portal:subject", { detail: { subject: input.value.trim() } })
        );
      }, 300);
    });
  }
  document.addEventListener("DOMContentLoaded", announceSubject);
})();
