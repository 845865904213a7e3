// The dashboard's incident feed (the situation app's panel, dai_dashboard_panels): each poll of
// the dashboard brings the incidents recorded since the last one ("dai:panel" on the card); they
// are added at the top of the live log, never the whole list redrawn (a screen reader announces
// only what is new).
(function () {
  "use strict";
  const card = document.querySelector('[data-panel="incidents"]');
  const feedEl = document.getElementById("incident-feed");
  if (!card || !feedEl) return;
  const feedEmpty = document.getElementById("incident-feed-empty");
  const lifeText = feedEl.dataset.lifeThreat || "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function lifeBadge() {
    const badge = el("span", "life-badge");
    const icon = el("span", null, "⚠");
    icon.setAttribute("aria-hidden", "true");
    badge.append(icon, " " + lifeText);
    return badge;
  }

  function feedItem(item) {
    const li = el("li", "feed-item is-new" + (item.life_threat ? " is-life" : ""));
    li.dataset.id = String(item.id);
    const a = el("a");
    a.href = item.url;
    const time = el("time", null, item.time);
    time.dateTime = item.occurred_at;
    time.title = `${item.day} ${item.time}`;
    a.append(time, " ", el("span", "feed-cat", item.category_label), " ");
    if (item.life_threat) a.append(lifeBadge(), " ");
    const where = [item.district_name, item.place_name].filter(Boolean).join(" · ");
    a.append(el("span", "feed-where", where), " ", el("span", "feed-status", item.status_label));
    li.appendChild(a);
    return li;
  }

  card.addEventListener("dai:panel", (event) => {
    const data = event.detail.data || {};
    (data.items || []).forEach((item) => {
      if (feedEl.querySelector(`[data-id="${item.id}"]`)) return;
      feedEl.prepend(feedItem(item));
    });
    while (feedEl.children.length > 50) feedEl.lastElementChild.remove();
    if (feedEmpty) feedEmpty.hidden = feedEl.children.length > 0;
  });
})();
