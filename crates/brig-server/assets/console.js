// Brig console: live updates and countdowns. Everything works without this file; it only
// keeps pages current. Hand-written, no dependencies.
(function () {
  "use strict";

  // Regions marked data-live="URL" are fetched again when the ledger changes (debounced),
  // unless the person is typing in them: a re-render would lose what they typed.
  var DEBOUNCE_MS = 400;
  var pending = null;
  var busy = false;

  function typing(region) {
    var a = document.activeElement;
    if (a && region.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) return true;
    var fields = region.querySelectorAll("input[type=text], textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    return false;
  }

  function openDetails(region) {
    var open = [];
    region.querySelectorAll("details[open] > summary").forEach(function (s) {
      open.push(s.textContent);
    });
    return open;
  }

  function refresh() {
    if (busy) { schedule(); return; }
    busy = true;
    var regions = document.querySelectorAll("[data-live]");
    var jobs = [];
    regions.forEach(function (region) {
      if (typing(region)) { schedule(); return; }
      var url = region.getAttribute("data-live");
      jobs.push(fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.redirected || r.status === 401 || r.status === 303) { location.href = "/ui/login"; return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null || html === undefined || typing(region)) return;
          var keep = openDetails(region);
          region.innerHTML = html;
          region.querySelectorAll("details > summary").forEach(function (s) {
            if (keep.indexOf(s.textContent) >= 0) s.parentNode.open = true;
          });
          countdowns();
        })
        .catch(function () {}));
    });
    Promise.all(jobs).then(function () { busy = false; });
  }

  // One more look a little after the last change: a gateway writes some rows beside the
  // ledger (a held call's queue entry) just after the event that announced them.
  var SETTLE_MS = 1500;
  var late = null;

  function schedule() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; refresh(); }, DEBOUNCE_MS);
    if (late) clearTimeout(late);
    late = setTimeout(function () { late = null; refresh(); }, SETTLE_MS);
  }

  // Parts of a page loaded after it (a large incident's answers).
  function loadDeferred() {
    document.querySelectorAll("[data-load]").forEach(function (el) {
      var url = el.getAttribute("data-load");
      el.removeAttribute("data-load");
      el.setAttribute("aria-busy", "true");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          el.removeAttribute("aria-busy");
          if (html) el.innerHTML = html;
        })
        .catch(function () { el.removeAttribute("aria-busy"); });
    });
  }

  // Reporting deadlines count down every second.
  function words(ms) {
    var over = ms < 0;
    var m = Math.floor(Math.abs(ms) / 60000);
    if (m === 0) return "due now";
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), min = m % 60;
    var t;
    if (m >= 4 * 1440) t = d + " d " + h + " h";
    else t = Math.floor(m / 60) + " h " + (min < 10 ? "0" : "") + min + " min";
    return over ? "overdue by " + t : t + " left";
  }

  function countdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-deadline"));
      if (!isNaN(at)) el.textContent = words(at - now);
    });
  }

  function live() {
    if (!document.querySelector("[data-live]") || !window.EventSource) return;
    var url = document.body.getAttribute("data-live-url") || "/ui/live";
    var source = new EventSource(url);
    ["event", "alert", "incident", "approval", "containment"].forEach(function (name) {
      source.addEventListener(name, schedule);
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    countdowns();
    setInterval(countdowns, 1000);
    loadDeferred();
    live();
  });
})();
