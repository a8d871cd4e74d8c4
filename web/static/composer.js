// The conversation composer (web/templates/_composer.html), progressive: without JavaScript
// the forms post as usual. With it:
// - Ctrl/Cmd+Enter sends; replies and notes go through the JSON API, the thread above the
//   composer is refreshed in place (no page load);
// - heartbeats tell colleagues who is viewing and typing (POST /api/conversations/{id}/presence)
//   and show who else is here, in a polite live region;
// - on an X post the choice of public reply or DM sets the counter's limit (280 or 10,000);
//   the choice, subject and cc go with the reply (the server checks them, as the form's);
// - the draft is kept in this browser per conversation (through failed sends and reloads)
//   until a send succeeds;
// - a send that could collide is held inline: a colleague typing (warned before sending) or
//   the conversation changed since the page showed it (the server's 409, with what changed),
//   until the agent reviews it or sends anyway.
// Listeners are delegated from the document, so a composer swapped into the page works too.
// After a reply or note it dispatches "inbox:conversation-changed" ({detail: {id}}) on the
// document, and keeps data-version on .composer current (other actions on the page can send
// it); signing out forgets the drafts. A live client may dispatch "inbox:event"
// ({detail: {kind, conversation_id}}) for each server event: a "presence" one refreshes the
// line at once.
(function () {
  "use strict";
  if (window.inboxComposer) return;
  window.inboxComposer = true;
  var HEARTBEAT_MS = 5000, TYPING_EVERY_MS = 4000, IDLE_MS = 5000;
  var states = new Map();  // conversation id -> {typing, sentAt, idle, busy, confirmed}
  var seen = new Map();  // conversation id -> its composer, while on the page

  function composers() { return document.querySelectorAll(".composer[data-conversation]"); }
  function composerOf(el) { return el && el.closest ? el.closest(".composer[data-conversation]") : null; }
  function convId(c) { return c.getAttribute("data-conversation"); }
  function field(form, name) { return form.querySelector("[name='" + name + "']"); }
  function replyText(el) { return el && el.matches && el.matches("form.reply textarea[name='text']"); }
  function state(c) {
    var id = convId(c);
    if (!states.has(id)) {
      states.set(id, {typing: false, flagged: false, sentAt: 0, idle: null, busy: false, confirmed: false});
    }
    return states.get(id);
  }
  function csrf(c) {
    var input = c.querySelector("input[name='csrf']");
    return input ? input.value : "";
  }
  function say(c, text) {
    var status = c.querySelector(".composer-status");
    if (status) status.textContent = text;
  }
  function newKey(form) {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    field(form, "idempotency_key").value = Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function api(c, path, body, keepalive) {
    return fetch("/api/conversations/" + encodeURIComponent(convId(c)) + path, {
      method: body === undefined ? "GET" : "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf(c)},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {status: response.status, data: data};
      });
    });
  }

  // --- presence -------------------------------------------------------------------------
  function showPresence(c, answer) {
    var line = c.querySelector(".presence");
    if (line && line.textContent !== answer.summary) line.textContent = answer.summary;
    if (answer.version > Number(c.getAttribute("data-version"))) news(c);
  }

  // The conversation moved on since the page showed it (a heartbeat said so): say it once.
  function news(c) {
    var st = state(c), status = c.querySelector(".composer-status");
    if (st.news || st.busy || !status || status.textContent) return;  // never over a message
    st.news = true;
    status.textContent = "Something new happened on this conversation since it was shown. ";
    status.appendChild(button("Show what is new", function () {
      refresh(c).then(function () { field(c.querySelector("form"), "text").focus(); });
    }));
  }

  // typing: true while typing, false once stopped, undefined: unchanged (lapses by itself)
  function beat(c, typing, viewing) {
    var st = state(c), leaving = viewing === false, body = {viewing: !leaving};
    if (typing !== undefined) {
      st.typing = st.flagged = typing;  // flagged: the server was told "typing"
      st.sentAt = Date.now();
      body.typing = typing;
    }
    return api(c, "/presence", body, leaving).then(function (res) {
      if (res.status !== 200) return null;
      if (!leaving) showPresence(c, res.data);
      return res.data;
    }, function () { return null; });
  }

  function tick() {
    var here = new Set();
    composers().forEach(function (c) {
      setup(c);
      here.add(convId(c));
      beat(c);
    });
    seen.forEach(function (c, id) {  // swapped out of the page: gone from it
      if (here.has(id)) return;
      beat(c, undefined, false);
      seen.delete(id);
      states.delete(id);
    });
  }

  function stopTyping(c) {
    var st = state(c);
    clearTimeout(st.idle);
    if (st.flagged) beat(c, false);
  }

  // --- X's count: every link 23, emoji and most characters past U+10FF 2, the rest 1 ------
  var X_LINK = /\bhttps?:\/\/[^\s]+|\bwww\.[^\s]+/gi, X_ONE = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
  var PICTURE = /\p{Extended_Pictographic}/u;
  function xLength(text) {
    var links = 0, rest = text.normalize("NFC").replace(X_LINK, function () { links++; return ""; });
    var length = links * 23;
    var pieces = window.Intl && Intl.Segmenter ? Array.from(new Intl.Segmenter().segment(rest), function (s) { return s.segment; })
                                                : Array.from(rest);
    pieces.forEach(function (piece) {
      if (PICTURE.test(piece)) { length += 2; return; }
      Array.from(piece).forEach(function (ch) {
        var code = ch.codePointAt(0);
        length += X_ONE.some(function (r) { return code >= r[0] && code <= r[1]; }) ? 1 : 2;
      });
    });
    return length;
  }

  // The choice of public reply or DM sets X's limit: 280 (weighted) or 10,000.
  function chooseMode(c) {
    var counter = c.querySelector(".x-count"), chosen = c.querySelector("input[name='mode']:checked");
    if (!counter || !chosen) return;
    var dm = chosen.value === "dm", limit = c.querySelector(".x-limit");
    counter.setAttribute("data-limit", dm ? "10000" : "280");
    if (limit) limit.textContent = dm ? "X takes at most 10,000 characters in a direct message." :
      "X takes at most 280 characters in a public reply (a link counts 23, an emoji or a CJK character 2).";
    var box = field(c.querySelector("form.reply"), "text");
    if (box && box.value) count(c, box);
    else counter.textContent = "";
  }

  function count(c, box) {
    var counter = c.querySelector(".x-count");
    if (!counter) return;
    var limit = Number(counter.getAttribute("data-limit")), used = xLength(box.value);
    counter.textContent = "Used: " + used + (used > limit ? ", " + (used - limit) + " too many." : ".");
    counter.classList.toggle("over", used > limit);
  }

  // --- drafts -----------------------------------------------------------------------------
  function draftKey(c) { return "inbox-draft:" + c.getAttribute("data-me") + ":" + convId(c); }
  function saveDraft(c, text) {
    try {
      if (text.trim()) window.localStorage.setItem(draftKey(c), text);
      else window.localStorage.removeItem(draftKey(c));
    } catch (e) { /* storage full or off: the text stays in the box */ }
  }
  function savedDraft(c) {
    try { return window.localStorage.getItem(draftKey(c)); } catch (e) { return null; }
  }

  function forgetDrafts() {  // signing out: nothing of this user's drafts stays behind
    try {
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf("inbox-draft:") === 0) window.localStorage.removeItem(key);
      }
    } catch (e) { /* storage off: nothing kept */ }
  }

  function setup(c) {
    if (c.getAttribute("data-ready")) return;
    c.setAttribute("data-ready", "1");
    seen.set(convId(c), c);
    var form = c.querySelector("form.reply");
    if (!form) return;
    var hint = c.querySelector("#send-hint");
    if (hint) hint.hidden = false;
    var box = field(form, "text"), draft = savedDraft(c);
    if (draft && !box.value) {
      box.value = draft;
      say(c, "Your unsent draft is back in the reply box.");
    } else if (box.value) {
      saveDraft(c, box.value);
    }
    if (box.value) count(c, box);
  }

  // --- the thread above the composer, refreshed in place -----------------------------------
  function refresh(c) {
    return fetch("/conversations/" + encodeURIComponent(convId(c)), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || !c.parentNode) return null;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = null;
        doc.querySelectorAll(".composer[data-conversation]").forEach(function (other) {
          if (convId(other) === convId(c)) fresh = other;
        });
        if (!fresh) return null;
        var parent = c.parentNode, nodes = [];
        while (c.previousSibling) parent.removeChild(c.previousSibling);
        for (var n = fresh.parentNode.firstChild; n && n !== fresh; n = n.nextSibling) nodes.push(n);
        nodes.forEach(function (node) { parent.insertBefore(document.importNode(node, true), c); });
        var form = c.querySelector("form.reply"), freshForm = fresh.querySelector("form.reply");
        if (form && freshForm) field(form, "version").value = field(freshForm, "version").value;
        c.setAttribute("data-version", fresh.getAttribute("data-version"));
        if (state(c).news) {
          state(c).news = false;
          say(c, "");
        }
        showPresence(c, {summary: fresh.querySelector(".presence").textContent});
        return fresh;
      }, function () { return null; });
  }

  function changed(c) {
    document.dispatchEvent(new CustomEvent("inbox:conversation-changed", {detail: {id: convId(c)}}));
  }

  // --- sending ----------------------------------------------------------------------------
  function hideHold(form) {
    var hold = form.querySelector(".hold");
    hold.hidden = true;
    hold.textContent = "";
  }

  function button(text, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  // Held: nothing was sent. `version`: the conversation's version now (after a 409).
  function hold(c, form, text, changes, version) {
    var box = form.querySelector(".hold"), st = state(c);
    say(c, "");
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    if (changes.length) {
      var list = document.createElement("ul");
      list.className = "changes";
      changes.forEach(function (change) {
        var li = document.createElement("li");
        li.textContent = change;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    var help = document.createElement("p");
    help.textContent = "Your draft is kept. " + (version ? "Review shows what is new; " : "") +
      "Send anyway (or Ctrl+Enter again) sends it as it is.";
    box.appendChild(help);
    if (version) {
      box.appendChild(button("Review", function () {
        refresh(c).then(function (fresh) {
          hideHold(form);
          if (!fresh) { say(c, "Could not load what is new; reload the page to see it."); return; }
          say(c, "The conversation is up to date above; your draft is kept.");
          var last = c.parentNode.querySelectorAll("article.msg");
          if (last.length) last[last.length - 1].scrollIntoView({block: "center"});
          field(form, "text").focus();
        });
      }));
      box.appendChild(document.createTextNode(" "));
    }
    box.appendChild(button("Send anyway", function () {
      if (version) field(form, "version").value = version;
      st.confirmed = true;
      submit(form);
    })).className = "send-anyway";
    box.hidden = false;
  }

  function submit(form) {
    if (form.requestSubmit) form.requestSubmit();
    else form.dispatchEvent(new Event("submit", {cancelable: true, bubbles: true}));
  }

  function kept(c, form, text) {
    say(c, text);
    field(form, "text").focus();
  }

  function post(c, form) {
    var body = {text: field(form, "text").value, version: Number(field(form, "version").value),
                idempotency_key: field(form, "idempotency_key").value};
    var then = field(form, "then").value;
    if (then) body.status = then;
    var mode = form.querySelector("input[name='mode']:checked");
    if (mode) body.mode = mode.value;
    ["subject", "cc"].forEach(function (name) {  // email: checked by the server, as the form
      var input = field(form, name);
      if (input) body[name] = input.value;
    });
    return api(c, "/reply", body).then(function (res) {
      var message = res.data.message || {}, error = (message.meta || {}).error || "";
      if (res.status === 409 && res.data.changes) {
        hold(c, form, "Your reply was not sent: the conversation changed since you opened it.",
             res.data.changes, res.data.version);
        return;
      }
      if (res.status !== 201 && res.status !== 202) {
        kept(c, form, "Your reply was not sent: " + (res.data.error || "the server answered " + res.status) +
             ". Your text is kept.");
        return;
      }
      newKey(form);  // the next reply is another reply
      if (message.delivery === "rejected") {
        refresh(c);
        kept(c, form, "Not delivered: your reply did not reach the customer (" + error + "); your text is kept to fix and send again.");
        return;
      }
      c.setAttribute("data-version", body.version + 1);  // ours; the refresh confirms it
      field(form, "text").value = "";
      count(c, field(form, "text"));
      field(form, "then").value = "";
      saveDraft(c, "");
      stopTyping(c);
      var dm = (message.meta || {}).kind === "dm";
      say(c, message.delivery === "sent" ? (dm ? "Reply sent as a direct message." : "Reply sent.") :
          "Reply saved but not delivered yet (" + error + "); it will be retried.");
      refresh(c).then(function () { changed(c); });
      field(form, "text").focus();
    }, function () {
      kept(c, form, "Your reply was not sent: the inbox could not be reached. Your text is kept; " +
           "send it again when you are back online.");
    });
  }

  function send(c, form) {
    var st = state(c);
    if (st.busy) return;
    var confirmed = st.confirmed;
    st.confirmed = false;
    st.busy = true;
    hideHold(form);
    say(c, "Sending…");
    var check = confirmed ? Promise.resolve(null) : beat(c);
    check.then(function (here) {
      var typing = here ? here.viewers.filter(function (v) { return v.typing; }) : [];
      if (typing.length) {
        hold(c, form, "Not sent yet: " + here.summary.replace(/…/g, "") + ", so your replies could cross.", [], null);
        return null;
      }
      return post(c, form);
    }).then(function () { st.busy = false; }, function () { st.busy = false; });
  }

  function note(c, form) {
    var st = state(c), box = field(form, "text");
    if (st.busy) return;
    st.busy = true;
    api(c, "/notes", {text: box.value}).then(function (res) {
      if (res.status === 201) {
        box.value = "";
        say(c, "Note added.");
        refresh(c).then(function () { changed(c); });
      } else {
        say(c, "The note was not added: " + (res.data.error || "the server answered " + res.status) + ".");
      }
    }, function () {
      say(c, "The note was not added: the inbox could not be reached. Your text is kept.");
    }).then(function () { st.busy = false; box.focus(); });
  }

  // --- wiring -----------------------------------------------------------------------------
  document.addEventListener("submit", function (e) {
    var form = e.target, c = composerOf(form);
    if (form.matches && form.matches("form[action='/logout']")) forgetDrafts();
    if (!c || e.defaultPrevented) return;
    if (form.matches("form.reply")) { e.preventDefault(); setup(c); send(c, form); }
    else if (form.matches("form.note")) { e.preventDefault(); setup(c); note(c, form); }
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    var form = e.target.closest && e.target.closest(".composer form");
    if (!form) return;
    e.preventDefault();
    var anyway = form.querySelector(".hold:not([hidden]) .send-anyway");
    if (anyway) anyway.click();  // the second, deliberate send
    else submit(form);
  });

  document.addEventListener("input", function (e) {
    if (!replyText(e.target)) return;
    var c = composerOf(e.target), st = state(c);
    setup(c);
    saveDraft(c, e.target.value);
    count(c, e.target);
    if (!st.typing || Date.now() - st.sentAt > TYPING_EVERY_MS) beat(c, true);
    clearTimeout(st.idle);
    // a pause: say nothing, the flag lapses on the server; the next key says "typing" again
    st.idle = setTimeout(function () { st.typing = false; }, IDLE_MS);
  });

  document.addEventListener("change", function (e) {
    if (e.target && e.target.matches && e.target.matches("form.reply input[name='mode']")) chooseMode(composerOf(e.target));
  });

  document.addEventListener("focusout", function (e) {
    if (replyText(e.target)) stopTyping(composerOf(e.target));
  });

  document.addEventListener("inbox:event", function (e) {
    var detail = e.detail || {};
    if (detail.kind !== "presence") return;
    composers().forEach(function (c) {
      if (convId(c) !== detail.conversation_id) return;
      api(c, "/presence").then(function (res) { if (res.status === 200) showPresence(c, res.data); },
                               function () {});
    });
  });

  window.addEventListener("pagehide", function () {
    composers().forEach(function (c) { beat(c, undefined, false); });
  });

  composers().forEach(setup);
  setInterval(tick, HEARTBEAT_MS);
})();
