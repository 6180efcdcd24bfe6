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
  var resolveReady;
  var api = {
    map: null,
    config: null,
    layers: {},
    ready: new Promise(function (resolve) { resolveReady = resolve; }),
    reload: function () {},
    addPopupExtension: function (fn) { popupExtensions.push(fn); },
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

  // -- the map -------------------------------------------------------------------------

  function init(config) {
    var T = config.strings;
    var state = { gcj: false, pending: 0 };
    var entries = {};
    var byId = {};
    config.layers.forEach(function (cfg) { byId[cfg.id] = cfg; });

    var map = L.map("map", { zoomControl: false, attributionControl: true, minZoom: 8, maxZoom: 19 });
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
      if (cfg.geometry === "Point") {
        st.radius = s.radius; st.weight = 1.2; st.color = "#ffffff"; st.fillOpacity = 0.9; st.fill = true;
        st.fillColor = color;
        if (cfg.resolved_style && !isProblem(cfg, props)) {
          st.color = cfg.resolved_style.color; st.fillOpacity = cfg.resolved_style.fill_opacity;
          st.weight = 1.6; st.fill = true;
        }
      }
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

    // Popups pan clear of the toolbar (top left) and the legend (bottom right).
    var POPUP_OPTIONS = { maxWidth: 360, autoPanPaddingTopLeft: [60, 70], autoPanPaddingBottomRight: [300, 30] };
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
      var geo = L.geoJSON(fc, {
        coordsToLatLng: coordsToLatLng,
        style: function (f) { return styleOf(cfg, withDerived(cfg, f.properties || {}), f.geometry && f.geometry.type); },
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, styleOf(cfg, withDerived(cfg, f.properties || {})));
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
      var extra = q.getAll("filter").map(function (f) {
        var i = f.indexOf(":");
        return i > 0 ? "&" + encodeURIComponent(f.slice(0, i)) + "=" + encodeURIComponent(f.slice(i + 1)) : "";
      }).join("");
      return { id: id, query: extra };
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
      bases[b.title] = tl;
      baseInfo[b.id] = tl;
    });
    none.addTo(map);
    container.classList.add("basemap-none");

    var overlayControls = {};
    config.layers.forEach(function (cfg) {
      overlayControls[swatch(cfg, cfg.legend.length ? cfg.legend[0].color : cfg.style.color) + '<span class="layer-title" data-layer="' + esc(cfg.id) + '">' +
        esc(cfg.title) + "</span>"] = overlays[cfg.id];
      if (cfg.default_visible || (linked && linked.id === cfg.id)) { overlays[cfg.id].addTo(map); }
    });
    L.control.layers(bases, overlayControls, { collapsed: false, position: "topright" }).addTo(map);

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
    function updateLegend() {
      var html = ['<div class="legend-title" title="' + esc(T.legend) + '">' + esc(T.legend) + ' <span class="fold">' + (legendFolded ? "▸" : "▾") + "</span></div>"];
      if (legendFolded) { legend.getContainer().innerHTML = html[0]; return; }
      config.layers.forEach(function (cfg) {
        if (!map.hasLayer(entries[cfg.id].group)) { return; }
        html.push('<div class="legend-layer" data-layer="' + esc(cfg.id) + '">');
        if (cfg.legend.length) {
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
    map.on("overlayremove", function () { updateLegend(); updateStatus(); });
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
    function redrawExtras() { drawHighlight(extras.highlight); drawQuery(extras.query); }

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
      fetchJSON(config.urls.search + "?q=" + encodeURIComponent(q) + "&limit=10&layers=" + layers)
        .then(function (body) {
          targetList.innerHTML = body.results.map(function (r) {
            return '<option value="' + esc(r.label) + '">' + esc(r.layer_title + (r.town ? " · " + r.town : "")) + "</option>";
          }).join("");
        }).catch(function () {});
    }, 200));

    function queryUrl() {
      var layers = Array.prototype.map.call(form.querySelectorAll("input[name=layers]:checked"), function (c) { return c.value; });
      var target = encodeURIComponent(targetInput.value.trim());
      if (mode() === "near") {
        return config.urls.near + "?target=" + target + "&distance=" +
          encodeURIComponent(document.getElementById("query-distance").value) + "&layers=" + layers.join(",");
      }
      return config.urls.within + "?area=" + target + "&layers=" + layers.join(",");
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
      panel.dataset.state = "running";
      document.getElementById("query-count").textContent = T.querying;
      setPending(1);
      fetchJSON(url).then(function (fc) {
        extras.query = fc;
        drawQuery(fc);
        var n = fc.numberMatched != null ? fc.numberMatched : fc.features.length;
        document.getElementById("query-count").textContent = fmt(T.count, { n: n });
        document.getElementById("query-count").dataset.count = String(n);
        document.getElementById("query-download").href = url + "&download=1";
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
        var bounds = queryLayer.getBounds();
        // Keep the answer clear of the panel on the left.
        if (bounds.isValid()) {
          map.fitBounds(bounds, { paddingTopLeft: [panel.offsetWidth + 70, 40], paddingBottomRight: [40, 40] });
        }
        panel.dataset.state = "done";
      }).catch(function (err) {
        showError(err.message);
        panel.dataset.state = "error";
      }).then(function () { setPending(-1); });
    });
    document.getElementById("query-clear").addEventListener("click", function () {
      extras.query = null;
      drawQuery(null);
      resultBox.hidden = true;
      errorBox.hidden = true;
    });

    // -- print this view --------------------------------------------------------------------------

    document.getElementById("print-button").addEventListener("click", function () {
      var visible = config.layers.filter(function (c) { return map.hasLayer(entries[c.id].group); })
        .map(function (c) { return c.id; });
      var bbox = viewBbox(0).map(function (v) { return v.toFixed(6); }).join(",");
      var url = config.urls.print + "?layers=" + visible.join(",") + "&bbox=" + bbox +
        "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title) + "&lang=" + config.lang;
      window.open(url, "_blank");
    });
    api.printUrl = function () {
      var visible = config.layers.filter(function (c) { return map.hasLayer(entries[c.id].group); }).map(function (c) { return c.id; });
      return config.urls.print + "?layers=" + visible.join(",") + "&bbox=" + viewBbox(0).map(function (v) { return v.toFixed(6); }).join(",") +
        "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title);
    };

    // -- ready ------------------------------------------------------------------------------------

    api.map = map;
    api.config = config;
    api.pending = function () { return state.pending; };
    api.viewBbox = viewBbox;
    updateLegend();
    loadVisible(true);
    resolveReady(api);
    window.dispatchEvent(new CustomEvent("hehu:mapready", { detail: api }));
  }
})();
