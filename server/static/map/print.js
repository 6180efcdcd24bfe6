/* Print this view: /print with the visible layers and the view's bbox, in a new tab. */

import { api } from "./api.js";
import { esc } from "./util.js";

export function setupPrint(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, entries = ctx.entries;
  function visibleLayers() {
    return config.layers.filter(function (c) { return map.hasLayer(entries[c.id].group); }).map(function (c) { return c.id; });
  }
  function bboxParam() { return ctx.viewBbox(0).map(function (v) { return v.toFixed(6); }).join(","); }
  function printView() {
    var url = config.urls.print + "?layers=" + visibleLayers().join(",") + "&bbox=" + bboxParam() +
      "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title) + "&lang=" + config.lang;
    window.open(url, "_blank");
    // The PDF takes some seconds to draw: say so where the button was pressed.
    var el = document.getElementById("status");
    el.hidden = false;
    el.innerHTML = '<div id="print-progress">' + esc(T.printing) + "</div>";
    setTimeout(ctx.updateStatus, 8000);
  }
  document.getElementById("print-button").addEventListener("click", printView);
  document.getElementById("menu-print").addEventListener("click", function () { ctx.closeMenu(); printView(); });
  api.printUrl = function () {
    return config.urls.print + "?layers=" + visibleLayers().join(",") + "&bbox=" + bboxParam() +
      "&base=0&paper=A4&orientation=landscape&title=" + encodeURIComponent(config.title);
  };
}
