/* 「表示」 beside each password field, like the eye icon of seed 003's screens.
   Progressive: without JavaScript the field is an ordinary password field. */
(function () {
  "use strict";
  var fields = document.querySelectorAll('input[type="password"]');
  Array.prototype.forEach.call(fields, function (field) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-toggle";
    button.textContent = "表示";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-controls", field.id);
    button.setAttribute("aria-label", "入力した文字を表示する");
    button.addEventListener("click", function () {
      var shown = field.type === "text";
      field.type = shown ? "password" : "text";
      button.textContent = shown ? "表示" : "隠す";
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      button.setAttribute("aria-label", shown ? "入力した文字を表示する" : "入力した文字を隠す");
    });
    var wrap = document.createElement("span");
    wrap.className = "password-field";
    field.parentNode.insertBefore(wrap, field);
    wrap.appendChild(field);
    wrap.appendChild(button);
  });
})();
