/* What is drawn over the layers: the search pick (pulsing) and a query's answer with
 * its buffer and target; redrawn when the basemap's datum changes. */

export function setupHighlight(ctx) {
  var map = ctx.map, byId = ctx.byId, extras = ctx.extras;
  var highlight = L.featureGroup().addTo(map);
  var queryLayer = L.featureGroup().addTo(map);
  var hlPane = map.createPane("hehu-highlight");
  hlPane.style.zIndex = "590";

  function drawHighlight(features) {
    highlight.clearLayers();
    if (!features) { return; }
    L.geoJSON({ type: "FeatureCollection", features: features }, {
      coordsToLatLng: ctx.coordsToLatLng,
      style: function () { return { color: "#00e5ff", weight: 6, opacity: 0.9, fill: false, pane: "hehu-highlight" }; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 14, color: "#00e5ff", weight: 4, fill: false, pane: "hehu-highlight", className: "hehu-pulse" });
      },
    }).addTo(highlight);
  }
  function drawQuery(fc) {
    queryLayer.clearLayers();
    if (!fc) { return; }
    var q = fc.query || {};
    if (q.buffer) {
      L.geoJSON(q.buffer, {
        coordsToLatLng: ctx.coordsToLatLng,
        style: { color: "#ff7f00", weight: 2, dashArray: "6 4", fillColor: "#ffbf00", fillOpacity: 0.12, pane: "hehu-highlight", interactive: false },
      }).addTo(queryLayer);
    }
    var target = q.target || q.area;
    if (target) {
      L.geoJSON(target, {
        coordsToLatLng: ctx.coordsToLatLng,
        style: { color: "#0050ff", weight: 4, fill: false, opacity: 0.8, pane: "hehu-highlight", interactive: false },
      }).addTo(queryLayer);
    }
    L.geoJSON(fc, {
      coordsToLatLng: ctx.coordsToLatLng,
      style: { color: "#ffd400", weight: 4, fill: false, pane: "hehu-highlight" },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 9, color: "#111", weight: 2.5, fillColor: "#ffd400", fillOpacity: 0.55, pane: "hehu-highlight" });
      },
      onEachFeature: function (f, layer) {
        var cfg = byId[(f.properties || {}).layer];
        if (cfg) { layer.bindPopup(function () { return ctx.popupContent(cfg, f); }, ctx.popupOptions); }
      },
    }).addTo(queryLayer);
  }
  function redrawExtras() { drawHighlight(extras.highlight); drawQuery(extras.query); ctx.drawHere(); }

  Object.assign(ctx, { drawHighlight: drawHighlight, drawQuery: drawQuery, redrawExtras: redrawExtras, queryLayer: queryLayer });
}
