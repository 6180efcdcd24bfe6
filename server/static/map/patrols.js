/* Patrols on the map: tracks by age (counted back from the newest patrol), the latest
 * valid patrol of each reach highlighted, invalid ones dashed grey with the reason in
 * the popup. chiefs.js adds a reach's chiefs to its popup, coverage.js the 巡河覆盖
 * mode (both loaded from here). Ages, colours, the default period and the URLs come from /map/config.json
 * (server/map.py patrols_config). */

import { api } from "./api.js";
import "./chiefs.js";
import "./coverage.js";
import { DAY, P, T, codes, localDate } from "./patrol_util.js";
import { esc, fmt } from "./util.js";

var latest = {};      // patrol code -> true: the latest valid patrol of some reach

function ageOf(props) {
  var p = P(), d = localDate(props.started_at);
  var ages = p.ages;
  if (!d || !p.as_of) { return ages[ages.length - 1]; }
  var days = (Date.parse(p.as_of) - Date.parse(d)) / DAY;
  for (var i = 0; i < ages.length; i++) {
    if (ages[i].days == null || days < ages[i].days) { return ages[i]; }
  }
  return ages[ages.length - 1];
}

// -- tracks ------------------------------------------------------------------------------

api.addLayerHook("patrols", {
  // Newest first from the server: the first valid track seen for a reach is its
  // latest. Drawn oldest first, the highlighted ones last, so they lie on top.
  beforeDraw: function (fc) {
    latest = {};
    var seen = {};
    fc.features.forEach(function (f) {
      var p = f.properties || {};
      if (p.valid !== true) { return; }
      codes(p.reaches).forEach(function (c) {
        if (!seen[c]) { seen[c] = true; latest[p.code] = true; }
      });
    });
    fc.features.sort(function (a, b) {
      var la = latest[a.properties.code] ? 1 : 0, lb = latest[b.properties.code] ? 1 : 0;
      if (la !== lb) { return la - lb; }
      return String(a.properties.started_at) < String(b.properties.started_at) ? -1 : 1;
    });
  },
  style: function (props, st) {
    var p = P();
    if (!p) { return st; }
    var age = ageOf(props);
    st.opacity = age.opacity;
    st.weight = age.weight;
    st.className = "hehu-patrol hehu-patrol-" + age.id + (props.valid === true ? "" : " hehu-patrol-invalid");
    if (props.valid !== true) {
      st.color = p.invalid_color;
      st.dashArray = p.invalid_dash;
    } else if (latest[props.code]) {
      st.color = p.latest.color;
      st.weight = p.latest.weight;
      st.opacity = 1;
      st.className += " hehu-patrol-latest";
    } else {
      st.color = p.valid_color;
    }
    return st;
  },
  legend: function (cfg, swatch) {
    var p = P(), t = T();
    if (!p) { return ""; }
    var line = function (color, weight, opacity, dash, label, cls) {
      return '<div class="legend-item ' + (cls || "") + '"><span class="swatch line" style="border-top:' +
        Math.max(2, Math.min(weight, 5)) + "px " + (dash ? "dashed " : "solid ") + color + ";opacity:" + opacity + '"></span>' +
        esc(label) + "</div>";
    };
    var html = ['<div class="legend-name">' + esc(cfg.title) + '</div><div class="legend-note">' +
      esc(fmt(t.patrol_as_of, { date: p.as_of || "—" })) + "</div>"];
    p.ages.forEach(function (a) {
      html.push(line(p.valid_color, a.weight, a.opacity, false, t["patrol_" + a.id], "patrol-age-" + a.id));
    });
    html.push(line(p.latest.color, p.latest.weight, 1, false, t.patrol_latest, "patrol-latest"));
    html.push(line(p.invalid_color, 2, 1, true, t.patrol_invalid, "patrol-invalid"));
    return html.join("");
  },
});

// A patrol's popup says how old it is and whether it is its reach's latest.
api.addPopupExtension(function (layerId, feature, el) {
  var props = feature.properties || {};
  if (layerId !== "patrols" || !P()) { return; }
  var note = document.createElement("div");
  note.className = "hehu-patrol-note";
  note.textContent = T().patrol_age + "：" + T()["patrol_" + ageOf(props).id] +
    (latest[props.code] ? " · " + T().patrol_latest_note : "");
  el.appendChild(note);
});
