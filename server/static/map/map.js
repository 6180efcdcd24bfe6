/* hehu web map: Leaflet page driven by /map/config.json (built from the layer catalog).
 *
 * Layers are read from the OGC API items endpoint for the current view (bbox + limit),
 * never inlined; large point layers are clustered; a layer with more features in view
 * than the per-view cap says "zoom in to see all". Other scripts (edit.js) reach the
 * map through window.hehuMap: {map, config, layers, reload(id), addPopupExtension(fn),
 * ready (a Promise resolved once the map is built)}.
 */
(function () {
  "use strict";

  var popupExtensions = [];
  // Per-layer hooks other scripts add (patrols.js): {beforeDraw(fc), style(props, st),
  // legend() -> HTML replacing the layer's legend items}.
  var layerHooks = {};
  var resolveReady;
  var api = {
    map: null,
    config: null,
    layers: {},
    ready: new Promise(function (resolve) { resolveReady = resolve; }),
    reload: function () {},
    addPopupExtension: function (fn) { popupExtensions.push(fn); },
    addLayerHook: function (id, hook) { layerHooks[id] = hook; },
    pending: function () { return 0; },
  };
  window.hehuMap = api;

  var container = document.getElementById("map");
  fetch(container.dataset.config, { headers: { Accept: "application/json" } })
    .then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    })
    .then(init)
    .catch(function (err) {
      var status = document.getElementById("status");
      status.hidden = false;
      status.textContent = "map configuration: " + err.message;
    });

  // -- small helpers -----------------------------------------------------------------

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function debounce(fn, ms) {
    var t = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function fetchJSON(url) {
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var msg = (body && (body.description || body.message)) || ("HTTP " + r.status);
          var err = new Error(msg);
          err.status = r.status;
          throw err;
        }
        return body;
      });
    });
  }

  function fidOf(feature) {
    if (feature.properties && feature.properties.fid != null) { return feature.properties.fid; }
    return feature.id;
  }

  // -- point symbols: one shape per layer, from the catalog's icon ----------------------

  // A circle marker whose SVG path is the layer's shape (square, triangle, diamond), so
  // that styles, popups, clustering and edits treat it as any circle marker. The
  // printed maps draw the same shapes (geo/carto.py ICON_SHAPES).
  var ShapeMarker = L.CircleMarker.extend({
    options: { shape: "circle" },
    _updatePath: function () {
      var shape = this.options.shape;
      if (shape === "circle" || !this._renderer._setPath || this._empty()) {
        L.CircleMarker.prototype._updatePath.call(this);
        return;
      }
      var p = this._point, r = Math.max(this._radius, 1), d;
      if (shape === "square") {
        var a = r * 0.9;
        d = "M" + (p.x - a) + "," + (p.y - a) + "h" + 2 * a + "v" + 2 * a + "h" + (-2 * a) + "z";
      } else if (shape === "triangle") {
        var h = r * 1.3;
        d = "M" + p.x + "," + (p.y - h) + "L" + (p.x + h * 0.95) + "," + (p.y + h * 0.7) + "L" + (p.x - h * 0.95) + "," + (p.y + h * 0.7) + "z";
      } else {
        var q = r * 1.25;
        d = "M" + p.x + "," + (p.y - q) + "L" + (p.x + q) + "," + p.y + "L" + p.x + "," + (p.y + q) + "L" + (p.x - q) + "," + p.y + "z";
      }
      this._renderer._setPath(this, d);
    },
  });

  // -- the map -------------------------------------------------------------------------

  function init(config) {
    var T = config.strings;
    var state = { gcj: false, pending: 0 };
    var entries = {};
    var byId = {};
    config.layers.forEach(function (cfg) { byId[cfg.id] = cfg; });

    var map = L.map("map", { zoomControl: false, attributionControl: true, minZoom: 8, maxZoom: 19 });
    //: From this zoom every feature of a problem polygon layer is drawn in full.
    var DETAIL_ZOOM = 12;
    L.control.zoom({ position: "topleft", zoomInTitle: "+", zoomOutTitle: "-" }).addTo(map);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    var b0 = config.bbox;
    map.fitBounds([[b0[1], b0[0]], [b0[3], b0[2]]], { padding: [10, 10] });

    // Offsets for the GCJ-02 basemap (Amap): overlays are drawn shifted into GCJ-02.
    function project(lon, lat) { return state.gcj ? hehuGcj02.toGcj02(lon, lat) : [lon, lat]; }
    function coordsToLatLng(c) { var p = project(c[0], c[1]); return L.latLng(p[1], p[0]); }
    function toWgs(latlng) {
      return state.gcj ? hehuGcj02.toWgs84(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
    }
    function viewBbox(pad) {
      var b = pad ? map.getBounds().pad(pad) : map.getBounds();
      var sw = toWgs(b.getSouthWest()), ne = toWgs(b.getNorthEast());
      return [Math.max(sw[0], -180), Math.max(sw[1], -90), Math.min(ne[0], 180), Math.min(ne[1], 90)];
    }
    function bboxContains(outer, inner) {
      return outer && outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
    }
    function latLngBounds(bbox) {
      var a = project(bbox[0], bbox[1]), c = project(bbox[2], bbox[3]);
      return L.latLngBounds([a[1], a[0]], [c[1], c[0]]);
    }

    // -- styles from the catalog ---------------------------------------------------------

    function operand(props, o) { return "field" in o ? props[o.field] : o.value; }
    function evalDerived(d, props) {
      var a = operand(props, d.left), b = operand(props, d.right);
      if (a == null || b == null || a === "" || b === "") { return null; }
      switch (d.op) {
        case "<=": return a <= b;
        case "<": return a < b;
        case ">=": return a >= b;
        case ">": return a > b;
        case "==": return a == b; // eslint-disable-line eqeqeq
        case "!=": return a != b; // eslint-disable-line eqeqeq
      }
      return null;
    }
    function withDerived(cfg, props) {
      cfg.derived.forEach(function (d) { props[d.name] = evalDerived(d, props); });
      return props;
    }
    function key(value) {
      if (value === true) { return "True"; }
      if (value === false) { return "False"; }
      return value == null ? "" : String(value);
    }
    function isProblem(cfg, props) {
      var p = cfg.problem;
      if (!p) { return false; }
      var v = props[p.field];
      if (p.values) { return p.values.indexOf(v) >= 0; }
      return (p.not_in || []).indexOf(v) < 0;
    }
    function colorOf(cfg, props) {
      var s = cfg.style;
      if (s.by) {
        var c = s.values[key(props[s.by])];
        if (c) { return c; }
      }
      return s.color;
    }
    function styleOf(cfg, props, geomType) {
      var s = cfg.style, color = colorOf(cfg, props);
      // Only areas are filled: a line with fill set would shade the shape it encloses.
      var areal = /Polygon/.test(geomType || cfg.geometry);
      var st = {
        color: color, weight: s.weight, opacity: 0.95, dashArray: s.dash || null,
        fillColor: s.by ? color : (s.fill_color || color), fillOpacity: s.fill_opacity,
        fill: s.fill_opacity > 0 && areal, pane: "hehu-" + cfg.id,
      };
      // At district zoom hundreds of small ponds are confetti: the ones that are not
      // problems fade to faint outlines, and a problem pond keeps an outline wide enough
      // to be seen however small it is.
      if (areal && cfg.problem && map.getZoom() < DETAIL_ZOOM) {
        if (isProblem(cfg, props)) {
          st.weight = Math.max(st.weight, 2.5); st.fillOpacity = Math.max(st.fillOpacity, 0.8);
        } else {
          st.opacity = 0.35; st.fillOpacity = 0.15; st.weight = 0.6;
        }
      }
      if (cfg.geometry === "Point") {
        st.radius = s.radius; st.weight = 1.2; st.color = "#ffffff"; st.fillOpacity = 0.9; st.fill = true;
        st.fillColor = color;
        if (cfg.resolved_style && !isProblem(cfg, props)) {
          st.color = cfg.resolved_style.color; st.fillOpacity = cfg.resolved_style.fill_opacity;
          st.weight = 1.6; st.fill = true;
        }
      }
      var hook = layerHooks[cfg.id];
      if (hook && hook.style) { st = hook.style(props, st) || st; }
      return st;
    }

    // -- popups ----------------------------------------------------------------------------

    function display(cfg, name, value) {
      if (value == null || value === "") { return ""; }
      var f = cfg.fields[name] || {};
      if (f.type === "bool" || value === true || value === false) { return value ? T.yes : T.no; }
      if (f.enum_labels && f.enum_labels[value]) { return f.enum_labels[value]; }
      if (f.type === "float" && typeof value === "number") { return String(Math.round(value * 100) / 100); }
      return String(value);
    }
    function popupContent(cfg, feature) {
      var props = feature.properties || {};
      var rows = cfg.popup.map(function (name) {
        var v = display(cfg, name, props[name]);
        if (v === "") { return ""; }
        var title = (cfg.fields[name] || {}).title || name;
        return "<tr><th>" + esc(title) + "</th><td>" + esc(v) + "</td></tr>";
      }).join("");
      var el = document.createElement("div");
      el.className = "hehu-popup";
      el.innerHTML = "<h3>" + esc(props[cfg.label_field] || cfg.title) + "</h3><div class=\"layer\">" +
        esc(cfg.title) + "</div><table>" + rows + "</table>";
      popupExtensions.forEach(function (fn) {
        try { fn(cfg.id, feature, el); } catch (e) { if (window.console) { console.warn(e); } }
      });
      return el;
    }

    // -- overlays -------------------------------------------------------------------------

    // Below 600 px the page is a phone: a search bar and one menu, layers and legend
    // behind toggles, popups and query answers in a bottom sheet (map.css does the rest).
    var phoneQuery = window.matchMedia("(max-width: 600px)");
    function isPhone() { return phoneQuery.matches; }
    // Popups pan clear of the toolbar (top left) and the legend (bottom right); on a
    // phone they open in the bottom sheet and the map does not move.
    var POPUP_OPTIONS = { maxWidth: 360, autoPanPaddingTopLeft: [60, 70], autoPanPaddingBottomRight: [300, 30], autoPan: !isPhone() };
    var overlays = {};
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
      overlays[cfg.id] = group;
    });

    function draw(entry) {
      var cfg = entry.cfg, fc = entry.fc;
      entry.group.clearLayers();
      entry.byFid = {};
      if (!fc) { return; }
      var hook = layerHooks[cfg.id];
      if (hook && hook.beforeDraw) { hook.beforeDraw(fc); }
      var geo = L.geoJSON(fc, {
        coordsToLatLng: coordsToLatLng,
        style: function (f) { return styleOf(cfg, withDerived(cfg, f.properties || {}), f.geometry && f.geometry.type); },
        pointToLayer: function (f, latlng) {
          var st = styleOf(cfg, withDerived(cfg, f.properties || {}));
          st.shape = cfg.shape || "circle";
          return new ShapeMarker(latlng, st);
        },
        onEachFeature: function (f, layer) {
          entry.byFid[fidOf(f)] = layer;
          layer.feature = f;
          layer.bindPopup(function () { return popupContent(cfg, f); }, POPUP_OPTIONS);
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
      container.dataset.pending = String(state.pending);
      if (state.pending === 0) { container.dataset.loaded = "1"; }
    }

    // Links from elsewhere (the targets page) open the map on one layer with property
    // filters: /map?layer=violations&filter=status:整改中,反弹&filter=town:儒林镇
    var linked = (function () {
      var q = new URLSearchParams(window.location.search);
      var id = q.get("layer");
      if (!id || !entries[id]) { return null; }
      var pairs = q.getAll("filter").map(function (f) {
        var i = f.indexOf(":");
        return i > 0 ? [f.slice(0, i), f.slice(i + 1)] : null;
      }).filter(Boolean);
      var extra = pairs.map(function (p) { return "&" + encodeURIComponent(p[0]) + "=" + encodeURIComponent(p[1]); }).join("");
      return { id: id, query: extra, pairs: pairs };
    })();

    var errors = {};
    function load(id, force) {
      var entry = entries[id];
      if (!map.hasLayer(entry.group)) { return Promise.resolve(); }
      var view = viewBbox(0);
      if (!force && entry.complete && bboxContains(entry.loaded, view)) { return Promise.resolve(); }
      var bbox = viewBbox(0.25);
      var seq = ++entry.seq;
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
        if (id === "rivers") { labelRivers(); }
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

    // -- basemaps and the layer control -----------------------------------------------------

    var bases = {};
    var baseInfo = {};
    var none = L.layerGroup();
    none.hehuBasemap = { id: "none", crs: "wgs84" };
    bases[T.no_basemap] = none;
    config.basemaps.forEach(function (b) {
      var tl = L.tileLayer(b.url, {
        subdomains: b.subdomains, attribution: b.attribution, maxZoom: b.max_zoom,
      });
      tl.hehuBasemap = b;
      // Tiles that fail (offline, a wrong key) leave a blank map: say so instead.
      var failed = 0;
      tl.on("tileerror", function () {
        failed += 1;
        if (failed === 3) { state.basemapError = b.title; updateStatus(); }
      });
      tl.on("tileload", function () { failed = 0; if (state.basemapError) { state.basemapError = null; updateStatus(); } });
      tl.on("remove", function () { failed = 0; state.basemapError = null; updateStatus(); });
      bases[b.title] = tl;
      baseInfo[b.id] = tl;
    });
    none.addTo(map);
    container.classList.add("basemap-none");

    var overlayControls = {};
    config.layers.forEach(function (cfg) {
      overlayControls[swatch(cfg, cfg.legend.length ? cfg.legend[0].color : cfg.style.color) + '<span class="layer-title" data-layer="' + esc(cfg.id) + '">' +
        esc(cfg.title) + "</span>"] = overlays[cfg.id];
      // A link with a filter shows that layer alone on the base (district, towns, water).
      var show = linked ? (linked.id === cfg.id || ["district", "towns", "lakes", "rivers"].indexOf(cfg.id) >= 0) : cfg.default_visible;
      if (show) { overlays[cfg.id].addTo(map); }
    });
    var layerControl = L.control.layers(bases, overlayControls, { collapsed: false, position: "topright" }).addTo(map);
    layerControl.getContainer().id = "layer-control";

    map.on("baselayerchange", function (ev) {
      var b = ev.layer.hehuBasemap || {};
      container.classList.toggle("basemap-none", b.id === "none");
      var gcj = b.crs === "gcj02";
      if (gcj !== state.gcj) {
        var center = toWgs(map.getCenter());
        state.gcj = gcj;
        var p = project(center[0], center[1]);
        map.setView([p[1], p[0]], map.getZoom(), { animate: false });
        config.layers.forEach(function (cfg) { draw(entries[cfg.id]); });
        redrawExtras();
      }
    });

    // -- legend: only the visible layers ------------------------------------------------------

    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "hehu-legend hehu-box");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    var legendFolded = false;
    legend.getContainer().addEventListener("click", function (ev) {
      if (ev.target.closest(".legend-title")) { legendFolded = !legendFolded; updateLegend(); }
    });
    function swatch(cfg, color, hollow) {
      var s = cfg.style;
      var kind = cfg.geometry === "Point" ? "point" : (cfg.geometry === "LineString" ? "line" : "area");
      var css;
      if (kind === "point" && cfg.shape && cfg.shape !== "circle") {
        return '<span class="swatch point shape-' + cfg.shape + '" style="color:' + color + '">' + shapeSvg(cfg.shape, color, hollow) + "</span>";
      }
      if (kind === "point") {
        css = hollow ? "border:1.6px solid " + color + ";background:transparent" : "background:" + color + ";border:1px solid #fff";
      } else if (kind === "line") {
        css = "border-top:" + Math.max(2, Math.min(s.weight, 5)) + "px " + (s.dash ? "dashed " : "solid ") + color;
      } else {
        var fill = s.fill_opacity > 0 ? (s.by ? color : (s.fill_color || color)) : "transparent";
        css = "background:" + fill + ";border:1.5px " + (s.dash ? "dashed " : "solid ") + color;
      }
      return '<span class="swatch ' + kind + '" style="' + css + '"></span>';
    }
    function shapeSvg(shape, color, hollow) {
      var paths = { square: "M1.5,1.5h9v9h-9z", triangle: "M6,0.5L11.5,10.5H0.5z", diamond: "M6,0L12,6L6,12L0,6z" };
      var paint = hollow ? 'fill="none" stroke="' + color + '" stroke-width="1.5"' : 'fill="' + color + '" stroke="#fff" stroke-width="1"';
      return '<svg width="12" height="12" viewBox="0 0 12 12"><path d="' + paths[shape] + '" ' + paint + "/></svg>";
    }
    function updateLegend() {
      var html = ['<div class="legend-title" title="' + esc(T.legend) + '">' + esc(T.legend) + ' <span class="fold">' + (legendFolded ? "▸" : "▾") + "</span></div>"];
      if (legendFolded) { legend.getContainer().innerHTML = html[0]; return; }
      config.layers.forEach(function (cfg) {
        if (!map.hasLayer(entries[cfg.id].group)) { return; }
        html.push('<div class="legend-layer" data-layer="' + esc(cfg.id) + '">');
        var hook = layerHooks[cfg.id];
        if (hook && hook.legend) {
          html.push(hook.legend(cfg, swatch));
        } else if (cfg.legend.length) {
          html.push('<div class="legend-name">' + esc(cfg.title) + "</div>");
          cfg.legend.forEach(function (item) {
            html.push('<div class="legend-item">' + swatch(cfg, item.color) + esc(item.label) + "</div>");
          });
          if (cfg.resolved_style) {
            html.push('<div class="legend-item">' + swatch(cfg, cfg.resolved_style.color, true) + esc(cfg.resolved_label) + "</div>");
          }
        } else {
          html.push('<div class="legend-item legend-name">' + swatch(cfg, cfg.style.color) + esc(cfg.title) + "</div>");
        }
        html.push("</div>");
      });
      legend.getContainer().innerHTML = html.join("");
    }

    map.on("overlayadd", function (ev) {
      if (ev.layer.hehuLayerId) { load(ev.layer.hehuLayerId, false); }
      updateLegend();
      updateStatus();
    });
    map.on("overlayremove", function () { updateLegend(); updateStatus(); labelRivers(); });

    // -- river names along their lines, from zoom 12 ------------------------------------------------

    // Leaflet has no text along a path: each name is a small rotated label placed on the
    // line where it runs straight enough, turned to read left to right, with a halo, and
    // dropped where it would touch a label already placed.
    var RIVER_LABEL_ZOOM = 12;
    var riverPane = map.createPane("hehu-river-labels");
    riverPane.style.zIndex = "580";
    riverPane.style.pointerEvents = "none";
    var riverLabels = L.layerGroup().addTo(map);
    function pointAt(pts, cum, d) {
      for (var i = 1; i < pts.length; i++) {
        if (cum[i] >= d) {
          var seg = cum[i] - cum[i - 1] || 1, t = (d - cum[i - 1]) / seg;
          return L.point(pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t, pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t);
        }
      }
      return pts[pts.length - 1];
    }
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
          byName[name].push(coords.map(function (c) { return map.latLngToContainerPoint(coordsToLatLng(c)); }));
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
    map.on("zoomend moveend", debounce(labelRivers, 120));
    var detailed = map.getZoom() >= DETAIL_ZOOM;
    map.on("zoomend", function () {
      var now = map.getZoom() >= DETAIL_ZOOM;
      if (now === detailed) { return; }
      detailed = now;
      config.layers.forEach(function (cfg) {
        if (cfg.problem && cfg.geometry !== "Point" && cfg.geometry !== "LineString") { draw(entries[cfg.id]); }
      });
    });
    map.on("moveend", debounce(function () { loadVisible(false); }, 250));

    // -- scale, mouse position, about ----------------------------------------------------------

    L.control.scale({ metric: true, imperial: false, position: "bottomleft" }).addTo(map);
    var mouse = L.control({ position: "bottomleft" });
    mouse.onAdd = function () {
      var div = L.DomUtil.create("div", "hehu-mouse hehu-box");
      div.id = "mouse-position";
      div.textContent = T.lon + " –  " + T.lat + " –";
      return div;
    };
    mouse.addTo(map);
    map.on("mousemove", function (ev) {
      var p = toWgs(ev.latlng);
      mouse.getContainer().textContent = T.lon + " " + p[0].toFixed(6) + "  " + T.lat + " " + p[1].toFixed(6);
    });

    var about = L.control({ position: "bottomleft" });
    about.onAdd = function () {
      var div = L.DomUtil.create("div", "hehu-about");
      L.DomEvent.disableClickPropagation(div);
      var badge = config.synthetic ? '<span class="demo-badge" id="demo-badge">' + esc(T.demo_badge) + "</span> " : "";
      var credits = config.credits.map(function (c) { return "<li>" + esc(c) + "</li>"; }).join("");
      div.innerHTML = badge + '<button type="button" class="about-toggle">' + esc(T.about) + "</button>" +
        '<div class="about-box hehu-box" hidden><div class="legend-title">' + esc(config.title) + "</div>" +
        (config.synthetic ? '<p class="note">' + esc(config.synthetic_note || T.demo_badge) + "</p>" : "") +
        "<div>" + esc(T.credits) + "</div><ul>" + credits + "</ul></div>";
      div.querySelector(".about-toggle").addEventListener("click", function () {
        var box = div.querySelector(".about-box");
        box.hidden = !box.hidden;
      });
      return div;
    };
    about.addTo(map);

    // -- highlight (search picks) and query results ----------------------------------------------

    var highlight = L.featureGroup().addTo(map);
    var queryLayer = L.featureGroup().addTo(map);
    var extras = { highlight: null, query: null };
    var hlPane = map.createPane("hehu-highlight");
    hlPane.style.zIndex = "590";

    function drawHighlight(features) {
      highlight.clearLayers();
      if (!features) { return; }
      L.geoJSON({ type: "FeatureCollection", features: features }, {
        coordsToLatLng: coordsToLatLng,
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
          coordsToLatLng: coordsToLatLng,
          style: { color: "#ff7f00", weight: 2, dashArray: "6 4", fillColor: "#ffbf00", fillOpacity: 0.12, pane: "hehu-highlight", interactive: false },
        }).addTo(queryLayer);
      }
      var target = q.target || q.area;
      if (target) {
        L.geoJSON(target, {
          coordsToLatLng: coordsToLatLng,
          style: { color: "#0050ff", weight: 4, fill: false, opacity: 0.8, pane: "hehu-highlight", interactive: false },
        }).addTo(queryLayer);
      }
      L.geoJSON(fc, {
        coordsToLatLng: coordsToLatLng,
        style: { color: "#ffd400", weight: 4, fill: false, pane: "hehu-highlight" },
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 9, color: "#111", weight: 2.5, fillColor: "#ffd400", fillOpacity: 0.55, pane: "hehu-highlight" });
        },
        onEachFeature: function (f, layer) {
          var cfg = byId[(f.properties || {}).layer];
          if (cfg) { layer.bindPopup(function () { return popupContent(cfg, f); }, POPUP_OPTIONS); }
        },
      }).addTo(queryLayer);
    }
    function redrawExtras() { drawHighlight(extras.highlight); drawQuery(extras.query); drawHere(); }

    // -- search box ---------------------------------------------------------------------------

    var input = document.getElementById("search-input");
    var list = document.getElementById("search-results");
    var results = [];
    var active = -1;
    function renderResults() {
      if (!results.length) {
        list.innerHTML = '<li class="empty">' + esc(T.no_results) + "</li>";
      } else {
        list.innerHTML = results.map(function (r, i) {
          var detail = [r.layer_title, r.town, r.code !== r.label ? r.code : ""].filter(Boolean).join(" · ");
          // Rivers and lakes link to their 一河一档 page (any reach code opens the whole river).
          var dossier = (r.layer === "rivers" || r.layer === "lakes") && r.code && config.urls.river
            ? ' <a class="dossier" target="_blank" href="' + esc(config.urls.river.replace("{code}", encodeURIComponent(r.code))) +
              (config.lang === "en" ? "?lang=en" : "") + '">' + esc(config.lang === "en" ? "Dossier" : "一河一档") + "</a>"
            : "";
          return '<li role="option" data-i="' + i + '" class="' + (i === active ? "active" : "") + '"><b>' +
            esc(r.label) + '</b> <span class="detail">' + esc(detail) + "</span>" + dossier + "</li>";
        }).join("");
      }
      list.hidden = false;
    }
    var runSearch = debounce(function () {
      var q = input.value.trim();
      if (!q) { list.hidden = true; results = []; return; }
      fetchJSON(config.urls.search + "?q=" + encodeURIComponent(q) + "&limit=10&lang=" + config.lang)
        .then(function (body) {
          if (input.value.trim() !== q) { return; }
          results = body.results; active = results.length ? 0 : -1; renderResults();
        })
        .catch(function () { results = []; list.hidden = true; });
    }, 200);
    input.addEventListener("input", runSearch);
    input.addEventListener("keydown", function (ev) {
      if (list.hidden || !results.length) { return; }
      if (ev.key === "ArrowDown") { active = (active + 1) % results.length; renderResults(); ev.preventDefault(); }
      else if (ev.key === "ArrowUp") { active = (active - 1 + results.length) % results.length; renderResults(); ev.preventDefault(); }
      else if (ev.key === "Enter" && active >= 0) { pick(results[active]); ev.preventDefault(); }
      else if (ev.key === "Escape") { list.hidden = true; }
    });
    list.addEventListener("mousedown", function (ev) {
      if (ev.target.closest("a")) { return; }  // a link in a result (一河一档) opens itself
      var li = ev.target.closest("li[data-i]");
      if (li) { pick(results[Number(li.dataset.i)]); ev.preventDefault(); }
    });
    input.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });

    function pick(r) {
      list.hidden = true;
      input.value = r.label;
      var entry = entries[r.layer];
      if (entry && !map.hasLayer(entry.group)) { entry.group.addTo(map); }
      map.fitBounds(latLngBounds(r.bbox), { maxZoom: 16, padding: [40, 40] });
      setPending(1);
      Promise.all(r.fids.map(function (fid) {
        return fetchJSON(config.urls.item.replace("{id}", encodeURIComponent(r.layer)).replace("{fid}", encodeURIComponent(fid)) + "?f=json");
      })).then(function (features) {
        extras.highlight = features;
        drawHighlight(features);
      }).catch(function () {}).then(function () { setPending(-1); });
    }
    api.pick = pick;

    // -- query panel ----------------------------------------------------------------------------

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
      setPending(1);
      fetchJSON(url).then(function (fc) {
        showResult(fc, url, { distance: mode() === "near", all: document.getElementById("query-all").checked });
        panel.dataset.state = "done";
      }).catch(function (err) {
        showError(err.message);
        panel.dataset.state = "error";
      }).then(function () { setPending(-1); });
    });
    // The answer of any question (near, within, near me): drawn, counted, tabled, and
    // downloadable as GeoJSON (WGS84), GeoJSON and KML in GCJ-02 for Amap-based apps.
    function showResult(fc, url, opts) {
        extras.query = fc;
        drawQuery(fc);
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
            .map(function (k) { return display(cfg, k, p[k]); }).join(" / ");
          var dist = p.distance_m != null ? (Math.round(p.distance_m * 10) / 10).toFixed(1) : "";
          return '<tr data-i="' + i + '"><td>' + esc(p[cfg.id_field] || p.code || "") + "</td><td>" + esc(cfg.title) +
            "</td><td>" + esc(kind) + "</td><td>" + esc(p.town || "") + '</td><td class="num">' + dist + "</td></tr>";
        }).join("");
        tbody.onclick = function (e) {
          var tr = e.target.closest("tr[data-i]");
          if (!tr) { return; }
          var f = fc.features[Number(tr.dataset.i)];
          var gj = L.geoJSON(f, { coordsToLatLng: coordsToLatLng });
          map.fitBounds(gj.getBounds(), { maxZoom: 17, padding: [60, 60] });
        };
        resultBox.hidden = false;
        panel.classList.add("has-result");
        var bounds = queryLayer.getBounds();
        // Keep the answer clear of the panel: on the left on a desktop, below on a phone.
        if (bounds.isValid()) {
          if (isPhone()) {
            map.fitBounds(bounds, { paddingTopLeft: [20, 70], paddingBottomRight: [20, panel.offsetHeight + 20], maxZoom: 17 });
          } else {
            map.fitBounds(bounds, { paddingTopLeft: [panel.offsetWidth + 70, 40], paddingBottomRight: [40, 40], maxZoom: 17 });
          }
        }
    }
    function clearQuery() {
      extras.query = null;
      drawQuery(null);
      resultBox.hidden = true;
      errorBox.hidden = true;
      panel.classList.remove("has-result");
    }
    document.getElementById("query-clear").addEventListener("click", clearQuery);
    // On a phone the answer replaces the form in the sheet: "查询" brings the form back.
    document.getElementById("query-edit").addEventListener("click", function () { panel.classList.remove("has-result"); });
    document.getElementById("query-close").addEventListener("click", function () { clearQuery(); panel.hidden = true; });

    // -- print this view --------------------------------------------------------------------------

    function printView() {
      var visible = config.layers.filter(function (c) { return map.hasLayer(entries[c.id].group); })
        .map(function (c) { return c.id; });
      var bbox = viewBbox(0).map(function (v) { return v.toFixed(6); }).join(",");
      var url = config.urls.print + "?layers=" + visible.join(",") + "&bbox=" + bbox +
        "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title) + "&lang=" + config.lang;
      window.open(url, "_blank");
      // The PDF takes some seconds to draw: say so where the button was pressed.
      var el = document.getElementById("status");
      el.hidden = false;
      el.innerHTML = '<div id="print-progress">' + esc(T.printing) + "</div>";
      setTimeout(updateStatus, 8000);
    }
    document.getElementById("print-button").addEventListener("click", printView);
    document.getElementById("menu-print").addEventListener("click", function () { closeMenu(); printView(); });

    // -- phone: menu, layer and legend toggles, bottom sheet ------------------------------------------

    var menu = document.getElementById("menu");
    var menuButton = document.getElementById("menu-toggle");
    function closeMenu() { menu.hidden = true; menuButton.setAttribute("aria-expanded", "false"); }
    menuButton.addEventListener("click", function () {
      menu.hidden = !menu.hidden;
      menuButton.setAttribute("aria-expanded", menu.hidden ? "false" : "true");
    });
    var layersButton = document.getElementById("menu-layers");
    var legendButton = document.getElementById("menu-legend");
    // One of the two at a time: together they would cover the whole phone screen.
    function toggleBodyClass(name, button, other, otherButton) {
      var on = !document.body.classList.contains(name);
      document.body.classList.toggle(name, on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) { document.body.classList.remove(other); otherButton.setAttribute("aria-pressed", "false"); }
      closeMenu();
    }
    layersButton.addEventListener("click", function () { toggleBodyClass("show-layers", layersButton, "show-legend", legendButton); });
    legendButton.addEventListener("click", function () { toggleBodyClass("show-legend", legendButton, "show-layers", layersButton); });
    // Touching the map closes what the menu opened: the map is what a field team looks at.
    map.on("click", function () {
      if (!isPhone()) { return; }
      closeMenu();
      document.body.classList.remove("show-layers", "show-legend");
      layersButton.setAttribute("aria-pressed", "false");
      legendButton.setAttribute("aria-pressed", "false");
    });

    var sheet = document.getElementById("sheet");
    map.on("popupopen", function (ev) {
      if (!isPhone()) { return; }
      // Leaflet keeps driving the popup's container (position, close button, content
      // that edit.js adds); the sheet only gives it a place at the bottom of the screen.
      sheet.appendChild(ev.popup.getElement());
      sheet.hidden = false;
      document.body.classList.add("sheet-open");
    });
    map.on("popupclose", function (ev) {
      var el = ev.popup.getElement();
      // Leaflet fades a closing popup out before removing it: in the sheet it goes at once.
      if (el && el.parentNode === sheet) { sheet.removeChild(el); }
      if (!sheet.querySelector(".leaflet-popup")) {
        sheet.hidden = true;
        document.body.classList.remove("sheet-open");
      }
    });

    // -- locate me and problems near me ------------------------------------------------------------

    var here = L.featureGroup().addTo(map);
    var position = null;
    var NEAR_ME_K = 10;
    var nearLayer = config.problem_layers.filter(function (id) { return byId[id].geometry === "Point"; })[0];
    function locate() {
      return new Promise(function (resolve, reject) {
        if (!navigator.geolocation) { reject(new Error("geolocation")); return; }
        setPending(1);
        navigator.geolocation.getCurrentPosition(function (pos) {
          setPending(-1);
          // Browsers report WGS84, the registry's datum; GCJ-02 only for drawing on Amap.
          position = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy || 0 };
          drawHere();
          map.setView(coordsToLatLng([position.lon, position.lat]), Math.max(map.getZoom(), 15));
          resolve(position);
        }, function (err) {
          setPending(-1);
          reject(new Error(err.message || String(err.code)));
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
    function drawHere() {
      here.clearLayers();
      if (!position) { return; }
      var ll = coordsToLatLng([position.lon, position.lat]);
      if (position.accuracy > 0) {
        L.circle(ll, { radius: position.accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.1, interactive: false, pane: "hehu-highlight" }).addTo(here);
      }
      L.circleMarker(ll, { radius: 8, color: "#fff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1, pane: "hehu-highlight", className: "hehu-here" })
        .bindTooltip(T.my_position).addTo(here);
    }
    function problemFilter(cfg) {
      var p = cfg.problem;
      if (!p) { return ""; }
      var quote = function (v) { return "'" + String(v).replace(/'/g, "''") + "'"; };
      if (p.values) { return p.field + " IN (" + p.values.map(quote).join(",") + ")"; }
      if (p.not_in && p.not_in.length) { return "NOT " + p.field + " IN (" + p.not_in.map(quote).join(",") + ")"; }
      return "";
    }
    function nearMe() {
      closeMenu();
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
        setPending(1);
        return fetchJSON(url).then(function (fc) {
          showResult(fc, url, { distance: true });
          document.getElementById("query-count").textContent = fmt(T.near_me_title, { k: fc.features.length, layer: cfg.title }) +
            " · " + fmt(T.count, { n: fc.features.length });
          panel.dataset.state = "done";
        }).catch(function (err) {
          showError(err.message);
          panel.dataset.state = "error";
        }).then(function () { setPending(-1); });
      }).catch(function (err) {
        panel.hidden = false;
        showError(fmt(T.locate_error, { error: err.message }));
        panel.dataset.state = "error";
      });
    }
    api.nearMe = nearMe;
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
    api.printUrl = function () {
      var visible = config.layers.filter(function (c) { return map.hasLayer(entries[c.id].group); }).map(function (c) { return c.id; });
      return config.urls.print + "?layers=" + visible.join(",") + "&bbox=" + viewBbox(0).map(function (v) { return v.toFixed(6); }).join(",") +
        "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title);
    };

    // -- a filtered link: say so, zoom to its town, offer to clear it ------------------------------

    if (linked) {
      var lcfg = byId[linked.id];
      var words = [lcfg.title].concat(linked.pairs.map(function (p) {
        var f = lcfg.fields[p[0]] || {};
        if (p[0] === "town") { return p[1]; }
        return (f.title || p[0]) + " " + p[1].split(",").map(function (v) { return display(lcfg, p[0], v); }).join("、");
      }));
      var fb = document.createElement("div");
      fb.id = "filter-banner";
      fb.className = "hehu-box";
      var clear = window.location.pathname + (config.lang === "en" ? "?lang=en" : "");
      fb.innerHTML = esc(fmt(T.filtered, { what: words.join(" · ") })) + ' <a href="' + esc(clear) + '">' + esc(T.clear_filter) + "</a>";
      document.body.appendChild(fb);
      var townPair = linked.pairs.filter(function (p) { return p[0] === "town"; })[0];
      if (townPair) {
        fetchJSON(config.urls.search + "?q=" + encodeURIComponent(townPair[1]) + "&layers=towns&limit=1")
          .then(function (body) {
            var hit = body.results && body.results[0];
            if (hit && hit.label === townPair[1]) { map.fitBounds(latLngBounds(hit.bbox), { padding: [30, 30] }); }
          }).catch(function () {});
      }
    }

    // -- a link to one feature (an OGC API item page's "show on the map") --------------------------

    var focus = new URLSearchParams(window.location.search).get("feature");
    if (focus && focus.indexOf("/") > 0 && entries[focus.split("/")[0]]) {
      var fl = focus.split("/")[0], ff = focus.split("/")[1];
      if (!map.hasLayer(entries[fl].group)) { entries[fl].group.addTo(map); }
      setPending(1);
      fetchJSON(config.urls.item.replace("{id}", encodeURIComponent(fl)).replace("{fid}", encodeURIComponent(ff)) + "?f=json")
        .then(function (f) {
          extras.highlight = [f];
          drawHighlight([f]);
          map.fitBounds(L.geoJSON(f, { coordsToLatLng: coordsToLatLng }).getBounds(), { maxZoom: 16, padding: [60, 60] });
        }).catch(function () {}).then(function () { setPending(-1); });
    }

    // -- ready ------------------------------------------------------------------------------------

    api.map = map;
    api.config = config;
    api.pending = function () { return state.pending; };
    api.viewBbox = viewBbox;
    api.coordsToLatLng = coordsToLatLng;
    api.isPhone = isPhone;
    api.popupOptions = POPUP_OPTIONS;
    api.popupContent = popupContent;
    api.updateLegend = updateLegend;
    api.redraw = function (id) { draw(entries[id]); };
    api.entries = entries;
    api.closeMenu = closeMenu;
    api.setPending = setPending;
    updateLegend();
    loadVisible(true);
    resolveReady(api);
    window.dispatchEvent(new CustomEvent("hehu:mapready", { detail: api }));
  }
})();
