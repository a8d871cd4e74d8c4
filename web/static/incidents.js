// An incident's page while its last update is being sent: the progress line follows the
// update (its JSON twin, every 2 s) and the page reloads once every conversation was tried,
// so each one's delivery shows. Nothing is polled while the agent types in a form.
(function () {
  "use strict";
  var line = document.querySelector("[data-update-progress]");
  if (!line || line.dataset.finished === "true") return;
  var url = "/api/incidents/" + encodeURIComponent(line.dataset.incident) + "/updates/" +
    encodeURIComponent(line.dataset.updateProgress);
  function typing() {
    var el = document.activeElement;
    return !!el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT") && !!el.value;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var u = data.update;
        var text = line.querySelector("[data-progress-text]");
        if (text) text.textContent = "sending, " + u.done + " of " + u.total + " conversations done";
        if (u.finished && !typing()) { window.location.reload(); return; }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
