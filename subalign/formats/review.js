// subalign review page: playback, karaoke highlight, waveform strip, marks, cue nudging and
// SRT/WebVTT download. Plain ES2020, no libraries, nothing fetched: the page works from a file.
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("subalign-data").textContent);
  const $ = (id) => document.getElementById(id);
  const media = $("media");
  const wave = $("wave"), overview = $("overview");
  const transcript = $("transcript");
  const cueEls = Array.from(transcript.querySelectorAll(".cue"));
  const wordEls = Array.from(transcript.querySelectorAll(".w"));
  const cues = DATA.cues;                     // {s, e (ms), srt, [vtt, text, placed, findings]}
  for (const c of cues) {                     // what the file leaves out when it repeats srt
    c.vtt = c.vtt || c.srt;
    c.text = c.text === undefined ? c.srt.join(" ") : c.text;
    c.placed = c.placed || "";                // how a cue placed without its words was placed
    c.findings = c.findings || [];
  }
  const duration = DATA.duration;
  const durationMs = Math.round(duration * 1000);

  // ---- words, read from the page's own elements ------------------------------------------------
  const wStart = new Float64Array(wordEls.length), wEnd = new Float64Array(wordEls.length);
  const wScore = new Float64Array(wordEls.length), wCue = new Int32Array(wordEls.length).fill(-1);
  let maxWord = 0;
  wordEls.forEach((el, i) => {
    const s = el.getAttribute("data-start");
    wStart[i] = s === "" ? NaN : +s;
    wEnd[i] = s === "" ? NaN : +el.getAttribute("data-end");
    wScore[i] = +(el.getAttribute("data-score") || 0);
    if (s !== "") maxWord = Math.max(maxWord, wEnd[i] - wStart[i]);
  });
  cueEls.forEach((el, k) => el.querySelectorAll(".w").forEach((w) => { wCue[+w.dataset.i] = k; }));
  // Found words sorted by start, for finding the word at a time by bisection.
  const order = [];
  for (let i = 0; i < wordEls.length; i++) if (!Number.isNaN(wStart[i])) order.push(i);
  order.sort((a, b) => wStart[a] - wStart[b] || a - b);
  const orderStart = Float64Array.from(order, (i) => wStart[i]);

  function lastAtOrBefore(arr, x) {           // index of the last arr[k] <= x, or -1
    let lo = 0, hi = arr.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] <= x) lo = mid + 1; else hi = mid; }
    return lo - 1;
  }
  function wordAt(t) {                        // the word whose [start, end) holds t, or -1
    for (let k = lastAtOrBefore(orderStart, t); k >= 0 && orderStart[k] > t - maxWord - 1e-9; k--) {
      const i = order[k];
      if (t < wEnd[i]) return i;
    }
    return -1;
  }
  function cueStarts() { return Float64Array.from(cues, (c) => c.s); }
  let cueStartMs = cueStarts();
  function cueAt(t) {                         // the cue shown at t, or -1
    const k = lastAtOrBefore(cueStartMs, t * 1000 + 1e-6);
    return k >= 0 && t * 1000 < cues[k].e ? k : -1;
  }

  // ---- times as subalign writes them ---------------------------------------------------------
  const pad = (n, w) => String(n).padStart(w, "0");
  function clock(ms, sep) {                   // HH:MM:SS<sep>mmm, hours grow past two digits
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60;
    const s = Math.floor(ms / 1000) % 60, f = ms % 1000;
    return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${sep}${pad(f, 3)}`;
  }
  function short(t) {                         // [h:]m:ss.mmm for the page
    const ms = Math.max(0, Math.round(t * 1000));
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = (ms % 60000) / 1000;
    return `${h ? `${h}:${pad(m, 2)}` : m}:${s.toFixed(3).padStart(6, "0")}`;
  }

  // ---- waveform peaks: level 0 as stored, coarser levels made on demand ------------------------
  const peakRate = DATA.peaks.rate;
  const levels = [(() => {
    const bin = atob(DATA.peaks.data), out = new Int8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = (bin.charCodeAt(i) << 24) >> 24;
    return out;
  })()];
  function level(k) {                         // pairs of min/max, each merging 2^k stored pairs
    while (levels.length <= k) {
      const prev = levels[levels.length - 1], n = prev.length >> 2, out = new Int8Array(Math.max(2, n * 2));
      for (let j = 0; j < n; j++) {
        out[2 * j] = Math.min(prev[4 * j], prev[4 * j + 2]);
        out[2 * j + 1] = Math.max(prev[4 * j + 1], prev[4 * j + 3]);
      }
      levels.push(out);
    }
    return levels[k];
  }

  // ---- state ---------------------------------------------------------------------------------
  const view = { t0: 0, span: Math.min(10, Math.max(duration, 1)) };
  let cursor = 0, nowWord = -1, nowCue = -1, selected = -1, stopAt = null;
  let low = DATA.low;
  const edited = new Set();
  const follow = $("follow");
  const status = $("status");
  let statusTimer = null;
  function say(text) {
    status.textContent = text;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { status.textContent = ""; }, 4000);
  }

  // ---- playback ------------------------------------------------------------------------------
  function time() { return media && media.readyState > 0 ? media.currentTime : cursor; }
  function seek(t, play) {
    cursor = Math.min(Math.max(0, t), duration);
    if (media) {
      try { media.currentTime = cursor; } catch (e) { /* not loaded yet: cursor stands in */ }
      if (play) {
        const p = media.play();
        if (p && p.catch) p.catch((err) => say(`cannot play: ${err.message}`));
      }
    }
    if (cursor < view.t0 || cursor > view.t0 + view.span) view.t0 = clampView(cursor - view.span * 0.2);
    update();
  }
  function clampView(t0) { return Math.min(Math.max(0, t0), Math.max(0, duration - view.span)); }
  function loop() {
    update();
    if (media && !media.paused) requestAnimationFrame(loop);
  }
  if (media) {
    media.addEventListener("play", () => { $("play").innerHTML = "&#10074;&#10074;"; loop(); });
    media.addEventListener("pause", () => { $("play").innerHTML = "&#9654;"; stopAt = null; update(); });
    for (const ev of ["timeupdate", "loadedmetadata"]) media.addEventListener(ev, update);
    media.addEventListener("seeked", () => {   // also a seek from the media's own controls
      const t = time();
      if (t < view.t0 || t > view.t0 + view.span) view.t0 = clampView(t - view.span * 0.2);
      update();
    });
    media.addEventListener("error", () => {
      const msg = $("media-msg");
      msg.hidden = false;
      msg.textContent = `The browser cannot load or play "${DATA.media.name}" (moved away from this page, ` +
        "or a format this browser does not play). The review works without sound; to hear it, keep the " +
        "media where it was, or convert it (e.g. ffmpeg -i IN -c:a aac OUT.m4a) and render the page again.";
    });
  }
  $("play").addEventListener("click", () => {
    if (!media) return;
    if (media.paused) seek(time(), true); else media.pause();
  });

  function update() {
    const t = time();
    if (stopAt !== null && t >= stopAt && media && !media.paused) { media.pause(); stopAt = null; }
    $("clock").textContent = short(t);
    const w = wordAt(t);
    if (w !== nowWord) {
      if (nowWord >= 0) wordEls[nowWord].classList.remove("now");
      if (w >= 0) wordEls[w].classList.add("now");
      nowWord = w;
    }
    const c = cueAt(t);
    if (c !== nowCue) {
      if (nowCue >= 0) cueEls[nowCue].classList.remove("cur");
      if (c >= 0) {
        cueEls[c].classList.add("cur");
        if (follow.checked) scrollTranscript(cueEls[c]);
      }
      $("caption").textContent = c >= 0 ? cues[c].srt.join("\n").replace(/<\/?[biu]>/g, "") : "";
      nowCue = c;
    } else if (w >= 0 && follow.checked && wCue[w] < 0) {
      scrollTranscript(wordEls[w]);
    }
    if (media && !media.paused && follow.checked && (t > view.t0 + view.span * 0.9 || t < view.t0)) {
      view.t0 = clampView(t - view.span * 0.1);
    }
    redraw();
  }
  function scrollTranscript(el) {
    const box = transcript.getBoundingClientRect(), r = el.getBoundingClientRect();
    if (r.top < box.top + 20 || r.bottom > box.bottom - 20) {
      transcript.scrollTop += r.top - box.top - box.height / 3;
    }
  }

  // ---- the transcript: click a word or a cue ------------------------------------------------
  transcript.addEventListener("click", (ev) => {
    const w = ev.target.closest(".w");
    const c = ev.target.closest(".cue");
    if (c) select(+c.dataset.cue, false);
    if (w && w.dataset.start !== "") { seek(+w.dataset.start, true); return; }
    if (w) { say("this word was not found in the audio: it has no time"); return; }
    if (c) seek(cues[+c.dataset.cue].s / 1000, true);
  });

  // ---- drawing -------------------------------------------------------------------------------
  const dpr = () => window.devicePixelRatio || 1;
  function fit(canvas) {
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr())), h = Math.max(1, Math.round(canvas.clientHeight * dpr()));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const g = canvas.getContext("2d");
    g.setTransform(dpr(), 0, 0, dpr(), 0, 0);
    return [g, canvas.clientWidth, canvas.clientHeight];
  }
  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawWave(); drawOverview(); });
  }
  function drawPeaks(g, t0, span, x0, width, mid, amp, color) {
    const binsPerPx = (span * peakRate) / width;
    const k = Math.max(0, Math.floor(Math.log2(Math.max(1, binsPerPx))));
    const data = level(k), per = peakRate / 2 ** k, n = data.length / 2;
    g.fillStyle = color;
    for (let x = 0; x < width; x++) {
      const a = Math.floor((t0 + (x / width) * span) * per);
      const b = Math.max(a + 1, Math.floor((t0 + ((x + 1) / width) * span) * per));
      if (a >= n) break;
      let lo = 0, hi = 0;
      for (let j = Math.max(0, a); j < Math.min(b, n); j++) {
        if (data[2 * j] < lo) lo = data[2 * j];
        if (data[2 * j + 1] > hi) hi = data[2 * j + 1];
      }
      const top = mid - (hi / 127) * amp, bottom = mid - (lo / 127) * amp;
      g.fillRect(x0 + x, top, 1, Math.max(1, bottom - top));
    }
  }
  function hatch(g, x, y, w, h, color) {
    g.save();
    g.beginPath(); g.rect(x, y, w, h); g.clip();
    g.strokeStyle = color; g.lineWidth = 1;
    for (let d = -h; d < w; d += 6) { g.beginPath(); g.moveTo(x + d, y + h); g.lineTo(x + d + h, y); g.stroke(); }
    g.restore();
  }
  function niceStep(span, width) {
    const want = span / Math.max(1, width / 90);
    for (const s of [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]) if (s >= want) return s;
    return 7200;
  }
  const CUE_Y = 16, CUE_H = 20, WORD_H = 22;
  function drawWave() {
    const [g, W, H] = fit(wave);
    const { t0, span } = view, t1 = t0 + span, px = (t) => ((t - t0) / span) * W;
    g.clearRect(0, 0, W, H);
    // time axis
    g.fillStyle = "#656d76"; g.font = "10px system-ui, sans-serif"; g.textBaseline = "top";
    const step = niceStep(span, W);
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = px(t);
      g.fillRect(x, 0, 1, 4);
      g.fillText(step < 1 ? short(t).replace(/0+$/, "") : short(t).replace(/\.000$/, ""), x + 2, 2);
    }
    // waveform
    const wTop = CUE_Y + CUE_H + 4, wBottom = H - WORD_H - 4;
    drawPeaks(g, t0, span, 0, W, (wTop + wBottom) / 2, (wBottom - wTop) / 2, "#8c9aab");
    // cues
    g.textBaseline = "middle"; g.font = "11px system-ui, sans-serif";
    for (let k = Math.max(0, lastAtOrBefore(cueStartMs, t0 * 1000)); k < cues.length && cues[k].s / 1000 < t1; k++) {
      const c = cues[k], x = px(c.s / 1000), w = Math.max(1, px(c.e / 1000) - x);
      if (x + w < 0) continue;
      const odd = c.placed !== "";
      g.fillStyle = edited.has(k) ? "#d1fadf" : odd ? "#fde8e8" : k === nowCue ? "#b6cdf0" : "#dbe6f4";
      g.fillRect(x, CUE_Y, w, CUE_H);
      if (odd) hatch(g, x, CUE_Y, w, CUE_H, c.placed === "unspoken" ? "#c0c4ca" : "#f0a0a0");
      g.lineWidth = k === selected ? 2.5 : 1;
      g.strokeStyle = k === selected ? "#1d4ed8" : c.findings.length ? "#b91c1c" : "#7f9cc4";
      g.strokeRect(x + 0.5, CUE_Y + 0.5, w - 1, CUE_H - 1);
      g.save(); g.beginPath(); g.rect(x + 2, CUE_Y, w - 4, CUE_H); g.clip();
      g.fillStyle = c.findings.length ? "#b91c1c" : "#1f2328";
      g.fillText(`${k + 1}${c.findings.length ? " !" : ""}  ${c.text}`, x + 4, CUE_Y + CUE_H / 2);
      g.restore();
    }
    // words
    const wy = H - WORD_H - 2;
    for (let k = Math.max(0, lastAtOrBefore(orderStart, t0 - maxWord)); k < order.length && orderStart[k] < t1; k++) {
      const i = order[k], x = px(wStart[i]), w = Math.max(1, px(wEnd[i]) - x);
      if (x + w < 0) continue;
      const isLow = wScore[i] < low;
      g.fillStyle = i === nowWord ? "#fde047" : isLow ? "#ffd8a8" : "#dbe7f5";
      g.fillRect(x, wy, w, WORD_H);
      g.strokeStyle = isLow ? "#f97316" : "#9db4d3"; g.lineWidth = 1;
      g.strokeRect(x + 0.5, wy + 0.5, w - 1, WORD_H - 1);
      if (w > 12) {
        g.save(); g.beginPath(); g.rect(x + 1, wy, w - 2, WORD_H); g.clip();
        g.fillStyle = "#1f2328"; g.fillText(wordEls[i].textContent, x + 3, wy + WORD_H / 2);
        g.restore();
      }
    }
    // playhead
    const x = px(time());
    g.fillStyle = "#e11d48"; g.fillRect(x - 0.5, 0, 1.5, H);
  }
  // The whole file's waveform and marks change only with the size and the marks: drawn once
  // into a canvas of their own, copied each frame under the viewport and the playhead.
  let overviewCache = null, overviewKey = "";
  function drawOverview() {
    const [g, W, H] = fit(overview);
    const px = (t) => (t / Math.max(duration, 1e-3)) * W;
    const key = `${overview.width}x${overview.height}:${marksVersion}`;
    if (key !== overviewKey) {
      overviewCache = overviewCache || document.createElement("canvas");
      overviewCache.width = overview.width; overviewCache.height = overview.height;
      const c = overviewCache.getContext("2d");
      c.setTransform(dpr(), 0, 0, dpr(), 0, 0);
      drawPeaks(c, 0, Math.max(duration, 1e-3), 0, W, H / 2, H / 2 - 2, "#b3bcc7");
      for (const m of marks) {
        if (!kinds[m.kind]) continue;
        c.fillStyle = KIND_COLOR[m.kind];
        c.fillRect(px(m.t) - 0.5, m.kind === "low" ? H - 8 : 0, 2, 8);
      }
      overviewKey = key;
    }
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, overview.width, overview.height);
    g.drawImage(overviewCache, 0, 0);
    g.setTransform(dpr(), 0, 0, dpr(), 0, 0);
    g.fillStyle = "rgba(29, 78, 216, 0.12)"; g.strokeStyle = "#1d4ed8"; g.lineWidth = 1;
    const x = px(view.t0), w = Math.max(2, px(view.t0 + view.span) - x);
    g.fillRect(x, 0, w, H); g.strokeRect(x + 0.5, 0.5, w - 1, H - 1);
    g.fillStyle = "#e11d48"; g.fillRect(px(time()) - 0.5, 0, 1.5, H);
  }
  wave.addEventListener("click", (ev) => {
    const r = wave.getBoundingClientRect(), t = view.t0 + ((ev.clientX - r.left) / r.width) * view.span;
    const y = ev.clientY - r.top;
    if (y >= CUE_Y && y <= CUE_Y + CUE_H) {
      const k = cueAt(t);
      if (k >= 0) { select(k, true); seek(cues[k].s / 1000, true); return; }
    }
    if (y >= r.height - WORD_H - 4) {
      const i = wordAt(t);
      if (i >= 0) { seek(wStart[i], true); return; }
    }
    seek(t, true);
  });
  wave.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) {
      const r = wave.getBoundingClientRect(), at = view.t0 + ((ev.clientX - r.left) / r.width) * view.span;
      zoom(ev.deltaY > 0 ? 1.25 : 0.8, at);
    } else {
      const d = (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) ? ev.deltaX : ev.deltaY) / 400;
      view.t0 = clampView(view.t0 + d * view.span);
      redraw();
    }
  }, { passive: false });
  overview.addEventListener("click", (ev) => {
    const r = overview.getBoundingClientRect();
    seek(((ev.clientX - r.left) / r.width) * duration, false);
    view.t0 = clampView(cursor - view.span / 2);
    redraw();
  });
  function zoom(factor, at) {
    const span = Math.min(Math.max(0.5, view.span * factor), Math.max(duration, 1));
    let a = at === undefined ? time() : at;
    if (a < view.t0 || a > view.t0 + view.span) a = view.t0 + view.span / 2;  // keep what is shown
    const rel = (a - view.t0) / view.span;
    view.span = span;
    view.t0 = clampView(a - rel * span);
    redraw();
  }
  $("zoom-in").addEventListener("click", () => zoom(0.5));
  $("zoom-out").addEventListener("click", () => zoom(2));
  window.addEventListener("resize", redraw);

  // ---- marks: where to look ------------------------------------------------------------------
  const KIND_COLOR = { low: "#f97316", nf: "#7c3aed", interp: "#dc2626", rule: "#b91c1c" };
  const kinds = { low: true, nf: true, interp: true, rule: true };
  let marks = [], marksVersion = 0;
  function buildMarks() {
    const out = [];
    let lastEnd = 0;
    for (let i = 0; i < wordEls.length; i++) {
      if (Number.isNaN(wStart[i])) {
        let j = i;
        while (j + 1 < wordEls.length && Number.isNaN(wStart[j + 1])) j++;
        const text = Array.from({ length: Math.min(j - i + 1, 6) }, (_, k) => wordEls[i + k].textContent).join(" ");
        out.push({ kind: "nf", t: lastEnd, word: i,
          text: `${j > i ? `words ${i + 1}–${j + 1}` : `word ${i + 1}`} not found: “${text}${j - i >= 6 ? " …" : ""}”` });
        i = j;
        continue;
      }
      lastEnd = wEnd[i];
      if (wScore[i] < low) out.push({ kind: "low", t: wStart[i], word: i, text: `“${wordEls[i].textContent}” score ${wScore[i].toFixed(2)}` });
    }
    cues.forEach((c, k) => {
      if (c.placed) {
        const why = { interpolated: "not found in the audio; timed from its neighbours",
          unspoken: "has nothing to say; timed from its neighbours" }[c.placed] || `placed by ${c.placed}, not by its words`;
        out.push({ kind: "interp", t: c.s / 1000, cue: k, text: `cue ${k + 1} ${why}` });
      }
      for (const f of c.findings) out.push({ kind: "rule", t: c.s / 1000, cue: k, text: `cue ${k + 1}: ${f}` });
    });
    out.sort((a, b) => a.t - b.t);
    marks = out;
  }
  let shownMarks = 0;
  const PAGE = 400;
  function visibleMarks() { return marks.filter((m) => kinds[m.kind]); }
  function renderMarks(more) {
    const list = $("mark-list"), vis = visibleMarks();
    marksVersion += 1;
    if (!more) { list.textContent = ""; shownMarks = 0; }
    const frag = document.createDocumentFragment();
    for (const m of vis.slice(shownMarks, shownMarks + PAGE)) {
      const li = document.createElement("li");
      li.className = `k-${m.kind}`;
      li.dataset.mark = String(marks.indexOf(m));
      const when = document.createElement("span");
      when.className = "when"; when.textContent = short(m.t);
      li.append(when, document.createTextNode(m.text));
      frag.append(li);
    }
    list.append(frag);
    shownMarks = Math.min(vis.length, shownMarks + PAGE);
    $("more-marks").hidden = shownMarks >= vis.length;
    $("mark-count").textContent = `(${vis.length})`;
    const count = (k) => marks.filter((m) => m.kind === k).length;
    $("counts").innerHTML = "";
    const LABEL = { low: ["low-score word", "low-score words"], nf: ["word not found", "words not found"],
      interp: ["cue placed without its words", "cues placed without their words"], rule: ["rule broken", "rules broken"] };
    for (const k of ["low", "nf", "interp", "rule"]) {
      const span = document.createElement("span"), n = count(k);
      span.className = "c"; span.style.color = KIND_COLOR[k]; span.textContent = `${n} ${LABEL[k][n === 1 ? 0 : 1]}`;
      $("counts").append(span);
    }
    redraw();
  }
  function goMark(m) {
    if (m.cue !== undefined) select(m.cue, true);
    if (m.word !== undefined) {
      const el = wordEls[m.word];
      el.classList.add("flash");
      setTimeout(() => el.classList.remove("flash"), 1200);
      scrollTranscript(el);
      if (wCue[m.word] >= 0) select(wCue[m.word], false);
    }
    seek(m.t, false);
    view.t0 = clampView(m.t - view.span / 3);
    redraw();
  }
  $("mark-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li");
    if (!li) return;
    document.querySelectorAll("#mark-list li.on").forEach((x) => x.classList.remove("on"));
    li.classList.add("on");
    goMark(marks[+li.dataset.mark]);
  });
  $("more-marks").addEventListener("click", () => renderMarks(true));
  document.querySelectorAll("#filters input").forEach((box) => box.addEventListener("change", () => {
    kinds[box.dataset.kind] = box.checked;
    renderMarks(false);
  }));
  function stepMark(dir) {
    const vis = visibleMarks(), t = time();
    const m = dir > 0 ? vis.find((x) => x.t > t + 0.01) : [...vis].reverse().find((x) => x.t < t - 0.01);
    if (m) goMark(m); else say("no more marks that way");
  }
  function setLow(value) {
    low = value;
    wordEls.forEach((el, i) => el.classList.toggle("low", !Number.isNaN(wStart[i]) && wScore[i] < low));
    buildMarks();
    renderMarks(false);
  }
  $("low").value = String(low);
  $("low").addEventListener("change", () => {
    const v = parseFloat($("low").value);
    if (v >= 0 && v <= 1) setLow(v);
  });

  // ---- selecting and nudging cues ------------------------------------------------------------
  function select(k, scroll) {
    if (selected >= 0) cueEls[selected].classList.remove("sel");
    selected = k;
    if (k >= 0) {
      cueEls[k].classList.add("sel");
      if (scroll) scrollTranscript(cueEls[k]);
    }
    showEditor();
    redraw();
  }
  function showEditor() {
    const on = selected >= 0;
    $("ed-num").textContent = on ? String(selected + 1) : "–";
    $("ed-start").textContent = on ? clock(cues[selected].s, ",") : "–";
    $("ed-end").textContent = on ? clock(cues[selected].e, ",") : "–";
    document.querySelectorAll("#editor button").forEach((b) => { b.disabled = !on; });
  }
  function nudge(which, delta) {
    if (selected < 0) { say("select a cue first (click its number)"); return; }
    const k = selected, c = cues[k];
    const floor = k > 0 ? cues[k - 1].e : 0;
    const ceiling = k + 1 < cues.length ? cues[k + 1].s : Math.max(durationMs, c.e);
    let want, got;
    if (which === "start") {
      want = c.s + delta;
      got = Math.min(Math.max(want, floor), c.e - 1);
      c.s = got;
    } else {
      want = c.e + delta;
      got = Math.min(Math.max(want, c.s + 1), ceiling);
      c.e = got;
    }
    if (got !== want) {
      say(which === "start" ? (want < got ? (k > 0 ? `kept after the end of cue ${k}` : "kept at 0") : "kept before its own end")
        : (want > got ? (k + 1 < cues.length ? `kept before the start of cue ${k + 2}` : "kept within the media") : "kept after its own start"));
    }
    edited.add(k);
    const el = cueEls[k];
    el.classList.add("edited");
    el.dataset.start = String(c.s / 1000);
    el.dataset.end = String(c.e / 1000);
    el.querySelector(".ct").textContent = clock(c.s, ".");
    cueStartMs = cueStarts();
    $("dl-srt").textContent = `↓ SRT (${edited.size} changed)`;
    $("dl-vtt").textContent = `↓ WebVTT (${edited.size} changed)`;
    showEditor();
    nowCue = -2;                              // re-evaluate the current cue
    update();
  }
  document.querySelectorAll("[data-nudge]").forEach((b) => b.addEventListener("click", () => {
    const [which, d] = b.dataset.nudge.split(":");
    nudge(which, +d);
  }));
  function playCue() {
    if (selected < 0 || !media) return;
    stopAt = cues[selected].e / 1000;
    seek(cues[selected].s / 1000, true);
  }
  $("play-cue").addEventListener("click", playCue);

  // ---- downloads, written as subalign writes them ---------------------------------------------
  function srtText() {
    let n = 0, out = "";
    for (const c of cues) {
      if (!c.srt.length) continue;
      n += 1;
      out += `${n}\n${clock(c.s, ",")} --> ${clock(c.e, ",")}\n${c.srt.map((l) => l + "\n").join("")}\n`;
    }
    return out;
  }
  function vttText() {
    const blocks = ["WEBVTT"];
    for (const c of cues) if (c.vtt.length) blocks.push([`${clock(c.s, ".")} --> ${clock(c.e, ".")}`, ...c.vtt].join("\n"));
    return blocks.join("\n\n") + "\n";
  }
  function download(ext, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url; a.download = `${DATA.name}${ext}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  $("dl-srt").addEventListener("click", () => download(".srt", srtText(), "application/x-subrip;charset=utf-8"));
  $("dl-vtt").addEventListener("click", () => download(".vtt", vttText(), "text/vtt;charset=utf-8"));

  // ---- keys ----------------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key, big = ev.shiftKey || k !== k.toLowerCase() ? 100 : 10;
    const act = {
      " ": () => $("play").click(),
      ArrowLeft: () => seek(time() - (ev.shiftKey ? 5 : 1), media && !media.paused),
      ArrowRight: () => seek(time() + (ev.shiftKey ? 5 : 1), media && !media.paused),
      a: () => nudge("start", -big), A: () => nudge("start", -big),
      s: () => nudge("start", big), S: () => nudge("start", big),
      k: () => nudge("end", -big), K: () => nudge("end", -big),
      l: () => nudge("end", big), L: () => nudge("end", big),
      c: playCue,
      n: () => stepMark(1), p: () => stepMark(-1),
      "[": () => stepCue(-1), "]": () => stepCue(1),
      "+": () => zoom(0.5), "=": () => zoom(0.5), "-": () => zoom(2),
    }[k];
    if (!act) return;
    ev.preventDefault();
    if (ev.target.closest("button") && k === " ") { ev.target.blur(); }
    act();
  });
  function stepCue(dir) {
    const base = selected >= 0 ? selected : Math.max(0, cueAt(time()));
    const k = Math.min(Math.max(0, base + dir), cues.length - 1);
    if (k < 0 || k >= cues.length) return;
    select(k, true);
    seek(cues[k].s / 1000, false);
  }

  // ---- start ---------------------------------------------------------------------------------
  if (DATA.media.kind === "video") $("stage").classList.add("video");
  setLow(low);
  showEditor();
  update();
  document.documentElement.dataset.ready = "1";   // for scripts and tests: the page is set up
})();
