/*! enr-ep results widget. No third-party code. Apache-2.0.
 Script mode: <script src=".../<version>/widget/widget.js" data-enr-view="eu|country" data-enr-country="FR"
   data-enr-lang="de" data-enr-refresh="60" async></script>  (renders in place, in a shadow root)
 Iframe mode: <iframe src=".../<version>/widget/embed.html?view=country&country=FR&lang=de"></iframe>
   (posts {type:"enr-widget-height",height} to the parent; widget.js in the parent resizes the iframe)
 It polls <election>/current.json and loads <election>/<version>/data/... when the version changes;
 if there is no pointer (the folder opened on its own), it shows the version it was loaded from. */
(function () {
  "use strict";
  var W = window, D = document;
  var CSS = ":host,.enr{all:initial;display:block;font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1a1a1a;background:#fff}" +
    ".enr{padding:8px;border:1px solid #ccc;max-width:100%;box-sizing:border-box}.enr *{box-sizing:border-box}" +
    ".enr h2{font-size:16px;margin:0 0 6px}.enr table{width:100%;border-collapse:collapse}" +
    ".enr th,.enr td{text-align:left;padding:2px 4px;border-bottom:1px solid #e5e5e5;font-weight:400;overflow-wrap:anywhere}" +
    ".enr td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.enr .sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:0}" +
    ".enr svg{width:100%;height:18px;display:block;margin:4px 0}.enr .b{padding:4px 6px;margin:0 0 6px;font-weight:700}" +
    ".enr .t{background:#b00020;color:#fff}.enr .p{background:#fff4ce;border:1px dashed #b38600}" +
    ".enr .f{font-size:12px;color:#595959;margin-top:6px}.enr a{color:#003399}";
  var SVGNS = "http://www.w3.org/2000/svg";

  function el(tag, text, cls) {
    var e = D.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function get(url, cb) {
    var x = new XMLHttpRequest();
    x.open("GET", url, true);
    x.timeout = 15000;
    x.onload = function () {
      if (x.status >= 200 && x.status < 300) {
        try { cb(null, JSON.parse(x.responseText)); } catch (e) { cb(e); }
      } else { cb(new Error(x.status)); }
    };
    x.onerror = x.ontimeout = function () { cb(new Error("network")); };
    try { x.send(); } catch (e) { cb(e); }
  }
  function fill(s, v) { return s.replace(/%\((\w+)\)s/g, function (_, k) { return v[k]; }); }

  function Widget(host, opts) {
    this.host = host; this.o = opts; this.version = null; this.labels = null;
    var num = W.Intl ? new Intl.NumberFormat(opts.lang) : null;
    this.n = function (x) { return x === null || x === undefined ? "\u2013" : (num ? num.format(x) : String(x)); };
    this.pct = function (s) {
      if (s === null || s === undefined) { return "\u2013"; }
      return W.Intl ? new Intl.NumberFormat(opts.lang, {style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2}).format(parseFloat(s) / 100) : s + "%";
    };
    this.when = function (iso) {
      if (!iso) { return "\u2013"; }
      try {
        return new Intl.DateTimeFormat(opts.lang, {dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Brussels"}).format(new Date(iso));
      } catch (e) { return iso; }
    };
    this.poll();
  }
  Widget.prototype.poll = function () {
    var self = this, o = this.o;
    if (!(D.hidden && this.version)) {
      get(o.election + "current.json", function (err, cur) {  // short-TTL pointer: no cache-busting, CDNs absorb the polls
        var root = (!err && cur && cur.version) ? o.election + cur.version + "/" : o.own;
        var version = (!err && cur && cur.version) ? cur.version : "own";
        if (version !== self.version) { self.load(root, version); }
      });
    }
    if (o.refresh > 0) { setTimeout(function () { self.poll(); }, o.refresh * 1000); }
  };
  Widget.prototype.load = function (root, version) {
    var self = this, o = this.o;
    var data = o.view === "country" ? "data/countries/" + o.country.toLowerCase() + ".json" : "data/eu.json";
    get(root + data, function (err, d) {
      if (err) { return; }
      var done = function (labels) { self.labels = labels; self.version = version; self.render(root, d); };
      if (self.labels) { done(self.labels); } else {
        get(o.own + "widget/i18n/" + o.lang + ".json", function (e2, l) { done(e2 ? {s: {}, g: {}, c: {}, st: {}} : l); });
      }
    });
  };
  Widget.prototype.t = function (k) { return this.labels.s[k] || k; };
  Widget.prototype.render = function (root, d) {
    var self = this, L = this.labels, box = el("div", null, "enr"), final = true, h, tb, tr, i;
    box.setAttribute("lang", this.o.lang);
    if (d.test) { h = el("p", this.t("test"), "b t"); h.setAttribute("role", "status"); box.appendChild(h); }
    if (d.synthetic) { h = el("p", this.t("synthetic"), "b t"); h.setAttribute("role", "status"); box.appendChild(h); }
    if (this.o.view === "country") {
      var c = d.country;
      final = c.status === "final" || c.status === "official";
      box.appendChild(el("h2", L.c[c.code] || c.code));
      box.appendChild(el("p", this.t("result_type") + ": " + (L.st[c.status] || c.status) + " \u00b7 " +
        this.t("as_of") + ": " + this.when(c.as_of) + " (" + this.t("brussels") + ")"));
      var tbl = el("table"); h = el("tr");
      [this.t("list"), this.t("votes"), this.t("share"), this.t("seats")].forEach(function (x) { h.appendChild(el("th", x)); });
      tbl.appendChild(h);
      var rows = d.rows.slice(0, Math.max(12, d.rows.filter(function (r) { return r.seats > 0; }).length));
      for (i = 0; i < rows.length; i++) {
        tr = el("tr");
        var name = el("td", rows[i].party_abbrev || rows[i].list_name);
        name.title = rows[i].list_name;
        if (L.bl && L.bl[c.code]) { name.setAttribute("lang", L.bl[c.code]); }
        tr.appendChild(name);
        tr.appendChild(el("td", this.n(rows[i].votes), "n"));
        tr.appendChild(el("td", this.pct(rows[i].vote_share), "n"));
        tr.appendChild(el("td", this.n(rows[i].seats), "n"));
        tbl.appendChild(tr);
      }
      box.appendChild(tbl);
    } else {
      final = d.all_final;
      box.appendChild(el("h2", this.t("title_eu")));
      box.appendChild(el("p", this.t("result_type") + ": " + this.t(d.estimated ? "type_mixed" : "type_counted") + " \u00b7 " +
        this.t("as_of") + ": " + this.when(d.as_of) + " (" + this.t("brussels") + ")"));
      var svg = D.createElementNS(SVGNS, "svg"), x = 0;
      svg.setAttribute("viewBox", "0 0 " + d.seats_total + " 10");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("aria-hidden", "true");
      for (i = 0; i < d.rows.length; i++) {
        var r = D.createElementNS(SVGNS, "rect");
        r.setAttribute("x", x); r.setAttribute("width", d.rows[i].seats); r.setAttribute("height", 10);
        r.setAttribute("fill", d.colors[d.rows[i].group] || "#767676");
        svg.appendChild(r); x += d.rows[i].seats;
      }
      var m = D.createElementNS(SVGNS, "rect");
      m.setAttribute("x", d.majority - 1); m.setAttribute("width", 2); m.setAttribute("height", 10); m.setAttribute("fill", "#000");
      svg.appendChild(m);
      box.appendChild(svg);
      box.appendChild(el("p", fill(this.t("majority"), {majority: this.n(d.majority), total: this.n(d.seats_total)})));
      tb = el("table");
      for (i = 0; i < d.rows.length; i++) {
        tr = el("tr");
        var g = el("td"), sw = el("span", null, "sw");
        sw.style.background = d.colors[d.rows[i].group] || "#767676";
        g.appendChild(sw);
        g.appendChild(D.createTextNode(d.rows[i].group + " \u2013 " + (L.g[d.rows[i].group] || d.rows[i].group_name)));
        tr.appendChild(g);
        tr.appendChild(el("td", this.n(d.rows[i].seats), "n"));
        tr.appendChild(el("td", this.pct(d.rows[i].seat_share), "n"));
        tb.appendChild(tr);
      }
      box.appendChild(tb);
    }
    if (!final) { box.insertBefore(el("p", this.t("not_final"), "b p"), box.firstChild.nextSibling || null); }
    var f = el("p", null, "f"), a = el("a", this.t("full"));
    a.href = root + this.o.lang + "/" + (this.o.view === "country" ? "country/" + this.o.country.toLowerCase() + ".html" : "index.html");
    a.target = "_blank"; a.rel = "noopener";
    f.appendChild(a);
    f.appendChild(D.createTextNode(" \u00b7 " + d.version));
    box.appendChild(f);
    while (this.host.firstChild) { this.host.removeChild(this.host.firstChild); }
    var st = el("style", CSS);
    this.host.appendChild(st);
    this.host.appendChild(box);
    if (this.o.iframe) {  // the frame's document is titled in its language, as its heading
      D.title = this.o.view === "country" ? (L.c[d.country.code] || d.country.code) : this.t("title_eu");
      this.report();
    }
  };
  Widget.prototype.report = function () {
    var h = Math.ceil(D.documentElement.getBoundingClientRect().height);
    if (W.parent !== W) { W.parent.postMessage({type: "enr-widget-height", height: h}, "*"); }
  };

  function opts(src, get) {
    var own = new URL("../", src).href, view = get("view") === "country" ? "country" : "eu";
    var lang = (get("lang") || D.documentElement.lang || "en").toLowerCase().slice(0, 2);
    var cc = (get("country") || "").toUpperCase().replace(/[^A-Z]/g, "").slice(0, 2);
    if (view === "country" && !cc) { view = "eu"; }
    var refresh = parseInt(get("refresh") || "60", 10);
    return {own: own, election: new URL("../../", src).href, view: view, country: cc,
            lang: /^[a-z]{2}$/.test(lang) ? lang : "en", refresh: isNaN(refresh) ? 60 : Math.max(refresh, 15)};
  }

  var me = D.currentScript;
  if (!me) { return; }
  var src = me.src;
  if (me.getAttribute("data-enr-mode") === "iframe") {
    var q = new URLSearchParams(location.search);
    var o = opts(src, function (k) { return q.get(k); });
    o.iframe = true;
    D.documentElement.lang = o.lang;
    var host = D.getElementById("enr") || D.body;
    new Widget(host, o);
    if (W.ResizeObserver) { new ResizeObserver(function () { Widget.prototype.report(); }).observe(D.documentElement); }
    W.addEventListener("resize", function () { Widget.prototype.report(); });
    return;
  }
  // host page: resize our iframes on request, then render in place if asked to
  if (!W.__enrResizer) {
    W.__enrResizer = true;
    W.addEventListener("message", function (e) {
      if (!e.data || e.data.type !== "enr-widget-height") { return; }
      var frames = D.querySelectorAll("iframe[data-enr-widget]");
      for (var i = 0; i < frames.length; i++) {
        if (frames[i].contentWindow === e.source) { frames[i].style.height = (parseInt(e.data.height, 10) + 2) + "px"; }
      }
    });
  }
  if (!me.hasAttribute("data-enr-view")) { return; }
  var div = el("div");
  me.parentNode.insertBefore(div, me.nextSibling);
  var root = div.attachShadow ? div.attachShadow({mode: "open"}) : div;
  new Widget(root, opts(src, function (k) { return me.getAttribute("data-enr-" + k); }));
})();
