// Refreshes the form preview as the owner types (the Preview button does the same without JavaScript).
(function () {
  "use strict";
  var form = document.getElementById("form-editor");
  var target = document.getElementById("form-preview");
  if (!form || !target || !window.fetch) { return; }
  var timer = null;
  function refresh() {
    var body = new FormData(form);
    body.delete("action");
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": body.get("csrf_token") || "" }
    }).then(function (response) { return response.text(); })
      .then(function (html) { target.innerHTML = html; })
      .catch(function () { /* keep the last preview; the Preview button still works */ });
  }
  document.getElementById("schema").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
}());
