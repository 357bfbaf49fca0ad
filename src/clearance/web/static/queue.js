/* The review queue: tick every waiting case of a page, and keys for deciding one case
   after another. No inline script (the Content-Security-Policy forbids it). */
(function () {
  "use strict";
  if (window.clearanceQueue) return;
  window.clearanceQueue = true;

  // The queue: "tick all" ticks every case of the page that waits for a decision.
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (all.id !== "select-all") return;
    var form = all.closest("form");
    if (!form) return;
    form.querySelectorAll("input.pick.waiting").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  function typing(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable ||
      (tag === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(element.type));
  }

  // The case being worked on: its panel, or else the first one with a decision form.
  function currentForm() {
    var panel = document.querySelector(".review-panel.current form.decide");
    return panel || document.querySelector(".review-panel form.decide");
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    // Ctrl+Enter (or Cmd+Enter) in a decision's note: record it and open the next case.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = target.closest && target.closest("form.decide");
      var next = form && form.querySelector("button.record-next");
      if (next) {
        event.preventDefault();
        next.click(); // a click, so that HTMX sends the button (then=next) with the form
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target)) return;
    if (event.key === "j" || event.key === "k") {
      var link = document.getElementById(event.key === "j" ? "next-case" : "previous-case");
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var decide = currentForm();
      if (!decide || !document.querySelector(".queue-nav")) return;
      var choices = decide.querySelectorAll("input[type=radio][name=decision]");
      var choice = choices[Number(event.key) - 1];
      if (!choice) return;
      event.preventDefault();
      choice.checked = true;
      var note = decide.querySelector("textarea[name=note]");
      if (note) note.focus();
    }
  });
})();
