// Frontline Assistant page. Plain JS, no build step. Model and transcript text is only ever set with
// textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let currentRecord = null;
let recorder = null;

function token() {
  const t = $("token").value.trim();
  if (t) sessionStorage.setItem("fa-token", t);
  return t || sessionStorage.getItem("fa-token") || "";
}
function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: "Bearer " + t } : extra;
}
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.focus?.();
}
async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: authHeaders(options.headers || {}) });
  if (!res.ok) {
    let detail = res.statusText;
    try { const body = await res.json(); detail = body.detail || body.error || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${res.status}: ${detail}`);
  }
  return res;
}
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadTemplates() {
  const res = await api("/api/templates");
  const select = $("template");
  for (const t of await res.json()) {
    const opt = el("option", "", t.title);
    opt.value = t.id;
    select.appendChild(opt);
  }
}

// -- upload (XHR for upload progress) --------------------------------------------------------------
function uploadBlob(blob, filename) {
  showError("");
  const form = new FormData();
  form.append("file", blob, filename);
  form.append("template", $("template").value);
  form.append("engine", $("engine").value);
  if ($("consent").value) form.append("consent", $("consent").value);
  // Optional: sent only when filled in, so a blank box means "not known" rather than a bad value.
  if ($("present").value.trim()) form.append("present", $("present").value);
  if ($("speakers").value.trim()) form.append("speakers", $("speakers").value.trim());
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/recordings");
  const t = token();
  if (t) xhr.setRequestHeader("Authorization", "Bearer " + t);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) $("upload-progress").value = e.loaded / e.total; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* ignore */ }
    if (xhr.status === 202) { $("upload-progress").value = 1; followJob(body.job_id); }
    else showError(`Upload refused (${xhr.status}): ${body.detail || body.error || xhr.statusText}`);
  };
  xhr.onerror = () => showError("Upload failed: the server could not be reached.");
  xhr.send(form);
}

$("upload-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const file = $("file").files[0];
  if (!file) { showError("Choose a recording first."); return; }
  uploadBlob(file, file.name);
});

$("record-btn").addEventListener("click", async () => {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((tr) => tr.stop());
      $("record-btn").textContent = "Record";
      uploadBlob(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }), "recording.webm");
    };
    recorder.start();
    $("record-btn").textContent = "Stop and upload";
  } catch (err) {
    showError("Could not start recording: " + err.message);
  }
});

$("notes-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  try {
    const res = await api("/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("notes").value, template: $("template").value, engine: $("engine").value }),
    });
    followJob((await res.json()).job_id);
  } catch (err) { showError("Notes refused: " + err.message); }
});

// -- job progress: server-sent events, or polling when a token is needed (EventSource sends no headers)
function showJob(job) {
  $("job").hidden = false;
  $("job-stage").textContent = job.state === "failed" ? `Failed: ${job.error || "unknown reason"}` : `${job.stage}`;
  $("job-progress").value = job.progress;
  // A lost worker (and who took the job over) is shown while the job waits or runs again.
  const last = (job.history || []).at(-1);
  const waiting = job.state === "queued" || job.state === "running";
  $("job-history").hidden = !(last && waiting);
  $("job-history").textContent = last && waiting ? `Note: ${last.text}` : "";
  if (job.state === "done" && job.record_id) openRecord(job.record_id);
  if (job.state === "failed") showError(`The job failed: ${job.error || "unknown reason"}`);
}
function followJob(jobId) {
  $("job").hidden = false;
  $("job-stage").textContent = "Queued";
  if (!token() && window.EventSource) {
    const source = new EventSource(`/api/jobs/${jobId}/events`);
    source.addEventListener("job", (e) => {
      const job = JSON.parse(e.data);
      showJob(job);
      if (job.state === "done" || job.state === "failed") source.close();
    });
    source.onerror = () => { source.close(); pollJob(jobId); };
  } else {
    pollJob(jobId);
  }
}
async function pollJob(jobId) {
  try {
    const job = await (await api(`/api/jobs/${jobId}`)).json();
    showJob(job);
    if (job.state !== "done" && job.state !== "failed") setTimeout(() => pollJob(jobId), 1000);
  } catch (err) { showError(err.message); }
}

// -- record view ---------------------------------------------------------------------------------------
const FLAG_LABELS = { unsupported: "Unsupported", high_risk_unverified: "High risk — unverified",
  unknown_person: "Unknown person", polarity_mismatch: "Check: denial or question", invalid_evidence: "Bad citation",
  leave_out_request: "Asked to leave out", misattributed: "Check: whose words", agent_unverified: "Check: who does this",
  truncated: "Cut short" };

async function openRecord(recordId) {
  const rec = await (await api(`/api/records/${recordId}`)).json();
  location.hash = "record=" + recordId;
  renderRecord(rec);
}

function renderRecord(rec) {
  currentRecord = rec;
  $("record").hidden = false;
  const state = rec.state === "approved"
    ? `Approved by ${rec.approved_by} on ${new Date(rec.approved_at).toLocaleString("en-GB")}`
    : rec.state === "rejected" ? "Rejected" : "Draft — not approved";
  $("record-state").textContent = state;
  const segs = $("transcript");
  segs.replaceChildren();
  for (const s of rec.transcript.segments) {
    const li = el("li");
    li.id = "seg-" + s.id;
    li.dataset.segment = s.id;
    li.append(el("span", "sid", `[${s.id}]`), el("span", "who", s.speaker + ": "), el("span", "said", s.text));
    segs.appendChild(li);
  }
  const body = $("sections");
  body.replaceChildren();
  for (const sec of rec.sections) {
    const box = el("section", "record-section");
    box.dataset.section = sec.id;
    box.appendChild(el("h3", "", sec.title));
    if (sec.status === "human_only") box.appendChild(el("p", "status", "For the worker to write (not drafted by the assistant)."));
    else if (!sec.statements.length) box.appendChild(el("p", "status", "Not discussed."));
    const list = el("ul", "statements");
    for (const st of sec.statements) list.appendChild(renderStatement(st));
    box.appendChild(list);
    body.appendChild(box);
  }
  $("summary").textContent = rec.summary || "(no summary)";
  renderSpeakers(rec);
}

// -- "Who is speaking?": names for the diariser's anonymous labels (speaker_1, speaker_2, ...) ---------
const SPEAKER_LABEL = /^speaker_[1-9][0-9]{0,2}$/;

function speakerLabels(t) {
  const labels = new Set(Object.keys(t.speaker_names || {}));
  for (const s of t.segments) if (SPEAKER_LABEL.test(s.speaker)) labels.add(s.speaker);
  return [...labels].sort((a, b) => Number(a.split("_")[1]) - Number(b.split("_")[1]));
}

function renderSpeakers(rec) {
  const t = rec.transcript;
  const labels = speakerLabels(t);
  const panel = $("speakers-panel");
  panel.hidden = labels.length === 0;
  const fields = $("speaker-fields");
  fields.replaceChildren();
  if (!labels.length) return;
  const names = t.speaker_names || {};
  const options = $("present-names");
  options.replaceChildren();
  const offered = new Set();
  for (const p of [...(t.participants || []), ...((rec.meta && rec.meta.people_present) || [])]) {
    if (!p.name || SPEAKER_LABEL.test(p.name) || offered.has(p.name)) continue;
    offered.add(p.name);
    const opt = el("option");
    opt.value = p.name;
    if (p.role) opt.label = `${p.name} (${p.role})`;
    options.appendChild(opt);
  }
  for (const label of labels) {
    const box = el("div", "field speaker-field");
    const id = "speaker-name-" + label;
    const lab = el("label", "", "Speaker " + label.split("_")[1]);
    lab.htmlFor = id;
    const input = el("input");
    input.type = "text";
    input.id = id;
    input.dataset.label = label;
    input.maxLength = 100;
    input.autocomplete = "off";
    input.setAttribute("list", "present-names");
    input.value = names[label] || "";
    box.append(lab);
    // What this voice said first, so the worker can tell who it is.
    const first = t.segments.find((s) => s.speaker === label || (names[label] && s.speaker === names[label]));
    if (first) {
      const said = first.text.length > 80 ? first.text.slice(0, 80) + "…" : first.text;
      const hint = el("p", "hint", `First words: “${said}”`);
      hint.id = id + "-hint";
      input.setAttribute("aria-describedby", hint.id);
      box.append(hint);
    }
    // Names the assistant suggests for this voice: shown for the worker to type or pick, never filled in.
    const offers = (t.speaker_suggestions || {})[label] || [];
    if (offers.length) {
      const why = { introduced: "introduced themselves", addressed: "addressed by name just before", present: "present" };
      box.append(el("p", "hint suggestion", "Suggested: " + offers.slice(0, 3).map((o) => `${o.name} (${why[o.reason] || o.reason})`).join(", ")));
      input.placeholder = offers[0].name;
    }
    box.append(input);
    fields.appendChild(box);
  }
}

$("speakers-panel").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  const names = {};
  for (const input of $("speaker-fields").querySelectorAll("input[data-label]")) names[input.dataset.label] = input.value.trim();
  try {
    const res = await api(`/api/records/${currentRecord.id}/speakers`, {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(names),
    });
    renderRecord(await res.json());
  } catch (err) { showError("Speaker names not saved: " + err.message); }
});

function renderStatement(st) {
  const li = el("li", "statement" + (st.flags.length && !st.kept_by_human ? " flagged" : ""));
  li.tabIndex = 0;
  li.dataset.statement = st.id;
  for (const f of st.flags) li.appendChild(el("span", "flag" + (f === "high_risk_unverified" ? " high" : ""), FLAG_LABELS[f] || f));
  if (st.flags.length && st.kept_by_human) li.appendChild(el("span", "flag kept", "Kept by reviewer"));
  const text = el("span", "text", st.text);
  li.appendChild(text);
  const cites = st.evidence.length ? " · cites " + st.evidence.map((i) => `[${i}]`).join(" ") : " · no citation";
  li.appendChild(el("span", "meta", `${st.kind}${st.attributed_to ? " · " + st.attributed_to : ""}${cites}`));
  const actions = el("div", "buttons");
  if (st.flags.length && !st.kept_by_human) actions.appendChild(button("Keep", () => patch({ keep: [st.id] })));
  actions.appendChild(button("Edit", () => editStatement(li, st)));
  actions.appendChild(button("Remove", () => patch({ remove: [st.id] })));
  li.appendChild(actions);
  li.addEventListener("click", (e) => { if (e.target.tagName !== "BUTTON" && e.target.tagName !== "TEXTAREA") highlight(li, st); });
  li.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target === li) highlight(li, st); });
  return li;
}
function button(label, onClick) {
  const b = el("button", "button small secondary", label);
  b.type = "button";
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return b;
}
function highlight(li, st) {
  document.querySelectorAll(".statement.selected").forEach((n) => n.classList.remove("selected"));
  document.querySelectorAll("#transcript li.evidence").forEach((n) => n.classList.remove("evidence"));
  li.classList.add("selected");
  let first = null;
  for (const id of st.evidence) {
    const seg = $("seg-" + id);
    if (seg) { seg.classList.add("evidence"); first = first || seg; }
  }
  if (first) first.scrollIntoView({ block: "center" });
}
function editStatement(li, st) {
  const box = el("textarea", "edit-box");
  box.value = st.text;
  box.setAttribute("aria-label", "Edit statement");
  const save = button("Save", () => patch({ edit: [{ id: st.id, text: box.value }] }));
  li.replaceChildren(box, save);
  box.focus();
}
async function patch(body) {
  showError("");
  try {
    const res = await api(`/api/records/${currentRecord.id}`, {
      method: "PATCH", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, author: $("reviewer").value || undefined }),
    });
    renderRecord(await res.json());
  } catch (err) { showError(err.message); }
}

$("approve-btn").addEventListener("click", async () => {
  const reviewer = $("reviewer").value.trim();
  if (!reviewer) { showError("Enter your name to approve."); $("reviewer").focus(); return; }
  try {
    const res = await api(`/api/records/${currentRecord.id}/approve`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reviewer }),
    });
    showError("");
    renderRecord(await res.json());
  } catch (err) { showError("Not approved: " + err.message); }
});
$("reject-btn").addEventListener("click", async () => {
  try {
    const res = await api(`/api/records/${currentRecord.id}/reject`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ reviewer: $("reviewer").value }),
    });
    renderRecord(await res.json());
  } catch (err) { showError(err.message); }
});

for (const a of document.querySelectorAll(".downloads a")) {
  a.addEventListener("click", async (e) => {
    e.preventDefault();
    const fmt = a.dataset.format;
    try {
      const res = await api(`/api/records/${currentRecord.id}/export?format=${fmt}`);
      const url = URL.createObjectURL(await res.blob());
      const link = el("a");
      link.href = url;
      link.download = `record-${currentRecord.id.slice(0, 8)}.${fmt}`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { showError("Download failed: " + err.message); }
  });
}

loadTemplates().catch((err) => showError("Could not load templates: " + err.message));
const m = location.hash.match(/record=([0-9a-f]+)/);
if (m) openRecord(m[1]).catch((err) => showError(err.message));
