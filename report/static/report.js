// derm-harness report: sortable tables and the sample browser. No dependency, no network:
// data arrive as scripts under data/ (a page opened from disk may load scripts, not fetch).
"use strict";

(function () {
  const R = (window.REPORT = window.REPORT || {});
  R.timings = [];
  const PAGE_SIZE = 50;

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function pct(v) { return v == null ? "-" : (100 * v).toFixed(2); }

  // ------------------------------------------------------------------ sortable tables
  // Rows that belong to the row above (the paper's "reported" row, a Δ row) move with it.
  function attached(row) {
    const first = row.cells[0] ? row.cells[0].textContent.trim() : "";
    return first.startsWith("↳");
  }
  function cellValue(cell) {
    if (!cell) return null;
    if (cell.dataset.value !== undefined) return parseFloat(cell.dataset.value);
    const m = cell.textContent.replace(/[−–]/g, "-").match(/-?\d+(\.\d+)?/);
    return m ? parseFloat(m[0]) : null;
  }
  function makeSortable(table) {
    const head = table.tHead || (table.rows[0] && table.rows[0].parentElement);
    if (!head || !table.tBodies[0]) return;
    const headers = head.rows[0] ? head.rows[0].cells : [];
    Array.from(headers).forEach((th, col) => {
      th.classList.add("sort");
      th.addEventListener("click", () => {
        const body = table.tBodies[0];
        const desc = th.dataset.dir !== "desc";
        Array.from(headers).forEach((h) => delete h.dataset.dir);
        th.dataset.dir = desc ? "desc" : "asc";
        const groups = [];
        Array.from(body.rows).forEach((row) => {
          if (attached(row) && groups.length) groups[groups.length - 1].push(row);
          else groups.push([row]);
        });
        groups.sort((a, b) => {
          const x = cellValue(a[0].cells[col]), y = cellValue(b[0].cells[col]);
          if (x == null && y == null) {
            const s = (a[0].cells[col] || {}).textContent || "", t = (b[0].cells[col] || {}).textContent || "";
            return desc ? t.localeCompare(s) : s.localeCompare(t);
          }
          if (x == null) return 1;
          if (y == null) return -1;
          return desc ? y - x : x - y;
        });
        groups.forEach((g) => g.forEach((row) => body.appendChild(row)));
      });
    });
  }
  document.querySelectorAll("table").forEach((t) => {
    if (t.classList.contains("sortable") || t.closest(".doc")) makeSortable(t);
  });

  if (document.body.dataset.page !== "samples") return;

  // ------------------------------------------------------------------ the sample browser
  const params = new URLSearchParams(location.search);
  const manifest = ((R.meta || {}).manifest || { tasks: {} });
  const task = manifest.tasks[params.get("task")];
  const summary = document.getElementById("summary");
  if (!task) { summary.textContent = "No such task in this report: " + params.get("task"); return; }
  const modelOf = (slug) => task.models.find((m) => m.slug === slug);
  const A = modelOf(params.get("model")) || task.models[0];
  const B = params.get("b") ? modelOf(params.get("b")) : null;
  const pair = B && B.slug !== A.slug;
  document.getElementById("title").textContent =
    task.task + " · " + A.name + (pair ? " vs " + B.name : "");

  function load(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error("could not load " + src));
      document.head.appendChild(s);
    });
  }
  const files = ["data/" + task.slug + "/samples.js", "data/" + task.slug + "/" + A.slug + ".js"];
  if (pair) files.push("data/" + task.slug + "/" + B.slug + ".js");
  Promise.all(files.map(load)).then(start, (err) => { summary.textContent = err.message; });

  function answersOf(model) {
    const data = R.answers[task.slug + "/" + model.slug] || { rows: [], metrics: [], fields: [] };
    const byId = new Map();
    data.rows.forEach((r) => {
      const scores = {}, fields = {};
      (data.metrics || []).forEach((m, i) => { scores[m] = r[3][i]; });
      (data.fields || []).forEach((f, i) => { fields[f] = r[4][i]; });
      byId.set(r[0], { output: r[1], error: r[2], scores: scores, fields: fields });
    });
    return { byId: byId, metrics: data.metrics || [], fields: data.fields || [] };
  }

  function start() {
    const a = answersOf(A), b = pair ? answersOf(B) : null;
    const rows = R.samples[task.slug].rows.map((s, order) => {
      const ra = a.byId.get(s[0]) || null, rb = b ? b.byId.get(s[0]) || null : null;
      const text = [s[0], s[2], (s[3] || []).join(" "), ra && ra.output, rb && rb.output,
        ra && ra.error].join(" ").toLowerCase();
      return { order: order, id: s[0], thumb: s[1], question: s[2], refs: s[3] || [], label: s[4],
        modality: s[5] || "unknown", meta: s[6] || {}, split: s[7] || "", a: ra, b: rb, text: text };
    });
    const metrics = pair ? a.metrics.filter((m) => b.metrics.includes(m)) : a.metrics;
    const verdictField = a.fields.find((f) => /verdict/.test(f));
    const state = { page: 0, q: "", split: "", modality: "", label: "", match: "", status: "", verdict: "",
      metric: metrics[0] || "", min: "", max: "", order: "dataset" };

    // Controls: only those the data can answer.
    const controls = document.getElementById("controls");
    function select(name, label, values) {
      const opts = ['<option value="">all</option>'].concat(values.map(
        (v) => '<option value="' + esc(v) + '">' + esc(v) + "</option>")).join("");
      return '<label>' + esc(label) + ' <select data-f="' + name + '">' + opts + "</select></label>";
    }
    const uniq = (f) => Array.from(new Set(rows.map(f).filter((v) => v != null && v !== ""))).sort();
    const html = ['<label>search <input type="search" data-f="q" placeholder="question, answer, reference, id"></label>'];
    if ((task.splits || []).length > 1) html.push(select("split", "split", task.splits));
    if (task.modalities.length > 1) html.push(select("modality", "modality", task.modalities));
    if (task.labels.length) html.push(select("label", "class", task.labels));
    if (a.fields.includes("match")) html.push(select("match", "match type", uniq((r) => r.a && r.a.fields.match)));
    html.push(select("status", "status", ["answered", "failed"]));
    if (verdictField) html.push(select("verdict", "judge verdict", uniq((r) => r.a && r.a.fields[verdictField])));
    if (metrics.length) {
      html.push('<label>score <select data-f="metric">' + metrics.map(
        (m) => '<option value="' + esc(m) + '">' + esc(m) + "</option>").join("") + "</select></label>" +
        '<label>from <input type="number" step="any" data-f="min" size="5"></label>' +
        '<label>to <input type="number" step="any" data-f="max" size="5"></label>');
    }
    if (pair) html.push('<label>order <select data-f="order"><option value="dataset">dataset</option>' +
      '<option value="diff-desc">difference, largest first</option>' +
      '<option value="diff-asc">difference, smallest first</option></select></label>');
    controls.innerHTML = html.join(" ");
    controls.querySelectorAll("[data-f]").forEach((el) => {
      el.addEventListener(el.tagName === "INPUT" ? "input" : "change", () => {
        state[el.dataset.f] = el.value;
        if (el.dataset.f !== "page") state.page = 0;
        update("filter");
      });
    });

    const score = (side, r) => (side && side.scores[state.metric] != null ? side.scores[state.metric] : null);
    function keep(r) {
      if (state.q && !r.text.includes(state.q.toLowerCase())) return false;
      if (state.split && r.split !== state.split) return false;
      if (state.modality && r.modality !== state.modality) return false;
      if (state.label && r.label !== state.label) return false;
      if (state.match && !(r.a && r.a.fields.match === state.match)) return false;
      const failed = !r.a || r.a.error != null || (pair && (!r.b || r.b.error != null));
      if (state.status === "failed" && !failed) return false;
      if (state.status === "answered" && failed) return false;
      if (state.verdict && !(r.a && r.a.fields[verdictField] === state.verdict)) return false;
      if (state.min !== "" || state.max !== "") {
        const v = pair ? r.d : score(r.a, r);
        if (v == null) return false;
        if (state.min !== "" && 100 * v < parseFloat(state.min)) return false;
        if (state.max !== "" && 100 * v > parseFloat(state.max)) return false;
      }
      return true;
    }
    function diff(r) {
      const x = score(r.a, r), y = score(r.b, r);
      return x == null || y == null ? null : x - y;
    }
    // Each row's difference under the chosen metric, computed once per metric (not per sort).
    let diffsOf = null;
    function refreshDiffs() {
      if (!pair || diffsOf === state.metric) return;
      rows.forEach((r) => { r.d = diff(r); });
      diffsOf = state.metric;
    }

    const thead = document.querySelector("#samples thead"), tbody = document.querySelector("#samples tbody");
    thead.innerHTML = pair
      ? "<tr><th>image</th><th>sample</th><th>reference</th><th>" + esc(A.name) + "</th><th>" +
        esc(B.name) + '</th><th class="num">' + esc(A.name) + '</th><th class="num">' + esc(B.name) +
        '</th><th class="num">difference</th></tr>'
      : "<tr><th>image</th><th>sample</th><th>reference</th><th>answer</th><th>scores</th><th>match / judge</th></tr>";

    function answerCell(side) {
      if (!side) return '<td class="answer failed">not in this model\'s results</td>';
      if (side.error != null) return '<td class="answer failed"><span class="badge fail">failed</span> ' + esc(side.error) + "</td>";
      return '<td class="answer">' + esc(side.output) + "</td>";
    }
    function sampleCell(r) {
      const meta = Object.keys(r.meta).map((k) => esc(k) + " " + esc(r.meta[k])).join(" · ");
      return '<td class="sample"><div class="sid">' + esc(r.id) + "</div><div>" + esc(r.question) +
        '</div><div class="meta">' + (r.split ? esc(r.split) + " · " : "") + esc(r.modality) + (r.label ? " · class " + esc(r.label) : "") +
        (meta ? " · " + meta : "") + "</div></td>";
    }
    function imageCell(r) {
      return r.thumb ? '<td class="thumb"><img loading="lazy" alt="" src="' + esc(r.thumb) + '"></td>'
        : '<td class="thumb none">no image</td>';
    }
    function scoresCell(side) {
      if (!side) return "<td></td>";
      return '<td class="scores">' + Object.keys(side.scores).map((m) =>
        '<div data-metric="' + esc(m) + '">' + esc(m) + " " + pct(side.scores[m]) + "</div>").join("") + "</td>";
    }
    function fieldsCell(side) {
      if (!side) return "<td></td>";
      return '<td class="fields">' + Object.keys(side.fields).filter((f) => side.fields[f] != null).map((f) =>
        '<div data-field="' + esc(f) + '">' + esc(f) + ": " + esc(side.fields[f]) + "</div>").join("") + "</td>";
    }
    function rowHtml(r) {
      const refs = '<td class="refs">' + r.refs.map((x) => "<div>" + esc(x) + "</div>").join("") + "</td>";
      if (!pair) {
        return '<tr data-id="' + esc(r.id) + '">' + imageCell(r) + sampleCell(r) + refs +
          answerCell(r.a) + scoresCell(r.a) + fieldsCell(r.a) + "</tr>";
      }
      const d = r.d;
      return '<tr data-id="' + esc(r.id) + '">' + imageCell(r) + sampleCell(r) + refs + answerCell(r.a) +
        answerCell(r.b) + '<td class="num sa">' + pct(score(r.a, r)) + '</td><td class="num sb">' +
        pct(score(r.b, r)) + '</td><td class="num diff' + (d > 0 ? " up" : d < 0 ? " down" : "") +
        '" data-value="' + (d == null ? "" : d) + '">' + (d == null ? "-" : (d > 0 ? "+" : "") + pct(d)) + "</td></tr>";
    }

    // The paired bootstrap over all samples both answered (computed when the report was written).
    function pairedText() {
      const p = task.paired || {}, pairs = p.pairs || {};
      let r = (pairs[A.name + "|" + B.name] || {})[state.metric], sign = 1;
      if (!r) { r = (pairs[B.name + "|" + A.name] || {})[state.metric]; sign = -1; }
      if (!r) return "no paired bootstrap for " + state.metric + " (not a mean of per-sample values)";
      const ci = r.ci ? (sign > 0 ? r.ci : [-r.ci[1], -r.ci[0]]) : null;
      return "paired bootstrap over all " + r.n + " samples both answered (" + p.resamples +
        " resamples" + (p.stratified_by ? ", stratified by " + p.stratified_by : "") + "): " +
        A.name + " − " + B.name + " = " + pct(sign * r.diff) +
        (ci ? " (95% CI " + pct(ci[0]) + " to " + pct(ci[1]) + ")" : "") +
        (r.p_value != null ? ", p = " + r.p_value.toFixed(3) : "");
    }

    function pager(el, total) {
      const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      el.innerHTML = '<button data-p="-1"' + (state.page === 0 ? " disabled" : "") + '>previous</button> page ' +
        (state.page + 1) + " of " + pages + ' <button data-p="1"' + (state.page >= pages - 1 ? " disabled" : "") +
        ">next</button>";
      el.querySelectorAll("button").forEach((btn) => btn.addEventListener("click", () => {
        state.page = Math.min(pages - 1, Math.max(0, state.page + parseInt(btn.dataset.p, 10)));
        update("page");
      }));
    }

    function update(what) {
      const t0 = performance.now();
      refreshDiffs();
      let shown = rows.filter(keep);
      if (pair && state.order !== "dataset") {
        const sign = state.order === "diff-desc" ? -1 : 1;
        shown.sort((x, y) => {
          if (x.d == null) return y.d == null ? 0 : 1;
          if (y.d == null) return -1;
          return sign * (x.d - y.d) || x.order - y.order;
        });
      }
      const page = shown.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
      tbody.innerHTML = page.map(rowHtml).join("");
      pager(document.getElementById("pager"), shown.length);
      pager(document.getElementById("pager2"), shown.length);
      let text = shown.length + " of " + rows.length + " samples";
      if (pair && state.metric) {
        const ds = shown.map((r) => r.d).filter((d) => d != null);
        const mean = ds.length ? ds.reduce((s, d) => s + d, 0) / ds.length : null;
        const better = ds.filter((d) => d > 0).length, worse = ds.filter((d) => d < 0).length;
        text += " · per-sample " + state.metric + " " + A.name + " − " + B.name + ": mean " +
          (mean == null ? "-" : pct(mean)) + " over " + ds.length + " paired samples; " + A.name +
          " higher on " + better + ", lower on " + worse + ", equal on " + (ds.length - better - worse);
      }
      if (pair && state.metric) text += " · " + pairedText();
      summary.textContent = text;
      summary.dataset.shown = String(shown.length);
      R.timings.push({ what: what, ms: performance.now() - t0, shown: shown.length });
      if (what === "first") {
        performance.mark("samples-rendered");
        // After the next frame is painted (a task queued from the frame's callback).
        requestAnimationFrame(() => setTimeout(() => performance.mark("samples-painted"), 0));
      }
    }
    update("first");
  }
})();
