// mvtimeline review page: plain JavaScript, no build step, nothing from the web.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("t") || "";
const CUT_COLOURS = {"section": "#f0b429", "between lines": "#3fb950", "line gap": "#3fb950", "word gap": "#58a6ff",
  "phrase (4 bars)": "#bc8cff", "downbeat": "#bc8cff", "model length": "#db61a2", "forced": "#e5534b", "": "#9aa0aa"};
const SECTION_COLOURS = ["#2b3a55", "#3b2b55", "#2b5540", "#553b2b", "#2b5055", "#55402b"];

const $ = (id) => document.getElementById(id);
const audio = $("audio");
let S = null;            // the page state from /api/state
let cur = 0;             // index into S.segments of the segment shown
let selTake = 0;         // index into its takes of the selected take
let playing = false;     // a segment (or the song from a click) is playing
let stopAt = null;       // song time where the segment's play stops

// ------------------------------------------------------------------------------------------ requests
async function api(path, options = {}) {
  const headers = Object.assign({"X-Mvt-Token": TOKEN}, options.headers || {});
  const res = await fetch(path, Object.assign({}, options, {headers}));
  let body = null;
  try { body = await res.json(); } catch (e) { body = {error: `${res.status} ${res.statusText}`}; }
  if (!res.ok) { throw new Error(body && body.error ? body.error : `${res.status}`); }
  return body;
}
const post = (path, data) => api(path, {method: "POST", body: JSON.stringify(data),
  headers: {"Content-Type": "application/json"}});

function notice(text, error = false) {
  const n = $("notice");
  n.textContent = text;
  n.className = error ? "error" : "";
}

async function guarded(fn) {
  try { return await fn(); } catch (e) { notice(e.message, true); return null; }
}

// ------------------------------------------------------------------------------------------- state
async function refresh() {
  const keepIndex = S ? S.segments[cur].index : null;
  const shown = S ? JSON.stringify(S.segments[cur]) : null;
  S = await api("/api/state");
  if (keepIndex !== null) {
    const k = S.segments.findIndex((s) => s.index === keepIndex);
    cur = k >= 0 ? k : 0;
  }
  // the segment on screen is drawn again only when it changed: a take playing, a prompt being typed stay
  const same = shown !== null && shown === JSON.stringify(S.segments[cur]);
  render(same);
}

function fmt(t) {
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${s.toFixed(2).padStart(5, "0")}`;
}
function takeCost(seconds) {  // what a take's making cost at the GPU price, when one is set
  const price = (S.price || {}).gpu_price_per_hour;
  return price ? `, ${money((seconds / 3600) * price)}` : "";
}
function money(c) { return c === null || c === undefined ? "" : c < 0.01 ? "under $0.01" : `$${c.toFixed(2)}`; }
function dur(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function render(keepDetail = false) {
  document.title = `${S.name} — mvtimeline review`;
  $("title").textContent = S.name;
  $("where").textContent = `${S.segments.length} segments · ${S.backend} on ${S.executor} · ${S.width}×${S.height} @ ${+S.fps.toFixed(3)} fps`;
  const p = S.price || {};
  $("price").textContent = p.text || "";
  $("spent").textContent = p.spent_text || "";
  if (!audio.src) audio.src = S.song;
  setLock(S.lock);
  renderList();
  if (!keepDetail) renderDetail(); else renderPrice();
  drawWave();
  renderJobs(S.jobs || []);
}

function setLock(text) {
  const el = $("lock");
  el.hidden = !text;
  el.textContent = text ? `The work folder is in use by ${text}: the page makes no changes until it ends.` : "";
  document.body.classList.toggle("locked", !!text);
  for (const b of document.querySelectorAll("#pick, #save, #reroll, #cuts button, .take button, #f-keyframe, #import-here, #import-any, .restore")) {
    b.disabled = !!text;
  }
}

function chosenTake(seg) { return seg.takes.find((t) => t.chosen) || seg.takes[0]; }

function renderList() {
  const nav = $("segments");
  const frag = document.createDocumentFragment();
  S.segments.forEach((seg, k) => {
    const div = document.createElement("div");
    div.className = "seg" + (k === cur ? " current" : "");
    div.dataset.index = seg.index;
    const t = chosenTake(seg);
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = `segment ${seg.index}`;
    if (t) img.src = t.thumb;
    const lbl = document.createElement("div");
    lbl.className = "lbl";
    const b = document.createElement("b");
    b.textContent = `${String(seg.index).padStart(2, "0")} ${seg.section}`;
    lbl.append(b, `${fmt(seg.start_s)}–${fmt(seg.end_s)} · ${seg.takes.length} take${seg.takes.length === 1 ? "" : "s"} `);
    const badge = document.createElement("span");
    badge.className = "badge" + (seg.stale ? "" : " ok");
    badge.textContent = seg.stale ? "needs a take" : `take ${seg.take}`;
    lbl.append(badge);
    const lyr = document.createElement("div");
    lyr.textContent = seg.lines.join(" / ");
    lyr.style.color = "var(--dim)";
    lbl.append(lyr);
    div.append(img, lbl);
    div.addEventListener("click", () => select(k));
    frag.append(div);
  });
  nav.replaceChildren(frag);
}

function renderDetail() {
  const seg = S.segments[cur];
  stopPlay();
  $("seg-title").textContent = `${String(seg.index).padStart(2, "0")} ${seg.section}`;
  $("seg-time").textContent = `${fmt(seg.start_s)}–${fmt(seg.end_s)} (${(seg.end_s - seg.start_s).toFixed(2)} s, cut: ${seg.cut || "start"})`;
  $("seg-state").innerHTML = "";
  const st = document.createElement("span");
  st.className = "badge" + (seg.stale ? "" : " ok");
  st.textContent = seg.stale ? "needs a take: its prompt, seed or bounds changed" : `take ${seg.take} on the timeline`;
  $("seg-state").append(st);
  $("seg-lyric").textContent = seg.lines.length ? seg.lines.join(" / ") : "(no lyrics)";
  for (const f of ["image_prompt", "motion_prompt", "negative_prompt", "singer"]) $(`f-${f}`).value = seg[f] || "";
  $("f-seed").value = seg.seed;
  $("keyframe-name").textContent = seg.image ? seg.image : "";
  pendingKeyframe = null;
  $("f-keyframe").value = "";
  const dl = $("singers");
  dl.replaceChildren(...(S.singers || []).map((n) => { const o = document.createElement("option"); o.value = n; return o; }));
  renderPrice();
  const box = $("takes");
  box.replaceChildren();
  selTake = Math.max(0, seg.takes.findIndex((t) => t.chosen));
  seg.takes.forEach((t, i) => {
    const div = document.createElement("div");
    div.className = "take" + (t.chosen ? " chosen" : "") + (i === selTake ? " selected" : "");
    div.dataset.take = t.take;
    const v = document.createElement("video");
    v.muted = true; v.playsInline = true; v.preload = "none"; v.poster = t.thumb; v.src = t.url;
    v.dataset.head = t.head_s;
    v.addEventListener("click", () => { selectTake(i); playSegment(); });
    const cap = document.createElement("div");
    cap.className = "cap";
    const label = document.createElement("span");
    const b = document.createElement("b");
    b.textContent = `${i + 1} · take ${t.take}`;
    label.append(b, " " + [t.imported ? "imported" + (t.source ? " " + t.source : "") : t.backend,
      t.generate_s ? dur(t.generate_s) + takeCost(t.generate_s) : "", t.placeholder ? "placeholder" : ""].filter(Boolean).join(" · "));
    const right = document.createElement("span");
    if (t.chosen) {
      const m = document.createElement("span"); m.className = "chosen-mark"; m.textContent = "✔ on the timeline";
      right.append(m);
    } else {
      const pb = document.createElement("button"); pb.textContent = "Pick"; pb.className = "pick-take";
      pb.addEventListener("click", (e) => { e.stopPropagation(); selectTake(i); pickSelected(); });
      right.append(pb);
    }
    cap.append(label, right);
    div.append(v, cap);
    div.addEventListener("click", () => selectTake(i));
    box.append(div);
  });
  if (!seg.takes.length) {
    const p2 = document.createElement("p"); p2.className = "hint";
    p2.textContent = "No take of this segment as it is now: re-roll to make one.";
    box.append(p2);
  }
  renderEarlier(seg);
  const k = cur;
  $("start-prev").disabled = $("start-next").disabled = k === 0 || !!S.lock;
  $("end-prev").disabled = $("end-next").disabled = k === S.segments.length - 1 || !!S.lock;
  setLock(S.lock);
  for (const el of document.querySelectorAll(".seg")) el.classList.toggle("current", +el.dataset.index === seg.index);
}

function renderPrice() {
  const seg = S.segments[cur];
  const p = (S.price || {}).segments ? S.price.segments[String(seg.index)] : null;
  const sp = (S.price || {}).spent ? S.price.spent[String(seg.index)] : null;
  $("reroll-price").textContent = (p ? `next take ≈ ${dur(p.seconds)}${p.cost !== null && p.cost !== undefined ? ", " + money(p.cost) : ""}` +
    ` (${S.price.source})` : "") + (sp ? ` · this segment so far: ${sp.clips} clip${sp.clips === 1 ? "" : "s"}, ${dur(sp.seconds)}${sp.cost !== null && sp.cost !== undefined ? ", " + money(sp.cost) : ""}` : "");
}

function renderEarlier(seg) {
  const list = seg.earlier || [];
  $("earlier-box").hidden = !list.length;
  $("earlier-title").textContent = `Earlier versions (${list.length}): takes made before this segment's prompt, seed or keyframe changed`;
  $("earlier").replaceChildren(...list.map((t) => {
    const div = document.createElement("div");
    div.className = "take old";
    div.dataset.key = t.key; div.dataset.take = t.take;
    const img = document.createElement("img");
    img.loading = "lazy"; img.src = t.thumb; img.alt = `earlier take ${t.take}`;
    const cap = document.createElement("div");
    cap.className = "cap";
    const label = document.createElement("span");
    label.textContent = `take ${t.take} · ${t.image_prompt.slice(0, 60)}${t.image_prompt.length > 60 ? "…" : ""}`;
    label.title = `${t.image_prompt}\n${t.motion_prompt}`;
    const b = document.createElement("button");
    b.textContent = "Bring back"; b.className = "restore";
    b.disabled = !!S.lock;
    b.addEventListener("click", async () => {
      const r = await guarded(() => post("/api/restore", {segment: seg.index, key: t.key, take: t.take}));
      if (r) { notice(`segment ${seg.index}: take ${t.take} of its earlier prompt is back on the timeline (its prompt and seed too)`); await refresh(); }
    });
    cap.append(label, b);
    div.append(img, cap);
    return div;
  }));
}

function select(k) {
  if (!S) return;
  cur = Math.max(0, Math.min(S.segments.length - 1, k));
  renderDetail();
  const el = document.querySelector(`.seg[data-index="${S.segments[cur].index}"]`);
  if (el) el.scrollIntoView({block: "nearest"});
  drawWave();
}

function selectTake(i) {
  const seg = S.segments[cur];
  if (i < 0 || i >= seg.takes.length) return;
  selTake = i;
  document.querySelectorAll("#takes .take").forEach((el, j) => el.classList.toggle("selected", j === i));
}

// -------------------------------------------------------------------------------------------- play
function videos() { return Array.from(document.querySelectorAll("#takes video")); }

function playFrom(t, until) {
  const seg = S.segments[cur];
  audio.currentTime = t;
  stopAt = until;
  for (const v of videos()) {
    v.currentTime = Math.max(0, t - seg.start_s + (+v.dataset.head));
    v.play().catch(() => {});
  }
  audio.play().catch((e) => notice(`cannot play the song: ${e.message}`, true));
  playing = true;
  $("play").textContent = "❚❚ Pause";
}

function playSegment() {
  const seg = S.segments[cur];
  playFrom(seg.start_s, seg.end_s);
}

function stopPlay() {
  audio.pause();
  for (const v of videos()) v.pause();
  playing = false;
  stopAt = null;
  $("play").textContent = "▶ Play segment";
}

function tick() {
  if (S) {
    const t = audio.currentTime;
    const w = $("wave").clientWidth;
    $("playhead").style.left = `${(t / S.duration_s) * w}px`;
    if (playing) {
      if (stopAt !== null && t >= stopAt) {
        stopPlay();
      } else {
        const seg = S.segments[cur];
        if (t >= seg.start_s && t < seg.end_s) {
          for (const v of videos()) {   // keep every take on the song's clock
            const want = t - seg.start_s + (+v.dataset.head);
            if (Math.abs(v.currentTime - want) > 0.12) v.currentTime = want;
            if (v.paused && !audio.paused) v.play().catch(() => {});
          }
        } else if (stopAt === null) {   // played on from a click: follow the song into the next segment
          const k = S.segments.findIndex((s) => t >= s.start_s && t < s.end_s);
          if (k >= 0 && k !== cur) { cur = k; renderDetail(); drawWave(); playFrom(t, null); }
        }
      }
    }
  }
  requestAnimationFrame(tick);
}

// ------------------------------------------------------------------------------------------- song
function drawWave() {
  if (!S) return;
  const c = $("wave");
  const w = c.clientWidth, h = 120;
  c.width = w * devicePixelRatio; c.height = h * devicePixelRatio;
  const g = c.getContext("2d");
  g.scale(devicePixelRatio, devicePixelRatio);
  const x = (t) => (t / S.duration_s) * w;
  S.sections.forEach((s, i) => {    // sections as bands
    g.fillStyle = SECTION_COLOURS[i % SECTION_COLOURS.length];
    g.fillRect(x(s.start_s), 0, x(s.end_s) - x(s.start_s), 14);
    g.fillStyle = "#ddd"; g.font = "10px sans-serif"; g.fillText(s.name, x(s.start_s) + 3, 11);
  });
  const seg = S.segments[cur];      // the segment shown
  g.fillStyle = "rgba(240,180,41,0.15)";
  g.fillRect(x(seg.start_s), 14, x(seg.end_s) - x(seg.start_s), h - 14);
  const wave = S.waveform || [];    // the waveform
  g.fillStyle = "#6e7681";
  const mid = 14 + (h - 14 - 26) / 2, amp = (h - 14 - 26) / 2;
  for (let i = 0; i < wave.length; i++) {
    const px = (i / wave.length) * w, a = wave[i] * amp;
    g.fillRect(px, mid - a, Math.max(1, w / wave.length), 2 * a);
  }
  for (const ln of S.lines) {       // lyric lines, and their words as ticks
    g.fillStyle = "#2f81f7";
    g.fillRect(x(ln.start_s), h - 24, Math.max(1, x(ln.end_s) - x(ln.start_s)), 6);
    g.fillStyle = "#9ecbff";
    for (const wd of ln.words) g.fillRect(x(wd.start_s), h - 16, Math.max(1, x(wd.end_s) - x(wd.start_s) - 1), 4);
  }
  for (const s of S.segments.slice(1)) {  // the cuts, coloured by reason
    g.fillStyle = CUT_COLOURS[s.cut] || CUT_COLOURS[""];
    g.fillRect(x(s.start_s) - 1, 14, 2, h - 14);
  }
  const used = [...new Set(S.segments.slice(1).map((s) => s.cut))];
  $("legend").replaceChildren(document.createTextNode("cuts:"), ...used.flatMap((r) => {
    const i = document.createElement("i"); i.style.background = CUT_COLOURS[r] || CUT_COLOURS[""];
    return [i, document.createTextNode(r || "yours")];
  }), document.createTextNode(" · click the waveform to play from there"));
}

$("song").addEventListener("click", (e) => {
  if (!S) return;
  const r = $("wave").getBoundingClientRect();
  const t = Math.max(0, Math.min(S.duration_s - 0.01, ((e.clientX - r.left) / r.width) * S.duration_s));
  const k = S.segments.findIndex((s) => t >= s.start_s && t < s.end_s);
  if (k >= 0 && k !== cur) { cur = k; renderDetail(); drawWave(); }
  playFrom(t, null);
});

// ---------------------------------------------------------------------------------------- actions
async function pickSelected() {
  const seg = S.segments[cur], t = seg.takes[selTake];
  if (!t || S.lock) return;
  if (t.chosen) { notice(`take ${t.take} is already on the timeline`); return; }
  const r = await guarded(() => post("/api/pick", {segment: seg.index, take: t.take}));
  if (r) {
    notice(`segment ${seg.index}: take ${t.take} picked` + (r.backups.length ? ` (your edited project was kept as ${r.backups.join(", ")})` : ""));
    await refresh();
  }
}

let pendingKeyframe = null;
function edits() {
  const seg = S.segments[cur], out = {};
  for (const f of ["image_prompt", "motion_prompt", "negative_prompt", "singer"]) {
    const v = $(`f-${f}`).value.trim();
    if (v !== (seg[f] || "").trim()) out[f] = v;
  }
  const seed = $("f-seed").value.trim();
  if (seed !== "" && +seed !== seg.seed) out.seed = Number(seed);
  if (pendingKeyframe) out.image = pendingKeyframe;
  return out;
}

$("save").addEventListener("click", async () => {
  const seg = S.segments[cur], fields = edits();
  if (!Object.keys(fields).length) { notice("nothing changed"); return; }
  const r = await guarded(() => post("/api/edit", {segment: seg.index, fields}));
  if (r) { notice(`segment ${seg.index}: ${Object.keys(fields).join(", ")} saved to plan.json; re-roll to see it`); await refresh(); }
});

$("reroll").addEventListener("click", async () => {
  const seg = S.segments[cur], fields = edits();
  const r = await guarded(() => post("/api/reroll", {segment: seg.index, fields}));
  if (r) { notice(`segment ${seg.index}: re-roll queued`); updateJob(r.job); }
});

$("f-keyframe").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const fd = new FormData();
  fd.append("segment", String(S.segments[cur].index));
  fd.append("file", file, file.name);
  const r = await guarded(() => api("/api/keyframe", {method: "POST", body: fd}));
  if (r) { pendingKeyframe = r.image; $("keyframe-name").textContent = `${r.image} (used by the next re-roll or save)`; }
});

async function moveCut(which, dir) {
  const seg = S.segments[cur];
  const boundary = which === "start" ? seg.index : seg.index + 1;   // the segment whose start is the cut
  const now = which === "start" ? seg.start_s : seg.end_s;
  const c = await guarded(() => api(`/api/cuts?segment=${boundary}`));
  if (!c) return;
  const times = c.choices.map((x) => x.time_s);
  const target = dir < 0 ? times.filter((t) => t < now - 1e-3).pop() : times.find((t) => t > now + 1e-3);
  if (target === undefined) { notice(`no gap ${dir < 0 ? "before" : "after"} this cut within the segments it joins`, true); return; }
  const r = await guarded(() => post("/api/cut", {segment: boundary, time_s: target}));
  if (r) {
    const reason = (c.choices.find((x) => Math.abs(x.time_s - r.time_s) < 1e-3) || {}).reason || "";
    const msg = `cut moved to ${fmt(r.time_s)} (${reason}): segment${r.invalidated.length > 1 ? "s" : ""} ${r.invalidated.join(" and ")} need${r.invalidated.length > 1 ? "" : "s"} a new take`;
    notice(msg);
    $("cut-note").textContent = msg;
    await refresh();
  }
}
$("start-prev").addEventListener("click", () => moveCut("start", -1));
$("start-next").addEventListener("click", () => moveCut("start", +1));
$("end-prev").addEventListener("click", () => moveCut("end", -1));
$("end-next").addEventListener("click", () => moveCut("end", +1));
$("play").addEventListener("click", () => (playing ? stopPlay() : playSegment()));
$("pick").addEventListener("click", pickSelected);

// ------------------------------------------------------------------------------------------- jobs
const jobs = new Map();
function updateJob(job) { jobs.set(job.id, job); renderJobs(); }
function renderJobs(list) {
  if (list) for (const j of list) jobs.set(j.id, j);
  const ul = $("jobs");
  ul.replaceChildren(...[...jobs.values()].reverse().map((j) => {
    const li = document.createElement("li");
    li.dataset.job = j.id; li.dataset.state = j.state;
    const name = document.createElement("span");
    name.textContent = `segment ${j.segment}` + (j.edits.length ? ` (${j.edits.join(", ")})` : "");
    const pr = document.createElement("progress");
    pr.max = j.total || 1; pr.value = j.state === "done" ? pr.max : j.done;
    const st = document.createElement("span");
    st.className = j.state;
    st.textContent = j.state === "done" ? `take ${j.take} made in ${dur(j.seconds)}` : j.state === "failed" ? `failed: ${j.message}` :
      j.state === "running" && j.total ? `${j.state} ${j.done}/${j.total}` : j.state;
    li.append(name, pr, st);
    if (j.state === "queued" || j.state === "running") {
      const b = document.createElement("button"); b.textContent = "Cancel"; b.className = "cancel";
      b.addEventListener("click", () => guarded(() => post("/api/cancel", {job: j.id})));
      li.append(b);
    }
    return li;
  }));
}

// ----------------------------------------------------------------------------------------- import
let dragDepth = 0;
document.addEventListener("dragenter", (e) => { e.preventDefault(); dragDepth++; $("drop").hidden = false; });
document.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; $("drop").hidden = true; } });
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  $("detail").classList.toggle("dropping", $("detail").contains(e.target));
});
document.addEventListener("drop", (e) => {
  e.preventDefault(); dragDepth = 0; $("drop").hidden = true; $("detail").classList.remove("dropping");
  const files = Array.from(e.dataTransfer.files || []);
  if (files.length) importFiles(files, $("detail").contains(e.target) ? S.segments[cur].index : null);
});

$("import-here").addEventListener("change", (e) => { importFiles(Array.from(e.target.files), S.segments[cur].index); e.target.value = ""; });
$("import-any").addEventListener("change", (e) => { importFiles(Array.from(e.target.files), null); e.target.value = ""; });

async function importFiles(files, segment) {
  if (S.lock) { notice("the work folder is in use: nothing is imported until it is free", true); return; }
  const fd = new FormData();
  if (segment !== null) fd.append("segment", String(segment));
  for (const f of files) fd.append("file", f, f.name);
  notice(`importing ${files.length} clip${files.length === 1 ? "" : "s"}…`);
  const r = await guarded(() => api("/api/import", {method: "POST", body: fd}));
  if (!r) return;
  $("imports-box").hidden = false;
  const tb = $("imports").tBodies[0];
  for (const row of r.rows) {
    const tr = document.createElement("tr");
    const cells = [row.clip, row.segment ?? "", row.take ?? "", row.offset_s === null ? "" : `${row.offset_s.toFixed(3)} s`,
      `${row.head_trim_s.toFixed(2)} / ${row.tail_trim_s.toFixed(2)} s`,
      row.confidence === null ? "" : row.confidence.toFixed(3), [row.result, ...row.flags].join("; ")];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    tb.append(tr);
  }
  const ok = r.rows.filter((x) => x.take !== null).length;
  notice(`${ok} of ${r.rows.length} clip${r.rows.length === 1 ? "" : "s"} imported`);
  await refresh();
}

// --------------------------------------------------------------------------------------- keyboard
document.addEventListener("keydown", (e) => {
  if (!S || e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "ArrowRight") { select(cur + 1); e.preventDefault(); }
  else if (e.key === "ArrowLeft") { select(cur - 1); e.preventDefault(); }
  else if (e.key === " ") { playing ? stopPlay() : playSegment(); e.preventDefault(); }
  else if (e.key === "p" || e.key === "P") { pickSelected(); e.preventDefault(); }
  else if (/^[1-9]$/.test(e.key)) { selectTake(+e.key - 1); e.preventDefault(); }
});

// ----------------------------------------------------------------------------------------- events
function listen() {
  const es = new EventSource(`/api/events?t=${encodeURIComponent(TOKEN)}`);
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === "job") updateJob(ev.job);
    else if (ev.type === "lock") { if (S) S.lock = ev.lock; setLock(ev.lock); }
    else if (ev.type === "changed") refresh().catch((e) => notice(e.message, true));
  };
}

window.addEventListener("resize", drawWave);
(async () => {
  if (!TOKEN) { notice("open this page with the address 'mvtimeline review' printed: it holds the token", true); return; }
  try { await refresh(); } catch (e) { notice(e.message, true); return; }
  document.body.dataset.ready = String(Math.round(performance.now()));
  listen();
  requestAnimationFrame(tick);
})();
