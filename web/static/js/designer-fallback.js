/* The modeler bundle is build output of `make install`; when it is missing (no npm on the
   server) the designer pages say so once instead of showing an empty box. */
window.addEventListener("load", function () {
  "use strict";
  if (window.MotcuaDesigner) {
    return;
  }
  document.querySelectorAll(".diagram-missing").forEach(function (note) {
    note.hidden = false;
  });
});
