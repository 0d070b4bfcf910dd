// /setting/view: create, edit and delete named views (title, keys or
// patterns, layout), kept by the server (GET/PUT/DELETE /api/views/<name>).

import {request, query, pathKey, keyProblem, ApiError} from './api.js';
import {setupPage, showMessage, clearMessages, el, showConnection} from './page.js';

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const main = setupPage('views');

const list = el('tbody', {id: 'views'});
const table = el('table', {class: 'grid', id: 'views-table'},
  el('thead', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'title'), el('th', {}, 'keys'), el('th', {}, 'layout'), el('th', {}, ''))),
  list);

const nameIn = el('input', {id: 'view-name', required: true, pattern: '[A-Za-z0-9_-]{1,64}', maxlength: 64, placeholder: 'web', autocomplete: 'off', spellcheck: 'false'});
const titleIn = el('input', {id: 'view-title', maxlength: 200, placeholder: 'Web servers', autocomplete: 'off'});
const keysIn = el('textarea', {id: 'view-keys', rows: 4, spellcheck: 'false', placeholder: 'one key or pattern per line, e.g.\nweb,**\nhost,*,cpu,percent'});
const layoutIn = el('select', {id: 'view-layout'}, el('option', {value: 'grid'}, 'grid (tiles)'), el('option', {value: 'list'}, 'list (tree)'));
const saveBtn = el('button', {class: 'primary', type: 'submit', id: 'save'}, 'Save');
const newBtn = el('button', {type: 'button', id: 'new'}, 'New view');
const formMsgs = el('div', {id: 'form-messages'});
const formTitle = el('h2', {id: 'form-title'}, 'New view');
const form = el('form', {id: 'view-form', novalidate: true},
  formTitle,
  el('div', {class: 'form'},
    el('label', {for: 'view-name'}, 'name'), nameIn,
    el('label', {for: 'view-title'}, 'title'), titleIn,
    el('label', {for: 'view-keys'}, 'keys'), keysIn,
    el('label', {for: 'view-layout'}, 'layout'), layoutIn,
    el('span'), el('div', {class: 'toolbar'}, saveBtn, newBtn)),
  formMsgs);

main.append(el('h1', {}, 'Views'),
  el('p', {class: 'muted'}, 'A view is a named set of keys or patterns shown together at /realtime/view/<name>.'),
  table, form);

let views = [];

function viewUrl(name) { return '/realtime/view/' + pathKey(name); }

function render() {
  list.textContent = '';
  if (!views.length) {
    list.append(el('tr', {}, el('td', {colspan: 5, class: 'muted', id: 'no-views'}, 'No views yet: fill in the form below.')));
    return;
  }
  for (const v of views) {
    const name = String(v.name);
    const keys = Array.isArray(v.keys) ? v.keys.join('\n') : '(malformed keys)';
    list.append(el('tr', {dataset: {name}},
      el('td', {class: 'key'}, el('a', {href: viewUrl(name)}, name)),
      el('td', {}, typeof v.title === 'string' ? v.title : ''),
      el('td', {class: 'key', style: 'white-space:pre-wrap'}, keys),
      el('td', {}, String(v.layout || '')),
      el('td', {style: 'white-space:nowrap'},
        el('button', {type: 'button', class: 'edit', onclick: () => edit(v)}, 'Edit'), ' ',
        el('button', {type: 'button', class: 'danger delete', onclick: () => remove(name)}, 'Delete'))));
  }
}

async function load() {
  try {
    const body = await request('/api/views', {timeoutMs: 20000});
    if (!body || !Array.isArray(body.views)) throw new ApiError('/api/views answered without a list of views');
    views = body.views.filter(v => v && typeof v === 'object' && typeof v.name === 'string')
      .sort((a, b) => a.name.localeCompare(b.name));
    showConnection('live');
    render();
    return true;
  } catch (e) {
    showConnection(e.status === 0 ? 'lost' : 'error', {message: e.message});
    list.textContent = '';
    list.append(el('tr', {}, el('td', {colspan: 5, class: 'muted'}, 'The views could not be loaded.')));
    showMessage('error', 'Cannot load the views: ' + e.message, {id: 'load'});
    return false;
  }
}

function edit(v) {
  formTitle.textContent = `Edit view ${v.name}`;
  nameIn.value = v.name;
  titleIn.value = typeof v.title === 'string' ? v.title : '';
  keysIn.value = Array.isArray(v.keys) ? v.keys.join('\n') : '';
  layoutIn.value = v.layout === 'list' ? 'list' : 'grid';
  formMsgs.textContent = '';
  nameIn.focus();
}

newBtn.addEventListener('click', () => {
  formTitle.textContent = 'New view';
  nameIn.value = titleIn.value = keysIn.value = '';
  layoutIn.value = 'grid';
  formMsgs.textContent = '';
});

function problems(name, doc) {
  const out = [];
  if (!NAME_RE.test(name)) out.push('The name must be 1 to 64 letters, digits, “_” or “-”.');
  if (new TextEncoder().encode(doc.title).length > 200) out.push('The title is longer than 200 bytes.');
  if (!doc.keys.length) out.push('Give at least one key or pattern.');
  for (const k of doc.keys) {
    const p = keyProblem(k, {pattern: true});
    if (p) out.push(`“${k}”: ${p}.`);
  }
  return out;
}

form.addEventListener('submit', async ev => {
  ev.preventDefault();
  formMsgs.textContent = '';
  const name = nameIn.value.trim();
  const doc = {
    title: titleIn.value.trim(),
    keys: keysIn.value.split('\n').map(k => k.trim()).filter(k => k !== ''),
    layout: layoutIn.value,
  };
  const bad = problems(name, doc);
  if (bad.length) {
    showMessage('error', bad.join('\n'), {container: formMsgs});
    return;
  }
  saveBtn.disabled = true;
  try {
    await request('/api/views/' + pathKey(name), {method: 'PUT', body: doc, timeoutMs: 20000});
    const m = showMessage('info', `Saved view ${name}. `, {container: formMsgs, id: 'saved'});
    m.append(el('a', {href: viewUrl(name)}, 'Open it'));
    formTitle.textContent = `Edit view ${name}`;
    await load();
  } catch (e) {
    showMessage('error', `The server did not save the view: ${e.message}`, {container: formMsgs});
  } finally {
    saveBtn.disabled = false;
  }
});

async function remove(name) {
  if (!confirm(`Delete the view ${name}?`)) return;
  clearMessages();
  try {
    await request('/api/views/' + pathKey(name), {method: 'DELETE', timeoutMs: 20000});
    showMessage('info', `Deleted view ${name}.`, {id: 'deleted'});
  } catch (e) {
    if (e.status === 404) showMessage('warn', `The view ${name} was already gone.`, {id: 'deleted'});
    else showMessage('error', `Cannot delete the view ${name}: ${e.message}`, {id: 'deleted'});
  }
  await load();
}

const params = new URLSearchParams(location.search);
load().then(ok => {
  const wanted = params.get('edit');
  if (!ok || !wanted) return;
  const v = views.find(x => x.name === wanted);
  if (v) edit(v);
  else {
    formTitle.textContent = 'New view';
    nameIn.value = NAME_RE.test(wanted) ? wanted : '';
  }
});

window.canopySettings = {get views() { return views; }, load};
