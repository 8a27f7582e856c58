/* After a refused submit, take focus to the error summary (#form-errors), so a keyboard or
   screen-reader user starts at what to fix instead of the top of the page, and hears it.
   Progressive: without JavaScript the same box is still shown above the form. */
(function () {
  "use strict";
  var summary = document.getElementById("form-errors");
  if (summary) {
    summary.focus();
  }
})();
