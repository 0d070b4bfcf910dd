// Chart colours from canopy.css's variables, for uPlot: axes and grid that
// follow the theme (theme.js). No side effects on import, so any page's
// charts can use it:
//
//   import {themeColors, onThemeChange} from './chart_theme.js';
//   axes: [{stroke: () => themeColors().axis, grid: {stroke: () => themeColors().grid}}, ...]
//   onThemeChange(() => u.redraw(false, true));
//
// uPlot calls the functions at each draw, so a redraw is all a theme change
// needs.

let cache = null;

export function themeColors() {
  if (!cache) {
    const cs = getComputedStyle(document.documentElement);
    const v = (name, dflt) => (cs.getPropertyValue(name) || '').trim() || dflt;
    cache = {axis: v('--chart-axis', '#667085'), grid: v('--chart-grid', '#eceef2'), fg: v('--fg', '#1d2330')};
  }
  return cache;
}

// Calls fn after the theme changed (the colours above already follow).
export function onThemeChange(fn) {
  window.addEventListener('canopy-theme', () => {
    cache = null;
    fn();
  });
}
