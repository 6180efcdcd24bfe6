/* Basemaps (none, or the configured tile services, GCJ-02 ones redrawing every overlay
 * shifted) and the layer control listing every catalog layer with its swatch. */

import { swatch } from "./legend.js";
import { esc } from "./util.js";

export function setupBasemaps(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, state = ctx.state, entries = ctx.entries;
  var container = ctx.container;
  var bases = {};
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
      if (failed === 3) { state.basemapError = b.title; ctx.updateStatus(); }
    });
    tl.on("tileload", function () { failed = 0; if (state.basemapError) { state.basemapError = null; ctx.updateStatus(); } });
    tl.on("remove", function () { failed = 0; state.basemapError = null; ctx.updateStatus(); });
    bases[b.title] = tl;
  });
  none.addTo(map);
  container.classList.add("basemap-none");

  var overlayControls = {};
  var linked = ctx.linked;
  config.layers.forEach(function (cfg) {
    var group = entries[cfg.id].group;
    overlayControls[swatch(cfg, cfg.legend.length ? cfg.legend[0].color : cfg.style.color) + '<span class="layer-title" data-layer="' + esc(cfg.id) + '">' +
      esc(cfg.title) + "</span>"] = group;
    // A link with a filter shows that layer alone on the base (district, towns, water).
    var show = linked ? (linked.id === cfg.id || ["district", "towns", "lakes", "rivers"].indexOf(cfg.id) >= 0) : cfg.default_visible;
    if (show) { group.addTo(map); }
  });
  var layerControl = L.control.layers(bases, overlayControls, { collapsed: false, position: "topright" }).addTo(map);
  layerControl.getContainer().id = "layer-control";

  map.on("baselayerchange", function (ev) {
    var b = ev.layer.hehuBasemap || {};
    container.classList.toggle("basemap-none", b.id === "none");
    var gcj = b.crs === "gcj02";
    if (gcj !== state.gcj) {
      var center = ctx.toWgs(map.getCenter());
      state.gcj = gcj;
      var p = ctx.project(center[0], center[1]);
      map.setView([p[1], p[0]], map.getZoom(), { animate: false });
      config.layers.forEach(function (cfg) { ctx.draw(entries[cfg.id]); });
      ctx.redrawExtras();
    }
  });
}
