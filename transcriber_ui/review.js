// The review view: a transcript next to its audio. Runs as the js_on_load of a gr.HTML component, so `element`
// (the component's root), `props` (props.value: the transcript as JSON, see review.py), `server` (review_op) and
// `watch` are in scope.
//
// Long transcripts stay fast because only the paragraphs near the visible part of the list are in the DOM: the
// rest is represented by two spacers whose heights come from measured (or, until measured, estimated) paragraph
// heights. Every change is sent to the server, which applies the timing rules, saves a new version and answers
// with the new transcript; undo and redo go back and forth between stored versions.

const BACK_S = 5;
const OVERSCAN_PX = 600;
// On a touch screen (no Shift+Enter, no Alt+click) Enter starts a new paragraph; tapping outside the editor saves
const TOUCH = !!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
const USER_SCROLL_MS = 400;  // the list's scroll events this long after a wheel, touch or key are the user's
const LINE_PX = 22;
const HEADER_PX = 26;
const CHARS_PER_LINE = 90;
const NO_AUDIO = "The audio was not kept for this transcript (the app saves text only when started with " +
  "--no-keep-audio), so it cannot be played; clicking a word still marks it.";
const MISSING_AUDIO = (folder) => "The audio file of this transcript is missing from " + folder + " (the " +
  "library's audio folder, which belongs beside its library file), so it cannot be played; clicking a word still " +
  "marks it.";

const UNTIMED = "This transcript has no word timings (it was made without \u201cInclude word timestamps\u201d): it " +
  "is one paragraph, its words do not play from where they are said, and its subtitles are one cue. Transcribe the " +
  "file again with word timestamps for those (in the Library: Transcribe again).";
const NO_SPEECH = "No speech was recognised in this recording.";
const EMPTIED = "Every paragraph was removed: Undo, or Back to the model's output, brings them back.";
const view = {
  state: null,
  words: [],        // every word: {text, start, end, para}
  paraFirst: [],    // index in `words` of each paragraph's first word
  heights: [],      // measured height of each paragraph, or 0
  undo: [],
  redo: [],
  current: -1,      // the playing word
  position: 0,      // where a transcript without audio is "played": the clicked word, the keys' steps
  busy: false,
  waiting: [],      // changes made while a save ran: [change, kind, paragraph count when made], sent after it
};

let root = element.querySelector(".review") || element;

function fmt(seconds) {
  const s = Math.max(0, seconds || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// --- Building the view ---------------------------------------------------------------------------------------------

function load(state) {
  view.state = state;
  view.words = [];
  view.paraFirst = [];
  state.paragraphs.forEach((para, p) => {
    view.paraFirst.push(view.words.length);
    for (const [text, start, end] of para.words) view.words.push({ text, start, end, para: p });
  });
  view.hitStarts = new Set(state.hit_words || []);  // the words a library search matched, by their start times
  view.heights = new Array(state.paragraphs.length).fill(0);
  view.measuredPx = 0;
  view.measuredChars = 0;
  view.measuredCount = 0;
  view.current = -1;
  view.dirty = true;  // every paragraph drawn afresh from this state
  root.dataset.id = state.id;
  root.dataset.version = state.version;
  root.dataset.edited = state.edited ? "1" : "0";
  renderSpeakers();
  renderTimeline();
  renderList();
  updateButtons();
}

function build() {
  root.replaceChildren();
  const state = view.state;
  if (!state) {
    root.append(el("p", { class: "review-empty" }, "Open a transcript to review it."));
    return;
  }
  view.audio = el("audio", { class: "review-audio", controls: "", preload: "metadata" });
  if (state.audio) view.audio.src = state.audio;
  else view.audio.hidden = true;
  view.timeline = el("div", { class: "review-timeline", title: "Click to play from here", onclick: seekTimeline });
  view.playhead = el("div", { class: "review-playhead" });
  view.status = el("span", { class: "review-status", role: "status" });
  view.speakerFrom = el("select", { class: "review-speaker-from", "aria-label": "Speaker to rename" });
  view.speakerTo = el("input", { class: "review-speaker-to", placeholder: "new name", "aria-label": "New name",
    onkeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); renameSpeaker(); } } });
  view.undoButton = el("button", { class: "review-undo", title: "Undo (Ctrl+Z)", onclick: undo }, "Undo");
  view.redoButton = el("button", { class: "review-redo", title: "Redo (Ctrl+Shift+Z)", onclick: redo }, "Redo");
  view.restoreButton = el("button", { class: "review-restore", onclick: restore }, "Back to the model's output");
  view.list = el("div", { class: "review-list", tabindex: "0", "aria-label": "Transcript" });
  view.top = el("div", { class: "review-spacer" });
  view.rows = el("div", { class: "review-rows" });
  view.bottom = el("div", { class: "review-spacer" });
  view.list.append(view.top, view.rows, view.bottom);
  root.append(
    view.audio,
    ...(state.audio ? [] : [el("p", { class: "review-no-audio" },
      state.audio_missing_from ? MISSING_AUDIO(state.audio_missing_from) : NO_AUDIO)]),
    view.timeline,
    el("div", { class: "review-toolbar" },
      view.undoButton, view.redoButton, view.restoreButton,
      el("span", { class: "review-rename" }, "Rename ", view.speakerFrom, " to ", view.speakerTo,
        el("button", { class: "review-rename-button", onclick: renameSpeaker }, "Rename speaker")),
      view.status),
    el("p", { class: "review-help" }, helpText(state)),
    view.list,
  );
  view.timeline.append(view.playhead);
  view.list.addEventListener("scroll", () => requestAnimationFrame(() => {
    renderList();
    if (performance.now() < (view.userScrollUntil || 0)) updateFollow();
  }));
  view.list.addEventListener("wheel", userScrolled, { passive: true });
  view.list.addEventListener("touchmove", userScrolled, { passive: true });
  view.list.addEventListener("pointerdown", (event) => {  // on the list itself: its scroll bar, dragged until let go
    if (event.target !== view.list) return;
    view.userScrollUntil = Infinity;
    window.addEventListener("pointerup", userScrolled, { once: true });
  });
  view.list.addEventListener("keydown", (event) => {
    if (["PageUp", "PageDown", "Home", "End"].includes(event.key)) userScrolled();
  });
  view.list.addEventListener("click", onWordClick);
  view.list.addEventListener("dblclick", (event) => {
    const para = event.target.closest(".review-para");
    if (para && !event.target.closest("button, select, textarea")) startEdit(Number(para.dataset.p));
  });
  if (!root.dataset.keys) {  // once per node: a value change without a fresh template keeps the node
    root.addEventListener("keydown", onKey);
    root.dataset.keys = "1";
  }
  view.audio.addEventListener("play", follow);
  view.audio.addEventListener("seeked", () => highlight(view.audio.currentTime, false));
  load(state);
  // Opened from a search: at its first match (the player there, the paragraph in view), once the view is laid out
  if (state.hits && state.hits.length) {
    requestAnimationFrame(() => { seek(state.hits[0]); highlight(state.hits[0], true); });
  }
}

function helpText(state) {
  const untimed = state.paragraphs.length > 0 && state.paragraphs.every((para) => !para.words.length);
  if (untimed) return UNTIMED + (TOUCH ? " Double-tap the text to correct it." :
    " Double-click the text (or press Enter) to correct it; Space plays the audio, ←/→ 5 s back/ahead.");
  return TOUCH ?
    "Tap a word to play from it; double-tap a paragraph to correct it: a line break (Enter) starts a new " +
    "paragraph there, and tapping outside the text saves." :
    "Click a word to play from it; double-click a paragraph (or press Enter) to correct it; Alt+click a word, or " +
    "Shift+Enter while correcting, to start a new paragraph there. Keys: Space play/pause, ←/→ 5 s back/ahead, " +
    "↑/↓ previous/next paragraph, Enter correct, Ctrl+Z undo.";
}

function renderSpeakers() {
  const speakers = view.state.speakers || [];
  view.speakerFrom.replaceChildren(...speakers.map((s) => el("option", { value: s }, s)));
  view.speakerFrom.parentElement.hidden = speakers.length === 0;
}

function renderTimeline() {
  const { duration, paragraphs, hits } = view.state;
  view.timeline.querySelectorAll(".review-turn, .review-hit").forEach((node) => node.remove());
  if (!duration) return;
  const speakers = view.state.speakers || [];
  paragraphs.forEach((para, p) => {
    if (!para.words.length) return;
    const first = para.words[0], last = para.words[para.words.length - 1];
    const turn = el("div", { class: "review-turn", title: (para.speaker || "") + " " + fmt(first[1]) });
    turn.style.left = (100 * first[1] / duration) + "%";
    turn.style.width = Math.max(0.1, 100 * (last[2] - first[1]) / duration) + "%";
    turn.dataset.speaker = String(Math.max(0, speakers.indexOf(para.speaker)) % 6);
    view.timeline.insertBefore(turn, view.playhead);
  });
  for (const time of hits || []) {
    const hit = el("div", { class: "review-hit", title: "search hit " + fmt(time) });
    hit.style.left = (100 * time / duration) + "%";
    view.timeline.append(hit);
  }
}

function characters(p) {
  const para = view.state.paragraphs[p];
  return para.words.reduce((n, w) => n + w[0].length + 1, 0) || (para.text || "").length;
}

function estimate(p) {
  // Until a paragraph has been on screen, its height is guessed from its length: at first from a typical line,
  // then from the pixels per character of the paragraphs measured so far, so the scroll bar stays put.
  if (view.measuredChars > 0) return HEADER_PX + (view.measuredPx - HEADER_PX * view.measuredCount) * characters(p) / view.measuredChars;
  return HEADER_PX + LINE_PX * Math.max(1, Math.ceil(characters(p) / CHARS_PER_LINE)) + 12;
}

function offsets() {
  const result = new Array(view.heights.length + 1);
  result[0] = 0;
  for (let p = 0; p < view.heights.length; p++) result[p + 1] = result[p] + (view.heights[p] || estimate(p));
  return result;
}

function paragraphNode(p) {
  const para = view.state.paragraphs[p];
  const start = para.words.length ? para.words[0][1] : 0;
  const speakers = view.state.speakers || [];
  const header = el("div", { class: "review-head" });
  if (para.speaker) {
    const chooser = el("select", { class: "review-speaker", "aria-label": "Speaker of this paragraph" },
      ...speakers.map((s) => el("option", { value: s }, s)), el("option", { value: "" }, "New speaker…"));
    chooser.value = para.speaker;
    chooser.dataset.speaker = String(Math.max(0, speakers.indexOf(para.speaker)) % 6);
    chooser.addEventListener("change", () => assignSpeaker(p, chooser.value));
    header.append(chooser);
  }
  header.append(el("button", { class: "review-time", title: "Play from here",
    onclick: () => play(start) }, fmt(start)));
  if (p < view.state.paragraphs.length - 1) {
    header.append(el("button", { class: "review-join", title: "Join with the next paragraph",
      onclick: () => send({ op: "join", paragraph: p }) }, "join next"));
  }
  const text = el("div", { class: "review-text" });
  if (para.words.length) {
    const first = view.paraFirst[p];
    para.words.forEach((w, k) => {
      const span = el("span", { class: "w", "data-i": String(first + k) }, w[0]);
      if (first + k === view.current) span.classList.add("playing");
      if (view.hitStarts.has(w[1])) span.classList.add("hit");
      text.append(span, " ");
    });
  } else {
    text.textContent = para.text;
  }
  return el("div", { class: "review-para", "data-p": String(p), tabindex: "-1" }, header, text);
}

function renderList() {
  if (!view.state || !view.list) return;
  const count = view.state.paragraphs.length;
  if (count === 0) {  // silence, a muted microphone: say so rather than show an empty box
    view.rows.replaceChildren(el("p", { class: "review-empty" }, view.state.edited ? EMPTIED : NO_SPEECH));
    view.top.style.height = view.bottom.style.height = "0px";
    view.rendered = undefined;
    root.dataset.rendered = "0";
    root.dataset.ready = "1";
    return;
  }
  let offs = offsets();
  const top = view.list.scrollTop - OVERSCAN_PX, bottom = view.list.scrollTop + view.list.clientHeight + OVERSCAN_PX;
  let first = Math.max(0, upperBound(offs, top) - 1);
  let last = Math.min(count, upperBound(offs, bottom) + 1);
  if (view.editing !== undefined && (view.editing < first || view.editing >= last)) {
    first = Math.min(first, view.editing);
    last = Math.max(last, view.editing + 1);
  }
  if (view.rendered && view.rendered[0] === first && view.rendered[1] === last && !view.dirty) return;
  // Scrolled on: the paragraphs still in range keep their nodes, in place. A word is pressed and let go on the same
  // node, so a click is a click while the list renders around it (replaced between the two, the click was lost).
  const kept = new Map();
  if (!view.dirty) {
    for (const node of view.rows.querySelectorAll(":scope > .review-para")) kept.set(Number(node.dataset.p), node);
  }
  view.dirty = false;
  const nodes = [];
  for (let p = first; p < last; p++) {
    nodes.push(view.editing === p ? view.editor.closest(".review-para") : kept.get(p) || paragraphNode(p));
  }
  placeRows(nodes);
  for (const node of nodes) {
    const p = Number(node.dataset.p);
    if (!view.heights[p]) {
      view.measuredPx += node.offsetHeight;
      view.measuredChars += characters(p);
      view.measuredCount += 1;
    }
    view.heights[p] = node.offsetHeight;
  }
  offs = offsets();
  view.top.style.height = offs[first] + "px";
  view.bottom.style.height = (offs[count] - offs[last]) + "px";
  view.rendered = [first, last];
  root.dataset.rendered = String(nodes.length);
  root.dataset.ready = "1";
}

// view.rows holds `nodes` in their order afterwards; a node already there stays attached.
function placeRows(nodes) {
  const wanted = new Set(nodes);
  for (const node of [...view.rows.children]) if (!wanted.has(node)) node.remove();
  let next = view.rows.firstChild;
  for (const node of nodes) {
    if (node === next) next = next.nextSibling;
    else view.rows.insertBefore(node, next);
  }
}

function upperBound(sorted, value) {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] <= value) lo = mid + 1; else hi = mid; }
  return lo;
}

function rerender() { view.dirty = true; renderList(); }

function scrollToParagraph(p) {
  const offs = offsets();
  const top = offs[p], bottom = offs[p + 1];
  if (top < view.list.scrollTop || bottom > view.list.scrollTop + view.list.clientHeight) {
    view.list.scrollTop = Math.max(0, top - view.list.clientHeight / 3);
  }
  renderList();
}

// --- Playing --------------------------------------------------------------------------------------------------------

function now() { return view.state.audio ? view.audio.currentTime : view.position; }

function seek(time) {
  view.position = time;
  if (view.state.audio) view.audio.currentTime = time;
}

function play(time) {
  view.followPaused = false;  // a word clicked, 5 s back or ahead: show where it plays
  seek(time);
  highlight(time, true);
  if (!view.state.audio) return;  // a transcript without audio: the word is marked, nothing plays
  const started = view.audio.play();
  if (started && started.catch) started.catch((error) => say("Cannot play the audio: " + error.message));
}

function onWordClick(event) {
  const span = event.target.closest(".w");
  if (!span) return;
  const index = Number(span.dataset.i);
  const word = view.words[index];
  if (event.altKey) {
    send({ op: "split", paragraph: word.para, word: index - view.paraFirst[word.para] });
    return;
  }
  play(word.start);
}

function seekTimeline(event) {
  const box = view.timeline.getBoundingClientRect();
  play(view.state.duration * (event.clientX - box.left) / box.width);
}

function lastWordBy(time) {  // the last word that starts at or before time; -1 before the first
  const words = view.words;
  let lo = 0, hi = words.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (words[mid].start <= time) lo = mid + 1; else hi = mid; }
  return lo - 1;
}

function wordAt(time) {
  const index = lastWordBy(time);
  return index >= 0 && time < view.words[index].end ? index : -1;
}

function highlight(time, keepInView) {
  if (view.state && view.state.duration) view.playhead.style.left = (100 * time / view.state.duration) + "%";
  const index = wordAt(time);
  if (index === view.current) return;
  const old = view.rows.querySelector(".w.playing");
  if (old) old.classList.remove("playing");
  view.current = index;
  root.dataset.current = String(index);
  if (index < 0) return;
  // Playing never moves the list under a paragraph being corrected, nor away from where the user scrolled to read
  if (keepInView && view.editing === undefined && !view.followPaused) scrollToParagraph(view.words[index].para);
  const span = view.rows.querySelector('.w[data-i="' + index + '"]');
  if (span) span.classList.add("playing");
}

// While it plays, the list follows the playing word as long as the user keeps that word in view. Scrolled away from
// it (wheel, touch, the scroll bar, Page Up/Down), the list stays where the user took it until they scroll back to
// it, click a word, or press play again.
function updateFollow() {
  const word = view.words[Math.max(0, lastWordBy(now()))];  // also between two words
  const node = word && view.rows.querySelector('.review-para[data-p="' + word.para + '"]');
  const box = node && node.getBoundingClientRect(), list = view.list.getBoundingClientRect();
  const inView = !!box && box.bottom > list.top && box.top < list.bottom;  // the playing word's paragraph
  view.followPaused = !!view.audio && !view.audio.paused && !inView;
}

function userScrolled() { view.userScrollUntil = performance.now() + USER_SCROLL_MS; }

function follow() {
  view.followPaused = false;
  const step = () => {
    if (!view.audio || view.audio.paused) return;
    highlight(view.audio.currentTime, true);
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

// --- Editing --------------------------------------------------------------------------------------------------------

function startEdit(p) {
  const para = view.state.paragraphs[p];
  if (!para) return;
  const node = view.rows.querySelector('.review-para[data-p="' + p + '"]');
  if (!node) { scrollToParagraph(p); return startEdit(p); }
  const text = para.words.length ? para.words.map((w) => w[0]).join(" ") : para.text;
  const editor = el("textarea", { class: "review-editor", "aria-label": "Correct this paragraph" });
  editor.value = text;
  editor.rows = Math.max(2, Math.ceil(text.length / CHARS_PER_LINE));
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !TOUCH) { event.preventDefault(); finishEdit(true); }
    else if (event.key === "Escape") { event.preventDefault(); finishEdit(false); }
    event.stopPropagation();
  });
  editor.addEventListener("blur", () => finishEdit(true));
  node.querySelector(".review-text").replaceWith(editor);
  view.editing = p;
  view.editor = editor;
  view.original = text;
  editor.focus();
}

// A paragraph's text as the server will read it: its words, and its line breaks (a new paragraph each)
function lines(text) {
  return text.split("\n").map((line) => line.trim().split(/\s+/).join(" ")).filter(Boolean).join("\n");
}

function finishEdit(save) {
  if (view.editing === undefined) return;
  const p = view.editing, text = view.editor.value, before = view.original;
  view.editing = undefined;
  view.editor = undefined;
  updateFollow();  // playing on meanwhile: the list stays at the corrected paragraph unless it plays there
  if (save && lines(text) !== lines(before)) {
    send({ op: "edit", paragraph: p, text });
  } else {
    rerender();
  }
  view.list.focus();
}

function assignSpeaker(p, speaker) {
  if (!speaker) {
    speaker = window.prompt("Name of the new speaker");
    if (!speaker) { rerender(); return; }
  }
  send({ op: "assign", paragraph: p, speaker });
}

function renameSpeaker() {
  const from = view.speakerFrom.value, to = view.speakerTo.value.trim();
  if (!from || !to) { say("Choose a speaker and type the new name."); return; }
  send({ op: "rename", speaker: from, name: to });
  view.speakerTo.value = "";
}

// Undo and redo take their version from the stacks when they are sent, so a second press made while the first is
// saved steps back once more instead of to the same version.
function undo() { if (view.undo.length || view.busy) send({ op: "revert" }, "undo"); }
function redo() { if (view.redo.length || view.busy) send({ op: "revert" }, "redo"); }
function restore() { send({ op: "revert", to: 1 }); }

async function send(change, kind) {
  if (view.busy) {  // e.g. "join next" clicked while the correction its click ended is being saved
    view.waiting.push([change, kind, view.state.paragraphs.length]);
    return;
  }
  const stack = kind === "undo" ? view.undo : kind === "redo" ? view.redo : null;
  if (stack) {
    if (!stack.length) { sendWaiting(); return; }  // nothing (left) to undo or redo
    change = { ...change, to: stack[stack.length - 1] };
  }
  view.busy = true;
  const from = view.state.version;
  root.dataset.saving = "1";
  say("Saving…");
  try {
    const query = view.state.query || "";  // opened from a search: the answer marks its matches again
    const answer = await server.review_op({ ...change, id: view.state.id, version: from, query });
    if (!answer || answer.error) {
      view.waiting = [];  // made on what the view showed, which this answer may replace
      say(answer ? answer.error : "The change was not saved.");
      if (answer && answer.state) { view.undo = savedVersions(answer.state); view.redo = []; keepPlace(answer.state); }
      else rerender();
      return;
    }
    if (kind === "undo") { view.undo.pop(); view.redo.push(from); }
    else if (kind === "redo") { view.redo.pop(); view.undo.push(from); }
    else { view.undo.push(from); view.redo = []; }
    keepPlace(answer.state);
    say("Saved (version " + answer.state.version + ").");
    trigger("edit");  // a saved change: the library's list shows it as edited, a result above it follows
  } catch (error) {
    view.waiting = [];
    say("The change was not saved: " + (error && error.message ? error.message : error));
    rerender();
  } finally {
    view.busy = false;
    root.dataset.saving = "0";
    sendWaiting();
  }
}

function sendWaiting() {
  const next = view.waiting.shift();
  if (!next) return;
  const [change, kind, count] = next;
  if (change.op !== "revert" && count !== view.state.paragraphs.length) {  // its paragraph numbers moved
    view.waiting = [];
    say("A change made while saving was not applied: the paragraphs changed meanwhile. Please make it again.");
    return;
  }
  send(change, kind);
}

function keepPlace(state) {
  const scroll = view.list.scrollTop;
  load(state);  // draws every paragraph afresh
  view.list.scrollTop = scroll;
  renderList();  // those the restored scroll brings into range
}

function updateButtons() {
  view.undoButton.disabled = view.undo.length === 0;
  view.redoButton.disabled = view.redo.length === 0;
  view.restoreButton.disabled = !view.state.edited;
}

function say(message) { if (view.status) view.status.textContent = message; }

// --- Keyboard -------------------------------------------------------------------------------------------------------

function focusedParagraph() {
  const node = document.activeElement && document.activeElement.closest && document.activeElement.closest(".review-para");
  if (node) return Number(node.dataset.p);
  return view.current >= 0 ? view.words[view.current].para : (view.focused || 0);
}

function gotoParagraph(p) {
  const count = view.state.paragraphs.length;
  p = Math.max(0, Math.min(count - 1, p));
  view.focused = p;
  scrollToParagraph(p);
  const node = view.rows.querySelector('.review-para[data-p="' + p + '"]');
  if (node) node.focus();
  const first = view.state.paragraphs[p].words[0];
  if (first) { seek(first[1]); highlight(first[1], false); }
}

function onKey(event) {
  if (!view.state || event.target.closest("textarea, input, select")) return;
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && (key === "z" || key === "Z")) { event.preventDefault(); event.shiftKey ? redo() : undo(); return; }
  if (ctrl && key === "y") { event.preventDefault(); redo(); return; }
  if (ctrl || event.altKey) return;
  if (key === " " || key === "k") {
    event.preventDefault();
    if (view.audio.paused) { const s = view.audio.play(); if (s && s.catch) s.catch(() => {}); }  // "play": follow
    else view.audio.pause();
  } else if (key === "ArrowLeft" || key === "j") {
    event.preventDefault();
    const paused = view.audio.paused;
    play(Math.max(0, now() - BACK_S));
    if (paused) view.audio.pause();
  } else if (key === "ArrowRight" || key === "l") {
    event.preventDefault();
    const paused = view.audio.paused;
    play(Math.min(view.state.duration || Infinity, now() + BACK_S));
    if (paused) view.audio.pause();
  } else if (key === "ArrowDown" || key === "n") {
    event.preventDefault();
    gotoParagraph(focusedParagraph() + 1);
  } else if (key === "ArrowUp" || key === "p") {
    event.preventDefault();
    gotoParagraph(focusedParagraph() - 1);
  } else if (key === "Enter" || key === "e") {
    event.preventDefault();
    startEdit(focusedParagraph());
  }
}

// --- Start ------------------------------------------------------------------------------------------------------------

// Every saved version is kept, so a transcript opened again (another day, another tab) can still step back through
// the corrections made to it before: Undo goes to the version before the current one, and so on to the model's.
function savedVersions(state) {
  const versions = [];
  for (let v = 1; state && v < state.version; v++) versions.push(v);
  return versions;
}

function openState() {
  if (view.audio) view.audio.pause();
  let state = null;
  try { state = props.value ? JSON.parse(props.value) : null; } catch (error) { state = null; }
  view.state = state;
  view.undo = savedVersions(state);
  view.redo = [];
  view.waiting = [];
  build();
}

// Closing the tab or reloading while a correction is typed but not yet saved (Enter or a click outside saves it),
// or while one is being saved, would lose it without a word: the browser asks first.
window.addEventListener("beforeunload", (event) => {
  const typed = view.editing !== undefined && view.editor && lines(view.editor.value) !== lines(view.original);
  if (typed || view.busy || view.waiting.length) {
    event.preventDefault();
    event.returnValue = "";  // older browsers ask only when it is set
  }
});

openState();
watch("value", () => {
  // Gradio renders the template afresh when the value changes: build into the new root.
  if (view.audio) view.audio.pause();
  root = element.querySelector(".review") || element;
  openState();
});
