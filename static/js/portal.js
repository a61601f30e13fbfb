// Small behaviours shared by portal pages, kept out of the HTML (the Content-Security-Policy runs no inline
// handlers): a <select data-autosubmit> submits its form when changed.
document.addEventListener("change", function (e) {
  var el = e.target;
  if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});

// The navigation menu on narrow screens: the "Menu" button opens and closes it.
document.addEventListener("click", function (e) {
  var button = e.target && e.target.closest ? e.target.closest(".menu-toggle") : null;
  if (!button) return;
  var nav = document.getElementById(button.getAttribute("aria-controls"));
  var open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", open ? "true" : "false");
  if (nav) nav.classList.toggle("open", open);
});

// Charts with no data say so instead of drawing an empty frame: <canvas data-empty="No data yet">.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("canvas[data-empty]").forEach(function (canvas) {
    if (canvas.dataset.points === "0") {
      var p = document.createElement("p");
      p.className = "no-data";
      p.textContent = canvas.dataset.empty;
      canvas.replaceWith(p);
    }
  });
});

// The device form asks only what the picked kind needs: <fieldset data-kinds="battery water_heater"> groups
// show (and submit) for those kinds only; a hidden group is disabled, so it never blocks the form.
function portalKindGroups(select) {
  var form = select.form;
  if (!form) return;
  form.querySelectorAll("fieldset[data-kinds]").forEach(function (fs) {
    var on = fs.dataset.kinds.split(" ").indexOf(select.value) >= 0;
    fs.hidden = !on;
    fs.disabled = !on;
  });
}
document.addEventListener("change", function (e) {
  if (e.target && e.target.matches && e.target.matches("[data-kind-select]")) portalKindGroups(e.target);
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-kind-select]").forEach(portalKindGroups);
});

// Upload progress: htmx reports the bytes sent of a multipart post; the form's <progress> shows it.
document.addEventListener("htmx:xhr:progress", function (e) {
  var form = e.target && e.target.closest ? e.target.closest("form") : null;
  var bar = form ? form.querySelector("progress") : null;
  if (bar && e.detail && e.detail.lengthComputable) bar.value = Math.round((100 * e.detail.loaded) / e.detail.total);
});
document.addEventListener("htmx:afterRequest", function (e) {
  var bar = e.target && e.target.querySelector ? e.target.querySelector("progress") : null;
  if (bar) bar.value = 100;
});

// A table wider than the screen scrolls inside its own box: make that box reachable from the keyboard.
function portalScrollableTables() {
  document.querySelectorAll("main table").forEach(function (t) {
    if (t.scrollWidth > t.clientWidth + 1) {
      t.setAttribute("tabindex", "0");
    } else {
      t.removeAttribute("tabindex");
    }
  });
}
document.addEventListener("DOMContentLoaded", portalScrollableTables);
window.addEventListener("resize", portalScrollableTables);
