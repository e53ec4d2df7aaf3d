"""The interactive parts of frontier.html: hover tooltips, a clickable legend (hide or show a
curve), zoom and pan on each panel, a sortable table, and a `#selftest` hook that exercises them
and writes the outcome into the page (the test suite loads it in headless Chromium)."""

SCRIPT = """
const tip = document.getElementById('tip');
document.querySelectorAll('circle[data-tip]').forEach(c => {
  c.addEventListener('mousemove', ev => {
    tip.textContent = c.dataset.tip; tip.style.display = 'block';
    tip.style.left = (ev.pageX + 14) + 'px'; tip.style.top = (ev.pageY + 14) + 'px'; });
  c.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
});
// legend: click a curve's entry to hide or show it
function toggle(entry) {
  const svg = entry.closest('svg'), name = entry.dataset.curve;
  const g = svg.querySelector('g.curve[data-curve="' + name + '"]');
  const hide = g.style.display !== 'none' ? 'none' : '';
  g.style.display = hide; entry.style.opacity = hide ? 0.35 : 1;
}
document.querySelectorAll('g.legend').forEach(l => l.addEventListener('click', () => toggle(l)));
// zoom: wheel zooms around the pointer, drag pans, double-click resets
document.querySelectorAll('svg.panel').forEach(svg => {
  const home = svg.getAttribute('viewBox'); let drag = null;
  const vb = () => svg.getAttribute('viewBox').split(' ').map(Number);
  const zoom = (f, cx, cy) => { const [x, y, w, h] = vb();
    svg.setAttribute('viewBox', [cx - (cx - x) * f, cy - (cy - y) * f, w * f, h * f].join(' ')); };
  svg.addEventListener('wheel', ev => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect(), [x, y, w, h] = vb();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, x + (ev.clientX - r.left) / r.width * w,
         y + (ev.clientY - r.top) / r.height * h);
  });
  svg.addEventListener('mousedown', ev => { drag = [ev.clientX, ev.clientY, vb()]; });
  window.addEventListener('mouseup', () => { drag = null; });
  svg.addEventListener('mousemove', ev => {
    if (!drag) return;
    const r = svg.getBoundingClientRect(), [x, y, w, h] = drag[2];
    svg.setAttribute('viewBox', [x - (ev.clientX - drag[0]) / r.width * w,
                                 y - (ev.clientY - drag[1]) / r.height * h, w, h].join(' '));
  });
  svg.addEventListener('dblclick', () => svg.setAttribute('viewBox', home));
  svg.zoomBy = zoom;
});
// table: click a heading to sort by it (numbers as numbers), again to reverse
function sortBy(th) {
  const table = th.closest('table'), k = [...th.parentNode.children].indexOf(th);
  const dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir > 0 ? 'asc' : 'desc';
  const key = tr => { const t = tr.children[k].textContent.replace(/,/g, ''); const n = parseFloat(t);
    return isNaN(n) ? t : n; };
  const rows = [...table.tBodies[0].rows].sort((a, b) => { const x = key(a), y = key(b);
    return (typeof x === typeof y ? (x > y) - (x < y) : typeof x === 'number' ? -1 : 1) * dir; });
  rows.forEach(r => table.tBodies[0].appendChild(r));
}
document.querySelectorAll('th').forEach(th => th.addEventListener('click', () => sortBy(th)));
// #selftest: exercise the page and write what happened (the test suite loads it in headless Chromium)
if (location.hash === '#selftest') {
  const out = [], entry = document.querySelector('g.legend');
  out.push('panels ' + document.querySelectorAll('svg.panel').length);
  out.push('curves ' + document.querySelectorAll('g.curve').length);
  out.push('legend ' + document.querySelectorAll('g.legend').length);
  entry.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  const g = entry.closest('svg').querySelector('g.curve[data-curve="' + entry.dataset.curve + '"]');
  out.push('toggled ' + (g.style.display === 'none'));
  const svg = document.querySelector('svg.panel'), before = svg.getAttribute('viewBox');
  svg.zoomBy(0.5, 400, 200); out.push('zoomed ' + (svg.getAttribute('viewBox') !== before));
  const th = [...document.querySelectorAll('th')].find(t => t.textContent.includes('/M out'));
  sortBy(th); const col = [...th.parentNode.children].indexOf(th);
  const vals = [...th.closest('table').tBodies[0].rows]
    .map(r => parseFloat(r.children[col].textContent)).filter(v => !isNaN(v));
  out.push('sorted ' + vals.every((v, i) => i === 0 || vals[i - 1] <= v));
  out.push('bbox ' + Math.round(svg.querySelector('g.curve polyline').getBBox().width));
  const w = svg.width.baseVal.value, ticks = [...document.querySelectorAll('text.xtick')].map(t => t.getBBox());
  out.push('xticks ' + ticks.length + ' inside ' + ticks.filter(b => b.x >= 0 && b.x + b.width <= w).length);
  const pre = document.createElement('pre'); pre.id = 'selftest'; pre.textContent = out.join('\\n');
  document.body.appendChild(pre);
}
"""

CSS = """body{font-family:sans-serif;margin:1.5em;color:#222}
#tip{position:absolute;display:none;white-space:pre;background:#fff;border:1px solid #888;
padding:6px 8px;font-size:12px;box-shadow:2px 2px 6px rgba(0,0,0,.2);pointer-events:none}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td.l{text-align:left}tr.front td{font-weight:bold}circle{cursor:pointer}th{cursor:pointer;background:#f4f4f4}
svg.panel{border:1px solid #ddd;user-select:none}ul.key{font-size:13px}"""
