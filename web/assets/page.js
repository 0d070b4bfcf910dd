// What every page shares: the top bar with navigation, the connection state
// and the dark-mode toggle (theme.js keeps the theme), the connection-lost
// banner, messages, and a last-resort handler so that an unexpected failure
// shows up on the page instead of a blank screen.

const PAGES = [
  ['overview', '/overview/', 'Overview'],
  ['realtime', '/realtime/', 'Realtime'],
  ['trend', '/trend/view/', 'Trend'],
  ['views', '/setting/view', 'Views'],
  ['diff', '/diff/', 'Diff'],
];

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

let connEl = null;
let bannerEl = null;
let messagesEl = null;

// Builds the top bar and the message area; returns <main>.
export function setupPage(current) {
  const nav = el('nav', {}, PAGES.map(([id, href, label]) =>
    el('a', {href, class: id === current ? 'here' : null}, label)));
  connEl = el('span', {class: 'conn', id: 'conn', role: 'status'}, '');
  const bar = el('header', {class: 'topbar'}, el('a', {class: 'brand', href: '/'}, 'canopy'), nav, connEl,
    themeToggle());
  bannerEl = el('div', {class: 'banner lost', id: 'lost', role: 'alert', hidden: true});
  let main = document.querySelector('main');
  if (!main) { main = el('main'); document.body.append(main); }
  messagesEl = el('div', {id: 'messages'});
  document.body.prepend(bar, bannerEl);
  main.prepend(messagesEl);
  window.addEventListener('error', ev => {
    showMessage('error', 'Something went wrong on this page: ' + (ev.message || 'unknown error'));
  });
  window.addEventListener('unhandledrejection', ev => {
    const r = ev.reason;
    showMessage('error', 'Something went wrong on this page: ' + (r && r.message ? r.message : String(r)));
    ev.preventDefault();
  });
  return main;
}

// The dark-mode toggle: flips the theme and remembers the choice (theme.js).
function themeToggle() {
  const t = window.canopyTheme;
  const b = el('button', {type: 'button', class: 'theme', id: 'theme-toggle'});
  const show = () => {
    const dark = (t ? t.current() : 'light') === 'dark';
    b.setAttribute('aria-pressed', String(dark));
    b.textContent = dark ? '☾ dark' : '☀ light';
    b.title = (dark ? 'Dark' : 'Light') + ' theme' + (t && t.chosen() ? ' (your choice, remembered)' : ' (the system\'s)') +
      '. Click for ' + (dark ? 'light' : 'dark') + '.';
  };
  b.addEventListener('click', () => {
    if (t) t.set(t.current() === 'dark' ? 'light' : 'dark');
    show();
  });
  window.addEventListener('canopy-theme', show);
  show();
  if (!t) b.hidden = true;  // theme.js did not load
  return b;
}

// The connection state in the top bar, and the banner when it is lost.
export function showConnection(state, detail) {
  if (!connEl) return;
  connEl.className = 'conn ' + state;
  connEl.dataset.state = state;
  switch (state) {
    case 'connecting': connEl.textContent = 'connecting…'; break;
    case 'live': connEl.textContent = detail && detail.seq !== undefined ? `live · seq ${detail.seq}` : 'live'; break;
    case 'paused': connEl.textContent = 'paused (tab hidden)'; break;
    case 'lost': connEl.textContent = 'connection lost'; break;
    case 'error': connEl.textContent = 'stopped'; break;
    default: connEl.textContent = state;
  }
  if (state === 'lost') {
    const secs = detail && detail.retryMs ? (detail.retryMs / 1000).toFixed(1) : '?';
    bannerEl.textContent = `Connection to the server lost (${detail && detail.message || 'no answer'}). ` +
      `Retrying in ${secs} s; the page resumes where it left off.`;
    bannerEl.hidden = false;
  } else if (state === 'live' || state === 'paused' || state === 'connecting') {
    bannerEl.hidden = true;
  }
}

// A message above the page's content. kind: 'error' | 'warn' | 'info'.
// Messages with the same id replace each other; returns the element.
export function showMessage(kind, text, {id, container} = {}) {
  const box = container || messagesEl || document.body;
  if (id) {
    const old = box.querySelector(`[data-msg-id="${CSS.escape(id)}"]`);
    if (old) old.remove();
  }
  const m = el('div', {class: 'msg ' + kind, role: kind === 'error' ? 'alert' : 'status', dataset: id ? {msgId: id} : {}},
    el('button', {class: 'close', title: 'dismiss', 'aria-label': 'dismiss', onclick: () => m.remove()}, '×'),
    text);
  box.append(m);
  return m;
}

export function clearMessage(id, container) {
  const box = container || messagesEl || document.body;
  const old = box.querySelector(`[data-msg-id="${CSS.escape(id)}"]`);
  if (old) old.remove();
}

export function clearMessages(container) {
  (container || messagesEl).textContent = '';
}

// Flashes an element's background (a changed value).
export function flash(e) {
  e.classList.remove('flash');
  // Restarting a CSS animation needs a style flush; the Web Animations API
  // does not, which keeps thousands of updates per second cheap.
  if (e.animate) {
    e.animate([{backgroundColor: '#ffe58a'}, {backgroundColor: 'transparent'}],
      {duration: 900, easing: 'ease-out'});
  }
  e.dataset.flashed = String((+e.dataset.flashed || 0) + 1);
}
