/* Layers: one pane and group per catalog layer, read from the OGC API items endpoint
 * for the current view (bbox + limit, never inlined), large point layers clustered, a
 * capped layer saying "zoom in to see all" (the status line). */

import { api, layerHooks } from "./api.js";
import { ShapeMarker } from "./shapes.js";
import { DETAIL_ZOOM, withDerived } from "./style.js";
import { debounce, esc, fetchJSON, fidOf, fmt } from "./util.js";

// Links from elsewhere (the targets page) open the map on one layer with property
// filters: /map?layer=violations&filter=status:整改中,反弹&filter=town:儒林镇
export function parseLinked(entries) {
  var q = new URLSearchParams(window.location.search);
  var id = q.get("layer");
  if (!id || !entries[id]) { return null; }
  var pairs = q.getAll("filter").map(function (f) {
    var i = f.indexOf(":");
    return i > 0 ? [f.slice(0, i), f.slice(i + 1)] : null;
  }).filter(Boolean);
  var extra = pairs.map(function (p) { return "&" + encodeURIComponent(p[0]) + "=" + encodeURIComponent(p[1]); }).join("");
  return { id: id, query: extra, pairs: pairs };
}

export function setupLayers(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, entries = ctx.entries, state = ctx.state;
  var errors = {};

  config.layers.forEach(function (cfg) {
    var pane = map.createPane("hehu-" + cfg.id);
    pane.style.zIndex = String(400 + Math.min(cfg.order, 150));
    var group = cfg.cluster
      ? L.markerClusterGroup({
          chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 45,
          disableClusteringAtZoom: 17, spiderfyOnMaxZoom: true,
        })
      : L.featureGroup();
    group.hehuLayerId = cfg.id;
    entries[cfg.id] = { cfg: cfg, group: group, seq: 0, loaded: null, complete: false, fc: null, byFid: {} };
    api.layers[cfg.id] = group;
  });
  ctx.linked = parseLinked(entries);

  function draw(entry) {
    var cfg = entry.cfg, fc = entry.fc;
    entry.group.clearLayers();
    entry.byFid = {};
    if (!fc) { return; }
    var hook = layerHooks[cfg.id];
    if (hook && hook.beforeDraw) { hook.beforeDraw(fc); }
    var geo = L.geoJSON(fc, {
      coordsToLatLng: ctx.coordsToLatLng,
      style: function (f) { return ctx.styleOf(cfg, withDerived(cfg, f.properties || {}), f.geometry && f.geometry.type); },
      pointToLayer: function (f, latlng) {
        var st = ctx.styleOf(cfg, withDerived(cfg, f.properties || {}));
        st.shape = cfg.shape || "circle";
        return new ShapeMarker(latlng, st);
      },
      onEachFeature: function (f, layer) {
        entry.byFid[fidOf(f)] = layer;
        layer.feature = f;
        layer.bindPopup(function () { return ctx.popupContent(cfg, f); }, ctx.popupOptions);
        if (cfg.label && f.properties && f.properties[cfg.label_field]) {
          layer.bindTooltip(esc(f.properties[cfg.label_field]), {
            permanent: true, direction: "center", className: "hehu-label hehu-label-" + cfg.id,
          });
        }
      },
    });
    if (cfg.cluster) { entry.group.addLayers(geo.getLayers()); } else { entry.group.addLayer(geo); }
  }

  function setPending(delta) {
    state.pending += delta;
    ctx.container.dataset.pending = String(state.pending);
    if (state.pending === 0) { ctx.container.dataset.loaded = "1"; }
  }

  function load(id, force) {
    var entry = entries[id];
    if (!map.hasLayer(entry.group)) { return Promise.resolve(); }
    var view = ctx.viewBbox(0);
    if (!force && entry.complete && ctx.bboxContains(entry.loaded, view)) { return Promise.resolve(); }
    var bbox = ctx.viewBbox(0.25);
    var seq = ++entry.seq;
    var linked = ctx.linked;
    var url = config.urls.items.replace("{id}", encodeURIComponent(id)) +
      "?bbox=" + bbox.map(function (v) { return v.toFixed(6); }).join(",") +
      "&limit=" + config.max_features + "&f=json" +
      (entry.cfg.read ? "&sortby=" + encodeURIComponent(entry.cfg.read.sortby) +
        "&properties=" + entry.cfg.read.properties.join(",") : "") +
      (linked && linked.id === id ? linked.query : "");
    setPending(1);
    return fetchJSON(url).then(function (fc) {
      if (seq !== entry.seq) { return; }
      delete errors[id];
      entry.fc = fc;
      entry.loaded = bbox;
      var returned = fc.numberReturned != null ? fc.numberReturned : fc.features.length;
      var matched = fc.numberMatched != null ? fc.numberMatched : returned;
      entry.complete = matched <= returned;
      entry.shown = returned;
      entry.matched = matched;
      draw(entry);
      if (id === "rivers") { ctx.labelRivers(); }
    }).catch(function (err) {
      if (seq === entry.seq) { errors[id] = err.message; }
    }).then(function () {
      setPending(-1);
      updateStatus();
    });
  }
  function loadVisible(force) {
    config.layers.forEach(function (cfg) { load(cfg.id, force); });
  }
  api.reload = function (id) {
    if (id == null) { return Promise.all(config.layers.map(function (c) { return load(c.id, true); })); }
    return load(id, true);
  };

  // The status line: a basemap that fails, a layer that failed, a layer capped.
  function updateStatus() {
    var el = document.getElementById("status");
    var lines = [];
    if (state.basemapError) {
      lines.push('<div class="error" id="basemap-error">' + esc(state.basemapError + "：" + T.offline_basemap) + "</div>");
    }
    config.layers.forEach(function (cfg) {
      var e = entries[cfg.id];
      if (!map.hasLayer(e.group)) { return; }
      if (errors[cfg.id]) {
        lines.push('<div class="error">' + esc(fmt(T.load_error, { layer: cfg.title, error: errors[cfg.id] })) + "</div>");
      } else if (e.fc && !e.complete) {
        lines.push("<div>" + esc(fmt(T.zoom_in, { layer: cfg.title, shown: e.shown, total: e.matched })) + "</div>");
      }
    });
    el.innerHTML = lines.join("");
    el.hidden = lines.length === 0;
  }

  Object.assign(ctx, { draw: draw, setPending: setPending, load: load, loadVisible: loadVisible, updateStatus: updateStatus });
}

// What reads layers again as the view changes: a layer switched on, the view moved,
// problem polygons crossing the detail zoom (drawn in full or faded).
export function watchView(ctx) {
  var map = ctx.map, config = ctx.config, entries = ctx.entries;
  map.on("overlayadd", function (ev) {
    if (ev.layer.hehuLayerId) { ctx.load(ev.layer.hehuLayerId, false); }
    ctx.updateLegend();
    ctx.updateStatus();
  });
  map.on("overlayremove", function () { ctx.updateLegend(); ctx.updateStatus(); ctx.labelRivers(); });
  var detailed = map.getZoom() >= DETAIL_ZOOM;
  map.on("zoomend", function () {
    var now = map.getZoom() >= DETAIL_ZOOM;
    if (now === detailed) { return; }
    detailed = now;
    config.layers.forEach(function (cfg) {
      if (cfg.problem && cfg.geometry !== "Point" && cfg.geometry !== "LineString") { ctx.draw(entries[cfg.id]); }
    });
  });
  map.on("moveend", debounce(function () { ctx.loadVisible(false); }, 250));
}
