// Per-point marking of theory answers on the candidate page (review/candidate.html).
// Each key point and misconception is an item: ↑/↓ or j/k move between the items of the page,
// one key marks the focused item (c correct, p partly, w wrong or missing; y present,
// n absent), and the mark is saved at once as JSON (no page reload). Without this script
// the same buttons post the form and the page comes back.
(function () {
  "use strict";
  function items() {
    return Array.prototype.filter.call(
      document.querySelectorAll("li.mark-item"),
      // skip the items of a closed <details> ("add a misconception from the bank")
      function (el) { return el.closest("details:not([open])") === null; }
    );
  }
  function move(from, step) {
    var all = items();
    var at = all.indexOf(from);
    var next = all[Math.min(all.length - 1, Math.max(0, at + step))];
    if (next) { next.focus(); }
  }
  function show(section, item, data, mark, words) {
    item.querySelectorAll("button[name=mark]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.value === mark ? "true" : "false");
    });
    item.querySelector(".current-mark").textContent = words[mark] || mark;
    item.classList.add("marked");
    var state = section.querySelector(".answer-state");
    if (state) { state.textContent = data.answer.text; }
    var mine = section.querySelector(".my-marking");
    if (mine) { mine.textContent = data.mine_text; }
  }
  function send(button) {
    var item = button.closest("li.mark-item");
    var section = button.closest("section.theory");
    var form = button.form;
    var status = section.querySelector(".answer-state");
    var words = {};
    item.querySelectorAll("button[name=mark]").forEach(function (b) {
      words[b.value] = b.firstChild.textContent.trim();
    });
    fetch(section.getAttribute("data-mark-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": form.querySelector("input[name=csrf_token]").value
      },
      body: JSON.stringify({
        kind: item.getAttribute("data-kind"),
        item: item.getAttribute("data-item"),
        mark: button.value
      })
    }).then(function (response) {
      return response.json().then(function (data) { return [response.ok, data]; });
    }).then(function (result) {
      if (!result[0]) {
        if (status) { status.textContent = (result[1].error || {}).message || "not saved"; }
        return;
      }
      show(section, item, result[1], button.value, words);
    }).catch(function () {
      if (status) { status.textContent = status.getAttribute("data-offline") || "not saved"; }
    });
  }
  function start() {
    document.querySelectorAll("section.theory[data-mark-url] .mark-buttons").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (event.submitter) { send(event.submitter); }
      });
    });
    document.addEventListener("keydown", function (event) {
      var item = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest("li.mark-item") : null;
      if (!item || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var tag = document.activeElement.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA") { return; }
      var key = event.key;
      if (key === "ArrowDown" || key === "j") { event.preventDefault(); move(item, 1); return; }
      if (key === "ArrowUp" || key === "k") { event.preventDefault(); move(item, -1); return; }
      var button = item.querySelector("button[data-key='" + key.toLowerCase() + "']");
      if (button && item.closest("section.theory[data-mark-url]")) {
        event.preventDefault();
        send(button);
        move(item, 1);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", start);
})();
