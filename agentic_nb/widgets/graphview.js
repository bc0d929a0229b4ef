// agentic_nb GraphView: draws a workflow graph laid out in Python (graphviz) as SVG.
// Shipped inside the Python package and loaded by anywidget: no CDN, works offline.
// Traits read: graph (layout, once), states (one letter per node), hot (edge indices),
// last_step, status, step (-1 = live), detail, snapshot. Traits written: selected, step,
// collapsed.

const SVGNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function html(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function shapeFor(n, g) {
  const x = n.x, y = n.y, w = n.w, h = n.h;
  const l = x - w / 2, t = y - h / 2;
  switch (n.kind) {
    case "start":
      return svg("circle", { cx: x, cy: y, r: w / 2, fill: "#000" }, g);
    case "join": {
      const pts = `${l},${t} ${l + w},${t} ${x},${t + h}`;
      return svg("polygon", { points: pts, class: "agnb-shape", fill: "#dddddd", stroke: "#555" }, g);
    }
    case "validator": {
      const d = Math.min(12, w / 4);
      const pts = `${l + d},${t} ${l + w - d},${t} ${l + w},${y} ${l + w - d},${t + h} ${l + d},${t + h} ${l},${y}`;
      return svg("polygon", { points: pts, class: "agnb-shape", stroke: "#333" }, g);
    }
    case "orchestrator": {
      const r = svg("rect", { x: l, y: t, width: w, height: h, class: "agnb-shape", stroke: "#333" }, g);
      svg("rect", { x: l - 4, y: t + 5, width: 8, height: 5, fill: "#fff", stroke: "#333" }, g);
      svg("rect", { x: l - 4, y: t + h - 10, width: 8, height: 5, fill: "#fff", stroke: "#333" }, g);
      return r;
    }
    case "missing":
      return svg("rect", { x: l, y: t, width: w, height: h, fill: "#fff", stroke: "#cc0000",
        "stroke-dasharray": "4 3", class: "agnb-shape" }, g);
    default:
      return svg("rect", { x: l, y: t, width: w, height: h, rx: 6, class: "agnb-shape", stroke: "#333" }, g);
  }
}

const EDGE_STYLE = {
  direct: { dash: "", color: "#555555", width: 1.2 },
  conditional: { dash: "6 4", color: "#555555", width: 1.2 },
  switch: { dash: "1.5 3", color: "#7b4fa0", width: 1.6 },
  fan_out: { dash: "", color: "#555555", width: 2.2 },
  fan_in: { dash: "", color: "#555555", width: 1.2 },
  child: { dash: "1 3", color: "#888888", width: 1.2 },
  start: { dash: "", color: "#000000", width: 1.2 },
};
const HOT = "#e69138";

function render({ model, el }) {
  const root = html("div", "agnb-gv agentic-graph", el);
  const bar = html("div", "agnb-bar", root);
  const zoomOut = html("button", "agnb-btn", bar, "−");
  zoomOut.title = "zoom out (or ctrl + wheel)";
  const zoomIn = html("button", "agnb-btn", bar, "+");
  zoomIn.title = "zoom in (or ctrl + wheel)";
  const fitBtn = html("button", "agnb-btn agnb-fit", bar, "Fit width");
  const oneBtn = html("button", "agnb-btn", bar, "100%");
  const dirInfo = html("span", "agnb-dir", bar);
  const scrub = html("span", "agnb-scrub", bar);
  html("span", "", scrub, "superstep ");
  const range = html("input", "agnb-range", scrub);
  range.type = "range";
  range.min = "0";
  const stepLabel = html("span", "agnb-step-label", scrub);
  const liveBtn = html("button", "agnb-btn agnb-live", scrub, "Live");
  liveBtn.title = "follow the run as it goes";
  const legend = html("div", "agnb-legend", root);
  const main = html("div", "agnb-main", root);
  const view = html("div", "agnb-view", main);
  const panel = html("div", "agnb-panel", main);
  const snap = html("div", "agnb-snap", root);
  const canvas = svg("svg", { width: "100%", height: "100%", class: "agentic-graph-svg" }, view);
  const world = svg("g", { class: "agnb-world" }, canvas);

  let graph = null;
  let nodeEls = [];       // per layout node: { g, shape, n }
  let edgeEls = new Map(); // model edge index -> [path, head]
  let hotNow = [];
  let k = 1, tx = 0, ty = 0;
  let userMovedAt = 0;

  function apply() {
    world.setAttribute("transform", `translate(${tx},${ty}) scale(${k})`);
  }

  function viewHeight() {
    const maxH = model.get("max_height") || 560;
    return Math.max(140, Math.min(maxH, graph.height * k + 24));
  }

  function fitWidth(initial) {
    if (!graph) return;
    const W = view.clientWidth || 900;
    let fit = Math.min(1.25, (W - 20) / Math.max(graph.width, 1));
    if (initial) fit = Math.max(fit, 0.55);
    k = fit;
    view.style.height = viewHeight() + "px";
    tx = Math.max(10, (W - graph.width * k) / 2);
    if (graph.width * k > W) {
      const s = graph.nodes.find((n) => n.start) || graph.nodes[0];
      tx = s ? W / 2 - s.x * k : 10;
    }
    ty = 12;
    apply();
  }

  function zoomAt(factor, cx, cy) {
    const nk = Math.min(4, Math.max(0.05, k * factor));
    tx = cx - ((cx - tx) * nk) / k;
    ty = cy - ((cy - ty) * nk) / k;
    k = nk;
    userMovedAt = Date.now();
    apply();
  }

  function build() {
    graph = model.get("graph");
    world.textContent = "";
    nodeEls = [];
    edgeEls = new Map();
    hotNow = [];
    if (!graph || !graph.nodes) return;
    dirInfo.textContent = graph.rankdir === "LR" ? "left → right" : "top ↓ bottom";
    dirInfo.title = `${graph.nodes.filter((n) => n.exec).length} executors`;
    const collapsed = new Set(model.get("collapsed") || []);
    const gc = svg("g", { class: "agnb-clusters" }, world);
    for (const c of graph.clusters) {
      const cg = svg("g", { class: "agnb-cluster", "data-cluster": c.id }, gc);
      svg("rect", { x: c.x, y: c.y, width: c.w, height: c.h, rx: 8, fill: "#fafafa",
        stroke: "#888", "stroke-dasharray": "5 3" }, cg);
      const t = svg("text", { x: c.x + 8, y: c.y + 13, "font-size": 10, fill: "#555",
        class: "agnb-toggle" }, cg);
      t.textContent = "▾ " + c.label;
      t.style.cursor = "pointer";
      svg("title", {}, t).textContent = "collapse this sub-workflow";
      t.addEventListener("click", (ev) => {
        ev.stopPropagation();
        collapsed.add(c.id);
        model.set("collapsed", Array.from(collapsed));
        model.save_changes();
      });
    }
    const ge = svg("g", { class: "agnb-edges" }, world);
    for (const e of graph.edges) {
      const st = EDGE_STYLE[e.kind] || EDGE_STYLE.direct;
      const eg = svg("g", { class: "edge", "data-kind": e.kind }, ge);
      const p = svg("path", { d: e.d, fill: "none", stroke: st.color, "stroke-width": st.width }, eg);
      if (st.dash) p.setAttribute("stroke-dasharray", st.dash);
      let head = null;
      if (e.tip && e.from) {
        const [x2, y2] = e.tip, [x1, y1] = e.from;
        const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
        const ux = dx / len, uy = dy / len, wx = -uy * 3.5, wy = ux * 3.5;
        head = svg("polygon", {
          points: `${x2},${y2} ${x1 + wx},${y1 + wy} ${x1 - wx},${y1 - wy}`,
          fill: e.kind === "child" ? "#fff" : st.color, stroke: st.color,
        }, eg);
      }
      if (e.kind === "switch") {
        // a small diamond where a switch edge leaves its source: switch ≠ conditional at a glance
        const m = /^M([\d.-]+),([\d.-]+)/.exec(e.d);
        if (m) {
          const x = +m[1], y = +m[2];
          svg("polygon", { points: `${x},${y - 4} ${x + 4},${y} ${x},${y + 4} ${x - 4},${y}`,
            fill: st.color }, eg);
        }
      }
      if (e.label && e.lp) {
        const t = svg("text", { x: e.lp[0], y: e.lp[1], "font-size": 9, "text-anchor": "middle",
          fill: e.kind === "switch" ? st.color : "#333" }, eg);
        e.label.split("\n").forEach((line, i) => {
          const ts = svg("tspan", { x: e.lp[0], dy: i === 0 ? 3 : 11 }, t);
          ts.textContent = line;
        });
      }
      svg("title", {}, eg).textContent = `${e.kind} edge ${e.s || "start"} → ${e.t || ""}` +
        (e.label ? `\n${e.label}` : "");
      if (e.i !== undefined) edgeEls.set(e.i, [p, head, st]);
    }
    const gn = svg("g", { class: "agnb-nodes" }, world);
    graph.nodes.forEach((n, i) => {
      const g = svg("g", { class: "node", "data-id": n.id, "data-kind": n.kind }, gn);
      if (n.start && n.kind !== "start") {
        svg("rect", { x: n.x - n.w / 2 - 3, y: n.y - n.h / 2 - 3, width: n.w + 6, height: n.h + 6,
          rx: 8, fill: "none", stroke: "#333" }, g);
      }
      const shape = shapeFor(n, g);
      if (n.exec) shape.setAttribute("fill", graph.colors.p);
      const label = svg("text", { x: n.x, y: n.kind === "join" ? n.y - n.h / 6 + 3 : n.y + 4,
        "text-anchor": "middle", "font-size": n.kind === "join" ? 8 : 11,
        fill: n.kind === "start" ? "#fff" : "#111" }, g);
      label.textContent = n.label;
      const title = svg("title", {}, g);
      title.textContent = n.tip || n.label;
      if (n.exec) {
        g.style.cursor = "pointer";
        g.addEventListener("click", (ev) => {
          ev.stopPropagation();
          const cur = model.get("selected");
          model.set("selected", cur === n.id ? null : n.id);
          model.save_changes();
        });
        if (n.label.endsWith(" ▸")) {
          g.addEventListener("dblclick", (ev) => {
            ev.stopPropagation();
            const s = new Set(model.get("collapsed") || []);
            s.delete(n.id);
            model.set("collapsed", Array.from(s));
            model.save_changes();
          });
          title.textContent += "\n(double-click to expand the sub-workflow)";
        }
      }
      nodeEls.push({ g, shape, title, n, state: "" });
    });
    buildLegend();
    fitWidth(true);
    paint();
    showSelected();
  }

  function buildLegend() {
    legend.textContent = "";
    const names = { p: "pending", r: "running", d: "done", f: "failed", w: "waiting", s: "skipped" };
    for (const s of Object.keys(names)) {
      const item = html("span", "agnb-legend-item", legend);
      const sw = html("span", "agnb-swatch", item);
      sw.style.background = graph.colors[s];
      if (s === "s") sw.style.borderStyle = "dashed";
      item.appendChild(document.createTextNode(names[s]));
    }
    const lines = [
      ["edge taken in the shown superstep", HOT, "", 3],
      ["conditional", "#555555", "6 4", 1.2],
      ["switch case", "#7b4fa0", "1.5 3", 1.6],
      ["fan-out", "#555555", "", 2.2],
    ];
    for (const [name, color, dash, width] of lines) {
      const item = html("span", "agnb-legend-item", legend);
      const s = svg("svg", { width: 26, height: 8 }, item);
      svg("line", { x1: 1, y1: 4, x2: 25, y2: 4, stroke: color, "stroke-width": width,
        "stroke-dasharray": dash }, s);
      item.appendChild(document.createTextNode(name));
    }
  }

  function paint() {
    if (!graph) return;
    const states = model.get("states") || "";
    const colors = graph.colors;
    let running = null;
    for (let i = 0; i < nodeEls.length; i++) {
      const ne = nodeEls[i];
      if (!ne.n.exec) continue;
      const s = states[i] || "p";
      if (s === ne.state) {
        if (s === "r" && !running) running = ne.n;
        continue;
      }
      ne.state = s;
      ne.shape.setAttribute("fill", colors[s] || colors.p);
      ne.g.setAttribute("data-state", s);
      if (s === "s") ne.shape.setAttribute("stroke-dasharray", "4 3");
      else ne.shape.removeAttribute("stroke-dasharray");
      if (s === "r" && !running) running = ne.n;
    }
    for (const i of hotNow) {
      const el = edgeEls.get(i);
      if (!el) continue;
      el[0].setAttribute("stroke", el[2].color);
      el[0].setAttribute("stroke-width", el[2].width);
      el[0].parentNode.classList.remove("hot");
      if (el[1]) { el[1].setAttribute("fill", el[2].color); el[1].setAttribute("stroke", el[2].color); }
    }
    hotNow = model.get("hot") || [];
    for (const i of hotNow) {
      const el = edgeEls.get(i);
      if (!el) continue;
      el[0].setAttribute("stroke", HOT);
      el[0].setAttribute("stroke-width", 3);
      el[0].parentNode.classList.add("hot");
      if (el[1]) { el[1].setAttribute("fill", HOT); el[1].setAttribute("stroke", HOT); }
    }
    const live = model.get("step") < 0;
    if (live && running) follow(running);
    scrubber();
  }

  function follow(n) {
    // auto-scroll: keep the executors running now in sight (unless the user just moved)
    if (Date.now() - userMovedAt < 4000) return;
    const W = view.clientWidth, H = view.clientHeight;
    const sx = n.x * k + tx, sy = n.y * k + ty;
    if (sx < 20 || sx > W - 20 || sy < 20 || sy > H - 20) {
      if (sx < 20 || sx > W - 20) tx = W / 2 - n.x * k;
      if (sy < 20 || sy > H - 20) ty = H / 2 - n.y * k;
      apply();
    }
  }

  function scrubber() {
    const last = model.get("last_step");
    const step = model.get("step");
    range.max = String(Math.max(0, last));
    range.value = String(step < 0 ? last : step);
    range.disabled = last <= 0;
    stepLabel.textContent = step < 0 ? ` ${Math.max(last, 0)} (live)` : ` ${step} of ${last}`;
    liveBtn.disabled = step < 0;
    root.setAttribute("data-step", String(step));
  }

  function table(parent, header, rows, empty) {
    if (!rows || !rows.length) {
      html("div", "agnb-empty", parent, empty);
      return;
    }
    const t = html("table", "agnb-table", parent);
    const tr = html("tr", "", t);
    for (const h of header) html("th", "", tr, h);
    for (const r of rows) {
      const row = html("tr", "", t);
      for (const c of r) html("td", "", row, String(c));
    }
  }

  function showSelected() {
    const sel = model.get("selected");
    const d = model.get("detail") || {};
    for (const ne of nodeEls) ne.g.classList.toggle("agnb-selected", ne.n.id === sel);
    panel.textContent = "";
    panel.style.display = sel ? "block" : "none";
    if (!sel) return;
    const head = html("div", "agnb-panel-head", panel);
    html("b", "", head, sel);
    const close = html("button", "agnb-btn agnb-close", head, "×");
    close.addEventListener("click", () => {
      model.set("selected", null);
      model.save_changes();
    });
    if (d.id !== sel) {
      html("div", "agnb-empty", panel, "loading…");
      return;
    }
    html("div", "agnb-kv", panel, `state: ${d.state} · invocations: ${d.invocations}` +
      ` · attempts: ${d.attempts}` + (d.duration ? ` · last ${d.duration}` : ""));
    if (d.kind) html("div", "agnb-kv", panel, `${d.kind}${d.cls ? " · " + d.cls : ""}`);
    html("div", "agnb-sub", panel, d.step_note || "last inputs");
    table(panel, ["from", "payload"], d.inputs, "no input received");
    html("div", "agnb-sub", panel, "last outputs");
    table(panel, ["to", "payload"], d.outputs, "nothing sent");
    html("div", "agnb-sub", panel, "errors");
    table(panel, ["attempt", "error"], d.errors, "no errors");
  }

  function showSnapshot() {
    const s = model.get("snapshot") || {};
    snap.textContent = "";
    if (!s.title) return;
    html("div", "agnb-sub", snap, s.title);
    table(snap, ["target", "source", "edge", "payload"], s.queued, "nothing queued");
    html("div", "agnb-sub", snap, "shared state");
    if (s.state_note) html("div", "agnb-empty", snap, s.state_note);
    else table(snap, ["key", "value"], s.state, "empty");
  }

  // ---- interaction
  zoomIn.addEventListener("click", () => zoomAt(1.25, view.clientWidth / 2, view.clientHeight / 2));
  zoomOut.addEventListener("click", () => zoomAt(0.8, view.clientWidth / 2, view.clientHeight / 2));
  fitBtn.addEventListener("click", () => { fitWidth(false); userMovedAt = Date.now(); });
  oneBtn.addEventListener("click", () => {
    const cx = view.clientWidth / 2, cy = view.clientHeight / 2;
    zoomAt(1 / k, cx, cy);
  });
  view.addEventListener("wheel", (ev) => {
    const r = view.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey) {
      ev.preventDefault();
      zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
      return;
    }
    const overflowY = graph && graph.height * k + 24 > view.clientHeight;
    const overflowX = graph && graph.width * k + 20 > view.clientWidth;
    if (!overflowX && !overflowY) return; // let the notebook scroll
    ev.preventDefault();
    tx -= overflowX ? ev.deltaX : 0;
    ty -= overflowY ? ev.deltaY : 0;
    userMovedAt = Date.now();
    apply();
  }, { passive: false });
  let drag = null;
  view.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, tx, ty, moved: false };
  });
  window.addEventListener("pointermove", onMove);
  window.addEventListener("pointerup", onUp);
  function onMove(ev) {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    view.classList.add("agnb-dragging");
    tx = drag.tx + dx;
    ty = drag.ty + dy;
    userMovedAt = Date.now();
    apply();
  }
  function onUp() {
    drag = null;
    view.classList.remove("agnb-dragging");
  }
  range.addEventListener("input", () => {
    model.set("step", parseInt(range.value, 10));
    model.save_changes();
  });
  liveBtn.addEventListener("click", () => {
    model.set("step", -1);
    model.save_changes();
  });

  model.on("change:graph", build);
  model.on("change:states", paint);
  model.on("change:hot", paint);
  model.on("change:last_step", scrubber);
  model.on("change:step", scrubber);
  model.on("change:selected", showSelected);
  model.on("change:detail", showSelected);
  model.on("change:snapshot", showSnapshot);
  build();
  showSnapshot();
  // the output area may not have its width yet on first render
  requestAnimationFrame(() => { if (view.clientWidth) fitWidth(true); paint(); });

  return () => {
    window.removeEventListener("pointermove", onMove);
    window.removeEventListener("pointerup", onUp);
  };
}

export default { render };
