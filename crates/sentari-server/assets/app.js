// Sentari dashboard script: progressive enhancement only. Every page reads and every form
// works without it; with it, tables sort by column, destructive forms ask for confirmation,
// one-time secrets can be copied, and regions marked data-refresh="<seconds>" update live.
// Loaded from /static under a CSP that forbids inline script: no eval, no inline handlers.
(function () {
  'use strict';

  // --- Confirmation before destructive form posts (data-confirm="question") -----------------
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // --- Copy buttons (data-copy="<id of the element whose text to copy>") -------------------
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function say(button, text) {
    var original = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', original);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 2000);
  }

  document.addEventListener('click', function (event) {
    var button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute('data-copy'));
    if (!source) { return; }
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, 'Copied'); },
        function () { selectText(source); say(button, 'Press Ctrl+C'); }
      );
    } else {
      selectText(source);
      say(button, 'Press Ctrl+C');
    }
  });

  // --- Sortable tables (<table data-sortable>; <th data-nosort> opts a column out) ----------
  // Cells sort by their data-sort attribute when present (ISO times, raw values), else by text;
  // numbers compare as numbers. The state is kept per table position so a live refresh keeps it.
  var sortState = {};

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ''; }
    var v = cell.getAttribute('data-sort');
    return (v === null ? cell.textContent : v).trim();
  }

  function compare(a, b) {
    var na = Number(a), nb = Number(b);
    if (a !== '' && b !== '' && !isNaN(na) && !isNaN(nb)) { return na - nb; }
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
  }

  function sortTable(table, index, direction) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var c = compare(cellValue(r1, index), cellValue(r2, index));
      return direction === 'descending' ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    for (var i = 0; i < headers.length; i++) {
      if (i === index) { headers[i].setAttribute('aria-sort', direction); }
      else { headers[i].removeAttribute('aria-sort'); }
    }
  }

  function initSortable(root) {
    var tables = document.querySelectorAll('table[data-sortable]');
    Array.prototype.forEach.call(tables, function (table, position) {
      if (!root.contains(table) || table.getAttribute('data-sort-ready') || !table.tHead) { return; }
      table.setAttribute('data-sort-ready', '1');
      var headers = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(headers, function (th, index) {
        if (th.hasAttribute('data-nosort')) { return; }
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'sort-button';
        while (th.firstChild) { button.appendChild(th.firstChild); }
        th.appendChild(button);
        button.addEventListener('click', function () {
          var next = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
          sortState[position] = { index: index, direction: next };
          sortTable(table, index, next);
        });
      });
      var saved = sortState[position];
      if (saved) { sortTable(table, saved.index, saved.direction); }
    });
  }

  // --- Live refresh (data-refresh="<seconds>" on an element with an id) ---------------------
  // Fetches the same page and swaps the region's content. Pauses while the tab is hidden, while
  // focus is inside the region, or when the user pauses it; stops if the session has ended.
  function startRefresh(region) {
    var seconds = parseInt(region.getAttribute('data-refresh'), 10);
    if (!region.id || !(seconds >= 2)) { return; }
    var paused = false;
    var bar = document.createElement('p');
    bar.className = 'refresh-bar';
    var toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'small';
    toggle.setAttribute('aria-pressed', 'false');
    toggle.textContent = 'Pause live updates';
    var status = document.createElement('span');
    status.className = 'hint';
    status.setAttribute('role', 'status');
    status.textContent = 'Updates every ' + seconds + ' s.';
    bar.appendChild(toggle);
    bar.appendChild(document.createTextNode(' '));
    bar.appendChild(status);
    region.parentNode.insertBefore(bar, region);
    toggle.addEventListener('click', function () {
      paused = !paused;
      toggle.setAttribute('aria-pressed', paused ? 'true' : 'false');
      toggle.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    });
    var timer = window.setInterval(function () {
      if (paused || document.hidden || region.contains(document.activeElement)) { return; }
      fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (response) {
          if (response.redirected || !response.ok) {
            throw new Error(response.redirected ? 'signed out' : 'HTTP ' + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById(region.id);
          if (!fresh) { return; }
          // Copy the live child list first: adopting a node removes it from `fresh`.
          var nodes = Array.prototype.slice.call(fresh.childNodes).map(function (n) { return document.adoptNode(n); });
          region.replaceChildren.apply(region, nodes);
          initSortable(region);
          status.textContent = 'Updated at ' + new Date().toLocaleTimeString() + '.';
        })
        .catch(function (error) {
          if (String(error.message) === 'signed out') {
            window.clearInterval(timer);
            status.textContent = 'Live updates stopped: your session has ended. Reload the page.';
          } else {
            status.textContent = 'Live update failed (' + error.message + '); retrying.';
          }
        });
    }, seconds * 1000);
  }

  initSortable(document);
  Array.prototype.forEach.call(document.querySelectorAll('[data-refresh]'), startRefresh);
})();
