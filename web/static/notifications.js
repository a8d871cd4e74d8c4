// The header's unread notifications badge: counted on load, refetched on each live event
// "notification" for the signed-in user (mentions in notes, assignments), without a reload.
(function () {
  "use strict";
  var me = null;

  function show(count) {
    var badge = document.querySelector("[data-notifications-badge]");
    if (!badge) return;
    badge.textContent = count > 0 ? String(count) : "";
    badge.hidden = !(count > 0);
    var link = badge.closest("a");
    if (link) link.setAttribute("aria-label", count > 0 ? "Notifications, " + count + " unread" : "Notifications");
  }

  function refresh() {
    return fetch("/api/notifications", { credentials: "same-origin" }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (found) {
      if (!found) return;
      me = found.user;
      show(found.unread);
    }).catch(function () {});
  }

  function onNotification(e) {
    var event = {};
    try { event = JSON.parse(typeof e.detail === "string" ? e.detail : e.data); } catch (err) { return; }
    if (!event.data || me === null || event.data.user === me) refresh();
  }

  function connect() {
    if (document.querySelector("main.workspace")) {  // the workspace's stream, not a second one
      document.addEventListener("inbox:notification", onNotification);
      document.addEventListener("inbox:resync", refresh);
      return;
    }
    if (!window.EventSource) return;
    var source = new EventSource("/api/events");
    source.addEventListener("notification", onNotification);
    source.addEventListener("resync", refresh);
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) window.setTimeout(connect, 5000);
    });
  }

  refresh().then(connect);
})();
