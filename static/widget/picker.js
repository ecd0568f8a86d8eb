// Open Lockers checkout picker: searches the public site endpoint and hands the chosen
// site to the shop's page. No partner secret is ever here: the search is keyless and
// read-only, and the choice is posted only to the origin the shop named (`origin`).
(function () {
  "use strict";
  var root = document.getElementById("picker");
  var form = root.querySelector("form.search");
  var list = root.querySelector("ol.sites");
  var map = root.querySelector("svg.map");
  var statusLine = root.querySelector(".status");
  var origin = root.dataset.origin;
  var returnUrl = root.dataset.returnUrl;
  var SVG = "http://www.w3.org/2000/svg";

  function receiver() {
    if (window.opener && !window.opener.closed) return window.opener;
    if (window.parent && window.parent !== window) return window.parent;
    return null;
  }

  function choose(site) {
    var target = receiver();
    var message = {type: "openlockers:site-selected", site: {id: site.id, code: site.code, name: site.name, address: site.address}};
    if (target && origin) {
      target.postMessage(message, origin);
      statusLine.textContent = "You chose " + site.name + ".";
      if (window.opener) window.close();
      return;
    }
    if (returnUrl) {
      var url = new URL(returnUrl);
      url.searchParams.set("site_id", String(site.id));
      window.location.assign(url.toString());
      return;
    }
    statusLine.textContent = "This picker was opened without an origin or a return URL: nothing to send the choice to.";
  }

  function plot(sites) {
    while (map.firstChild) map.removeChild(map.firstChild);
    map.hidden = sites.length === 0;
    if (!sites.length) return;
    var lats = sites.map(function (s) { return s.latitude; });
    var lons = sites.map(function (s) { return s.longitude; });
    var minLat = Math.min.apply(null, lats), maxLat = Math.max.apply(null, lats);
    var minLon = Math.min.apply(null, lons), maxLon = Math.max.apply(null, lons);
    var spanLat = Math.max(maxLat - minLat, 0.002), spanLon = Math.max(maxLon - minLon, 0.002);
    sites.forEach(function (site, index) {
      var x = 30 + ((site.longitude - minLon) / spanLon) * 340;
      var y = 170 - ((site.latitude - minLat) / spanLat) * 140;
      var dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x.toFixed(1));
      dot.setAttribute("cy", y.toFixed(1));
      dot.setAttribute("r", "8");
      var title = document.createElementNS(SVG, "title");
      title.textContent = site.name;
      dot.appendChild(title);
      dot.addEventListener("click", function () { choose(site); });
      var label = document.createElementNS(SVG, "text");
      label.setAttribute("x", (x + 11).toFixed(1));
      label.setAttribute("y", (y + 4).toFixed(1));
      label.textContent = String(index + 1);
      map.appendChild(dot);
      map.appendChild(label);
    });
  }

  function freeText(free) {
    return Object.keys(free).map(function (size) { return size.toUpperCase() + " " + free[size]; }).join(" · ");
  }

  function render(sites) {
    list.textContent = "";
    sites.forEach(function (site, index) {
      var item = document.createElement("li");
      item.dataset.siteId = String(site.id);
      var text = document.createElement("div");
      var name = document.createElement("strong");
      name.textContent = (index + 1) + ". " + site.name;
      var details = document.createElement("span");
      details.className = "muted";
      var distance = site.distance_km === null ? "" : " · " + site.distance_km.toFixed(1) + " km";
      details.textContent = site.address + distance + " · free: " + freeText(site.free_by_size);
      text.appendChild(name);
      text.appendChild(document.createElement("br"));
      text.appendChild(details);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choose";
      button.textContent = "Choose";
      button.setAttribute("aria-label", "Choose " + site.name);
      button.addEventListener("click", function () { choose(site); });
      item.appendChild(text);
      item.appendChild(button);
      list.appendChild(item);
    });
    plot(sites);
    statusLine.textContent = sites.length ? sites.length + " lockers found." : "No lockers found there. Try a postal code or a city.";
  }

  function search() {
    var params = new URLSearchParams({q: form.elements.q.value.trim()});
    if (root.dataset.size) params.set("size", root.dataset.size);
    statusLine.textContent = "Searching…";
    fetch(root.dataset.api + "?" + params.toString(), {headers: {Accept: "application/json"}})
      .then(function (response) {
        if (response.status === 429) throw new Error("Too many searches: wait a moment and try again.");
        if (!response.ok) throw new Error("Search failed: check the postal code or address.");
        return response.json();
      })
      .then(function (body) { render(body.results); })
      .catch(function (error) { statusLine.textContent = error.message; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    search();
  });
  if (form.elements.q.value.trim()) search();
})();
