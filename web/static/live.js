// Live updates: a small banner when something changed while the page is open.
(function () {
  if (!window.EventSource) return;
  var source = new EventSource("/api/events");
  var shown = false;
  ["message.created", "conversation.updated", "message.delivery", "sla.at_risk", "sla.breached"].forEach(function (kind) {
    source.addEventListener(kind, function () {
      if (shown) return;
      shown = true;
      var bar = document.createElement("p");
      bar.className = "flash live";
      var link = document.createElement("a");
      link.href = window.location.href;
      link.textContent = "New activity — reload";
      bar.appendChild(link);
      document.querySelector("main").prepend(bar);
    });
  });
})();
