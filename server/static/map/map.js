/* hehu web map: a Leaflet page driven by /map/config.json (built from the layer catalog).
 *
 * The entry module: reads the configuration, builds the map and hands each feature to
 * its module (one file per feature, see docs/map.md). The modules share one context
 * object (the map, the configuration, the layer entries and each module's functions);
 * other scripts reach the map through window.hehuMap (api.js).
 */

import { api, resolveReady } from "./api.js";
import { setupBasemaps } from "./basemaps.js";
import { setupControls } from "./controls.js";
import { setupHighlight } from "./highlight.js";
import { setupLayers, watchView } from "./layers.js";
import { setupLegend } from "./legend.js";
import { setupLinks } from "./links.js";
import { setupLocate } from "./locate.js";
import { setupPhone } from "./phone.js";
import { setupPopup } from "./popup.js";
import { setupPrint } from "./print.js";
import { setupQuery } from "./query.js";
import { setupRiverLabels } from "./river_labels.js";
import { setupSearch } from "./search.js";
import { setupStyle } from "./style.js";
import { setupView } from "./view.js";

var container = document.getElementById("map");

function init(config) {
  var map = L.map("map", { zoomControl: false, attributionControl: true, minZoom: 8, maxZoom: 19 });
  L.control.zoom({ position: "topleft", zoomInTitle: "+", zoomOutTitle: "-" }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  var b0 = config.bbox;
  map.fitBounds([[b0[1], b0[0]], [b0[3], b0[2]]], { padding: [10, 10] });

  var ctx = {
    api: api, map: map, config: config, T: config.strings, container: container,
    state: { gcj: false, pending: 0 }, entries: {}, byId: {}, extras: { highlight: null, query: null },
  };
  config.layers.forEach(function (cfg) { ctx.byId[cfg.id] = cfg; });

  // The order is the page's: controls stack in the order they are added.
  setupView(ctx);
  setupStyle(ctx);
  setupPopup(ctx);
  setupLayers(ctx);
  setupBasemaps(ctx);
  setupLegend(ctx);
  setupRiverLabels(ctx);
  watchView(ctx);
  setupControls(ctx);
  setupHighlight(ctx);
  setupSearch(ctx);
  setupQuery(ctx);
  setupPrint(ctx);
  setupPhone(ctx);
  setupLocate(ctx);
  setupLinks(ctx);

  Object.assign(api, {
    map: map,
    config: config,
    pending: function () { return ctx.state.pending; },
    viewBbox: ctx.viewBbox,
    coordsToLatLng: ctx.coordsToLatLng,
    isPhone: ctx.isPhone,
    popupOptions: ctx.popupOptions,
    popupContent: ctx.popupContent,
    updateLegend: ctx.updateLegend,
    redraw: function (id) { ctx.draw(ctx.entries[id]); },
    entries: ctx.entries,
    closeMenu: ctx.closeMenu,
    setPending: ctx.setPending,
  });
  ctx.updateLegend();
  ctx.loadVisible(true);
  resolveReady(api);
  window.dispatchEvent(new CustomEvent("hehu:mapready", { detail: api }));
}

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
