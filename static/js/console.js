// Behaviour the console's markup asks for with data attributes, so no page needs an inline
// script or event handler (the Content-Security-Policy allows scripts from this site only):
//   <select data-autosubmit>                submits its form when changed
//   <form data-confirm="Revoke this key?">  asks before submitting
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field && field.matches && field.matches("[data-autosubmit]") && field.form) {
      field.form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
})();
