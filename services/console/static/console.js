// The console works without this script; it only moves focus to what a page wants read first (an error
// summary, a confirmation), as a screen reader user needs. No inline script anywhere: the CSP forbids it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("[data-focus]");
  if (first) {
    first.focus();
  }
});
