// WhatsApp campaign pages: the campaign's progress while it sends, and the form's live count.
(function () {
  "use strict";

  // The campaign page, while scheduled or sending: the counts every few seconds; a new status reloads
  // the page (its buttons, and why it paused).
  var status = document.getElementById("status");
  var progress = status && status.getAttribute("data-progress-url");
  if (progress) {
    var poll = window.setInterval(function () {
      fetch(progress, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.status !== status.getAttribute("data-status")) {
            window.clearInterval(poll);
            window.location.reload();
            return;
          }
          ["sent", "delivered", "read", "failed", "pending"].forEach(function (name) {
            var el = document.querySelector("#r-" + name + " strong");
            if (el) { el.textContent = p.counts[name].toLocaleString("en-US"); }
          });
        })
        .catch(function () { window.clearInterval(poll); });
    }, 3000);
  }

  var form = document.getElementById("campaign-form");
  if (!form) { return; }
  var url = form.getAttribute("data-audience-url");
  var state = document.getElementById("count-state");
  var reasons = ["no_consent", "stop", "undeliverable", "capped"];
  var timer = null;
  var asked = 0;

  function show(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = typeof value === "number" ? value.toLocaleString("en-US") : value; }
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && typeof value === "string") { params.append(name, value); }
    });
    return params.toString();
  }

  function count() {
    var mine = ++asked;
    state.textContent = "Counting…";
    fetch(url + "?" + query(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (mine !== asked) { return; }  // a later edit's count is on its way
        if (!answer.ok) {
          var errors = answer.body.errors || {};
          var first = Object.keys(errors)[0];
          state.textContent = "Fix the segment: " + (first ? first + ": " + errors[first][0] : "check the fields");
          form.setAttribute("data-count", "error");
          ["count-eligible", "count-matching"].concat(reasons.map(function (r) { return "held-" + r; }))
            .forEach(function (id) { show(id, "—"); });
          return;
        }
        show("count-eligible", answer.body.eligible);
        show("count-matching", answer.body.matching);
        reasons.forEach(function (reason) { show("held-" + reason, answer.body.held_back[reason] || 0); });
        state.textContent = "Counted just now.";
        form.setAttribute("data-count", String(answer.body.eligible));
      })
      .catch(function () { if (mine === asked) { state.textContent = "Could not count; the form still works."; } });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, 350);
  }

  form.querySelectorAll("#segment input, #segment select").forEach(function (el) {
    el.addEventListener("input", soon);
    el.addEventListener("change", soon);
  });

  // "At a local time" shows the time field; "when I start it" hides it.
  var sendAt = form.querySelector("input[name=send_at]");
  function toggleTime() {
    var later = form.querySelector("input[name=when][value=later]");
    if (sendAt && later) { sendAt.closest("label").hidden = !later.checked; }
  }
  form.querySelectorAll("input[name=when]").forEach(function (el) { el.addEventListener("change", toggleTime); });
  toggleTime();

  // Parameter rows: the text box only for "Text", and one empty row after the last one used.
  var rows = Array.prototype.slice.call(form.querySelectorAll(".param"));
  function tidy() {
    var lastUsed = -1;
    rows.forEach(function (row, i) {
      var source = row.querySelector("select");
      row.querySelector("input").hidden = source.value !== "text";
      if (source.value) { lastUsed = i; }
    });
    rows.forEach(function (row, i) { row.hidden = i > lastUsed + 1; });
  }
  rows.forEach(function (row) { row.querySelector("select").addEventListener("change", tidy); });
  tidy();

  count();
})();
