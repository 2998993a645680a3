// The learning page: follows the open retraining run's progress, and reloads when it ends so
// its report shows. No inline script (the console's CSP forbids it).
(function () {
  "use strict";
  var panel = document.getElementById("run-progress");
  if (!panel) return;
  var url = panel.getAttribute("data-status-url");
  var progress = panel.querySelector("[data-field=progress]");
  var stage = panel.querySelector("[data-field=stage]");
  var status = panel.querySelector("[data-field=status]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (run) {
        progress.value = run.progress;
        stage.textContent = run.stage || "waiting for a worker";
        status.textContent = run.status;
        if (!run.is_open) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        stage.textContent = "Lost contact with the server; retrying…";
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1000);
})();
