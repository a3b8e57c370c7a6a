/* simple-attention: the attention explorer. Plain JavaScript, no library, no network.

   A page cell made by simple_attention.plotting.attention_explorer holds
     <div class="sa-explorer">
       <script type="application/json" class="sa-explorer-data">{...}</script>
       <div class="sa-explorer-fallback">(a static heatmap)</div>
     </div>
   This script finds every such container and draws the tokens in two columns, queries on the
   left and keys on the right, joined by lines as thick as the weights of the chosen layer and
   head. Hovering or focusing a token lights up its lines (arrow keys move along a column). With
   a prompt, a slider steps through generation: at step s the query is the token at position
   prompt - 1 + s, and only the text up to it is shown. Without this script (or without
   JavaScript) the heatmap stays. */

(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 19; // height of one token row, in SVG units
  const TOP = 26; // room for the column headings
  const WIDTH = 330;
  const LEFT_X = 74; // right edge of the query labels
  const RIGHT_X = 236; // left edge of the key labels
  const MAX_STROKE = 7; // the width of a line of weight 1
  const SHOWN = 0.9; // stroke-opacity of a highlighted line
  const DIMMED = 0.1; // and of every other line
  const HIDDEN_BELOW = 0.005; // lines lighter than this are not drawn at all

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, attrs, parent, text) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function quoted(token) {
    return "\u201c" + token + "\u201d";
  }

  function build(container, index) {
    const data = JSON.parse(container.querySelector(".sa-explorer-data").textContent);
    const tokens = data.tokens;
    const n = tokens.length;
    const lastStep = n - data.prompt; // steps 0 .. lastStep
    const state = { layer: 0, head: 0, step: 0, focus: null };
    const id = "sa-x-" + index;

    const weight = (q, k) => {
      const row = data.weights[state.layer][state.head][q];
      return k < row.length ? row[k] / data.scale : 0;
    };
    const query = () => data.prompt - 1 + state.step; // the query of the current step

    // -- controls ---------------------------------------------------------------------------
    const root = html("div", { class: "sa-x" });
    const controls = html("div", { class: "sa-x-controls" }, root);
    const choose = (label, count, key, word) => {
      const wrap = html("label", { class: "sa-x-choice" }, controls, label + " ");
      const select = html("select", { class: "sa-x-" + key, "aria-label": label }, wrap);
      for (let i = 0; i < count; i++) html("option", { value: String(i) }, select, word + " " + i);
      select.addEventListener("change", () => {
        state[key] = Number(select.value);
        draw();
      });
      return select;
    };
    choose("Block", data.layers, "layer", "block");
    choose("Head", data.heads, "head", "head");
    let slider = null;
    let prev = null;
    let next = null;
    if (lastStep > 0) {
      const steps = html("div", { class: "sa-x-steps" }, controls);
      prev = html("button", { type: "button", class: "sa-x-prev", "aria-label": "previous step" }, steps, "\u25c0");
      slider = html("input", {
        type: "range", class: "sa-x-step", min: "0", max: String(lastStep), value: "0",
        step: "1", "aria-label": "generation step",
      }, steps);
      next = html("button", { type: "button", class: "sa-x-next", "aria-label": "next step" }, steps, "\u25b6");
      const go = (step) => {
        state.step = Math.max(0, Math.min(lastStep, step));
        slider.value = String(state.step);
        state.focus = null;
        draw();
      };
      slider.addEventListener("input", () => go(Number(slider.value)));
      prev.addEventListener("click", () => go(state.step - 1));
      next.addEventListener("click", () => go(state.step + 1));
    }
    const status = html("p", { class: "sa-x-status", "aria-live": "polite", id: id + "-status" }, root);

    // -- the picture ------------------------------------------------------------------------
    const svg = el("svg", {
      class: "sa-x-svg", viewBox: `0 0 ${WIDTH} ${TOP + n * ROW + 4}`, role: "group",
      "aria-describedby": id + "-status",
    }, root);
    el("text", { x: LEFT_X, y: 14, class: "sa-x-heading", "text-anchor": "end" }, svg).textContent = "query";
    el("text", { x: RIGHT_X, y: 14, class: "sa-x-heading" }, svg).textContent = "key";
    const lines = el("g", { class: "sa-x-lines" }, svg);
    const y = (i) => TOP + i * ROW + ROW / 2;

    const column = (side) => {
      const group = el("g", { class: "sa-x-column sa-x-" + side }, svg);
      return tokens.map((token, i) => {
        const g = el("g", {
          class: "sa-x-token", "data-side": side, "data-i": String(i), tabindex: "-1",
          role: "button",
        }, group);
        const right = side === "q";
        el("rect", {
          x: right ? 4 : RIGHT_X - 4, y: y(i) - ROW / 2 + 1, width: right ? LEFT_X : WIDTH - RIGHT_X,
          height: ROW - 2, rx: 3, class: "sa-x-box",
        }, g);
        const label = el("text", {
          x: right ? LEFT_X : RIGHT_X, y: y(i) + 4.5, "text-anchor": right ? "end" : "start",
          class: "sa-x-label",
        }, g);
        label.textContent = token;
        let value = null;
        if (!right) value = el("text", { x: WIDTH - 4, y: y(i) + 4.5, "text-anchor": "end", class: "sa-x-weight" }, g);
        g.addEventListener("pointerenter", () => highlight({ side, i }));
        g.addEventListener("pointerleave", () => highlight(state.focus));
        g.addEventListener("focus", () => {
          state.focus = { side, i };
          highlight(state.focus);
        });
        g.addEventListener("blur", () => {
          state.focus = null;
          highlight(null);
        });
        g.addEventListener("keydown", (event) => {
          const move = { ArrowDown: 1, ArrowUp: -1 }[event.key];
          if (move === undefined) return;
          event.preventDefault();
          const to = Math.max(0, Math.min(query(), i + move));
          roving(side, to).focus();
        });
        return { g, value };
      });
    };
    const left = column("q");
    const rightColumn = column("k");
    const roving = (side, i) => {
      const cells = side === "q" ? left : rightColumn;
      cells.forEach((cell, j) => cell.g.setAttribute("tabindex", j === i ? "0" : "-1"));
      return cells[i].g;
    };

    // Redraw the lines for the current layer, head and step.
    function draw() {
      const q = query();
      while (lines.firstChild) lines.removeChild(lines.firstChild);
      for (let i = 0; i <= q; i++) {
        for (let k = 0; k <= q; k++) {
          const w = weight(i, k);
          if (w < HIDDEN_BELOW) continue;
          el("line", {
            x1: LEFT_X + 4, y1: y(i), x2: RIGHT_X - 6, y2: y(k), "data-q": String(i),
            "data-k": String(k), "stroke-width": (w * MAX_STROKE).toFixed(2),
            class: "sa-x-line",
          }, lines);
        }
      }
      for (const cells of [left, rightColumn]) {
        cells.forEach((cell, i) => cell.g.classList.toggle("sa-x-later", i > q));
      }
      // The picture grows with the text, so that no empty rows wait below it.
      svg.setAttribute("viewBox", `0 0 ${WIDTH} ${TOP + (q + 1) * ROW + 4}`);
      const keep = (side) => {
        const cells = side === "q" ? left : rightColumn;
        const current = cells.findIndex((cell) => cell.g.getAttribute("tabindex") === "0");
        roving(side, current >= 0 && current <= q ? current : q);
      };
      keep("q");
      keep("k");
      highlight(state.focus);
    }

    // Light up the lines of one token: a query's (side "q") or those into a key (side "k").
    // With nothing chosen, the query of the current step.
    function highlight(chosen) {
      const q = query();
      const target = chosen && chosen.i <= q ? chosen : { side: "q", i: q };
      const attr = target.side === "q" ? "data-q" : "data-k";
      for (const line of lines.children) {
        const on = Number(line.getAttribute(attr)) === target.i;
        line.classList.toggle("sa-x-on", on);
        line.setAttribute("stroke-opacity", on ? SHOWN : DIMMED);
      }
      left.forEach((cell, i) => cell.g.classList.toggle("sa-x-active", target.side === "q" && i === target.i));
      rightColumn.forEach((cell, k) => {
        cell.g.classList.toggle("sa-x-active", target.side === "k" && k === target.i);
        // Beside each key, the weight it gets from the highlighted query.
        const w = target.side === "q" && k <= target.i ? weight(target.i, k) : null;
        cell.value.textContent = w === null ? "" : w.toFixed(2);
      });
      const where = (i) => `${quoted(tokens[i])} (position ${i})`;
      let text;
      if (target.side === "q") {
        const keys = [...Array(target.i + 1).keys()];
        const best = keys.reduce((a, b) => (weight(target.i, b) > weight(target.i, a) ? b : a), 0);
        const most = weight(target.i, best).toFixed(2);
        text = `Block ${state.layer}, head ${state.head}: ${where(target.i)} gives most weight, ${most}, to ${where(best)}.`;
      } else {
        text = `Block ${state.layer}, head ${state.head}: the lines into the key ${where(target.i)}.`;
      }
      if (slider) {
        const s = state.step;
        const what = s === 0 ? "the last character of the prompt" : "the newest character";
        const after = q + 1 < n ? `; the model writes ${quoted(tokens[q + 1])} next` : "";
        text = `Step ${s} of ${lastStep}: ${what} is ${where(q)}${after}. ` + text;
        prev.disabled = s === 0;
        next.disabled = s === lastStep;
      }
      status.textContent = text;
      container.dataset.active = `${target.side}${target.i}`;
    }

    container.insertBefore(root, container.firstChild);
    container.classList.add("sa-x-live");
    draw();
  }

  function start() {
    document.querySelectorAll(".sa-explorer").forEach((container, index) => {
      if (container.classList.contains("sa-x-live")) return;
      try {
        build(container, index);
      } catch (error) {
        // The static heatmap stays; say why in the console.
        console.warn("attention explorer: cannot draw", error);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
