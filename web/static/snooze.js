// Snooze: the chooser "s" opens in the workspace (web/templates/_snooze.html). Times are
// worked out in the agent's time zone (data-zone on #main): later today (in 3 hours),
// tomorrow 9:00, next Monday 9:00, or a date and time of their choice.
// window.InboxSnooze.choose([{id, version}, ...], done) opens it for one conversation or a
// selection; once the server answered for each, done gets {label, results: [{id, ok, status,
// data}]} (label: when they wake, as the agent reads it). A time the server refuses for the
// first (400) is said in the chooser, which stays open.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var dialog = document.getElementById("snooze");
  if (!main || !dialog || !window.fetch) return;
  var zone = main.dataset.zone || undefined;
  var error = dialog.querySelector(".snooze-error");
  var custom = dialog.querySelector(".snooze-custom");
  var input = custom.querySelector("input");
  var HOUR = 3600 * 1000, DAY = 24 * HOUR;
  var pending = null;  // {target, done} while the chooser is open

  function format(options) {
    try { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: zone }, options)); }
    catch (err) { zone = undefined; return new Intl.DateTimeFormat(undefined, options); }
  }
  // The calendar fields of an instant in the agent's zone.
  function fields(ms) {
    var out = {};
    format({ hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric",
             minute: "numeric", weekday: "short" }).formatToParts(new Date(ms)).forEach(function (p) {
      out[p.type] = p.value;
    });
    var wd = new Date(Date.UTC(+out.year, +out.month - 1, +out.day)).getUTCDay();
    return { y: +out.year, m: +out.month - 1, d: +out.day, h: +out.hour % 24, min: +out.minute, weekday: wd };
  }
  function offset(ms) {  // how far the zone's wall clock is ahead of UTC at that instant
    var f = fields(ms);
    return Date.UTC(f.y, f.m, f.d, f.h, f.min) - Math.floor(ms / 60000) * 60000;
  }
  // The instant the zone's wall clock reads y-m-d h:min (d may run past the month's end).
  function zoned(y, m, d, h, min) {
    var wall = Date.UTC(y, m, d, h, min);
    return wall - offset(wall - offset(wall));
  }
  function label(ms) {
    return format({ weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
  }
  function choices(now) {
    var today = fields(now);
    var toMonday = ((8 - today.weekday) % 7) || 7;
    return {
      later: Math.ceil((now + 3 * HOUR) / (15 * 60000)) * 15 * 60000,
      tomorrow: zoned(today.y, today.m, today.d + 1, 9, 0),
      week: zoned(today.y, today.m, today.d + toMonday, 9, 0)
    };
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(ms) {  // for <input type=datetime-local>, in the agent's zone
    var f = fields(ms);
    return f.y + "-" + pad(f.m + 1) + "-" + pad(f.d) + "T" + pad(f.h) + ":" + pad(f.min);
  }
  function fromLocal(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    return m ? zoned(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) : NaN;
  }

  function csrf() { var i = document.querySelector("input[name=csrf]"); return i ? i.value : ""; }
  function send(ms) {
    if (!pending) return;
    var now = Date.now();
    if (!(ms > now)) { error.textContent = "Choose a time in the future."; input.focus(); return; }
    if (ms > now + 365 * DAY) { error.textContent = "Choose a time within a year."; input.focus(); return; }
    var job = pending, until = new Date(ms).toISOString();
    error.textContent = "";
    function post(target) {
      return fetch("/api/conversations/" + encodeURIComponent(target.id) + "/snooze", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ until: until, version: target.version })
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          return { id: target.id, ok: res.ok, status: res.status, data: data };
        });
      });
    }
    post(job.targets[0]).then(function (first) {
      if (first.status === 400) {  // a time the server refuses: say it, stay open
        var d = first.data || {};
        error.textContent = "Not snoozed: " + (d.error || d.message || "that time cannot be used") + ".";
        return;
      }
      pending = null;
      dialog.close();
      var results = [first];
      return job.targets.slice(1).reduce(function (p, target) {  // one after the other
        return p.then(function () { return post(target).then(function (r) { results.push(r); }); });
      }, Promise.resolve()).catch(function () {}).then(function () {
        job.done({ label: label(ms), results: results });
      });
    }).catch(function () {
      error.textContent = "Not snoozed: the server did not answer. Try again.";
    });
  }

  dialog.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-snooze]");
    if (button && pending) send(pending.times[button.dataset.snooze]);
  });
  custom.addEventListener("submit", function (e) {
    e.preventDefault();
    send(fromLocal(input.value));
  });
  dialog.addEventListener("close", function () { pending = null; });

  window.InboxSnooze = {
    choose: function (targets, done) {
      if (!targets || !targets.length || dialog.open) return;
      var now = Date.now(), times = choices(now);
      pending = { targets: targets, done: done, times: times };
      [].forEach.call(dialog.querySelectorAll("[data-snooze]"), function (b) {
        b.querySelector(".snooze-at").textContent = label(times[b.dataset.snooze]);
      });
      error.textContent = "";
      input.min = local(now);
      input.value = local(times.tomorrow);
      dialog.showModal();
      dialog.querySelector("[data-snooze]").focus();
    }
  };
})();
