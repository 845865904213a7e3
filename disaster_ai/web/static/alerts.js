// Live notifications: toasts, a count in the title and an optional sound. The server pushes
// them as server-sent events (/notifications/stream, resumed with Last-Event-ID); a page that
// cannot hold a stream polls /notifications.json instead. Every tab gets every notification;
// tabs of one browser share what was dismissed and play a sound only once (BroadcastChannel,
// with localStorage as the shared memory).
"use strict";
(() => {
  const root = document.getElementById("dai-alerts");
  if (!root || !window.fetch) return;
  const list = root.querySelector(".toast-list");
  const d = root.dataset;
  const user = d.user || "";
  const keyLast = `dai.alerts.last.${user}`;
  const keySound = "dai.alerts.sound";
  const keySounded = `dai.alerts.sounded.${user}`;
  const MAX_SHOWN = 6;
  const baseTitle = document.title;
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("dai-alerts") : null;
  const shown = new Map(); // id → element
  let hidden = 0; // arrived while MAX_SHOWN were on screen
  let audio = null;

  const store = {
    get(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } },
    set(key, value) { try { window.localStorage.setItem(key, String(value)); } catch (e) { /* private mode */ } },
  };
  const lastSeen = () => Number(store.get(keyLast)) || 0;

  function updateTitle() {
    const n = shown.size + hidden;
    document.title = n ? `(${n}) ${baseTitle}` : baseTitle;
    root.dataset.count = String(n);
    let more = list.querySelector(".toast-more");
    if (hidden) {
      if (!more) { more = document.createElement("p"); more.className = "toast-more"; list.prepend(more); }
      more.textContent = (d.more || "{n}").replace("{n}", String(hidden));
    } else if (more) more.remove();
  }

  function remove(id, tell) {
    const el = shown.get(id);
    if (!el) return;
    el.remove();
    shown.delete(id);
    if (tell && channel) channel.postMessage({ dismiss: id });
    updateTitle();
  }

  function timeOf(iso) {
    const m = /T(\d\d:\d\d)/.exec(iso || "");
    return m ? m[1] : "";
  }

  function show(item) {
    if (shown.has(item.id)) return;
    if (shown.size >= MAX_SHOWN) { hidden += 1; updateTitle(); return; }
    const el = document.createElement("div");
    el.className = `toast ${item.severity === "urgent" ? "urgent" : "info"}`;
    el.dataset.id = String(item.id);
    el.dataset.event = item.event;
    el.setAttribute("role", item.severity === "urgent" ? "alert" : "status");
    const title = document.createElement(item.url ? "a" : "span");
    title.className = "toast-title";
    title.textContent = item.title;
    if (item.url) {
      title.href = item.url;
      title.addEventListener("click", () => remove(item.id, true));
    }
    el.append(title);
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", `${d.close || "Dismiss"}: ${item.title}`);
    close.addEventListener("click", () => remove(item.id, true));
    el.append(close);
    if (item.body) {
      const body = document.createElement("p");
      body.className = "toast-body";
      body.textContent = item.body;
      el.append(body);
    }
    const when = document.createElement("time");
    when.dateTime = item.created_at;
    when.textContent = timeOf(item.created_at);
    el.append(when);
    list.append(el);
    shown.set(item.id, el);
    updateTitle();
  }

  // --- sound: off by default; one beep per notification across the browser's tabs ----------
  const soundButton = document.getElementById("dai-sound");
  const soundOn = () => store.get(keySound) === "on";
  function paintSound() {
    if (!soundButton) return;
    soundButton.hidden = false;
    soundButton.setAttribute("aria-pressed", soundOn() ? "true" : "false");
    soundButton.textContent = soundOn() ? soundButton.dataset.on : soundButton.dataset.off;
  }
  function context() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  function beep(urgent) {
    const ctx = context();
    if (!ctx) return;
    const tones = urgent ? [880, 660, 880] : [660];
    tones.forEach((hz, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = hz;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(ctx.destination);
      const start = ctx.currentTime + i * 0.22;
      osc.start(start);
      osc.stop(start + 0.18);
    });
  }
  // One beep per notification for all the tabs of this browser: the first tab to claim it
  // (under a Web Lock where the page is a secure context, so two tabs cannot both claim it)
  // records it in localStorage; the others see it there and stay quiet.
  function claim(id, then) {
    const take = () => {
      if ((Number(store.get(keySounded)) || 0) >= id) return;
      store.set(keySounded, id);
      then();
    };
    if (navigator.locks && navigator.locks.request) {
      navigator.locks.request("dai-alerts-sound", take).catch(() => {});
    } else take();
  }
  function ring(item) {
    if (!soundOn()) return;
    // the visible tab claims it at once; hidden ones a moment later
    const wait = document.visibilityState === "visible" ? 0 : 400 + Math.random() * 400;
    window.setTimeout(() => claim(item.id, () => {
      if (channel) channel.postMessage({ sounded: item.id });
      window.dispatchEvent(new CustomEvent("dai:alert-sound", { detail: item }));
      beep(item.severity === "urgent");
    }), wait);
  }
  if (soundButton) {
    paintSound();
    soundButton.addEventListener("click", () => {
      store.set(keySound, soundOn() ? "off" : "on");
      if (soundOn()) context(); // a click lets the page make sound
      paintSound();
      if (channel) channel.postMessage({ sound: soundOn() });
    });
  }

  if (channel) {
    channel.onmessage = (message) => {
      const data = message.data || {};
      if (data.dismiss) remove(data.dismiss, false);
      if (data.sound !== undefined) paintSound();
    };
  }

  // --- receiving ---------------------------------------------------------------------------
  function receive(item, fresh) {
    if (!item || !item.id) return;
    if (item.id > lastSeen()) store.set(keyLast, item.id);
    show(item);
    if (fresh) ring(item);
  }

  // --- the server in trouble: one banner on every page until it answers again ---------------
  const banner = document.createElement("div");
  banner.id = "dai-degraded";
  banner.className = "degraded-banner";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  document.body.prepend(banner);
  function setDegraded(message) {
    if (message) {
      if (banner.textContent !== message) banner.textContent = message;
      banner.hidden = false;
    } else if (!banner.hidden) {
      banner.hidden = true;
      banner.textContent = "";
    }
  }
  // the server's own words when it answered (503 database_unavailable, 507 storage_full …)
  function trouble(response) {
    return response.json()
      .then((body) => (body && body.error && body.error.message) || d.offline)
      .catch(() => d.offline)
      .then((message) => { setDegraded(message); throw new Error(`HTTP ${response.status}`); });
  }
  const RETRY_MS = 10000;

  let polling = null;
  function poll(after) {
    const url = `${d.pollUrl}${after ? `?after=${after}` : ""}`;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : trouble(r)))
      .then((body) => {
        setDegraded(null);
        body.notifications.forEach((item) => receive(item, true));
        polling = window.setTimeout(() => poll(body.latest), (body.poll_seconds || 15) * 1000);
      })
      .catch((error) => {
        if (!String(error && error.message).startsWith("HTTP")) setDegraded(d.offline);
        polling = window.setTimeout(() => poll(after), RETRY_MS);
      });
  }

  // a stream that broke: ask once what is wrong, so the banner can say it
  let probing = false;
  function probe() {
    if (probing) return;
    probing = true;
    fetch(d.pollUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? setDegraded(null) : trouble(r)))
      .catch((error) => { if (!String(error && error.message).startsWith("HTTP")) setDegraded(d.offline); })
      .finally(() => { probing = false; });
  }

  function listen() {
    const after = lastSeen();
    if (!("EventSource" in window)) { poll(after); return; }
    const source = new EventSource(`${d.streamUrl}${after ? `?after=${after}` : ""}`);
    root.dataset.transport = "sse";
    source.addEventListener("notification", (event) => {
      try { receive(JSON.parse(event.data), true); } catch (e) { /* a malformed event is skipped */ }
    });
    source.addEventListener("open", () => setDegraded(null));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) probe();
      // CLOSED: the server refused the stream (logged out, an error page): poll instead
      if (source.readyState === EventSource.CLOSED && polling === null) {
        root.dataset.transport = "poll";
        poll(lastSeen());
      }
    });
  }
  listen();
})();
