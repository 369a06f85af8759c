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
  // OAuth, embedded page: the consent opens in a popup (providers refuse to be framed); the
  // popup's callback page hands its result back to this page, same origin only.
  function inOAuthPopup() {
    return document.body && document.body.dataset.oauthPopup === "true" && window.opener && window.opener !== window;
  }

  function handBackFromPopup() {
    if (!inOAuthPopup()) return false;
    var panel = document.getElementById("panel");
    window.opener.postMessage({ type: "relink:oauth", html: panel ? panel.innerHTML : "" }, window.location.origin);
    window.close();
    return true;
  }

  document.addEventListener("click", function (event) {
    var start = event.target.closest("[data-oauth-start][data-popup=true]");
    if (!start || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    var url = start.href + (start.href.indexOf("?") === -1 ? "?" : "&") + "popup=1";
    var popup = window.open(url, "relink-oauth", "popup,width=520,height=720");
    if (!popup) return; // blocked: follow the link in this window instead
    event.preventDefault();
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || !event.data || event.data.type !== "relink:oauth") return;
    var panel = document.getElementById("panel");
    if (!panel) return;
    panel.innerHTML = event.data.html;
    paintSwatches();
    announceSuccess();
    var focus = panel.querySelector("[autofocus]") || panel.querySelector("h1");
    if (focus) focus.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!handBackFromPopup()) announceSuccess();
  });
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
