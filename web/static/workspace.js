// The agent workspace: queue | conversation | customer journey, keyboard first, live over
// Server-Sent Events. Progressive: every link and form works without it; with it, opening a
// conversation or acting on one swaps the panes in place (history.pushState keeps the URL).
// After each pane swap it dispatches "workspace:pane" on document ({conversationId, root})
// so other scripts (the composer) can set up the new content.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.classList.contains("workspace") || !window.fetch) return;
  var news = document.getElementById("live-news");
  var dialog = document.getElementById("shortcuts");
  var TYPING = "input, textarea, select, [contenteditable]:not([contenteditable=false])";

  // --- helpers ------------------------------------------------------------------------
  function $(sel, root) { return (root || document).querySelector(sel); }
  function csrf() { var i = $("input[name=csrf]"); return i ? i.value : ""; }
  function grid() { return document.getElementById("queue-list"); }
  function rows() { var g = grid(); return g ? [].slice.call(g.querySelectorAll("[role=row][data-id]")) : []; }
  function rowOf(id) { return rows().filter(function (r) { return r.dataset.id === id; })[0] || null; }
  function current() { var g = grid(); return (g && g.querySelector("[role=row][data-id][tabindex='0']")) || rows()[0] || null; }
  function openConv() { var c = document.getElementById("conversation"); return c && c.dataset.conversation ? c : null; }
  function openId() { var c = openConv(); return c ? c.dataset.conversation : null; }
  function visible(el) { return !!(el && el.offsetParent !== null); }
  function say(text) {
    if (!news || !text) return;
    news.textContent = "";
    window.setTimeout(function () { news.textContent = text; }, 50);
  }
  function rowLabel(row) {
    var s = $(".qsubject-text", row), w = $(".qwho", row);
    return (s ? s.textContent.trim() : "") + (w && w.textContent.trim() ? " from " + w.textContent.trim() : "");
  }

  function setCurrent(row, focus) {
    rows().forEach(function (r) { r.tabIndex = -1; r.setAttribute("aria-selected", "false"); });
    if (!row) return;
    row.tabIndex = 0;
    row.setAttribute("aria-selected", "true");
    if (focus) { row.focus(); row.scrollIntoView({ block: "nearest" }); }
  }
  function markOpen() {
    var id = openId();
    rows().forEach(function (r) {
      if (r.dataset.id === id) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
    main.classList.toggle("has-open", !!id);
  }

  function fetchPage(url, init) {
    init = init || {};
    init.credentials = "same-origin";
    return fetch(url, init).then(function (res) {
      if (new URL(res.url).pathname === "/login") { window.location.href = url; throw new Error("signed out"); }
      return res.text().then(function (html) {
        return { res: res, doc: new DOMParser().parseFromString(html, "text/html") };
      });
    });
  }
  function api(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) { return { ok: res.ok, status: res.status, data: data }; });
    });
  }
  function imported(el) { return document.importNode(el, true); }

  // --- swapping panes -----------------------------------------------------------------
  function focusAfterSwap(pane, hint) {
    var target = (hint && $(hint, pane)) || $("#conversation h1, .pane-empty h1", pane);
    if (target) target.focus();
  }
  function swapPane(doc, hint) {
    var fresh = doc.getElementById("pane-main"), pane = document.getElementById("pane-main");
    if (!fresh || !pane) return false;
    var hadFocus = pane.contains(document.activeElement);
    pane.replaceChildren.apply(pane, [].slice.call(fresh.childNodes).map(imported));
    document.title = doc.title;
    markOpen();
    if (hadFocus || hint) focusAfterSwap(pane, hint);
    document.dispatchEvent(new CustomEvent("workspace:pane", { detail: { conversationId: openId(), root: pane } }));
    return true;
  }
  // Replace the queue's rows (or the whole queue section) keeping the current row, the
  // selection and the focus; returns the rows that are new.
  function swapQueue(doc, whole) {
    var freshGrid = doc.getElementById("queue-list"), g = grid();
    if (!freshGrid || !g) return [];
    var before = {}, cur = current(), curId = cur ? cur.dataset.id : null;
    var index = cur ? rows().indexOf(cur) : 0;
    var focusIn = g.contains(document.activeElement);
    var picked = rows().filter(function (r) { return $("input[type=checkbox]", r).checked; }).map(function (r) { return r.dataset.id; });
    rows().forEach(function (r) { before[r.dataset.id] = true; });
    if (whole) {
      document.getElementById("queue").replaceWith(imported(doc.getElementById("queue")));
    } else {
      g.replaceWith(imported(freshGrid));
      var more = $(".queue-more", doc), mine = $(".queue-more");
      if (mine && more) mine.replaceWith(imported(more)); else if (mine) mine.parentNode.remove();
    }
    picked.forEach(function (id) { var r = rowOf(id); if (r) $("input[type=checkbox]", r).checked = true; });
    updateBulk();
    document.dispatchEvent(new CustomEvent("workspace:queue"));
    var list = rows(), row = (curId && rowOf(curId)) || list[Math.min(index, list.length - 1)] || null;
    setCurrent(row, false);
    markOpen();
    if (focusIn || whole && document.activeElement === document.body) {
      if (row) row.focus(); else focusAfterSwap(document.getElementById("pane-main"));
    }
    return list.filter(function (r) { return !before[r.dataset.id]; });
  }

  var busy = Promise.resolve();
  function serial(task) { busy = busy.then(task, task).catch(function () {}); return busy; }

  // Open a page of ours (a conversation, a queue view) in place.
  function navigate(url, push, focusRow) {
    return serial(function () {
      return fetchPage(url).then(function (r) {
        swapQueue(r.doc, true);
        if (!swapPane(r.doc)) { window.location.href = url; return; }
        if (push) history.pushState({ workspace: true }, "", url);
        var row = openId() ? rowOf(openId()) : current();
        if (row) setCurrent(row, false);
        if (focusRow && row && visible(row)) row.focus();
        else if (focusRow || !main.contains(document.activeElement)) focusAfterSwap(document.getElementById("pane-main"));
      }).catch(function () { say("Could not open it: the server did not answer. Try again."); });
    });
  }
  // A refusal that is no page of the workspace (403, 400...): its message above the pane.
  function showProblem(doc) {
    var pane = document.getElementById("pane-main"), box = document.createElement("p");
    var text = doc.querySelector("main") ? doc.querySelector("main").textContent : doc.body.textContent;
    box.className = "flash warn";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.textContent = "Not done: " + text.trim().replace(/\s+/g, " ").slice(0, 300);
    var old = $("#pane-main > .flash.warn[role=alert]");
    if (old) old.remove();
    pane.prepend(box);
    box.focus();
  }
  function open(row) { if (row) navigate(row.dataset.href, true, true); }
  function backToQueue() {
    var link = $(".back-to-queue a");
    if (link) navigate(link.getAttribute("href"), true, true);
  }

  window.addEventListener("popstate", function () { navigate(location.href, false, true); });

  document.addEventListener("click", function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var t = e.target;
    if (t.closest(".shortcuts-open")) { showShortcuts(); return; }
    if (t.matches("#queue-list input[type=checkbox]")) { updateBulk(); return; }
    var bulk = t.closest("[data-bulk]");
    if (bulk) { runBulk(bulk.dataset.bulk); return; }
    var link = t.closest("a[href]");
    var row = t.closest("#queue-list [role=row][data-id]");
    if (row && (!link || link.classList.contains("qsubject"))) { e.preventDefault(); setCurrent(row, true); open(row); return; }
    if (link && main.contains(link) && !link.target) {
      var url = new URL(link.href, location.href);
      if (url.origin === location.origin && /^\/(inbox$|conversations\/[^/]+$)/.test(url.pathname)) {
        e.preventDefault();
        navigate(url.pathname + url.search, true, link.closest(".back-to-queue") !== null);
      }
    }
  });

  // Forms in the workspace: the queue's filters (GET) and the conversation's actions (POST).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !main.contains(form) || form.method === "dialog") return;
    if (form.closest(".composer")) return;  // replies and notes: composer.js sends them
    e.preventDefault();
    if (form.dataset.bulkForm) { runBulkForm(form); return; }
    var data = new FormData(form, e.submitter || undefined);
    if (form.method.toLowerCase() === "get") {
      navigate(form.action + "?" + new URLSearchParams(data).toString(), true, false);
      return;
    }
    var action = form.getAttribute("action");
    // the queue's filters and sort stay beside the conversation after the action
    var kept = new URLSearchParams(location.search);
    kept.delete("flash");
    var url = form.action + (form.action.indexOf("?") < 0 && kept.toString() ? "?" + kept.toString() : "");
    serial(function () {
      return fetchPage(url, { method: "POST", body: new URLSearchParams(data) }).then(function (r) {
        var hint = '#pane-main form[action="' + action + '"] textarea, #pane-main form[action="' + action + '"] select';
        if (!swapPane(r.doc, $("#pane-main .flash[role=status], #pane-main [role=alert]", r.doc) ? null : hint)) {
          showProblem(r.doc);
          return;
        }
        var flash = $("#pane-main .flash[role=status], #pane-main [role=alert]");
        if (flash) { flash.tabIndex = -1; flash.focus(); }
        return refreshQueue(null);
      }).catch(function () { say("Not sent: the server did not answer. Your text is still in the form."); });
    });
  });

  // --- actions on the open conversation (or the current row) --------------------------
  function target() {
    var conv = openConv();
    if (conv) return { id: conv.dataset.conversation, version: +conv.dataset.version };
    var row = current();
    return row ? { id: row.dataset.id, version: +row.dataset.version } : null;
  }
  function changed(result) {
    var d = result.data || {}, changes = (d.changes || []).join("; ");
    return (d.error || d.message || "it changed") + (changes ? " (" + changes + ")" : "");
  }
  // Both act on the version shown when their turn comes (after the actions before them).
  function assignToMe() {
    serial(function () {
      var t = target();
      if (!t) return;
      return api("/api/conversations/" + encodeURIComponent(t.id) + "/assign", { assignee: "me", version: t.version }).then(function (r) {
        say(r.ok ? "Assigned to you." : "Not assigned: " + changed(r));
        return refreshAll();
      });
    });
  }
  function resolve() {
    serial(function () {
      var t = target();
      if (!t) return;
      var list = rows(), i = list.indexOf(rowOf(t.id));
      var next = i >= 0 ? (list[i + 1] || list[i - 1] || null) : null;
      return api("/api/conversations/" + encodeURIComponent(t.id) + "/status", { status: "resolved", version: t.version }).then(function (r) {
        if (!r.ok) { say("Not resolved: " + changed(r)); return refreshAll(); }
        say("Resolved." + (next ? " Next: " + rowLabel(next) : " The queue is empty."));
        if (next) open(next); else backToQueue();
      });
    });
  }
  // s: snooze.js asks until when; the conversation then leaves the queue (the next one opens)
  function snooze() {
    var t = target();
    if (!t || !window.InboxSnooze) return;
    window.InboxSnooze.choose([t], function (done) {
      var r = done.results[0];
      serial(function () {
        if (!r.ok) { say("Not snoozed: " + changed(r)); return refreshAll(); }
        var list = rows(), i = list.indexOf(rowOf(t.id));
        var next = i >= 0 ? (list[i + 1] || list[i - 1] || null) : null;
        say("Snoozed until " + done.label + "." + (t.id === openId() && next ? " Next: " + rowLabel(next) : ""));
        if (t.id !== openId()) return refreshAll();
        if (next) open(next); else backToQueue();
      });
    });
  }
  function focusComposer(kind) {
    var box = $("#pane-main form." + kind + " textarea");
    if (box) { box.focus(); box.scrollIntoView({ block: "nearest" }); }
    else say(kind === "reply" ? "Open a conversation to reply." : "Open a conversation to add a note.");
  }

  // --- bulk: x selects; then snooze, assign, resolve, tag or set the status of them ----
  function picked() { return rows().filter(function (r) { return $("input[type=checkbox]", r).checked; }); }
  function updateBulk() {
    var bar = document.getElementById("bulk"), n = picked().length;
    if (!bar) return;
    bar.hidden = n === 0;
    $("#bulk-count").textContent = n + (n === 1 ? " conversation selected" : " conversations selected");
  }
  function toggle(row) {
    if (!row) return;
    var box = $("input[type=checkbox]", row);
    box.checked = !box.checked;
    updateBulk();
  }
  // What a bulk action did, shown above the queue and said (live region): how many changed, and
  // which were not and why; those stay selected, to try again once the queue shows them.
  function bulkDone(what, labels, changed, notChanged) {
    var box = document.getElementById("bulk-result");
    var failedIds = {};
    notChanged.forEach(function (f) { failedIds[f.id] = true; });
    rows().forEach(function (r) { if (!failedIds[r.dataset.id]) $("input[type=checkbox]", r).checked = false; });
    var text = what + ": " + changed + (changed === 1 ? " conversation" : " conversations") + ".";
    if (notChanged.length) {
      text += " Not changed: " + notChanged.map(function (f) {
        var why = f.reason === "stale" ? "it changed since you saw it" + (f.changes && f.changes.length ? " (" + f.changes.join("; ") + ")" : "")
          : f.reason === "forbidden" ? "not allowed: " + f.error
          : f.reason === "not_found" ? "it no longer exists" : f.error;
        return "“" + (labels[f.id] || f.id) + "”: " + why;
      }).join("; ") + ". They stay selected: check them, then try again.";
    }
    if (box) { box.textContent = text; box.classList.toggle("warn", notChanged.length > 0); }
    say(text);
    return refreshAll().then(function () {
      updateBulk();
      var row = current();
      if (notChanged.length && box) box.focus();
      else if (row) setCurrent(row, true); else focusAfterSwap(document.getElementById("pane-main"));
    });
  }
  function labelsOf(chosen) {
    var labels = {};
    chosen.forEach(function (row) { labels[row.dataset.id] = rowLabel(row); });
    return labels;
  }
  function bulkSnooze(chosen) {
    if (!window.InboxSnooze) return;
    var labels = labelsOf(chosen);
    window.InboxSnooze.choose(chosen.map(function (row) { return { id: row.dataset.id, version: +row.dataset.version }; }), function (done) {
      serial(function () {
        var failed = done.results.filter(function (r) { return !r.ok; }).map(function (r) {
          var d = r.data || {};
          return { id: r.id, reason: r.status === 409 ? "stale" : r.status === 403 ? "forbidden" : r.status === 404 ? "not_found" : "refused",
                   error: d.error || d.message || "refused", changes: d.changes || [] };
        });
        return bulkDone("Snoozed until " + done.label, labels, done.results.length - failed.length, failed);
      });
    });
  }
  // One request for the selection; each conversation carries the version its row shows.
  var BULK_DONE = { tag: "Tagged", status: "Status set", assign: "Assigned" };
  function bulkSend(body, what) {
    var chosen = picked();
    if (!chosen.length) return;
    var labels = labelsOf(chosen);
    body.conversations = chosen.map(function (row) { return { id: row.dataset.id, version: +row.dataset.version }; });
    serial(function () {
      return api("/api/conversations/bulk", body).then(function (r) {
        var box = document.getElementById("bulk-result");
        if (!r.ok) {  // the action itself was refused: nothing changed
          var d = r.data || {}, errors = d.errors ? Object.keys(d.errors).map(function (k) { return d.errors[k]; }).join("; ") : "";
          var text = "Nothing changed: " + (errors || d.error || d.message || "the server refused it") + ".";
          if (box) { box.textContent = text; box.classList.add("warn"); box.focus(); }
          say(text);
          return;
        }
        return bulkDone(what, labels, (r.data.changed || []).length, r.data.not_changed || []);
      }).catch(function () { say("Nothing changed: the server did not answer. Try again."); });
    });
  }
  function runBulk(kind) {
    if (!picked().length) return;
    if (kind === "snooze") { bulkSnooze(picked()); return; }
    if (kind === "assign") bulkSend({ action: "assign", assignee: "me" }, "Assigned to you");
    else bulkSend({ action: "status", status: "resolved" }, "Resolved");
  }
  function runBulkForm(form) {
    var kind = form.dataset.bulkForm, data = new FormData(form), body = { action: kind };
    if (kind === "tag") body.tag = String(data.get("tag") || "").trim();
    if (kind === "status") body.status = String(data.get("status") || "");
    if (kind === "assign") body.assignee = String(data.get("assignee") || "") || null;
    if (kind === "incident") body.incident = String(data.get("incident") || "");
    var what = kind === "incident" ? "Linked to incident “" + (form.querySelector("select").selectedOptions[0] || {}).textContent + "”"
      : kind === "assign" && !body.assignee ? "Unassigned"
      : BULK_DONE[kind] + (kind === "tag" ? " “" + body.tag.toLowerCase() + "”" : kind === "status" ? " to " + body.status
      : " to " + (form.querySelector("select").selectedOptions[0] || {}).textContent);
    bulkSend(body, what);
  }

  // --- the keyboard -------------------------------------------------------------------
  function showShortcuts() { if (dialog && !dialog.open) dialog.showModal(); }
  function move(delta) {
    var list = rows(), cur = current();
    if (!list.length) return;
    var inGrid = grid().contains(document.activeElement);
    var i = list.indexOf(cur);
    var next = inGrid ? list[Math.max(0, Math.min(list.length - 1, i + delta))] : cur;
    setCurrent(next, true);
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    if (document.querySelector("dialog[open]")) return;  // the shortcuts, the snooze chooser
    var t = e.target;
    if (t.closest && t.closest(TYPING)) {  // typing: never a shortcut; Esc leaves the field
      if (e.key === "Escape" && !t.matches("select") && (t.closest("#pane-main") || t.closest("form.quick"))) {
        e.preventDefault();
        var row = current();
        if (openId() || !row) focusAfterSwap(document.getElementById("pane-main")); else setCurrent(row, true);
      }
      return;
    }
    var onRow = t.matches && t.matches("#queue-list [role=row][data-id]");
    var handled = true;
    switch (e.key) {
      case "j": case "ArrowDown": if (e.key === "j" || onRow) move(1); else handled = false; break;
      case "k": case "ArrowUp": if (e.key === "k" || onRow) move(-1); else handled = false; break;
      case "Enter":
        if (onRow || t === document.body || t === main) open(onRow ? t : current()); else handled = false;
        break;
      case "r": focusComposer("reply"); break;
      case "n": focusComposer("note"); break;
      case "a": assignToMe(); break;
      case "e": resolve(); break;
      case "s": snooze(); break;
      case "x": toggle(onRow ? t : current()); break;
      case "/": var q = $("form.quick input[name=q]"); if (q) q.focus(); else handled = false; break;
      case "?": showShortcuts(); break;
      case "Escape": if (openId()) backToQueue(); else handled = false; break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // --- live: Server-Sent Events, resumed with Last-Event-ID ---------------------------
  var lastId = main.dataset.liveAfter || "";
  var pending = { queue: false, pane: false, inbound: {} };
  var timer = null;

  // inbound: {conversation id: true} of customers' new messages, to announce (or null)
  // url: the page to take the queue from (by default this one)
  function refreshQueue(inbound, url) {
    return fetchPage(url || location.href).then(function (r) {
      var added = swapQueue(r.doc, false);
      if (!inbound) return r;
      var texts = added.slice(0, 3).map(function (row) { return "New conversation: " + rowLabel(row) + "."; });
      if (added.length > 3) texts.push("And " + (added.length - 3) + " more.");
      Object.keys(inbound).forEach(function (id) {
        var row = rowOf(id);
        if (id === openId()) texts.push("New message in this conversation.");
        else if (row && added.indexOf(row) < 0) texts.push("New message: " + rowLabel(row) + ".");
      });
      say(texts.join(" "));
      return r;
    });
  }
  function refreshOpen(doc) {
    var conv = openConv(), fresh = doc.getElementById("conversation");
    var mergedIn = doc.querySelector("[data-merged-in]");  // _merge.html
    if (conv && fresh && mergedIn && mergedIn.dataset.mergedIn.split(" ").indexOf(conv.dataset.conversation) >= 0) {
      // merged into another (its page leads there): show that one, with the notice
      if (swapPane(doc)) history.replaceState(null, "", "/conversations/" + fresh.dataset.conversation);
      return;
    }
    // a page fetched before another conversation opened: not this one's news
    if (!conv || !fresh || fresh.dataset.conversation !== conv.dataset.conversation) return;
    conv.dataset.version = fresh.dataset.version;
    [["#messages"], ["aside.side"]].forEach(function (sel) {
      var mine = $(sel[0], conv), theirs = $(sel[0], fresh);
      if (mine && theirs && !mine.contains(document.activeElement)) mine.replaceWith(imported(theirs));
    });
  }
  function refreshAll() {
    return fetchPage(location.href).then(function (r) {
      swapQueue(r.doc, false);
      refreshOpen(r.doc);
    });
  }
  function schedule() {
    if (timer) return;
    timer = window.setTimeout(function () {
      timer = null;
      var wanted = pending;
      pending = { queue: false, pane: false, inbound: {} };
      // only the queue changed: its own page is cheaper than the conversation's
      var link = $(".back-to-queue a");
      var url = wanted.pane || !openId() || !link ? location.href : link.getAttribute("href");
      serial(function () {
        return refreshQueue(wanted.inbound, url).then(function (r) {
          if (wanted.pane) refreshOpen(r.doc);
        });
      });
    }, 300);
  }
  function onEvent(e) {
    if (e.lastEventId) lastId = e.lastEventId;
    var event = {};
    try { event = JSON.parse(e.data); } catch (err) { return; }
    if (e.type === "resync") { pending.pane = true; }
    else if (event.conversation_id && event.conversation_id === openId()) { pending.pane = true; }
    if (e.type === "message.created" && event.data && event.data.channel && event.conversation_id) {
      pending.inbound[event.conversation_id] = true;  // a customer wrote (not one of us)
    }
    pending.queue = true;
    schedule();
  }
  // Who else is on a conversation (event "presence": {conversation_id, data: {viewers:
  // [{id, name, typing}]}}; GET /api/presence: {"conversations": {conversation id: viewers}}),
  // shown in its row.
  var presence = {};
  var me = [main.dataset.userName, main.dataset.userEmail].filter(Boolean);
  function showPresence() {
    rows().forEach(function (row) {
      var cell = $(".qpresence", row);
      var others = (presence[row.dataset.id] || []).filter(function (v) { return v && me.indexOf(v.name) < 0; });
      if (!cell) return;
      cell.textContent = others.map(function (v) { return v.name + (v.typing ? " is typing" : " is viewing"); }).join(", ");
    });
  }
  function onPresence(e) {
    if (e.lastEventId) lastId = e.lastEventId;
    var event = {};
    try { event = JSON.parse(e.data); } catch (err) { return; }
    var viewers = (event.data && event.data.viewers) || event.viewers;
    if (!event.conversation_id || !Array.isArray(viewers)) return;
    presence[event.conversation_id] = viewers;
    showPresence();
    // the composer of that conversation shows who is typing at once
    document.dispatchEvent(new CustomEvent("inbox:event", {
      detail: { kind: "presence", conversation_id: event.conversation_id } }));
  }
  document.addEventListener("workspace:queue", showPresence);
  fetch("/api/presence", { credentials: "same-origin" }).then(function (res) {
    return res.ok ? res.json() : {};
  }).then(function (found) {
    var all = (found && found.conversations) || {};  // {"conversations": {id: [viewers]}}
    Object.keys(all).forEach(function (id) { if (Array.isArray(all[id])) presence[id] = all[id]; });
    showPresence();
  }).catch(function () {});

  var KINDS = ["message.created", "message.updated", "message.delivery", "conversation.updated",
               "sla.at_risk", "sla.breached", "resync"];
  function connect() {
    if (!window.EventSource) return;
    var source = new EventSource("/api/events" + (lastId ? "?after=" + encodeURIComponent(lastId) : ""));
    KINDS.forEach(function (kind) { source.addEventListener(kind, onEvent); });
    source.addEventListener("presence", onPresence);
    // one stream a page: the header's notifications badge (notifications.js) hears it here
    ["notification", "resync"].forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        document.dispatchEvent(new CustomEvent("inbox:" + kind, { detail: e.data }));
      });
    });
    source.addEventListener("error", function () {
      // the browser retries by itself unless the server refused: then we try again later
      if (source.readyState === EventSource.CLOSED) window.setTimeout(connect, 5000);
    });
  }

  markOpen();
  var startRow = openId() ? rowOf(openId()) : current();
  if (startRow) setCurrent(startRow, false);
  connect();
})();
