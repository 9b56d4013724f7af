// Draws a case's process with bpmn-js (viewer) and marks the path taken and the current work.
// Without JavaScript the page shows the same information as a text list.
(function () {
  "use strict";
  var container = document.getElementById("case-diagram");
  if (!container || typeof window.BpmnJS !== "function" || !window.fetch) { return; }
  var select = document.getElementById("process");
  var form = document.getElementById("process-form");
  var key = document.getElementById("diagram-key");
  container.hidden = false;
  if (key) { key.hidden = false; }
  var viewer = new window.BpmnJS({ container: container });

  function mark(ids, className) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    (ids || []).forEach(function (id) {
      var element = registry.get(id);
      if (!element) { return; }
      // An expanded subprocess is a frame around other steps: outline it rather than fill it.
      var frame = element.di && element.di.isExpanded;
      canvas.addMarker(id, frame ? className + "-frame" : className);
    });
  }

  function show(processId) {
    var url = container.getAttribute("data-url") + "?process=" + encodeURIComponent(processId);
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("the diagram could not be loaded (" + response.status + ")"); }
        return response.json();
      })
      .then(function (data) {
        if (!data.xml) { throw new Error("this process has no diagram"); }
        return viewer.importXML(data.xml).then(function () {
          var found = data.processes.filter(function (p) { return p.id === data.process; })[0] || {};
          mark(found.completed, "app-done");
          mark(found.active, "app-current");
          viewer.get("canvas").zoom("fit-viewport");
        });
      })
      .catch(function (error) {
        container.textContent = "The diagram cannot be shown: " + error.message + ". The list below says where the case is.";
      });
  }

  if (form && select) {
    // Reload with ?process= so the text list and the diagram always describe the same process.
    select.addEventListener("change", function () { form.submit(); });
  }
  show(container.getAttribute("data-process"));
})();
