/* The 巡河覆盖 mode (toolbar button; the ☰ menu on a phone): a panel with the period
 * (by default the month of the newest patrol), an optional river, a summary and a small
 * legend; each reach drawn solid where a valid track came within the buffer and red
 * dashed where none did, from /patrols/coverage. */

import { api } from "./api.js";
import { P, T, getJSON, pct } from "./patrol_util.js";
import { esc, fmt } from "./util.js";

// While the mode is on: reach code -> its coverage; every reach, read once for the mode.
export var coverage = { byCode: null, reaches: null };

// The period the panel shows (the chiefs' duty in a popup is counted over it too).
export function period() {
  var p = P(), from = document.getElementById("coverage-from"), to = document.getElementById("coverage-to");
  return { from: (from && from.value) || p.from, to: (to && to.value) || p.to };
}


var group = null;
var lastFc = null;
function drawCoverage() {
  var p = P(), cov = p.coverage;
  group.clearLayers();
  if (!lastFc) { return; }
  var rivers = (api.config.layers || []).filter(function (c) { return c.id === "rivers"; })[0];
  var popup = function (f) { return function () { return api.popupContent(rivers, f); }; };
  var byCode = {};
  (coverage.reaches || []).forEach(function (f) { byCode[f.properties.code] = f; });
  lastFc.features.forEach(function (f) {
    var reach = byCode[f.id] || byCode[f.properties.code];
    if (!reach) { return; }
    var feature = { type: "Feature", id: reach.id, properties: reach.properties, geometry: reach.geometry };
    L.geoJSON(reach, {
      coordsToLatLng: api.coordsToLatLng,
      style: { color: cov.covered.color, weight: cov.covered.weight, opacity: 0.95, pane: "hehu-coverage", className: "hehu-covered" },
    }).bindPopup(popup(feature), api.popupOptions).addTo(group);
    if (f.geometry) {
      L.geoJSON(f.geometry, {
        coordsToLatLng: api.coordsToLatLng,
        style: { color: "#ffffff", weight: cov.uncovered.weight + 1, opacity: 1, pane: "hehu-coverage", interactive: false },
      }).addTo(group);
      L.geoJSON(f.geometry, {
        coordsToLatLng: api.coordsToLatLng,
        style: { color: cov.uncovered.color, weight: cov.uncovered.weight, dashArray: cov.uncovered.dash, opacity: 1,
          pane: "hehu-coverage", className: "hehu-uncovered" },
      }).bindPopup(popup(feature), api.popupOptions).addTo(group);
    }
  });
}
function summarize(fc) {
  var t = T(), length = 0, covered = 0;
  fc.features.forEach(function (f) { length += f.properties.length_m; covered += f.properties.covered_m; });
  var el = document.getElementById("coverage-summary");
  el.textContent = fmt(t.coverage_summary, { n: fc.features.length, length: (length / 1000).toFixed(1),
    share: length ? pct(covered / length) : "—" });
  el.dataset.covered = String(covered);
  el.dataset.length = String(length);
}
function loadCoverage() {
  var per = period(), river = document.getElementById("coverage-river").value.trim();
  var err = document.getElementById("coverage-error");
  err.hidden = true;
  var url = api.config.urls.coverage + "?from=" + encodeURIComponent(per.from) + "&to=" + encodeURIComponent(per.to) +
    (river ? "&river=" + encodeURIComponent(river) : "") + "&lang=" + api.config.lang;
  var reachesUrl = api.config.urls.items.replace("{id}", "rivers") + "?limit=" + api.config.max_features + "&f=json";
  api.setPending(1);
  var container = api.map.getContainer();
  container.dataset.coverage = "loading";
  return Promise.all([getJSON(url), coverage.reaches ? Promise.resolve(null) : getJSON(reachesUrl)]).then(function (answers) {
    if (answers[1]) { coverage.reaches = answers[1].features; }
    lastFc = answers[0];
    coverage.byCode = {};
    lastFc.features.forEach(function (f) { coverage.byCode[f.properties.code] = f.properties; });
    drawCoverage();
    summarize(lastFc);
    container.dataset.coverage = "loaded";
    var b = group.getBounds();
    if (river && b.isValid()) { api.map.fitBounds(b, { padding: [40, 40] }); }
  }).catch(function (e) {
    err.textContent = e.message;
    err.hidden = false;
    container.dataset.coverage = "error";
  }).then(function () { api.setPending(-1); });
}
function setMode(on) {
  var panel = document.getElementById("coverage-panel");
  document.body.classList.toggle("coverage-mode", on);
  panel.hidden = !on;
  document.getElementById("coverage-toggle").setAttribute("aria-pressed", on ? "true" : "false");
  document.getElementById("menu-coverage").setAttribute("aria-pressed", on ? "true" : "false");
  if (on) {
    group.addTo(api.map);
    return loadCoverage();
  }
  coverage.byCode = null;
  lastFc = null;
  group.clearLayers();
  api.map.removeLayer(group);
  delete api.map.getContainer().dataset.coverage;
  return Promise.resolve();
}

api.ready.then(function () {
  var p = P();
  var panel = document.getElementById("coverage-panel");
  if (!p || !panel) { return; }
  var t = T();
  var pane = api.map.createPane("hehu-coverage");
  pane.style.zIndex = "565";
  group = L.featureGroup();
  document.getElementById("coverage-from").value = p.from || "";
  document.getElementById("coverage-to").value = p.to || "";
  var cov = p.coverage;
  document.getElementById("coverage-legend").innerHTML =
    '<div class="legend-item"><span class="swatch line" style="border-top:4px solid ' + cov.covered.color + '"></span>' +
    esc(fmt(t.coverage_covered, { buffer: p.buffer_m })) + "</div>" +
    '<div class="legend-item"><span class="swatch line" style="border-top:4px dashed ' + cov.uncovered.color + '"></span>' +
    esc(t.coverage_uncovered) + "</div>";
  // The panel is a control of the top-left column, like the query panel.
  var ctl = L.control({ position: "topleft" });
  ctl.onAdd = function () {
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    return panel;
  };
  ctl.addTo(api.map);
  panel.hidden = true;
  document.getElementById("coverage-toggle").addEventListener("click", function () { setMode(panel.hidden); });
  document.getElementById("menu-coverage").addEventListener("click", function () { api.closeMenu(); setMode(panel.hidden); });
  document.getElementById("coverage-close").addEventListener("click", function () { setMode(false); });
  document.getElementById("coverage-form").addEventListener("submit", function (ev) { ev.preventDefault(); loadCoverage(); });
  api.map.on("baselayerchange", function () { setTimeout(drawCoverage, 0); });
  api.coverage = { show: function () { return setMode(true); }, hide: function () { return setMode(false); },
    data: function () { return lastFc; } };
});
