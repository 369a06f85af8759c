/* The link page's only script: tell the embedding window about the result (like a Link modal),
   and keep keyboard focus on the step that was just swapped in. */
(function () {
  "use strict";

  // The organization's embedding origins (its settings; the same list is the page's CSP
  // frame-ancestors). Messages go to these only, never "*": a window of any other origin that
  // opened or framed the page gets nothing. Also read by other scripts of the page.
  function allowedOrigins() {
    var list = document.body.dataset.embeddingOrigins || "";
    return list.split(" ").filter(function (origin) { return origin; });
  }

  function post(target, message) {
    allowedOrigins().forEach(function (origin) {
      try { target.postMessage(message, origin); } catch (e) { /* the browser refused the origin */ }
    });
  }

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
    post(target, { type: "relink:success", public_token: el.dataset.publicToken, is_relink: el.dataset.relink === "true" });
  }

  function paintSwatches() {
    // Integration colours come as data (the CSP allows no inline style attribute).
    document.querySelectorAll(".swatch[data-color]").forEach(function (el) {
      el.style.backgroundColor = el.dataset.color;
    });
  }

  document.addEventListener("DOMContentLoaded", paintSwatches);
  document.addEventListener("htmx:afterSettle", paintSwatches);
  document.addEventListener("DOMContentLoaded", announceSuccess);
  document.addEventListener("htmx:afterSettle", announceSuccess);

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-close]")) return;
    var target = host();
    if (target) post(target, { type: "relink:exit" });
    window.close();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = event.detail.target;
    if (!panel || panel.id !== "panel") return;
    var focus = panel.querySelector("[aria-invalid=true]") || panel.querySelector("[autofocus]") || panel.querySelector("h1");
    if (focus) focus.focus();
  });
})();
