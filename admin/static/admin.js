// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // A form sent once: disable its buttons so a double click does not post twice.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented || form.method.toLowerCase() !== "post") { return; }
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // Conversations: "open a number" goes to that number's thread (no inline handler: the CSP forbids them).
  document.querySelectorAll("form[data-open-phone]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.location.href = form.getAttribute("data-open-phone") + encodeURIComponent(form.phone.value);
    });
  });

  // ERP page: poll the console sync's progress while it runs.
  var box = document.getElementById("sync-progress");
  if (box && box.getAttribute("data-running") === "true") {
    var url = box.getAttribute("data-status-url");
    var state = document.getElementById("sync-state");
    var timer = window.setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.running) {
            state.textContent = "running — " + (p.entity || "starting") + ": " + p.count + " rows";
          } else {
            window.clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { window.clearInterval(timer); });
    }, 1000);
  }
})();
