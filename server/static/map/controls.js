/* The small controls at the bottom left: scale, mouse position (WGS84, six decimals),
 * the demo badge and the about box with the data credits. */

import { esc } from "./util.js";

export function setupControls(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T;
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
    var p = ctx.toWgs(ev.latlng);
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
}
