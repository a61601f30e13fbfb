// The dispatch console's live chart: target vs measured kW of the active events per zone, polled every 5 s from
// the console's JSON endpoint; the browser keeps the last 60 points (5 minutes). Chart.js from our static files.
(function () {
  "use strict";
  const canvas = document.getElementById("dispatch-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const empty = document.getElementById("dispatch-chart-empty");
  const MAX_POINTS = 60;
  const palette = ["#0b6e4f", "#1f5fa8", "#a85a1f", "#7a1fa8", "#a81f4b"];
  const chart = new Chart(canvas, {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: "kW" } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  const series = {}; // "zone|target" -> dataset
  function dataset(zone, kind) {
    const key = zone + "|" + kind;
    if (!series[key]) {
      const colour = palette[Object.keys(series).length / 2 % palette.length | 0];
      series[key] = {
        label: zone + (kind === "target" ? " target" : " measured"),
        data: new Array(chart.data.labels.length).fill(null),
        borderColor: colour,
        borderDash: kind === "target" ? [6, 4] : [],
        pointRadius: 0,
        spanGaps: true,
      };
      chart.data.datasets.push(series[key]);
    }
    return series[key];
  }
  async function poll() {
    try {
      const response = await fetch(canvas.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      const zones = Object.keys(data.zones);
      if (empty) empty.hidden = zones.length > 0;
      chart.data.labels.push(data.at.slice(11, 19));
      for (const ds of chart.data.datasets) ds.data.push(null);
      for (const zone of zones) {
        const t = dataset(zone, "target"), m = dataset(zone, "measured");
        t.data[t.data.length - 1] = Number(data.zones[zone].target_kw);
        m.data[m.data.length - 1] = Number(data.zones[zone].measured_kw);
      }
      if (chart.data.labels.length > MAX_POINTS) {
        chart.data.labels.shift();
        for (const ds of chart.data.datasets) ds.data.shift();
      }
      chart.update();
      canvas.dataset.points = String(chart.data.labels.length);
    } catch (e) {
      /* the next poll retries */
    }
  }
  poll();
  setInterval(poll, 5000);
})();
