// The om console's one script: no framework, nothing fetched but the console's own pages.
(function () {
  "use strict";

  // An order's graph and tasks, fetched again every few seconds while the page is open
  // (not while the operator is typing in a form inside them).
  var live = document.getElementById("order-live");
  if (live && live.dataset.refresh) {
    var busy = false;
    // In use: the focus inside (a keyboard user keeps their place) or a reason typed there.
    var inUse = function () {
      return live.contains(document.activeElement) || Array.prototype.some.call(live.querySelectorAll("input[name=reason]"), function (i) { return i.value; });
    };
    setInterval(function () {
      if (busy || document.hidden || inUse()) return;
      busy = true;
      fetch(live.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("order-live-fragment");
          if (!fresh || inUse()) return;  // the operator moved in while the answer was on its way
          var before = document.getElementById("order-status");
          var was = before ? before.textContent : null;
          live.innerHTML = fresh.innerHTML;
          // Screen readers hear the order's state when it changes, not the whole table every 3 s.
          var now = document.getElementById("order-status");
          var note = document.getElementById("live-note");
          if (note && now && now.textContent !== was) note.textContent = "Order state: " + now.textContent;
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, 3000);
  }

  // A revision file read into the amend form's text (the form posts text: no upload library).
  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-into]"), function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.dataset.into);
      if (!target || !input.files || !input.files[0]) return;
      var reader = new FileReader();
      reader.onload = function () { target.value = reader.result; };
      reader.readAsText(input.files[0]);
    });
  });

  // "All of this group" on the fallout page.
  Array.prototype.forEach.call(document.querySelectorAll("input.select-all"), function (box) {
    box.addEventListener("change", function () {
      var group = document.getElementById(box.dataset.group);
      Array.prototype.forEach.call(group.querySelectorAll("input[name=select]"), function (c) { c.checked = box.checked; });
    });
  });
})();
