/* A river or lake popup lists its chiefs (/patrols/chiefs): each with the waters they
 * answer for, their duty in the period and their last patrols (date, length, validity
 * and why not); in the 巡河覆盖 mode the reach's share patrolled comes first. */

import { api } from "./api.js";
import { coverage, period } from "./coverage.js";
import { P, T, getJSON, localDate, pct } from "./patrol_util.js";
import { esc, fmt } from "./util.js";

function chiefHtml(c) {
  var t = T(), names = reachNames();
  var reaches = c.reaches.map(function (code) {
    return '<span class="chief-reach" data-code="' + esc(code) + '">' + esc(names[code] ? names[code] + "（" + code + "）" : code) + "</span>";
  }).join("、");
  var duty = c.duty ? '<div class="chief-duty ' + (c.duty.met ? "met" : "not-met") + '">' +
    esc(fmt(t.chief_duty, { from: c.duty.from, to: c.duty.to, required: c.duty.required, done: c.duty.done,
      met: c.duty.met ? t.chief_met : t.chief_not_met })) + "</div>" : "";
  var patrols = c.patrols.length ? "<ul class=\"chief-patrols\">" + c.patrols.map(function (p) {
    var km = p.length_m != null ? " · " + (p.length_m / 1000).toFixed(1) + " km" : "";
    return '<li class="' + (p.valid ? "valid" : "invalid") + '">' + esc(localDate(p.started_at) || "—") + esc(km) + " · " +
      esc(p.valid ? t.chief_valid : t.chief_invalid) + (p.valid || !p.invalid_reason ? "" : "：" + esc(p.invalid_reason)) + "</li>";
  }).join("") + "</ul>" : '<div class="chief-empty">' + esc(t.chief_no_patrol) + "</div>";
  return '<div class="chief" data-chief="' + esc(c.name) + '"><div class="chief-name"><b>' + esc(c.name) + "</b> " +
    esc([c.level, c.post, c.phone].filter(Boolean).join(" · ")) + "</div>" +
    '<div class="chief-reaches">' + esc(t.chief_reaches) + "：" + reaches + "</div>" + duty +
    '<div class="chief-sub">' + esc(t.chief_patrols) + "</div>" + patrols + "</div>";
}
function reachNames() {
  var out = {};
  (P() ? P().reach_layers : []).forEach(function (id) {
    var e = api.entries[id];
    ((e && e.fc && e.fc.features) || []).forEach(function (f) { out[f.properties.code] = f.properties.name; });
  });
  (coverage.reaches || []).forEach(function (f) { out[f.properties.code] = f.properties.name; });
  return out;
}
function showChiefs(code, el) {
  var t = T(), per = period();
  var box = document.createElement("div");
  box.className = "hehu-chiefs";
  box.innerHTML = '<div class="chief-title">' + esc(t.chiefs) + '</div><div class="chief-loading">' + esc(t.chief_loading) + "</div>";
  el.appendChild(box);
  var url = api.config.urls.chiefs + "?reach=" + encodeURIComponent(code) + "&lang=" + api.config.lang +
    (per.from && per.to ? "&from=" + per.from + "&to=" + per.to : "");
  getJSON(url).then(function (body) {
    box.dataset.loaded = "1";
    box.innerHTML = '<div class="chief-title">' + esc(t.chiefs) + "</div>" +
      (body.chiefs.length ? body.chiefs.map(chiefHtml).join("") : '<div class="chief-empty">' + esc(t.chief_none) + "</div>");
  }).catch(function (err) {
    box.dataset.loaded = "error";
    box.innerHTML = '<div class="error">' + esc(err.message) + "</div>";
  });
}
// A reach's popup: its share patrolled (coverage mode), then its chiefs.
api.addPopupExtension(function (layerId, feature, el) {
  var p = P(), props = feature.properties || {};
  if (!p) { return; }
  if (p.reach_layers.indexOf(layerId) < 0 || !props.code) { return; }
  if (coverage.byCode && coverage.byCode[props.code]) {
    var c = coverage.byCode[props.code], t = T();
    var cov = document.createElement("table");
    cov.className = "hehu-coverage-rows";
    cov.innerHTML = "<tr><th>" + esc(t.coverage_share) + '</th><td class="coverage-share">' + pct(c.share) + "</td></tr><tr><th>" +
      esc(t.coverage_covered_m) + "</th><td>" + Math.round(c.covered_m) + " / " + Math.round(c.length_m) + " m</td></tr>";
    el.appendChild(cov);
  }
  showChiefs(props.code, el);
});

