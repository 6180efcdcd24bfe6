/* Point symbols: one shape per layer, from the catalog's icon (geo/carto.py ICON_SHAPES
 * draws the same shapes on paper). */

// A circle marker whose SVG path is the layer's shape (square, triangle, diamond), so
// that styles, popups, clustering and edits treat it as any circle marker.
export var ShapeMarker = L.CircleMarker.extend({
  options: { shape: "circle" },
  _updatePath: function () {
    var shape = this.options.shape;
    if (shape === "circle" || !this._renderer._setPath || this._empty()) {
      L.CircleMarker.prototype._updatePath.call(this);
      return;
    }
    var p = this._point, r = Math.max(this._radius, 1), d;
    if (shape === "square") {
      var a = r * 0.9;
      d = "M" + (p.x - a) + "," + (p.y - a) + "h" + 2 * a + "v" + 2 * a + "h" + (-2 * a) + "z";
    } else if (shape === "triangle") {
      var h = r * 1.3;
      d = "M" + p.x + "," + (p.y - h) + "L" + (p.x + h * 0.95) + "," + (p.y + h * 0.7) + "L" + (p.x - h * 0.95) + "," + (p.y + h * 0.7) + "z";
    } else {
      var q = r * 1.25;
      d = "M" + p.x + "," + (p.y - q) + "L" + (p.x + q) + "," + p.y + "L" + p.x + "," + (p.y + q) + "L" + (p.x - q) + "," + p.y + "z";
    }
    this._renderer._setPath(this, d);
  },
});

// The same shape as a small SVG for the legend and the layer list.
export function shapeSvg(shape, color, hollow) {
  var paths = { square: "M1.5,1.5h9v9h-9z", triangle: "M6,0.5L11.5,10.5H0.5z", diamond: "M6,0L12,6L6,12L0,6z" };
  var paint = hollow ? 'fill="none" stroke="' + color + '" stroke-width="1.5"' : 'fill="' + color + '" stroke="#fff" stroke-width="1"';
  return '<svg width="12" height="12" viewBox="0 0 12 12"><path d="' + paths[shape] + '" ' + paint + "/></svg>";
}
