/* Feature styles from the catalog: colours by value, derived fields, problem features
 * standing out, resolved ones hollow and grey, and per-layer hooks (patrols.js). */

import { layerHooks } from "./api.js";

//: From this zoom every feature of a problem polygon layer is drawn in full.
export var DETAIL_ZOOM = 12;

function operand(props, o) { return "field" in o ? props[o.field] : o.value; }

// A catalog ``derived`` expression (server/map.py parse_derived) on one feature.
export function evalDerived(d, props) {
  var a = operand(props, d.left), b = operand(props, d.right);
  if (a == null || b == null || a === "" || b === "") { return null; }
  switch (d.op) {
    case "<=": return a <= b;
    case "<": return a < b;
    case ">=": return a >= b;
    case ">": return a > b;
    case "==": return a == b; // eslint-disable-line eqeqeq
    case "!=": return a != b; // eslint-disable-line eqeqeq
  }
  return null;
}

export function withDerived(cfg, props) {
  cfg.derived.forEach(function (d) { props[d.name] = evalDerived(d, props); });
  return props;
}

function key(value) {
  if (value === true) { return "True"; }
  if (value === false) { return "False"; }
  return value == null ? "" : String(value);
}

export function isProblem(cfg, props) {
  var p = cfg.problem;
  if (!p) { return false; }
  var v = props[p.field];
  if (p.values) { return p.values.indexOf(v) >= 0; }
  return (p.not_in || []).indexOf(v) < 0;
}

export function colorOf(cfg, props) {
  var s = cfg.style;
  if (s.by) {
    var c = s.values[key(props[s.by])];
    if (c) { return c; }
  }
  return s.color;
}

export function setupStyle(ctx) {
  var map = ctx.map;
  ctx.styleOf = function styleOf(cfg, props, geomType) {
    var s = cfg.style, color = colorOf(cfg, props);
    // Only areas are filled: a line with fill set would shade the shape it encloses.
    var areal = /Polygon/.test(geomType || cfg.geometry);
    var st = {
      color: color, weight: s.weight, opacity: 0.95, dashArray: s.dash || null,
      fillColor: s.by ? color : (s.fill_color || color), fillOpacity: s.fill_opacity,
      fill: s.fill_opacity > 0 && areal, pane: "hehu-" + cfg.id,
    };
    // At district zoom hundreds of small ponds are confetti: the ones that are not
    // problems fade to faint outlines, and a problem pond keeps an outline wide enough
    // to be seen however small it is.
    if (areal && cfg.problem && map.getZoom() < DETAIL_ZOOM) {
      if (isProblem(cfg, props)) {
        st.weight = Math.max(st.weight, 2.5); st.fillOpacity = Math.max(st.fillOpacity, 0.8);
      } else {
        st.opacity = 0.35; st.fillOpacity = 0.15; st.weight = 0.6;
      }
    }
    if (cfg.geometry === "Point") {
      st.radius = s.radius; st.weight = 1.2; st.color = "#ffffff"; st.fillOpacity = 0.9; st.fill = true;
      st.fillColor = color;
      if (cfg.resolved_style && !isProblem(cfg, props)) {
        st.color = cfg.resolved_style.color; st.fillOpacity = cfg.resolved_style.fill_opacity;
        st.weight = 1.6; st.fill = true;
      }
    }
    var hook = layerHooks[cfg.id];
    if (hook && hook.style) { st = hook.style(props, st) || st; }
    return st;
  };
}
