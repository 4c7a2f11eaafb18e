(function(){
  "use strict";
  var data = JSON.parse(document.getElementById("maestro-data").textContent);
  var rows = data.rows, suites = data.suites, messages = data.messages, statuses = data.statuses;
  var ROW = 22, view = null, haystack = null;
  var viewport = document.getElementById("viewport"), spacer = document.getElementById("spacer");
  var search = document.getElementById("search"), filter = document.getElementById("status"), count = document.getElementById("count");
  function all(){ var v = new Array(rows.length); for (var i = 0; i < rows.length; i++) v[i] = i; return v; }
  function text(i){ var r = rows[i]; return (r[0] + " " + suites[r[1]] + " " + (r[4] >= 0 ? messages[r[4]] : "")).toLowerCase(); }
  function apply(){
    var q = search.value.trim().toLowerCase(), st = filter.value;
    if (!q && !st) { view = all(); }
    else {
      if (q && haystack === null) { haystack = new Array(rows.length); for (var j = 0; j < rows.length; j++) haystack[j] = text(j); }
      var out = [];
      for (var i = 0; i < rows.length; i++) {
        if (st && statuses[rows[i][2]] !== st && !(st === "flaky" && rows[i][5])) continue;
        if (q && haystack[i].indexOf(q) < 0) continue;
        out.push(i);
      }
      view = out;
    }
    count.textContent = view.length + " of " + rows.length + " tests";
    spacer.style.height = (view.length * ROW) + "px";
    viewport.scrollTop = 0;
    draw();
  }
  function cell(cls, value){ var d = document.createElement("span"); d.className = cls; d.textContent = value; return d; }
  function draw(){
    var first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - 10);
    var last = Math.min(view.length, first + Math.ceil(viewport.clientHeight / ROW) + 20);
    var frag = document.createDocumentFragment();
    for (var k = first; k < last; k++) {
      var r = rows[view[k]], div = document.createElement("div");
      div.className = "row"; div.style.top = (k * ROW) + "px";
      var status = statuses[r[2]];
      var st = cell("st " + status, r[5] ? status + "*" : status); div.appendChild(st);
      div.appendChild(cell("du", (r[3] / 1000).toFixed(3) + "s"));
      var label = suites[r[1]] ? suites[r[1]] + " › " + r[0] : r[0];
      var nm = cell("nm", label); nm.title = label; div.appendChild(nm);
      div.appendChild(cell("ms", r[4] >= 0 ? messages[r[4]] : ""));
      frag.appendChild(div);
    }
    spacer.textContent = ""; spacer.appendChild(frag);
  }
  var pending = false;
  viewport.addEventListener("scroll", function(){ if (!pending) { pending = true; requestAnimationFrame(function(){ pending = false; draw(); }); } });
  var timer = null;
  search.addEventListener("input", function(){ clearTimeout(timer); timer = setTimeout(apply, 120); });
  filter.addEventListener("change", apply);
  window.maestroReport = {apply: apply, visible: function(){ return view.length; }};
  apply();
  document.body.setAttribute("data-ready", "true");
})();
