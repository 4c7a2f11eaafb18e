(function(){
  "use strict";
  var data = JSON.parse(document.getElementById("maestro-data").textContent);
  var rows = data.rows, suites = data.suites, messages = data.messages, statuses = data.statuses;
  var texts = data.texts || [], details = data.details || [], histories = data.histories || [];
  var LETTERS = {p: "passed", f: "failed", s: "skipped", n: "pending", o: "other"};
  var panel = document.getElementById("detail");
  var ROW = 22, view = null, haystack = null;
  var viewport = document.getElementById("viewport"), spacer = document.getElementById("spacer");
  var search = document.getElementById("search"), filter = document.getElementById("status"), count = document.getElementById("count");
  function all(){ var v = new Array(rows.length); for (var i = 0; i < rows.length; i++) v[i] = i; return v; }
  function label(r){
    var parts = [];
    if (suites[r[1]]) parts.push(suites[r[1]]);
    if (r[6] >= 0) parts.push(texts[r[6]]);
    parts.push(r[0]);
    return parts.join(" \u203a ");
  }
  function text(i){ var r = rows[i]; return (label(r) + " " + (r[4] >= 0 ? messages[r[4]] : "")).toLowerCase(); }
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
      var name = label(r);
      var nm = cell("nm", name); nm.title = name; div.appendChild(nm);
      div.setAttribute("data-i", view[k]); div.tabIndex = 0; div.setAttribute("role", "button");
      div.appendChild(cell("ms", r[4] >= 0 ? messages[r[4]] : ""));
      frag.appendChild(div);
    }
    spacer.textContent = ""; spacer.appendChild(frag);
  }
  function el(tag, cls, value){ var d = document.createElement(tag); if (cls) d.className = cls; if (value !== undefined && value !== null) d.textContent = value; return d; }
  function field(dl, name, value){ if (value === undefined || value === null || value === "") return; dl.appendChild(el("dt", null, name)); dl.appendChild(el("dd", null, value)); }
  function block(parent, title, value){ if (!value) return; parent.appendChild(el("h4", null, title)); parent.appendChild(el("pre", null, value)); }
  function evidence(parent, items){
    if (!items || !items.length) return;
    var ul = el("ul", "evidence");
    for (var i = 0; i < items.length; i++) {
      var it = items[i], li = el("li");
      if (it[3]) { var a = el("a", null, it[0] + " (" + it[1] + ")"); a.href = it[2]; a.target = "_blank"; a.rel = "noopener"; li.appendChild(a); }
      else { li.textContent = it[0] + " (" + it[1] + "): " + it[2]; }
      ul.appendChild(li);
    }
    parent.appendChild(el("h4", null, "Evidence")); parent.appendChild(ul);
  }
  function when(seconds){ return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : ""; }
  function show(i){
    var r = rows[i], d = r[8] >= 0 ? details[r[8]] : {};
    panel.textContent = "";
    var head = el("div", "dhead"), close = el("button", "close", "close");
    head.appendChild(el("h3", null, label(r))); close.addEventListener("click", function(){ panel.hidden = true; });
    head.appendChild(close); panel.appendChild(head);
    var dl = el("dl");
    field(dl, "outcome", statuses[r[2]] + (r[5] ? " (flaky)" : "") + (d.raw && d.raw !== statuses[r[2]] ? " \u2014 " + d.raw : ""));
    field(dl, "duration", (r[3] / 1000).toFixed(3) + " s");
    field(dl, "suite", suites[r[1]]);
    field(dl, "class", r[6] >= 0 ? texts[r[6]] : "");
    field(dl, "file", r[7] >= 0 ? texts[r[7]] + (d.line ? ":" + d.line : "") : "");
    panel.appendChild(dl);
    block(panel, "Message", d.message || (r[4] >= 0 && !d.trace ? messages[r[4]] : ""));
    block(panel, "Stack trace", d.trace);
    block(panel, "Standard output", d.stdout);
    block(panel, "Standard error", d.stderr);
    evidence(panel, d.evidence);
    if (d.attempts && d.attempts.length) {
      panel.appendChild(el("h4", null, "Attempts (" + d.attempts.length + ")"));
      var ol = el("ol", "attempts");
      for (var a = 0; a < d.attempts.length; a++) {
        var at = d.attempts[a], li = el("li");
        li.appendChild(el("span", "st " + LETTERS[at[0]], LETTERS[at[0]]));
        li.appendChild(el("span", "du", (at[1] / 1000).toFixed(3) + " s"));
        if (at[4]) li.appendChild(el("span", "when", when(at[4])));
        block(li, "Message", at[2]); block(li, "Stack trace", at[3]);
        block(li, "Standard output", at[6]); block(li, "Standard error", at[7]);
        evidence(li, at[5]);
        ol.appendChild(li);
      }
      panel.appendChild(ol);
    }
    if (r[9] >= 0) {
      var past = histories[r[9]], strip = el("div", "history");
      panel.appendChild(el("h4", null, "History (last " + past.length + " runs, oldest first)"));
      for (var h = 0; h < past.length; h++) {
        var box = el("span", "hbox " + LETTERS[past[h]], past[h]);
        box.title = LETTERS[past[h]] + (d.durations && d.durations[h] !== undefined ? ", " + (d.durations[h] / 1000).toFixed(3) + " s" : "");
        strip.appendChild(box);
      }
      panel.appendChild(strip);
    }
    panel.hidden = false;
  }
  function pick(event){
    var target = event.target.closest ? event.target.closest(".row") : null;
    if (target && target.hasAttribute("data-i")) show(+target.getAttribute("data-i"));
  }
  spacer.addEventListener("click", pick);
  spacer.addEventListener("keydown", function(event){ if (event.key === "Enter") pick(event); });
  var pending = false;
  viewport.addEventListener("scroll", function(){ if (!pending) { pending = true; requestAnimationFrame(function(){ pending = false; draw(); }); } });
  var timer = null;
  search.addEventListener("input", function(){ clearTimeout(timer); timer = setTimeout(apply, 120); });
  filter.addEventListener("change", apply);
  window.maestroReport = {apply: apply, show: show, visible: function(){ return view.length; }};
  apply();
  document.body.setAttribute("data-ready", "true");
})();
