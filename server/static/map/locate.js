/* Locate me and the problems nearest to me (/query/nearest), for a field team. */

import { api } from "./api.js";
import { esc, fetchJSON, fmt } from "./util.js";

var NEAR_ME_K = 10;

function problemFilter(cfg) {
  var p = cfg.problem;
  if (!p) { return ""; }
  var quote = function (v) { return "'" + String(v).replace(/'/g, "''") + "'"; };
  if (p.values) { return p.field + " IN (" + p.values.map(quote).join(",") + ")"; }
  if (p.not_in && p.not_in.length) { return "NOT " + p.field + " IN (" + p.not_in.map(quote).join(",") + ")"; }
  return "";
}

export function setupLocate(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, byId = ctx.byId;
  var here = L.featureGroup().addTo(map);
  var position = null;
  var nearLayer = config.problem_layers.filter(function (id) { return byId[id].geometry === "Point"; })[0];
  function locate() {
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) { reject(new Error("geolocation")); return; }
      ctx.setPending(1);
      navigator.geolocation.getCurrentPosition(function (pos) {
        ctx.setPending(-1);
        // Browsers report WGS84, the registry's datum; GCJ-02 only for drawing on Amap.
        position = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy || 0 };
        drawHere();
        map.setView(ctx.coordsToLatLng([position.lon, position.lat]), Math.max(map.getZoom(), 15));
        resolve(position);
      }, function (err) {
        ctx.setPending(-1);
        reject(new Error(err.message || String(err.code)));
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  function drawHere() {
    here.clearLayers();
    if (!position) { return; }
    var ll = ctx.coordsToLatLng([position.lon, position.lat]);
    if (position.accuracy > 0) {
      L.circle(ll, { radius: position.accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.1, interactive: false, pane: "hehu-highlight" }).addTo(here);
    }
    L.circleMarker(ll, { radius: 8, color: "#fff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1, pane: "hehu-highlight", className: "hehu-here" })
      .bindTooltip(T.my_position).addTo(here);
  }
  function nearMe() {
    ctx.closeMenu();
    var panel = ctx.queryPanel;
    var got = position ? Promise.resolve(position) : locate();
    got.then(function (pos) {
      var cfg = byId[nearLayer];
      var filter = problemFilter(cfg);
      var url = config.urls.nearest + "?lon=" + pos.lon.toFixed(6) + "&lat=" + pos.lat.toFixed(6) +
        "&layer=" + encodeURIComponent(nearLayer) + "&k=" + NEAR_ME_K + (filter ? "&filter=" + encodeURIComponent(filter) : "") +
        "&lang=" + config.lang;
      panel.hidden = false;
      panel.dataset.state = "running";
      document.getElementById("query-count").textContent = T.querying;
      ctx.setPending(1);
      return fetchJSON(url).then(function (fc) {
        ctx.showResult(fc, url, { distance: true });
        document.getElementById("query-count").textContent = fmt(T.near_me_title, { k: fc.features.length, layer: cfg.title }) +
          " · " + fmt(T.count, { n: fc.features.length });
        panel.dataset.state = "done";
      }).catch(function (err) {
        ctx.showError(err.message);
        panel.dataset.state = "error";
      }).then(function () { ctx.setPending(-1); });
    }).catch(function (err) {
      panel.hidden = false;
      ctx.showError(fmt(T.locate_error, { error: err.message }));
      panel.dataset.state = "error";
    });
  }
  api.nearMe = nearMe;
  ctx.drawHere = drawHere;
  document.getElementById("menu-near-me").addEventListener("click", nearMe);
  var locateControl = L.control({ position: "topleft" });
  locateControl.onAdd = function () {
    var box = L.DomUtil.create("div", "leaflet-bar hehu-locate");
    L.DomEvent.disableClickPropagation(box);
    box.innerHTML = '<a href="#" id="locate-button" role="button" title="' + esc(T.locate_title) + '" aria-label="' +
      esc(T.locate) + '">◎</a><a href="#" id="near-me-button" role="button" title="' + esc(T.near_me) + '">' +
      esc(T.near_me) + "</a>";
    box.querySelector("#locate-button").addEventListener("click", function (ev) {
      ev.preventDefault();
      locate().catch(function (err) {
        var el = document.getElementById("status");
        el.hidden = false;
        el.innerHTML = '<div class="error">' + esc(fmt(T.locate_error, { error: err.message })) + "</div>";
      });
    });
    box.querySelector("#near-me-button").addEventListener("click", function (ev) { ev.preventDefault(); nearMe(); });
    return box;
  };
  locateControl.addTo(map);
}
