// Filtering and sorting for the findings table. No network, no libraries:
// the report must work offline, years later, from an auditor's archive.
(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var q = document.getElementById("filter");
  var st = document.getElementById("status-filter");
  var pv = document.getElementById("provider-filter");
  var shown = document.getElementById("shown");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var sortKey = "", sortDir = "ascending";

  rows.forEach(function (r) { r._text = r.textContent.toLowerCase(); });

  function apply() {
    var text = q.value.trim().toLowerCase(), status = st.value, prov = pv.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!status || r.getAttribute("data-status") === status) &&
        (!prov || r.getAttribute("data-provider") === prov) &&
        (!text || r._text.indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) { n++; }
    });
    shown.textContent = n + " of " + rows.length + " shown";
    shown.setAttribute("data-shown", String(n));
    save();
  }

  function value(r, i) {
    var c = r.cells[i];
    var v = c.getAttribute("data-sort");
    return v !== null ? v : c.textContent.trim().toLowerCase();
  }

  function sortBy(key, dir) {
    var idx = -1;
    heads.forEach(function (h, i) {
      if (h.getAttribute("data-key") === key) { idx = i; h.setAttribute("aria-sort", dir); }
      else { h.removeAttribute("aria-sort"); }
    });
    if (idx < 0) { return; }
    sortKey = key; sortDir = dir;
    var sign = dir === "descending" ? -1 : 1;
    rows.sort(function (a, b) {
      var x = value(a, idx), y = value(b, idx);
      var nx = Number(x), ny = Number(y);
      if (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) { return sign * (nx - ny); }
      return sign * (x < y ? -1 : x > y ? 1 : 0);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    save();
  }

  // The view is kept in the URL fragment, so a filtered view can be
  // bookmarked or sent along with the file.
  function save() {
    var p = [];
    if (q.value) { p.push("q=" + encodeURIComponent(q.value)); }
    if (st.value) { p.push("status=" + encodeURIComponent(st.value)); }
    if (pv.value) { p.push("provider=" + encodeURIComponent(pv.value)); }
    if (sortKey) { p.push("sort=" + encodeURIComponent(sortKey), "dir=" + (sortDir === "descending" ? "desc" : "asc")); }
    try { history.replaceState(null, "", p.length ? "#" + p.join("&") : location.pathname); } catch (e) { /* file: URLs in some browsers */ }
  }

  function load() {
    var h = location.hash.replace(/^#/, ""), p = {};
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { p[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); }
    });
    if (p.q) { q.value = p.q; }
    if (p.status) { st.value = p.status; }
    if (p.provider) { pv.value = p.provider; }
    if (p.sort) { sortBy(p.sort, p.dir === "desc" ? "descending" : "ascending"); }
  }

  heads.forEach(function (h) {
    h.addEventListener("click", function () {
      var k = h.getAttribute("data-key");
      sortBy(k, sortKey === k && sortDir === "ascending" ? "descending" : "ascending");
    });
  });
  q.addEventListener("input", apply);
  st.addEventListener("change", apply);
  pv.addEventListener("change", apply);
  load();
  apply();
  document.documentElement.setAttribute("data-ready", "1");
}());
