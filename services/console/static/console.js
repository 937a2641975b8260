// The console works without this script; it only moves focus to what a page wants read first (an error
// summary, a confirmation), as a screen reader user needs. No inline script anywhere: the CSP forbids it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("[data-focus]");
  if (first) {
    first.focus();
  }
});

// Part A (calendar subscriptions): a Copy button beside a feed's address, shown only where it can work.
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(field.value);
    });
  });
});
