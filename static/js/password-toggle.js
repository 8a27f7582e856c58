/* 「表示」 beside each password field, like the eye icon of seed 003's screens.
   Progressive: without JavaScript the field is an ordinary password field.
   Its words come from the page, in the page's language (includes/_password_toggle.html). */
(function () {
  "use strict";
  var words = document.getElementById("password-toggle-words");
  if (!words) {
    return;
  }
  var show = words.content.querySelector('[data-word="show"]').innerHTML;
  var hide = words.content.querySelector('[data-word="hide"]').innerHTML;
  var showLabel = words.getAttribute("data-show-label");
  var hideLabel = words.getAttribute("data-hide-label");
  var fields = document.querySelectorAll('input[type="password"]');
  Array.prototype.forEach.call(fields, function (field) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-toggle";
    button.innerHTML = show;
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-controls", field.id);
    button.setAttribute("aria-label", showLabel);
    button.addEventListener("click", function () {
      var shown = field.type === "text";
      field.type = shown ? "password" : "text";
      button.innerHTML = shown ? show : hide;
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      button.setAttribute("aria-label", shown ? showLabel : hideLabel);
    });
    var wrap = document.createElement("span");
    wrap.className = "password-field";
    field.parentNode.insertBefore(wrap, field);
    wrap.appendChild(field);
    wrap.appendChild(button);
  });
})();
