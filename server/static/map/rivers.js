/* 一河一档 and 交办单 in the map's popups: a river or lake links to its dossier page
 * (/rivers/<code>), a violation to its printable assignment sheet (case.pdf). Uses the
 * map's popup extension hook (api.js); the URLs come from /map/config.json. */
import { api as map } from "./api.js";

var container = document.getElementById("map");
map.addPopupExtension(function (layerId, feature, el) {
  var urls = (map.config || {}).urls || {};
  var props = feature.properties || {};
  var en = container.dataset.lang === "en";
  var link = document.createElement("a");
  link.target = "_blank";
  if ((layerId === "rivers" || layerId === "lakes") && props.code && urls.river) {
    link.href = urls.river.replace("{code}", encodeURIComponent(props.code)) + (en ? "?lang=en" : "");
    link.textContent = en ? "River dossier (一河一档)" : "一河一档";
    link.className = "hehu-dossier";
  } else if (layerId === "violations" && feature.id != null && urls["case"]) {
    link.href = urls["case"].replace("{fid}", encodeURIComponent(feature.id));
    link.textContent = en ? "Assignment sheet (PDF)" : "交办单（PDF）";
    link.className = "hehu-case";
  } else {
    return;
  }
  var p = document.createElement("p");
  p.appendChild(link);
  el.appendChild(p);
});
