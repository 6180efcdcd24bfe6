/* What the patrol modules share (patrols.js, coverage.js, chiefs.js): the patrol part
 * of the configuration, the page strings, dates in China Standard Time. */

import { api } from "./api.js";

export var DAY = 86400000;

export function codes(text) { return String(text || "").split(";").map(function (c) { return c.trim(); }).filter(Boolean); }
export function P() { return (api.config && api.config.patrols) || null; }
export function T() { return api.config.strings; }
export function getJSON(url) {
  return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
    return r.json().catch(function () { return null; }).then(function (body) {
      if (!r.ok) { throw new Error((body && body.description) || ("HTTP " + r.status)); }
      return body;
    });
  });
}
// The China Standard Time date of a UTC instant (patrol dates are local dates).
export function localDate(iso) {
  var t = new Date(iso).getTime();
  return isNaN(t) ? null : new Date(t + 8 * 3600000).toISOString().slice(0, 10);
}
export function pct(share) { return (Math.round(share * 1000) / 10).toFixed(1) + "%"; }
