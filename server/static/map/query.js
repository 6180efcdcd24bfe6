/* The query panel: problems near a river or lake, or within a town; the answer drawn,
 * counted, tabled and downloadable (GeoJSON WGS84, GeoJSON and KML in GCJ-02). On a
 * phone the panel is a bottom sheet whose answer replaces the form. */

import { debounce, esc, fetchJSON, fmt } from "./util.js";

export function setupQuery(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, byId = ctx.byId;
  var panel = document.getElementById("query-panel");
  // A Leaflet control in the top-left column, so that controls other scripts add there
  // (edit.js) stack under it instead of hiding beneath it.
  var queryControl = L.control({ position: "topleft" });
  queryControl.onAdd = function () {
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    return panel;
  };
  queryControl.addTo(map);
  var form = document.getElementById("query-form");
  var targetInput = document.getElementById("query-target");
  var targetList = document.getElementById("query-target-list");
  var errorBox = document.getElementById("query-error");
  var resultBox = document.getElementById("query-result");
  var layerBox = document.getElementById("query-layers");
  document.getElementById("query-toggle").addEventListener("click", function () { panel.hidden = !panel.hidden; });
  config.problem_layers.forEach(function (id) {
    var label = document.createElement("label");
    label.innerHTML = '<input type="checkbox" name="layers" value="' + esc(id) + '" checked> ' + esc(byId[id].title);
    layerBox.appendChild(label);
  });
  function mode() { return form.querySelector("input[name=mode]:checked").value; }
  form.querySelectorAll("input[name=mode]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var lab = document.getElementById("query-target-label");
      lab.textContent = lab.dataset[mode()];
      document.getElementById("query-distance-row").hidden = mode() !== "near";
      targetInput.value = "";
      targetList.innerHTML = "";
    });
  });
  targetInput.addEventListener("input", debounce(function () {
    var q = targetInput.value.trim();
    if (!q) { return; }
    var layers = config.query_targets[mode()].join(",");
    fetchJSON(config.urls.search + "?q=" + encodeURIComponent(q) + "&limit=10&layers=" + layers + "&lang=" + config.lang)
      .then(function (body) {
        targetList.innerHTML = body.results.map(function (r) {
          return '<option value="' + esc(r.label) + '">' + esc(r.layer_title + (r.town ? " · " + r.town : "")) + "</option>";
        }).join("");
      }).catch(function () {});
  }, 200));

  function queryUrl() {
    var layers = Array.prototype.map.call(form.querySelectorAll("input[name=layers]:checked"), function (c) { return c.value; });
    var target = encodeURIComponent(targetInput.value.trim());
    // Errors come back in the page's language, whatever the browser prefers.
    var allFlag = (document.getElementById("query-all").checked ? "&all=true" : "") + "&lang=" + config.lang;
    if (mode() === "near") {
      return config.urls.near + "?target=" + target + "&distance=" +
        encodeURIComponent(document.getElementById("query-distance").value) + "&layers=" + layers.join(",") + allFlag;
    }
    return config.urls.within + "?area=" + target + "&layers=" + layers.join(",") + allFlag;
  }
  function showError(msg) {
    errorBox.textContent = msg;
    errorBox.hidden = false;
    resultBox.hidden = true;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errorBox.hidden = true;
    var url = queryUrl();
    panel.hidden = false;
    panel.dataset.state = "running";
    document.getElementById("query-count").textContent = T.querying;
    ctx.setPending(1);
    fetchJSON(url).then(function (fc) {
      showResult(fc, url, { distance: mode() === "near", all: document.getElementById("query-all").checked });
      panel.dataset.state = "done";
    }).catch(function (err) {
      showError(err.message);
      panel.dataset.state = "error";
    }).then(function () { ctx.setPending(-1); });
  });
  // The answer of any question (near, within, near me): drawn, counted, tabled, and
  // downloadable as GeoJSON (WGS84), GeoJSON and KML in GCJ-02 for Amap-based apps.
  function showResult(fc, url, opts) {
    ctx.extras.query = fc;
    ctx.drawQuery(fc);
    var n = fc.numberMatched != null ? fc.numberMatched : fc.features.length;
    document.getElementById("query-count").textContent = fmt(opts.all ? T.count_all : T.count, { n: n });
    document.getElementById("query-count").dataset.count = String(n);
    document.getElementById("query-download").href = url + "&download=1";
    document.getElementById("query-download-gcj").href = url + "&download=1&crs=gcj02";
    document.getElementById("query-download-kml").href = url + "&download=1&format=kml&crs=gcj02";
    document.getElementById("query-table").classList.toggle("no-distance", !opts.distance);
    errorBox.hidden = true;
    var tbody = document.querySelector("#query-table tbody");
    tbody.innerHTML = fc.features.map(function (f, i) {
      var p = f.properties || {};
      var cfg = byId[p.layer] || { id_field: "code", title: p.layer, fields: {} };
      var kind = ["category", "kind", "status"].filter(function (k) { return p[k] != null && p[k] !== ""; })
        .map(function (k) { return ctx.display(cfg, k, p[k]); }).join(" / ");
      var dist = p.distance_m != null ? (Math.round(p.distance_m * 10) / 10).toFixed(1) : "";
      return '<tr data-i="' + i + '"><td>' + esc(p[cfg.id_field] || p.code || "") + "</td><td>" + esc(cfg.title) +
        "</td><td>" + esc(kind) + "</td><td>" + esc(p.town || "") + '</td><td class="num">' + dist + "</td></tr>";
    }).join("");
    tbody.onclick = function (e) {
      var tr = e.target.closest("tr[data-i]");
      if (!tr) { return; }
      var f = fc.features[Number(tr.dataset.i)];
      var gj = L.geoJSON(f, { coordsToLatLng: ctx.coordsToLatLng });
      map.fitBounds(gj.getBounds(), { maxZoom: 17, padding: [60, 60] });
    };
    resultBox.hidden = false;
    panel.classList.add("has-result");
    var bounds = ctx.queryLayer.getBounds();
    // Keep the answer clear of the panel: on the left on a desktop, below on a phone.
    if (bounds.isValid()) {
      if (ctx.isPhone()) {
        map.fitBounds(bounds, { paddingTopLeft: [20, 70], paddingBottomRight: [20, panel.offsetHeight + 20], maxZoom: 17 });
      } else {
        map.fitBounds(bounds, { paddingTopLeft: [panel.offsetWidth + 70, 40], paddingBottomRight: [40, 40], maxZoom: 17 });
      }
    }
  }
  function clearQuery() {
    ctx.extras.query = null;
    ctx.drawQuery(null);
    resultBox.hidden = true;
    errorBox.hidden = true;
    panel.classList.remove("has-result");
  }
  document.getElementById("query-clear").addEventListener("click", clearQuery);
  // On a phone the answer replaces the form in the sheet: "查询" brings the form back.
  document.getElementById("query-edit").addEventListener("click", function () { panel.classList.remove("has-result"); });
  document.getElementById("query-close").addEventListener("click", function () { clearQuery(); panel.hidden = true; });

  Object.assign(ctx, { queryPanel: panel, showResult: showResult, showError: showError });
}
