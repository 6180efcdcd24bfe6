/* The phone layout's behaviour (map.css below 600 px does the look): one menu, layers
 * and legend behind toggles, popups in a bottom sheet. */

export function setupPhone(ctx) {
  var map = ctx.map;
  var menu = document.getElementById("menu");
  var menuButton = document.getElementById("menu-toggle");
  function closeMenu() { menu.hidden = true; menuButton.setAttribute("aria-expanded", "false"); }
  menuButton.addEventListener("click", function () {
    menu.hidden = !menu.hidden;
    menuButton.setAttribute("aria-expanded", menu.hidden ? "false" : "true");
  });
  var layersButton = document.getElementById("menu-layers");
  var legendButton = document.getElementById("menu-legend");
  // One of the two at a time: together they would cover the whole phone screen.
  function toggleBodyClass(name, button, other, otherButton) {
    var on = !document.body.classList.contains(name);
    document.body.classList.toggle(name, on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    if (on) { document.body.classList.remove(other); otherButton.setAttribute("aria-pressed", "false"); }
    closeMenu();
  }
  layersButton.addEventListener("click", function () { toggleBodyClass("show-layers", layersButton, "show-legend", legendButton); });
  legendButton.addEventListener("click", function () { toggleBodyClass("show-legend", legendButton, "show-layers", layersButton); });
  // Touching the map closes what the menu opened: the map is what a field team looks at.
  map.on("click", function () {
    if (!ctx.isPhone()) { return; }
    closeMenu();
    document.body.classList.remove("show-layers", "show-legend");
    layersButton.setAttribute("aria-pressed", "false");
    legendButton.setAttribute("aria-pressed", "false");
  });

  var sheet = document.getElementById("sheet");
  map.on("popupopen", function (ev) {
    if (!ctx.isPhone()) { return; }
    // Leaflet keeps driving the popup's container (position, close button, content
    // that edit.js adds); the sheet only gives it a place at the bottom of the screen.
    sheet.appendChild(ev.popup.getElement());
    sheet.hidden = false;
    document.body.classList.add("sheet-open");
  });
  map.on("popupclose", function (ev) {
    var el = ev.popup.getElement();
    // Leaflet fades a closing popup out before removing it: in the sheet it goes at once.
    if (el && el.parentNode === sheet) { sheet.removeChild(el); }
    if (!sheet.querySelector(".leaflet-popup")) {
      sheet.hidden = true;
      document.body.classList.remove("sheet-open");
    }
  });
  ctx.closeMenu = closeMenu;
}
