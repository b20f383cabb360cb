/* Staff case page: the case's process diagram, drawn by the bpmn-js viewer that `make install`
   copies under /static/vendor/, with its current elements (open tasks, awaited events) and its
   completed ones marked. Without the viewer the panel says so in one line; nothing else on the
   page depends on this script. */
(function () {
  "use strict";

  var panel = document.getElementById("diagram");
  if (!panel) {
    return;
  }
  var note = panel.querySelector(".diagram-note");
  var canvasBox = panel.querySelector(".diagram-canvas");
  var legend = panel.querySelector(".diagram-legend");

  function say(message) {
    canvasBox.hidden = true;
    legend.hidden = true;
    note.textContent = message;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function loadStyles(hrefs) {
    hrefs.split(/\s+/).filter(Boolean).forEach(function (href) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      document.head.appendChild(link);
    });
  }

  function fetchOk(url, accept) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: accept } }).then(function (response) {
      if (!response.ok) {
        throw new Error(url + " answered HTTP " + response.status);
      }
      return response;
    });
  }

  function mark(viewer, state) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var current = state.current || [];
    (state.completed || []).forEach(function (id) {
      // A task done before and open again (sent back) is shown as current only.
      if (current.indexOf(id) < 0 && registry.get(id)) {
        canvas.addMarker(id, "completed");
      }
    });
    current.forEach(function (id) {
      if (registry.get(id)) {
        canvas.addMarker(id, "current");
      }
    });
  }

  function draw() {
    loadStyles(panel.dataset.cssUrls || "");
    return Promise.all([
      fetchOk(panel.dataset.xmlUrl, "application/xml").then(function (r) { return r.text(); }),
      fetchOk(panel.dataset.stateUrl, "application/json").then(function (r) { return r.json(); }),
    ]).then(function (loaded) {
      note.textContent = "";
      canvasBox.hidden = false; // the viewer measures its container: show it first
      var viewer = new window.BpmnJS({ container: canvasBox });
      return viewer.importXML(loaded[0]).then(function () {
        viewer.get("canvas").zoom("fit-viewport", "auto");
        mark(viewer, loaded[1]);
        legend.hidden = false;
        panel.setAttribute("data-ready", "true");
      });
    }).catch(function (error) {
      say(panel.dataset.failed);
      if (window.console) {
        window.console.error("process diagram:", error);
      }
    });
  }

  loadScript(panel.dataset.viewerUrl).then(
    function () {
      if (typeof window.BpmnJS !== "function") {
        say(panel.dataset.missing);
        return null;
      }
      return draw();
    },
    function () {
      say(panel.dataset.missing);
    }
  );
})();
