// Assay's only script (no inline scripts: the CSP forbids them).
// The countdown is a courtesy: the server decides when time is over.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // At 0:00 (the seconds left come from the server's clock) the page turns read-only:
  // nothing to upload, save or submit is offered; then it reloads, and the server's page
  // (with the drafts handed in by the clock) replaces it.
  function closeWithClock(el) {
    document.querySelectorAll("[data-closes-with-clock]").forEach(function (part) {
      part.querySelectorAll("textarea").forEach(function (box) { box.readOnly = true; });
      part.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (pick) { pick.disabled = true; });
      part.querySelectorAll("button, input[type=file], input[type=submit], a.button").forEach(function (control) {
        control.hidden = true;
      });
      part.classList.add("closed");
    });
    var clock = el.closest(".clock");
    if (clock) {
      var note = document.createElement("p");
      note.className = "flash error";
      note.setAttribute("role", "status");
      note.textContent = el.getAttribute("data-over") || "";
      clock.replaceWith(note);
    }
    setTimeout(function () { window.location.reload(); }, 1500);
  }

  function startCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.now() + 1000 * parseInt(el.getAttribute("data-countdown"), 10);
      function tick() {
        var left = Math.max(0, Math.round((end - Date.now()) / 1000));
        el.textContent = Math.floor(left / 3600) + ":" + pad(Math.floor(left % 3600 / 60)) + ":" + pad(left % 60);
        if (left > 0) { setTimeout(tick, 1000); } else { closeWithClock(el); }
      }
      tick();
    });
  }

  // A button with data-confirm asks first (Resend, Revoke): Cancel sends nothing.
  function confirmButtons() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter;
      var question = button && button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); }
    });
  }

  // A button with data-copy="ID" copies that field's value (the invitation link).
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (!field) { return; }
        field.select();
        var done = function () {
          var before = button.textContent;
          button.textContent = button.getAttribute("data-copied") || before;
          setTimeout(function () { button.textContent = before; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startCountdowns();
    confirmButtons();
    copyButtons();
  });
})();
