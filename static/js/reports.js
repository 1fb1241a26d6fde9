// The reports page's trend charts: each canvas with data-chart names the JSON script (rendered
// by the page, words already in the reader's language) that holds its labels and series. The
// table below each chart has the same figures.
(function () {
  "use strict";
  // Colours with at least 4.5:1 against white, told apart by dash as well as hue.
  const colours = ["#0b5ed7", "#b02a37", "#146c43", "#6f42c1", "#8a5300", "#495057"];
  const dashes = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [10, 4]];

  function draw() {
    if (!window.Chart) return;
    for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
      const source = document.getElementById(canvas.dataset.chart);
      const data = source ? JSON.parse(source.textContent) : null;
      if (!data) continue;
      new window.Chart(canvas, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.series.map((series, i) => ({
            label: series.label,
            data: series.values,
            borderColor: colours[i % colours.length],
            backgroundColor: colours[i % colours.length],
            borderDash: dashes[i % dashes.length],
          })),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true } },
        },
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
