// Small map of the features (or extent) on a collection, items or feature page.
// No basemap: the features are drawn on a plain background so the page works offline.
(function () {
  var el = document.getElementById("minimap");
  var dataEl = document.getElementById("minimap-data");
  if (!el || !dataEl || typeof L === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var map = L.map(el, { attributionControl: false });
  L.control.scale({ imperial: false }).addTo(map);
  var style = data.style || {};
  // The district outline, drawn thin and grey underneath, so the features have a place.
  if (data.contextUrl) {
    fetch(data.contextUrl, { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc) { return; }
        var outline = L.geoJSON(fc, { style: { color: "#777", weight: 1, fill: false, dashArray: "4 3" }, interactive: false }).addTo(map);
        outline.bringToBack();
        el.setAttribute("data-context", "1");
      })
      .catch(function () { /* context only: the page works without it */ });
  }
  function colorOf(feature) {
    if (style.by && style.values && feature.properties) {
      var v = feature.properties[style.by];
      if (v !== undefined && v !== null && style.values[String(v)]) { return style.values[String(v)]; }
    }
    return style.color || "#1f78b4";
  }
  if (data.features) {
    var layer = L.geoJSON({ type: "FeatureCollection", features: data.features }, {
      style: function (f) {
        var c = colorOf(f);
        return { color: c, weight: style.weight || 2, fillColor: style.fillColor || c, fillOpacity: style.fillOpacity === undefined ? 0.3 : style.fillOpacity };
      },
      pointToLayer: function (f, latlng) {
        var c = colorOf(f);
        return L.circleMarker(latlng, { radius: style.radius || 5, color: c, fillColor: c, fillOpacity: 0.8, weight: 1 });
      },
      onEachFeature: function (f, l) {
        if (data.itemUrl) {
          l.on("click", function () { window.location.href = data.itemUrl + f.id; });
        }
        l.bindTooltip(String(f.id));
      }
    }).addTo(map);
    var b = layer.getBounds();
    if (b.isValid()) { map.fitBounds(b, { padding: [20, 20], maxZoom: 16 }); } else { map.setView([31.72, 119.53], 10); }
  } else if (data.bbox) {
    var bounds = L.latLngBounds([data.bbox[1], data.bbox[0]], [data.bbox[3], data.bbox[2]]);
    L.rectangle(bounds, { color: "#0b4f8a", weight: 1, fillOpacity: 0.05 }).addTo(map);
    map.fitBounds(bounds, { padding: [10, 10] });
  }
  el.setAttribute("data-ready", "1");
})();
