/* The link page's only script: tell the embedding window about the result (like a Link modal),
   and keep keyboard focus on the step that was just swapped in. */
(function () {
  "use strict";

  function host() {
    if (window.opener && window.opener !== window) return window.opener;
    if (window.parent && window.parent !== window) return window.parent;
    return null;
  }

  function announceSuccess() {
    var el = document.getElementById("link-success");
    if (!el || el.dataset.sent) return;
    el.dataset.sent = "1";
    var target = host();
    // Stand-alone (magic link) pages carry no public token: nobody is waiting for it.
    if (!target || el.dataset.embedded !== "true" || !el.dataset.publicToken) return;
    target.postMessage(
      { type: "relink:success", public_token: el.dataset.publicToken, is_relink: el.dataset.relink === "true" },
      "*"
    );
  }

  document.addEventListener("DOMContentLoaded", announceSuccess);
  document.addEventListener("htmx:afterSettle", announceSuccess);

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-close]")) return;
    var target = host();
    if (target) target.postMessage({ type: "relink:exit" }, "*");
    window.close();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = event.detail.target;
    if (!panel || panel.id !== "panel") return;
    var focus = panel.querySelector("[aria-invalid=true]") || panel.querySelector("[autofocus]") || panel.querySelector("h1");
    if (focus) focus.focus();
  });
})();
