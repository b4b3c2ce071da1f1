/* 数据概览: every chart fetches its stored query's JSON (the URL is in the section's
   data-src), draws it with ECharts and builds a table view from the same rows, so the
   page shows exactly what the API returns. Suppressed cells of the public database
   (suppressed = 1, values null) stay null: a gap in the chart, “已隐藏” in the table. */
(function () {
  "use strict";

  const HIDDEN = "已隐藏";
  const COLORS = ["#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452",
                  "#9a60b4", "#ea7ccc"];
  const METHOD_COLORS = {"直接选举": "#5470c6", "户代表选举": "#3ba272", "居民代表选举": "#fc8452"};
  const HALF_COLOR = "#c23531", TWO_THIRDS_COLOR = "#8e44ad";

  const moneyFmt = new Intl.NumberFormat("zh-CN", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  const countFmt = new Intl.NumberFormat("zh-CN", {maximumFractionDigits: 0});
  const money = (v) => "¥" + moneyFmt.format(v);
  const count = (v) => countFmt.format(v);
  const rate = (v) => (v * 100).toFixed(2) + "%";
  // ECharts hands a missing value to formatters as null, undefined, "-" or NaN
  const isNull = (v) => v === null || v === undefined || v === "-" || Number.isNaN(v);

  // Column labels and formats of each stored query (shared/spec/summaries.md).
  const COLUMNS = {
    relief_by_month: [["month", "月份"], ["category", "类别"], ["payments", "笔数", "count"],
                      ["total_yuan", "金额（元）", "money"]],
    relief_by_program: [["program", "项目"], ["category", "类别"], ["payments", "笔数", "count"],
                        ["recipients", "受助人数", "count"], ["total_yuan", "金额（元）", "money"]],
    coverage: [["group_name", "人群"], ["registered", "登记人数", "count"], ["visited", "走访人数", "count"],
               ["assisted", "受助人数", "count"], ["visit_rate", "走访率", "rate"],
               ["assist_rate", "救助率", "rate"]],
    election_turnout: [["community", "社区"], ["term", "届次", "term"], ["election_date", "选举日期"],
                       ["method", "选举方式"], ["registered_voters", "登记选民", "count"],
                       ["ballots_cast", "参加投票", "count"], ["turnout", "投票率", "rate"],
                       ["valid", "是否有效", "valid"], ["seats", "应选名额", "count"],
                       ["elected", "当选人数", "count"]],
    committee_composition: [["dimension", "分组方式"], ["bucket", "分组"], ["members", "人数", "count"],
                            ["share", "占比", "rate"]],
  };
  const NUMERIC = new Set(["count", "money", "rate"]);

  function isHidden(row) {
    return row && (row.suppressed === 1 || row.suppressed === true);
  }

  function cellText(row, name, kind, isPublic) {
    const v = row[name];
    if (v === null || v === undefined) {
      return (isHidden(row) || (isPublic && NUMERIC.has(kind))) ? HIDDEN : "—";
    }
    switch (kind) {
      case "count": return count(v);
      case "money": return money(v);
      case "rate": return rate(v);
      case "term": return "第" + v + "届";
      case "valid": return v ? "有效" : "无效";
      default: return String(v);
    }
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function buildTable(query, rows, isPublic) {
    if (!rows.length) return el("p", {class: "dash-empty"}, "暂无数据：所选范围内没有记录。");
    const columns = COLUMNS[query];
    const table = el("table", {class: "rows-and-columns dash-data", "data-query": query});
    const head = el("tr");
    columns.forEach(([name, label]) => head.appendChild(el("th", {scope: "col", "data-column": name}, label)));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    rows.forEach((row) => {
      const tr = el("tr", isHidden(row) ? {"data-suppressed": "1"} : {});
      columns.forEach(([name, , kind]) => {
        const text = cellText(row, name, kind, isPublic);
        const classes = [NUMERIC.has(kind) ? "num" : "", text === HIDDEN ? "hidden-cell" : ""]
          .filter(Boolean).join(" ");
        tr.appendChild(el("td", Object.assign({"data-column": name}, classes ? {class: classes} : {}), text));
      });
      body.appendChild(tr);
    });
    return table;
  }

  function unique(values) {
    return Array.from(new Set(values));
  }

  // Tooltip line for one series value; null values are hidden cells, never zero.
  function tipLine(marker, name, value, fmt) {
    return `${marker}${name}：${isNull(value) ? HIDDEN : fmt(value)}`;
  }

  // Axis labels of categories with a hidden cell get a “已隐藏” mark, so a gap reads as hidden, not as none.
  function hiddenAxisLabel(hiddenKeys, separator, extra) {
    return Object.assign({
      formatter: (v) => (hiddenKeys.has(v) ? `${v}${separator}{hidden|${HIDDEN}}` : v),
      rich: {hidden: {color: "#8a6d00", fontSize: 11, fontStyle: "italic"}},
    }, extra || {});
  }

  function emptyOption(text) {
    return {title: {text: text, left: "center", top: "middle",
                    textStyle: {fontSize: 15, fontWeight: "normal", color: "#888"}}};
  }

  const BUILDERS = {
    relief_by_month(rows) {
      if (!rows.length) return emptyOption("暂无数据");
      const months = unique(rows.map((r) => r.month)).sort();
      const categories = unique(rows.map((r) => r.category)).sort();
      const cell = new Map(rows.map((r) => [r.month + "|" + r.category, r]));
      return {
        color: COLORS,
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
                  formatter: (items) => [items[0].axisValue].concat(items.map((p) => {
                    const row = cell.get(p.axisValue + "|" + p.seriesName);
                    return row ? tipLine(p.marker, p.seriesName, p.value, money) : null;
                  }).filter(Boolean)).join("<br>")},
        legend: {top: 0, data: categories},
        grid: {left: 80, right: 48, top: 40, bottom: 48},
        xAxis: {type: "category", name: "月份", data: months,
                axisLabel: hiddenAxisLabel(new Set(rows.filter(isHidden).map((r) => r.month)), "\n",
                                           months.length <= 24 ? {interval: 0} : {})},
        yAxis: {type: "value", name: "金额（元）", axisLabel: {formatter: (v) => "¥" + countFmt.format(v)}},
        series: categories.map((category) => ({
          name: category, type: "bar", stack: "金额",
          // a month without this category had no payments (0); a suppressed cell stays null
          data: months.map((m) => {
            const row = cell.get(m + "|" + category);
            return row ? row.total_yuan : 0;
          }),
        })),
      };
    },

    relief_by_program(rows) {
      if (!rows.length) return emptyOption("暂无数据");
      const sorted = rows.slice().sort((a, b) =>
        // largest first; hidden cells (null) last, in the API's order
        (a.total_yuan === null) - (b.total_yuan === null) || (b.total_yuan || 0) - (a.total_yuan || 0));
      const byName = new Map(rows.map((r) => [r.program, r]));
      return {
        color: COLORS,
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
                  formatter: (items) => {
                    const row = byName.get(items[0].name);
                    return [`${row.program}（${row.category}）`,
                            tipLine(items[0].marker, "金额", row.total_yuan, money),
                            "笔数：" + cellText(row, "payments", "count", true),
                            "受助人数：" + cellText(row, "recipients", "count", true)].join("<br>");
                  }},
        grid: {left: 160, right: 90, top: 30, bottom: 30},
        xAxis: {type: "value", name: "金额（元）", axisLabel: {formatter: (v) => "¥" + countFmt.format(v)}},
        yAxis: {type: "category", inverse: true, data: sorted.map((r) => r.program),
                axisLabel: hiddenAxisLabel(new Set(rows.filter(isHidden).map((r) => r.program)), " ",
                                           {interval: 0})},
        series: [{
          name: "金额", type: "bar",
          data: sorted.map((r) => r.total_yuan),
          label: {show: true, position: "right",
                  formatter: (p) => (isNull(p.value) ? HIDDEN : money(p.value))},
        }],
      };
    },

    coverage(rows) {
      if (!rows.length) return emptyOption("暂无数据");
      const groups = rows.map((r) => r.group_name);
      const byGroup = new Map(rows.map((r) => [r.group_name, r]));
      const rateLabel = {show: true, position: "top", fontSize: 11,
                         formatter: (p) => (isNull(p.value) ? HIDDEN : rate(p.value))};
      return {
        color: ["#5470c6", "#91cc75"],
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
                  formatter: (items) => {
                    const row = byGroup.get(items[0].name);
                    return [row.group_name + "：登记 " + cellText(row, "registered", "count", true) + " 人"]
                      .concat(items.map((p) => tipLine(p.marker, p.seriesName, p.value, rate) + "（" +
                        cellText(row, p.seriesIndex === 0 ? "visited" : "assisted", "count", true) + " 人）"))
                      .join("<br>");
                  }},
        legend: {top: 0, data: ["走访率", "救助率"]},
        grid: {left: 60, right: 24, top: 40, bottom: 48},
        xAxis: {type: "category", data: groups,
                axisLabel: hiddenAxisLabel(new Set(rows.filter(isHidden).map((r) => r.group_name)), "\n")},
        yAxis: {type: "value", min: 0, max: 1, axisLabel: {formatter: (v) => Math.round(v * 100) + "%"}},
        series: [
          {name: "走访率", type: "bar", data: rows.map((r) => r.visit_rate), label: rateLabel},
          {name: "救助率", type: "bar", data: rows.map((r) => r.assist_rate), label: rateLabel},
        ],
      };
    },

    election_turnout(rows) {
      if (!rows.length) return emptyOption("暂无选举记录");
      const oneCommunity = unique(rows.map((r) => r.community)).length === 1;
      const oneTerm = unique(rows.map((r) => r.term)).length === 1;
      const labels = rows.map((r) => (oneCommunity ? "第" + r.term + "届"
        : oneTerm ? r.community : r.community + " 第" + r.term + "届"));
      const crowded = rows.length > 8;
      const methods = unique(rows.map((r) => r.method));
      const ordered = ["直接选举", "户代表选举", "居民代表选举"].filter((m) => methods.includes(m))
        .concat(methods.filter((m) => !(m in METHOD_COLORS)));
      const halfName = "有效线 50%：直接选举、户代表选举须过半数";
      const twoThirdsName = "有效线 66.67%：居民代表选举须超过三分之二";
      const threshold = (name, value, color) => ({
        name: name, type: "line", data: [], color: color,
        markLine: {silent: true, symbol: "none", lineStyle: {color: color, type: "dashed", width: 2},
                   label: {formatter: rate(value), position: "end", color: color},
                   data: [{yAxis: value}]},
      });
      return {
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
                  formatter: (items) => {
                    const row = rows[items[0].dataIndex];
                    return [`${row.community} 第${row.term}届（${row.election_date}，${row.method}）`,
                            "投票率：" + cellText(row, "turnout", "rate", false) + "，" + cellText(row, "valid", "valid"),
                            "登记选民 " + cellText(row, "registered_voters", "count") + "，参加投票 " +
                              cellText(row, "ballots_cast", "count")].join("<br>");
                  }},
        legend: {top: 0, data: ordered.concat([halfName, twoThirdsName])},
        grid: {left: 60, right: 64, top: 70, bottom: crowded ? 80 : 30},
        xAxis: {type: "category", data: labels,
                name: oneCommunity ? rows[0].community : (oneTerm ? "第" + rows[0].term + "届" : ""),
                nameLocation: "middle", nameGap: crowded ? 66 : 28,
                axisLabel: {interval: 0, rotate: crowded ? 45 : 0}},
        yAxis: {type: "value", min: 0, max: 1, name: "投票率", axisLabel: {formatter: (v) => Math.round(v * 100) + "%"}},
        series: ordered.map((method) => ({
          // one series per method, stacked so that each election is a single bar
          name: method, type: "bar", stack: "投票率", color: METHOD_COLORS[method], barMaxWidth: 48,
          data: rows.map((r) => (r.method === method ? r.turnout : null)),
          label: {show: true, position: "top", fontSize: crowded ? 10 : 11, rotate: crowded ? 90 : 0,
                  align: crowded ? "left" : "center", verticalAlign: "middle", distance: crowded ? 4 : 5,
                  formatter: (p) => {
                    const row = rows[p.dataIndex];
                    return isNull(p.value) ? "" : rate(p.value) + (row.valid ? "" : "（无效）");
                  }},
        })).concat([threshold(halfName, 0.5, HALF_COLOR), threshold(twoThirdsName, 2 / 3, TWO_THIRDS_COLOR)]),
      };
    },

    committee_composition(rows) {
      if (!rows.length) return emptyOption("暂无当选成员记录");
      const dimensions = unique(rows.map((r) => r.dimension));
      const total = rows.filter((r) => r.dimension === dimensions[0])
        .reduce((sum, r) => sum + (r.members || 0), 0);
      const cols = 2, rowsOfGrids = Math.ceil(dimensions.length / cols);
      const cellW = 100 / cols, cellH = 100 / rowsOfGrids;
      const option = {
        color: COLORS,
        title: dimensions.map((d, i) => ({
          text: d, textStyle: {fontSize: 14},
          left: (i % cols) * cellW + cellW / 2 + "%", top: Math.floor(i / cols) * cellH + 1 + "%",
          textAlign: "center",
        })),
        tooltip: {trigger: "item",
                  formatter: (p) => {
                    const row = rows.find((r) => r.dimension === p.seriesName && r.bucket === p.name);
                    return `${p.seriesName} · ${p.name}<br>` + tipLine(p.marker, "人数", row.members, count) +
                      "，占 " + cellText(row, "share", "rate", true);
                  }},
        grid: [], xAxis: [], yAxis: [], series: [],
      };
      if (total === 0) {
        option.graphic = [{type: "text", left: "center", top: "middle",
                           style: {text: "所选范围内没有当选成员", fontSize: 15, fill: "#888"}}];
      }
      dimensions.forEach((d, i) => {
        const mine = rows.filter((r) => r.dimension === d);
        option.grid.push({left: (i % cols) * cellW + 6 + "%", width: cellW - 10 + "%",
                          top: Math.floor(i / cols) * cellH + 9 + "%", height: cellH - 20 + "%"});
        option.xAxis.push({type: "category", gridIndex: i, data: mine.map((r) => r.bucket),
                           axisLabel: {interval: 0, fontSize: 11}});
        option.yAxis.push({type: "value", gridIndex: i, minInterval: 1, name: "人数"});
        option.series.push({name: d, type: "bar", xAxisIndex: i, yAxisIndex: i, barMaxWidth: 40,
                            color: COLORS[i % COLORS.length], data: mine.map((r) => r.members),
                            label: {show: true, position: "top",
                                    formatter: (p) => (isNull(p.value) ? HIDDEN : count(p.value))}});
      });
      return option;
    },
  };

  // The PNG: the chart as ECharts renders it, under a header naming the chart and its scope.
  function downloadPng(section, chart) {
    const pixelRatio = 2;
    const image = new Image();
    image.onload = () => {
      const header = 56 * pixelRatio;
      const canvas = document.createElement("canvas");
      canvas.width = image.width;
      canvas.height = image.height + header;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#222";
      ctx.font = `bold ${17 * pixelRatio}px sans-serif`;
      ctx.fillText(section.dataset.title, 16 * pixelRatio, 24 * pixelRatio);
      ctx.fillStyle = "#666";
      ctx.font = `${12 * pixelRatio}px sans-serif`;
      const hidden = section.querySelector(".dash-suppressed").hidden ? "" : "　部分数字因人数过少已隐藏";
      ctx.fillText(`${section.dataset.scope}　数据：${section.dataset.src.split("?")[0]}${hidden}`,
                   16 * pixelRatio, 46 * pixelRatio);
      ctx.drawImage(image, 0, header);
      canvas.toBlob((blob) => {
        const url = URL.createObjectURL(blob);
        const a = el("a", {href: url, download: section.dataset.filename});
        a.hidden = true;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      }, "image/png");
    };
    image.src = chart.getDataURL({type: "png", pixelRatio: pixelRatio, backgroundColor: "#fff"});
  }

  async function render(section, isPublic) {
    const query = section.dataset.chart;
    const wrap = section.querySelector(".dash-table-wrap");
    const canvas = section.querySelector(".dash-canvas");
    let rows;
    try {
      const response = await fetch(section.dataset.src, {credentials: "same-origin",
                                                         headers: {Accept: "application/json"}});
      if (!response.ok) throw new Error(`数据接口返回 HTTP ${response.status}`);
      rows = await response.json();
      if (!Array.isArray(rows)) throw new Error("数据接口返回的不是行列表");
    } catch (e) {
      section.dataset.state = "error";
      canvas.replaceChildren(el("p", {class: "dash-error", role: "alert"}, "数据加载失败：" + e.message));
      wrap.replaceChildren(el("p", {class: "dash-error"}, "数据加载失败。"));
      return false;
    }
    const hidden = rows.some((r) => isHidden(r) ||
      (isPublic && COLUMNS[query].some(([name, , kind]) => NUMERIC.has(kind) && r[name] === null)));
    section.querySelector(".dash-suppressed").hidden = !hidden;
    wrap.replaceChildren(buildTable(query, rows, isPublic));
    if (!rows.length) section.dataset.empty = "1";  // a short canvas for the “暂无数据” notice
    const chart = echarts.init(canvas, null, {renderer: "canvas", locale: "ZH"});
    const option = BUILDERS[query](rows);
    option.aria = {enabled: true};
    option.animation = false;
    chart.setOption(option);
    if (window.ResizeObserver) new ResizeObserver(() => chart.resize()).observe(canvas);
    const button = section.querySelector(".dash-png");
    button.disabled = false;
    button.addEventListener("click", () => downloadPng(section, chart));
    section.dataset.rows = String(rows.length);
    section.dataset.state = "ready";
    return true;
  }

  async function start() {
    const root = document.getElementById("shequ-dashboard");
    if (!root) return;
    const status = root.querySelector(".dash-status");
    if (typeof echarts === "undefined") {
      status.textContent = "图表库未能加载，请刷新页面；下方链接仍可查看数据。";
      root.dataset.state = "error";
      return;
    }
    const isPublic = root.dataset.public === "1";
    const sections = Array.from(root.querySelectorAll(".dash-chart"));
    const results = await Promise.all(sections.map((s) => render(s, isPublic)));
    const failed = results.filter((ok) => !ok).length;
    status.textContent = failed ? `有 ${failed} 张图的数据加载失败。` : `已加载 ${sections.length} 张图。`;
    root.dataset.state = failed ? "error" : "ready";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
