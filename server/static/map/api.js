/* window.hehuMap: how the page's other scripts (edit.js, quality.js, rivers.js,
 * patrols.js, attachments.js…) reach the map, and the tests too.
 *
 *   map, config, layers            the Leaflet map, /map/config.json, layer id -> group
 *   ready                          a Promise resolved with this object once the map is built
 *   reload(id)                     read a layer (or all) again
 *   addPopupExtension(fn)          fn(layerId, feature, element) adds to every popup
 *   addLayerHook(id, hook)         {beforeDraw(fc), style(props, st), legend(cfg, swatch)}
 *   pending()                      requests still running
 * and, once ready, the helpers main.js copies onto it (popupContent, coordsToLatLng…).
 */

export var popupExtensions = [];
export var layerHooks = {};
export var resolveReady;

export var api = {
  map: null,
  config: null,
  layers: {},
  ready: new Promise(function (resolve) { resolveReady = resolve; }),
  reload: function () { return Promise.resolve(); },
  addPopupExtension: function (fn) { popupExtensions.push(fn); },
  addLayerHook: function (id, hook) { layerHooks[id] = hook; },
  pending: function () { return 0; },
};

window.hehuMap = api;
