// Assay's only script (no inline scripts: the CSP forbids them).
// The countdown is a courtesy: the server decides when time is over.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function startCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.now() + 1000 * parseInt(el.getAttribute("data-countdown"), 10);
      function tick() {
        var left = Math.max(0, Math.round((end - Date.now()) / 1000));
        el.textContent = Math.floor(left / 3600) + ":" + pad(Math.floor(left % 3600 / 60)) + ":" + pad(left % 60);
        if (left > 0) { setTimeout(tick, 1000); }
      }
      tick();
    });
  }
  document.addEventListener("DOMContentLoaded", startCountdowns);
})();
