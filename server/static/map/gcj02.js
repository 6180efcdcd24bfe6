/* WGS84 <-> GCJ-02 (the offset datum of Amap tiles), mirroring geo/crs.py.
 *
 * GCJ-02 is not a datum proj knows: it is an obfuscation of WGS84 defined by a
 * published formula (Krasovsky 1940 ellipsoid constants). When the Amap basemap is
 * shown, overlays are offset into GCJ-02 with toGcj02 so they line up with the tiles,
 * and positions read off the map are brought back with toWgs84 (fixed-point
 * iteration, like gcj02_to_wgs84 in geo/crs.py).
 */
(function (root) {
  "use strict";
  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var PI = Math.PI;

  function outOfChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function delta(lon, lat) {
    var x = lon - 105.0, y = lat - 35.0;
    var sx = Math.sqrt(Math.abs(x));
    var common = (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common;
    dlat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dlat += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common;
    dlon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dlon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radlat = lat / 180.0 * PI;
    var magic = 1 - EE * Math.sin(radlat) * Math.sin(radlat);
    var sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (A / sqrtmagic * Math.cos(radlat) * PI);
    if (outOfChina(lon, lat)) { return [0, 0]; }
    return [dlon, dlat];
  }

  /** [lon, lat] in WGS84 -> [lon, lat] in GCJ-02. */
  function toGcj02(lon, lat) {
    var d = delta(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  /** [lon, lat] in GCJ-02 -> [lon, lat] in WGS84 (iterated to 1e-10 degrees). */
  function toWgs84(glon, glat) {
    var wlon = glon, wlat = glat;
    for (var i = 0; i < 30; i++) {
      var f = toGcj02(wlon, wlat);
      var elon = f[0] - glon, elat = f[1] - glat;
      wlon -= elon; wlat -= elat;
      if (Math.abs(elon) < 1e-10 && Math.abs(elat) < 1e-10) { break; }
    }
    return [wlon, wlat];
  }

  root.hehuGcj02 = { toGcj02: toGcj02, toWgs84: toWgs84 };
})(this);
