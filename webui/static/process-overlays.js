// Draws the process owner's diagrams with the bpmn-js viewer: figures on each task (statistics page)
// and added / changed / removed elements (comparison page). The data comes from a JSON block in the
// page; without JavaScript the tables on the page give the same information.
(function () {
  "use strict";
  if (typeof window.BpmnJS !== "function") { return; }

  function readData(container) {
    var block = document.getElementById(container.getAttribute("data-source"));
    return block ? JSON.parse(block.textContent) : null;
  }

  function badge(text, modifier) {
    var div = document.createElement("div");
    div.className = "app-overlay" + (modifier ? " app-overlay--" + modifier : "");
    div.textContent = text;  // never innerHTML: names come from uploaded diagrams
    return div;
  }

  function draw(container, xml, decorate) {
    if (!xml) {
      container.textContent = "This diagram is not part of this version.";
      return;
    }
    container.hidden = false;
    var viewer = new window.BpmnJS({ container: container });
    viewer.importXML(xml).then(function () {
      var registry = viewer.get("elementRegistry");
      var canvas = viewer.get("canvas");
      var overlays = viewer.get("overlays");
      decorate({
        has: function (id) { return !!registry.get(id); },
        mark: function (id, className) {
          var element = registry.get(id);
          if (!element) { return; }
          var frame = element.di && element.di.isExpanded;  // outline a subprocess rather than fill it
          canvas.addMarker(id, frame ? className + "-frame" : className);
        },
        add: function (id, node, position) {
          if (!registry.get(id)) { return; }
          // Badges shrink with the diagram only so far, so they stay readable when it is zoomed to fit.
          overlays.add(id, { position: position || { top: -22, left: 0 }, html: node, scale: { min: 0.8 } });
        }
      });
      canvas.zoom("fit-viewport");
    }).catch(function (error) {
      container.textContent = "The diagram cannot be shown: " + error.message + ". The tables below give the same information.";
    });
  }

  function plural(count, word) { return count + " " + word + (count === 1 ? "" : "s"); }

  function decorateStats(data) {
    return function (d) {
      Object.keys(data.overlays).forEach(function (id) {
        var o = data.overlays[id];
        if (o.kind === "task") {
          if (o.level !== "none") { d.mark(id, "app-load-" + o.level); }
          var text = o.cases + " waiting";
          if (o.tasks !== o.cases) { text += " (" + plural(o.tasks, "task") + ")"; }
          d.add(id, badge(text, o.level));
          if (o.completions) { d.add(id, badge("Median " + o.median, null), { bottom: -4, left: 0 }); }
        } else if (o.kind === "deadline") {
          if (o.missed) { d.mark(id, "app-load-many"); }
          d.add(id, badge("Missed " + o.missed, o.missed ? "missed" : "none"), { bottom: -8, left: -20 });
        }
        if (o.kind !== "deadline" && o.missed) {
          d.add(id, badge("Deadline missed " + o.missed, "missed"), { top: -44, left: 0 });
        }
      });
    };
  }

  function decorateCompare(data, side) {
    return function (d) {
      var marks = side === "new" ? { added: "app-diff-added", changed: "app-diff-changed" }
                                 : { removed: "app-diff-removed", changed: "app-diff-changed" };
      Object.keys(marks).forEach(function (status) {
        (data[status] || []).forEach(function (id) { d.mark(id, marks[status]); });
      });
    };
  }

  var stats = document.getElementById("process-diagram");
  if (stats) {
    var statsData = readData(stats);
    var key = document.getElementById("diagram-key");
    if (key) { key.hidden = false; }
    if (statsData) { draw(stats, statsData.xml, decorateStats(statsData)); }
  }

  var compare = document.getElementById("compare-diagrams");
  if (compare) {
    var newer = document.getElementById("compare-new");
    var compareData = readData(newer);
    if (compareData) {
      compare.hidden = false;
      draw(newer, compareData.new_xml, decorateCompare(compareData, "new"));
      draw(document.getElementById("compare-old"), compareData.old_xml, decorateCompare(compareData, "old"));
    }
  }
})();
