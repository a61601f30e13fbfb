// Small behaviours shared by portal pages, kept out of the HTML (the Content-Security-Policy runs no inline
// handlers): a <select data-autosubmit> submits its form when changed.
document.addEventListener("change", function (e) {
  var el = e.target;
  if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});
