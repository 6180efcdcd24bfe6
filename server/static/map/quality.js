/* Water quality in the map's popups: a section's monthly means of the key parameters
 * against their Class III limit (an SVG drawn by /quality/chart/<code>.svg) and a link
 * to the monthly report. Uses the map's popup extension hook (api.js). */
import { api as map } from "./api.js";

var container = document.getElementById("map");
// The app may be mounted below a prefix: the configuration URL carries it.
var root = (container.dataset.config || "").split("/map/config.json")[0];
map.addPopupExtension(function (layerId, feature, el) {
  if (layerId !== "sections") { return; }
  var code = (feature.properties || {}).code;
  if (!code) { return; }
  var en = container.dataset.lang === "en";
  var box = document.createElement("div");
  box.className = "hehu-quality";
  var img = document.createElement("img");
  img.src = root + "/quality/chart/" + encodeURIComponent(code) + ".svg";
  img.alt = en ? "Monthly means against the Class III limit" : "月均值与Ⅲ类限值";
  img.width = 306;
  img.loading = "lazy";
  var link = document.createElement("a");
  link.href = root + "/quality?section=" + encodeURIComponent(code) + (en ? "&lang=en" : "");
  link.textContent = en ? "Water-quality report" : "水质月报";
  link.target = "_blank";
  box.appendChild(img);
  box.appendChild(document.createElement("br"));
  box.appendChild(link);
  el.appendChild(box);
});
