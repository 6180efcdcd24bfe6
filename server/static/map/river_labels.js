/* River names along their lines, from zoom 12.
 *
 * Leaflet has no text along a path: each name is a small rotated label placed on the
 * line where it runs straight enough, turned to read left to right, with a halo, and
 * dropped where it would touch a label already placed. */

import { api } from "./api.js";
import { debounce, esc } from "./util.js";

var RIVER_LABEL_ZOOM = 12;

function pointAt(pts, cum, d) {
  for (var i = 1; i < pts.length; i++) {
    if (cum[i] >= d) {
      var seg = cum[i] - cum[i - 1] || 1, t = (d - cum[i - 1]) / seg;
      return L.point(pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t, pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t);
    }
  }
  return pts[pts.length - 1];
}

export function setupRiverLabels(ctx) {
  var map = ctx.map, entries = ctx.entries, byId = ctx.byId;
  var riverPane = map.createPane("hehu-river-labels");
  riverPane.style.zIndex = "580";
  riverPane.style.pointerEvents = "none";
  var riverLabels = L.layerGroup().addTo(map);

  function labelRivers() {
    riverLabels.clearLayers();
    var entry = entries.rivers;
    if (!entry || !entry.fc || !map.hasLayer(entry.group) || map.getZoom() < RIVER_LABEL_ZOOM) { return; }
    var size = map.getSize(), placed = [], byName = {}, order = [];
    entry.fc.features.forEach(function (f) {
      var name = f.properties && f.properties[byId.rivers.label_field];
      var g = f.geometry;
      if (!name || !g) { return; }
      var lines = g.type === "LineString" ? [g.coordinates] : (g.type === "MultiLineString" ? g.coordinates : []);
      if (!byName[name]) { byName[name] = []; order.push({ name: name, grade: f.properties.grade || "" }); }
      lines.forEach(function (coords) {
        byName[name].push(coords.map(function (c) { return map.latLngToContainerPoint(ctx.coordsToLatLng(c)); }));
      });
    });
    var rank = { "区级": 0, "镇级": 1, "村级": 2 };
    order.sort(function (a, b) { return (rank[a.grade] || 3) - (rank[b.grade] || 3); });
    order.forEach(function (o) {
      var name = o.name, font = o.grade === "区级" ? 13 : 12, len = name.length * font + 6, count = 0;
      byName[name].forEach(function (pts) {
        var cum = [0];
        for (var i = 1; i < pts.length; i++) { cum.push(cum[i - 1] + pts[i - 1].distanceTo(pts[i])); }
        var total = cum[cum.length - 1];
        for (var d = len / 2 + 10; d < total - len / 2 && count < 3; d += len / 2) {
          var a = pointAt(pts, cum, d - len / 2), b = pointAt(pts, cum, d + len / 2), m = pointAt(pts, cum, d);
          // Straight enough: the chord is nearly as long as the line under the label.
          if (a.distanceTo(b) < len * 0.85) { continue; }
          if (m.x < 30 || m.y < 30 || m.x > size.x - 30 || m.y > size.y - 30) { continue; }
          var r = len / 2;
          if (placed.some(function (p) { return p.m.distanceTo(m) < (p.r + r) * 0.8; })) { continue; }
          var angle = Math.atan2(b.y - a.y, b.x - a.x) * 180 / Math.PI;
          if (angle > 90) { angle -= 180; } else if (angle < -90) { angle += 180; }
          placed.push({ m: m, r: r });
          L.marker(map.containerPointToLatLng(m), {
            pane: "hehu-river-labels", interactive: false, keyboard: false,
            icon: L.divIcon({
              className: "hehu-river-label", iconSize: [0, 0],
              html: '<span style="font-size:' + font + "px;transform:translate(-50%,-50%) rotate(" + angle.toFixed(1) + 'deg)">' + esc(name) + "</span>",
            }),
          }).addTo(riverLabels);
          count++;
          d += Math.max(len * 4, 350);  // the same name again only far along the river
        }
      });
    });
  }
  api.labelRivers = labelRivers;
  ctx.labelRivers = labelRivers;
  map.on("zoomend moveend", debounce(labelRivers, 120));
}
