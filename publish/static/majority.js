/* Majority calculator: progressive enhancement of the table of group sums (works without it). */
(function () {
  "use strict";
  var section = document.getElementById("calculator");
  if (!section) { return; }
  var majority = parseInt(section.getAttribute("data-majority"), 10);
  var out = section.querySelector(".calc-output");
  var rows = section.querySelectorAll("table.calc tbody tr[data-seats]");
  var fmt = window.Intl ? new Intl.NumberFormat(document.documentElement.lang) : null;
  function n(x) { return fmt ? fmt.format(x) : String(x); }
  function update() {
    var sum = 0;
    for (var i = 0; i < rows.length; i++) {
      var box = rows[i].querySelector("input");
      if (box && box.checked) { sum += parseInt(rows[i].getAttribute("data-seats"), 10); }
    }
    out.textContent = section.getAttribute("data-label-selected").replace("{seats}", n(sum)) + " \u2013 " +
      section.getAttribute(sum >= majority ? "data-label-yes" : "data-label-no");
  }
  var head = section.querySelector("table.calc thead tr");
  var th = document.createElement("th");
  th.setAttribute("scope", "col");
  th.textContent = "\u2713";
  head.insertBefore(th, head.firstChild);
  for (var i = 0; i < rows.length; i++) {
    var td = document.createElement("td");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.setAttribute("aria-label", rows[i].querySelector("th").textContent);
    box.addEventListener("change", update);
    td.appendChild(box);
    rows[i].insertBefore(td, rows[i].firstChild);
  }
  var hint = document.createElement("p");
  hint.textContent = section.getAttribute("data-label-hint");
  section.insertBefore(hint, section.querySelector(".table-wrap"));
  out.hidden = false;
  update();
})();
