// MultiFlexi dashboard: optional enhancements. Every page works without this script.
(function () {
  "use strict";

  // Live output tail of a running job: poll the dashboard's output endpoint for new chunks and
  // append them; reload the page once the job has finished (it then shows the full text).
  function tail(pre) {
    var job = pre.getAttribute("data-job");
    var after = pre.getAttribute("data-after");
    var status = document.getElementById("live-status");
    function poll() {
      var url = "/jobs/" + encodeURIComponent(job) + "/output" + (after ? "?after=" + encodeURIComponent(after) : "");
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (data) {
          data.chunks.forEach(function (c) {
            var span = document.createElement("span");
            if (c.stream === "stderr") { span.className = "stderr"; }
            span.textContent = c.text;
            pre.appendChild(span);
            after = String(c.seq);
          });
          if (data.chunks.length) { pre.scrollTop = pre.scrollHeight; }
          if (status) { status.textContent = "phase: " + data.phase; }
          if (data.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    if (status) { status.textContent = "following live output…"; }
    setTimeout(poll, 500);
  }

  // Pages that show changing numbers (the overview) refresh themselves, unless the user is
  // typing in a form.
  function refresh(seconds) {
    setTimeout(function () {
      var a = document.activeElement;
      if (document.hidden || (a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName))) { refresh(seconds); return; }
      window.location.reload();
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pre = document.getElementById("live-output");
    if (pre) { tail(pre); }
    var r = document.querySelector("[data-refresh]");
    if (r && Number(r.getAttribute("data-refresh")) > 0) { refresh(Number(r.getAttribute("data-refresh"))); }
  });
})();
