// Canned replies in the composer (web/templates/_composer.html, .canned-picker): the team's
// replies, filled in for this conversation by the server (GET /api/conversations/{id}/canned),
// are offered in a <select>; "Insert" (or Enter on the select) puts the chosen text at the
// cursor of the reply box. The box then gets an "input" event, so composer.js keeps it as any
// draft. Texts go in as text (value), never as markup. Without JavaScript the picker stays
// hidden. Composers swapped into the page (the workspace's "workspace:pane") get it too.
(function () {
  "use strict";
  if (window.inboxCanned) return;
  window.inboxCanned = true;
  var texts = new Map();  // "<conversation id>:<canned id>" -> the filled-in text

  function composerOf(el) { return el && el.closest ? el.closest(".composer[data-conversation]") : null; }

  function load(picker) {
    if (picker.getAttribute("data-loaded")) return;
    picker.setAttribute("data-loaded", "1");
    var c = composerOf(picker), id = c.getAttribute("data-conversation");
    fetch("/api/conversations/" + encodeURIComponent(id) + "/canned", {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (r) { return r.ok ? r.json() : []; }).then(function (replies) {
      var select = picker.querySelector("select.canned-choice");
      if (!Array.isArray(replies) || !replies.length || !select) return;
      replies.forEach(function (reply) {
        var option = document.createElement("option");
        option.value = reply.id;
        option.textContent = reply.name;
        select.appendChild(option);
        texts.set(id + ":" + reply.id, String(reply.text_rendered));
      });
      picker.hidden = false;
    }, function () { /* offline: no picker, the box works as ever */ });
  }

  function scan() { document.querySelectorAll(".composer .canned-picker").forEach(load); }

  function insert(picker) {
    var c = composerOf(picker), select = picker.querySelector("select.canned-choice");
    var box = c && c.querySelector("form.reply textarea[name='text']");
    var text = select && texts.get(c.getAttribute("data-conversation") + ":" + select.value);
    if (!box || text === undefined) return;
    var start = box.selectionStart, end = box.selectionEnd;
    if (typeof start !== "number") { start = end = box.value.length; }
    box.focus();
    box.setRangeText(text, start, end, "end");
    box.dispatchEvent(new Event("input", {bubbles: true}));  // composer.js: draft, count, typing
    select.value = "";
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".canned-picker .canned-insert");
    if (b) insert(b.closest(".canned-picker"));
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.ctrlKey || e.metaKey) return;
    var select = e.target.closest && e.target.closest(".canned-picker select.canned-choice");
    if (!select) return;
    e.preventDefault();  // Enter on the select inserts rather than submitting the reply
    insert(select.closest(".canned-picker"));
  });

  document.addEventListener("workspace:pane", scan);
  document.addEventListener("focusin", scan);
  scan();
})();
