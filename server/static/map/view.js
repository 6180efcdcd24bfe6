/* The view's coordinates: WGS84 in the data, GCJ-02 on screen under the Amap basemap;
 * view boxes for reading layers; phone or desk. */

export function setupView(ctx) {
  var map = ctx.map, state = ctx.state;

  // Offsets for the GCJ-02 basemap (Amap): overlays are drawn shifted into GCJ-02.
  function project(lon, lat) { return state.gcj ? hehuGcj02.toGcj02(lon, lat) : [lon, lat]; }
  function coordsToLatLng(c) { var p = project(c[0], c[1]); return L.latLng(p[1], p[0]); }
  function toWgs(latlng) {
    return state.gcj ? hehuGcj02.toWgs84(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
  }
  function viewBbox(pad) {
    var b = pad ? map.getBounds().pad(pad) : map.getBounds();
    var sw = toWgs(b.getSouthWest()), ne = toWgs(b.getNorthEast());
    return [Math.max(sw[0], -180), Math.max(sw[1], -90), Math.min(ne[0], 180), Math.min(ne[1], 90)];
  }
  function bboxContains(outer, inner) {
    return outer && outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
  }
  function latLngBounds(bbox) {
    var a = project(bbox[0], bbox[1]), c = project(bbox[2], bbox[3]);
    return L.latLngBounds([a[1], a[0]], [c[1], c[0]]);
  }

  // Below 600 px the page is a phone: a search bar and one menu, layers and legend
  // behind toggles, popups and query answers in a bottom sheet (map.css does the rest).
  var phoneQuery = window.matchMedia("(max-width: 600px)");
  function isPhone() { return phoneQuery.matches; }

  Object.assign(ctx, {
    project: project, coordsToLatLng: coordsToLatLng, toWgs: toWgs, viewBbox: viewBbox,
    bboxContains: bboxContains, latLngBounds: latLngBounds, isPhone: isPhone,
    // Popups pan clear of the toolbar (top left) and the legend (bottom right); on a
    // phone they open in the bottom sheet and the map does not move.
    popupOptions: { maxWidth: 360, autoPanPaddingTopLeft: [60, 70], autoPanPaddingBottomRight: [300, 30], autoPan: !isPhone() },
  });
}
