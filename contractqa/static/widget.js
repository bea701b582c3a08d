/*
 * contractqa: embeddable chat widget for the intranet.
 *
 *   <script src="https://contractqa.example/widget.js"
 *           data-api="https://contractqa.example" data-token="JETON"></script>
 *
 * Adds a floating button and a chat panel inside a Shadow DOM (no style leaks either way).
 * Every text that comes from the server (answers, titles, excerpts) is inserted with
 * createTextNode / textContent: this file never hands text to an HTML parser.
 * Optional attributes: data-title (panel title), data-document (preselected document id).
 */
(function () {
  "use strict";
  if (window.__contractqaWidget) return;
  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-token]');
  if (!script) return;
  window.__contractqaWidget = true;

  var API = (script.getAttribute("data-api") || new URL(script.src).origin).replace(/\/+$/, "");
  var TOKEN = script.getAttribute("data-token") || "";
  var TITLE = script.getAttribute("data-title") || "Assistant contrats";
  var PRESELECT = script.getAttribute("data-document") || "";
  var HISTORY_TURNS = 5;

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".root{position:fixed;right:20px;bottom:20px;z-index:2147483000;color:#1f2937;",
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}",
    ".fab{width:56px;height:56px;border-radius:50%;border:0;background:#1d4ed8;color:#fff;",
    "font:inherit;font-size:24px;font-weight:600;line-height:1;cursor:pointer;",
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".fab:focus-visible,button:focus-visible,textarea:focus-visible,select:focus-visible",
    "{outline:3px solid #93c5fd;outline-offset:2px}",
    ".panel{position:absolute;right:0;bottom:68px;width:min(420px,calc(100vw - 40px));",
    "height:min(620px,calc(100vh - 110px));background:#fff;border-radius:12px;display:flex;",
    "flex-direction:column;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3)}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:#1d4ed8;",
    "color:#fff}",
    "header h2{flex:1;margin:0;font:inherit;font-size:15px;font-weight:600}",
    "header button{background:transparent;border:0;color:#fff;cursor:pointer;font:inherit;",
    "padding:4px 6px;border-radius:6px}",
    "header button:hover{background:rgba(255,255,255,.15)}",
    ".scope{padding:8px 12px;border-bottom:1px solid #e5e7eb;background:#f9fafb}",
    "select{width:100%;font:inherit;padding:4px;border:1px solid #d1d5db;border-radius:6px;",
    "background:#fff;color:inherit}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:92%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;",
    "overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:#e0e7ff}",
    ".bot{align-self:flex-start;background:#f3f4f6}",
    ".bot.abstained .text{color:#6b7280;font-style:italic}",
    ".error{align-self:flex-start;background:#fef2f2;color:#991b1b;border:1px solid #fecaca}",
    ".pending .text::after{content:'…';animation:blink 1s infinite}",
    ".status{display:block;font-size:12px;color:#4b5563;font-style:italic}",
    ".status::after{content:'';display:inline-block;width:8px;height:8px;margin-left:6px;",
    "border-radius:50%;background:#1d4ed8;animation:blink 1s infinite}",
    "@keyframes blink{50%{opacity:.2}}",
    ".notice{margin-top:6px;font-size:12px;color:#6b7280}",
    ".ref{border:0;background:#dbeafe;color:#1e40af;border-radius:4px;padding:0 3px;",
    "font:inherit;font-size:12px;cursor:pointer;vertical-align:baseline}",
    "ol.cites{margin:8px 0 0;padding:0;list-style:none;white-space:normal}",
    "ol.cites li{margin:4px 0}",
    "details{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:4px 8px}",
    "summary{cursor:pointer;font-size:13px}",
    "blockquote{margin:6px 0 2px;padding:6px 8px;border-left:3px solid #93c5fd;",
    "background:#f9fafb;white-space:pre-wrap;max-height:260px;overflow:auto;font-size:13px}",
    "mark{background:#fef08a;color:inherit}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e5e7eb}",
    "textarea{flex:1;resize:none;height:56px;font:inherit;padding:6px 8px;",
    "border:1px solid #d1d5db;border-radius:8px;color:inherit;background:#fff}",
    "form button{border:0;border-radius:8px;background:#1d4ed8;color:#fff;padding:0 14px;",
    "font:inherit;font-weight:600;cursor:pointer}",
    "form button:disabled{background:#9ca3af;cursor:wait}"
  ].join("");

  var MESSAGES = {
    network: "Impossible de joindre le service de questions sur les contrats " +
      "(origine non autorisée ou serveur indisponible).",
    400: "Requête refusée par le serveur.",
    401: "Accès refusé : jeton d'accès manquant ou invalide.",
    403: "Ce jeton n'a pas accès à cette fonction.",
    404: "Document ou service introuvable.",
    413: "Question trop longue.",
    422: "Question invalide.",
    429: "Trop de questions en peu de temps.",
    503: "Le service n'est pas prêt (aucun contrat indexé).",
    504: "Le service a mis trop de temps à répondre. Réessayez ou précisez la question.",
    incomplete: "La réponse a été interrompue. Réessayez.",
    searching: "Recherche dans les contrats…",
    generic: "Erreur du service de questions."
  };

  /* DOM helper: attributes via setAttribute, children as text nodes or elements. */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  var host = h("contractqa-widget", { "data-api": API });
  var shadow = host.attachShadow({ mode: "open" });
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    var style = document.createElement("style");
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  var fab = h("button", { class: "fab", type: "button", "aria-expanded": "false",
    "aria-controls": "cqa-panel", title: TITLE, "aria-label": "Ouvrir : " + TITLE }, ["?"]);
  var closeBtn = h("button", { type: "button", "aria-label": "Fermer" }, ["✕"]);
  var resetBtn = h("button", { type: "button", title: "Nouvelle conversation" }, ["Nouvelle"]);
  var select = h("select", { "aria-label": "Contrat interrogé" },
    [h("option", { value: "" }, ["Tous les contrats"])]);
  var log = h("div", { class: "log", role: "log", "aria-live": "polite" });
  var input = h("textarea", { rows: "2", placeholder: "Posez une question sur un contrat…",
    "aria-label": "Votre question", maxlength: "2000" });
  var send = h("button", { type: "submit" }, ["Envoyer"]);
  var form = h("form", {}, [input, send]);
  var panel = h("div", { class: "panel", id: "cqa-panel", role: "dialog", "aria-label": TITLE,
    hidden: "" }, [
    h("header", {}, [h("h2", {}, [TITLE]), resetBtn, closeBtn]),
    h("div", { class: "scope" }, [select]), log, form]);
  shadow.appendChild(h("div", { class: "root" }, [panel, fab]));

  var history = [];
  var loaded = false;
  var busy = false;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function setOpen(open) {
    panel.hidden = !open;
    fab.setAttribute("aria-expanded", String(open));
    if (open) {
      if (!loaded) loadDocuments();
      input.focus();
    }
  }

  function apiFetch(path, options) {
    options = options || {};
    options.headers = Object.assign({ Authorization: "Bearer " + TOKEN }, options.headers || {});
    options.mode = "cors";
    options.credentials = "omit";
    return fetch(API + path, options).catch(function () {
      throw { status: 0, message: MESSAGES.network };
    }).then(function (res) {
      if (res.ok) return res;
      return res.json().catch(function () { return null; }).then(function (body) {
        var err = (body && body.error) || {};
        var message = MESSAGES[res.status] || MESSAGES.generic;
        if ((res.status === 422 || res.status === 404) && err.message) message = err.message;
        if (res.status === 401 && err.code === "no_tokens_configured") message = err.message;
        var wait = res.headers.get("Retry-After");
        if (res.status === 429 && wait) message += " Réessayez dans " + wait + " s.";
        throw { status: res.status, code: err.code, message: message };
      });
    });
  }

  function addMessage(kind, text) {
    var el = h("div", { class: "msg " + kind }, [h("span", { class: "text" }, [text])]);
    log.appendChild(el);
    scrollDown();
    return el;
  }

  function loadDocuments() {
    loaded = true;
    apiFetch("/api/documents").then(function (res) { return res.json(); }).then(function (docs) {
      docs.forEach(function (d) {
        var opt = h("option", { value: d.document_id }, [d.title || d.document_id]);
        if (d.document_id === PRESELECT) opt.selected = true;
        select.appendChild(opt);
      });
    }).catch(function (err) {
      loaded = false;
      addMessage("error", err.message || MESSAGES.generic);
    });
  }

  /* Read a text/event-stream body; call onEvent(name, data) for each event. */
  function readEvents(res, onEvent) {
    var decoder = new TextDecoder();
    var buffer = "";
    function flush(final) {
      var blocks = buffer.split(/\r?\n\r?\n/);
      buffer = final ? "" : blocks.pop();
      blocks.forEach(function (block) {
        var name = "message";
        var data = [];
        block.split(/\r?\n/).forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      });
    }
    if (!res.body || !res.body.getReader) {
      return res.text().then(function (text) { buffer = text; flush(true); });
    }
    var reader = res.body.getReader();
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { buffer += decoder.decode(); flush(true); return; }
        buffer += decoder.decode(chunk.value, { stream: true });
        flush(false);
        return pump();
      });
    }
    return pump();
  }

  function citationLabel(c) {
    var parts = [c.document_title || c.document_id];
    if (c.section) parts.push(c.section);
    var label = /^[0-9IVXLC]+\b/.test(c.article || "") ? "art. " + c.article : c.article;
    if (c.article) parts.push(label + (c.heading ? " « " + c.heading + " »" : ""));
    else if (c.heading) parts.push(c.heading);
    if (c.pages && c.pages.length) {
      var first = c.pages[0];
      var last = c.pages[c.pages.length - 1];
      parts.push(first === last ? "p. " + first : "p. " + first + "–" + last);
    }
    return "[" + c.n + "] " + parts.join(" — ");
  }

  /* The excerpt as text nodes, with the supporting sentence in a <mark>. */
  function excerptNode(c) {
    var quote = h("blockquote", {});
    var text = c.excerpt || "";
    var at = c.highlight ? text.indexOf(c.highlight) : -1;
    if (at < 0) {
      quote.appendChild(document.createTextNode(text));
    } else {
      quote.appendChild(document.createTextNode(text.slice(0, at)));
      quote.appendChild(h("mark", {}, [c.highlight]));
      quote.appendChild(document.createTextNode(text.slice(at + c.highlight.length)));
    }
    return quote;
  }

  function renderAnswer(el, answer) {
    el.className = "msg bot" + (answer.abstained ? " abstained" : "");
    var textEl = el.querySelector(".text");
    textEl.textContent = "";
    var details = {};
    var items = (answer.citations || []).map(function (c) {
      var d = h("details", {}, [h("summary", {}, [citationLabel(c)]), excerptNode(c)]);
      details[c.n] = d;
      return h("li", {}, [d]);
    });
    /* "[2]" markers in the answer become buttons that open citation 2. */
    var text = answer.answer || "";
    var re = /\[(\d+)\]/g;
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      textEl.appendChild(document.createTextNode(text.slice(last, m.index)));
      var n = Number(m[1]);
      if (details[n]) {
        var ref = h("button", { class: "ref", type: "button", title: "Voir la source " + n },
          [m[0]]);
        ref.addEventListener("click", (function (d) {
          return function () { d.open = true; d.scrollIntoView({ block: "nearest" }); };
        })(details[n]));
        textEl.appendChild(ref);
      } else {
        textEl.appendChild(document.createTextNode(m[0]));
      }
      last = re.lastIndex;
    }
    textEl.appendChild(document.createTextNode(text.slice(last)));
    if (answer.notice) el.appendChild(h("div", { class: "notice" }, [answer.notice]));
    if (items.length) el.appendChild(h("ol", { class: "cites", "aria-label": "Sources" }, items));
    scrollDown();
  }

  function ask(question) {
    busy = true;
    send.disabled = true;
    addMessage("user", question);
    var el = addMessage("bot pending", "");
    var textEl = el.querySelector(".text");
    /* What the model is doing before its first token (LLM mode: "Le modèle lit les extraits…"). */
    var statusEl = h("span", { class: "status", role: "status" }, [MESSAGES.searching]);
    el.insertBefore(statusEl, textEl);
    function clearStatus() { if (statusEl.parentNode) statusEl.parentNode.removeChild(statusEl); }
    var body = { question: question, history: history.slice(-HISTORY_TURNS) };
    if (select.value) body.documents = [select.value];
    var answer = null;
    apiFetch("/api/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return readEvents(res, function (name, data) {
        if (name === "status" && data.text) {
          /* Before the first token it replaces "searching"; after the text (the verifier), it
             comes back under the text. */
          statusEl.textContent = data.text;
          if (!statusEl.parentNode) el.insertBefore(statusEl, textEl.nextSibling);
          scrollDown();
        } else if (name === "delta" && data.text) {
          clearStatus();
          textEl.appendChild(document.createTextNode(data.text));
          scrollDown();
        } else if (name === "answer") {
          answer = data;
        } else if (name === "error") {
          var err = data.error || {};
          throw { status: err.code === "timeout" ? 504 : 500,
                  message: err.code === "timeout" ? MESSAGES[504] : MESSAGES.generic };
        }
      });
    }).then(function () {
      clearStatus();
      if (!answer) throw { status: 0, message: MESSAGES.incomplete };
      renderAnswer(el, answer);
      history.push({ question: question, answer: (answer.answer || "").slice(0, 4000) });
    }).catch(function (err) {
      clearStatus();
      el.className = "msg error";
      el.setAttribute("role", "alert");
      textEl.textContent = (err && err.message) || MESSAGES.generic;
    }).then(function () {
      busy = false;
      send.disabled = false;
      scrollDown();
    });
  }

  fab.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); fab.focus(); });
  resetBtn.addEventListener("click", function () {
    history = [];
    log.textContent = "";
    input.focus();
  });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { setOpen(false); fab.focus(); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var question = input.value.trim();
    if (!question || busy) return;
    input.value = "";
    ask(question);
  });

  function mount() { document.body.appendChild(host); }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
