/* Popups: a feature's title, its layer and the catalog's popup fields with their titles
 * in the page's language, then whatever the popup extensions add (edit.js history and
 * status, quality.js charts, rivers.js dossier links, patrols.js chiefs, attachments).
 *
 * popupContent(cfg, feature) is the one place a popup is built: a new extension calls
 * hehuMap.addPopupExtension(function (layerId, feature, element) {...}). */

import { popupExtensions } from "./api.js";
import { esc } from "./util.js";

// A value as the popup shows it: 是/否, the enum's English label, two decimals.
export function display(cfg, name, value, T) {
  if (value == null || value === "") { return ""; }
  var f = cfg.fields[name] || {};
  if (f.type === "bool" || value === true || value === false) { return value ? T.yes : T.no; }
  if (f.enum_labels && f.enum_labels[value]) { return f.enum_labels[value]; }
  if (f.type === "float" && typeof value === "number") { return String(Math.round(value * 100) / 100); }
  return String(value);
}

export function popupContent(cfg, feature, T) {
  var props = feature.properties || {};
  var rows = cfg.popup.map(function (name) {
    var v = display(cfg, name, props[name], T);
    if (v === "") { return ""; }
    var title = (cfg.fields[name] || {}).title || name;
    return "<tr><th>" + esc(title) + "</th><td>" + esc(v) + "</td></tr>";
  }).join("");
  var el = document.createElement("div");
  el.className = "hehu-popup";
  el.innerHTML = "<h3>" + esc(props[cfg.label_field] || cfg.title) + "</h3><div class=\"layer\">" +
    esc(cfg.title) + "</div><table>" + rows + "</table>";
  runExtensions(cfg.id, feature, el);
  return el;
}

// Each extension adds to the element; one that fails does not take the popup with it.
function runExtensions(layerId, feature, el) {
  popupExtensions.forEach(function (fn) {
    try { fn(layerId, feature, el); } catch (e) { if (window.console) { console.warn(e); } }
  });
}

export function setupPopup(ctx) {
  ctx.display = function (cfg, name, value) { return display(cfg, name, value, ctx.T); };
  ctx.popupContent = function (cfg, feature) { return popupContent(cfg, feature, ctx.T); };
}
