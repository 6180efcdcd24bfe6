/* The legend: only the visible layers, each with its catalog colours (by value, the
 * hollow grey of resolved problems, or a layer hook's own items); folds to its title. */

import { layerHooks } from "./api.js";
import { shapeSvg } from "./shapes.js";
import { esc } from "./util.js";

// A small sample of a layer's symbol: a point (or shape), a line, an area.
export function swatch(cfg, color, hollow) {
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

export function setupLegend(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, entries = ctx.entries;
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
  ctx.updateLegend = updateLegend;
}
