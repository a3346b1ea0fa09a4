// Per-day charts with the vendored uPlot (a global from vendor/uplot/uPlot.iife.min.js).

const PALETTE = ['#2563eb', '#d97706', '#dc2626', '#7c3aed', '#db2777', '#0f766e', '#6b7280', '#16a34a'];

/// A line chart of `series` ([label, values]) over `dates` (YYYY-MM-DD), sized to `el`.
export function dayChart(el, title, dates, series) {
  const xs = dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const width = Math.max(280, el.clientWidth || 600);
  const opts = {
    title,
    width,
    height: 240,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }],
    series: [{ label: 'Day', value: (u, v) => (v == null ? '—' : new Date(v * 1000).toISOString().slice(0, 10)) },
      ...series.map(([label], i) => ({
        label, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: dates.length <= 62 },
      }))],
  };
  const chart = new window.uPlot(opts, [xs, ...series.map(([, v]) => v)], el);
  const resize = () => chart.setSize({ width: Math.max(280, el.clientWidth || 600), height: 240 });
  window.addEventListener('resize', resize);
  return () => { window.removeEventListener('resize', resize); chart.destroy(); };
}
