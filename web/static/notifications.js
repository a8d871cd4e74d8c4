// The header's unread notifications badge: counted on load, refetched on each live event
// "notification" for the signed-in user (mentions in notes, assignments), without a reload.
// Browser notifications, opted in per browser on /settings: a new mention or assignment
// shows as a system notification while the inbox's tab is hidden.
(function () {
  "use strict";
  var me = null;
  var OPT_IN = "inbox.browserNotifications";
  var seen = null;  // ids of the notifications already listed (null: none listed yet)

  function optedIn() {
    try { return window.localStorage.getItem(OPT_IN) === "on"; } catch (err) { return false; }
  }
  function allowed() { return !!window.Notification && Notification.permission === "granted"; }
  function tell(list) {
    var first = seen === null;
    seen = seen || {};
    var fresh = list.filter(function (n) { var known = seen[n.id]; seen[n.id] = true; return !known && !n.read; });
    if (first || !fresh.length || !document.hidden || !optedIn() || !allowed()) return;
    fresh.slice(0, 3).forEach(function (n) {  // text only: the system shows it as it is
      var title = n.kind === "spike" ? "Spike in saved search " + (n.by || "") :
        n.kind === "csat.low" ? "Low satisfaction score" :
        (n.by || "Someone") + (n.kind === "mention" ? " mentioned you" : " assigned you a conversation") +
        (n.ref ? " (#" + n.ref + ")" : "");
      var shown = new Notification(title, { body: n.text || "", tag: "inbox-" + n.id });
      shown.onclick = function () {
        window.focus();
        if (/^\/conversations\/[^/]+$/.test(n.link || "")) window.location.href = n.link;
        shown.close();
      };
    });
  }
  // The choice on /settings (shown where the browser has notifications)
  function setUp() {
    var box = document.getElementById("browser-notify"), state = document.getElementById("browser-notify-state");
    if (!box || !window.Notification) return;
    box.closest("fieldset").hidden = false;
    box.checked = optedIn() && allowed();
    function say(text) { if (state) state.textContent = text; }
    box.addEventListener("change", function () {
      if (!box.checked) {
        try { window.localStorage.removeItem(OPT_IN); } catch (err) { /* private mode */ }
        say("Off in this browser.");
        return;
      }
      Promise.resolve(Notification.requestPermission()).then(function (answer) {
        if (answer !== "granted") {
          box.checked = false;
          say("This browser does not allow notifications from this site: allow them in its site settings, then try again.");
          return;
        }
        try { window.localStorage.setItem(OPT_IN, "on"); } catch (err) { box.checked = false; say("This browser keeps no settings (private window?)."); return; }
        say("On in this browser: mentions and assignments show while the inbox is in another tab.");
      });
    });
  }

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
      tell(found.notifications || []);
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

  setUp();
  refresh().then(connect);
})();
