/*! Chat widget, protocol v1. Plain JS, no dependencies. Embed with:
 *  <script src="https://HOST/static/chatbot/widget.js" data-site-key="KEY" async></script>
 * Every server/user string is rendered with textContent; no HTML is ever parsed from data. */
(function () {
  'use strict';
  if (window.ChatbotWidget) return;
  var script = document.currentScript || document.querySelector('script[data-site-key][src*="widget.js"]');
  if (!script) return;
  var KEY = script.getAttribute('data-site-key');
  if (!KEY) return;
  var srcURL;
  try { srcURL = new URL(script.src, location.href); } catch (e) { return; }
  var WS_ORIGIN = (srcURL.protocol === 'https:' ? 'wss://' : 'ws://') + srcURL.host;
  var LEFT = script.getAttribute('data-position') === 'left';
  var START_OPEN = script.getAttribute('data-open') === 'true';
  var ATTR_COLOR = script.getAttribute('data-color');
  var P = 'chatbot:' + KEY + ':';

  // ---------- UI strings, in the site's language or the browser's ----------
  var STRINGS = {
    en: {
      open: 'Open chat', close: 'Close chat', chat: 'Chat', chatWith: 'Chat with ', human: 'Talk to a human',
      askPerson: 'Ask for a person', reconnecting: 'Reconnecting…', connecting: 'Connecting…',
      conversation: 'Conversation', placeholder: 'Write a message…', message: 'Message', send: 'Send message',
      agent: 'Agent', sources: 'Sources:', choose: 'Choose one', helpful: 'Helpful', notHelpful: 'Not helpful',
      error: 'Something went wrong.', agentTyping: 'Agent is typing', botTyping: 'Assistant is typing',
      bot: 'Bot', waiting: 'Waiting for a person…', withHuman: "You're chatting with a person", closed: 'Closed',
      contactIntro: "Sorry, nobody from our team could join yet. Leave your e-mail address and a message, and we'll answer by e-mail. You can also keep waiting here.",
      email: 'Your e-mail address', yourMessage: 'Your message', contactSend: 'Send',
      rate: 'How did we do?', rateGroup: 'Rate this conversation from 1 to 5', of5: ' of 5',
      rated: 'Thanks for your rating!', unread: ' unread', tooMany: 'Too many messages. Please wait a moment.'
    },
    'zh-hans': {
      open: '打开聊天', close: '关闭聊天', chat: '在线客服', chatWith: '联系 ', human: '转人工',
      askPerson: '转接人工客服', reconnecting: '正在重新连接…', connecting: '正在连接…',
      conversation: '对话记录', placeholder: '请输入消息…', message: '消息', send: '发送消息',
      agent: '客服', sources: '参考：', choose: '请选择一项', helpful: '有帮助', notHelpful: '没帮助',
      error: '出错了，请稍后再试。', agentTyping: '客服正在输入', botTyping: '智能助手正在输入',
      bot: '智能助手', waiting: '正在为您转接人工…', withHuman: '人工客服为您服务中', closed: '对话已结束',
      contactIntro: '抱歉，客服暂时无法接入。您可以留下邮箱和留言，我们会通过邮件回复您；也可以继续在这里等待。',
      email: '您的邮箱地址', yourMessage: '您的留言', contactSend: '提交',
      rate: '请为本次服务评分', rateGroup: '为本次对话打分（1 到 5 分）', of5: ' 分（满分 5 分）',
      rated: '感谢您的评价！', unread: ' 条未读', tooMany: '消息发送太频繁，请稍后再试。'
    }
  };
  // `zh`, `zh-CN`, `zh-Hans-CN`, `zh-SG` are Simplified Chinese; `en-GB` is English.
  function langCode(c) {
    c = String(c || '').toLowerCase().replace(/_/g, '-');
    if (/^zh(-hans|-cn|-sg|-my)?(-|$)/.test(c) && !/^zh-(hant|tw|hk|mo)/.test(c)) return 'zh-hans';
    return c.split('-')[0];
  }
  function browserLangs() {
    var l = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    return Array.prototype.map.call(l, langCode);
  }
  // The widget's language: the browser's first one the site serves, else the site's own; with no
  // site settings yet, the browser's first one the widget has strings for.
  function pickLang(served, fallback) {
    var mine = browserLangs();
    for (var i = 0; i < mine.length; i++) if ((served || Object.keys(STRINGS)).indexOf(mine[i]) >= 0) return mine[i];
    return fallback || 'en';
  }
  var lang = langCode(script.getAttribute('data-language') || sget(LS, 'lang') || pickLang(null, 'en'));
  function t(k) { return (STRINGS[lang] || STRINGS.en)[k] || STRINGS.en[k]; }

  // ---------- storage (may be blocked: never throw) ----------
  function sget(store, k) { try { return window[store].getItem(P + k); } catch (e) { return null; } }
  function sset(store, k, v) {
    try { if (v == null) window[store].removeItem(P + k); else window[store].setItem(P + k, v); } catch (e) { /* ignore */ }
  }
  function jget(store, k, d) { try { var v = JSON.parse(sget(store, k)); return v == null ? d : v; } catch (e) { return d; } }
  var LS = 'localStorage', SS = 'sessionStorage';

  function uuid() {
    try { if (crypto.randomUUID) return crypto.randomUUID(); } catch (e) { /* fall through */ }
    var b = new Uint8Array(16);
    try { crypto.getRandomValues(b); } catch (e) { for (var i = 0; i < 16; i++) b[i] = Math.random() * 256 | 0; }
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  function validColor(c) {
    return typeof c === 'string' && c.length < 64 && window.CSS && CSS.supports && CSS.supports('color', c) ? c : null;
  }
  function inkFor(c) { // black or white text on a brand colour (hex only; default white)
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c || '');
    if (!m) return '#fff';
    var h = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    var l = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2] > 0.4 ? '#111' : '#fff';
  }

  // ---------- DOM helpers (static skeleton only; dynamic text via textContent) ----------
  function el(tag, cls, attrs, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (attrs) for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    return n;
  }
  var SVGNS = 'http://www.w3.org/2000/svg';
  function icon(d, size) {
    var s = document.createElementNS(SVGNS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('width', size || 20); s.setAttribute('height', size || 20);
    s.setAttribute('aria-hidden', 'true'); s.setAttribute('focusable', 'false');
    var p = document.createElementNS(SVGNS, 'path');
    p.setAttribute('d', d); p.setAttribute('fill', 'currentColor');
    s.appendChild(p);
    return s;
  }
  var I_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2zm3 6a1.3 1.3 0 1 0 0 2.6A1.3 1.3 0 0 0 7 10zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6z';
  var I_X = 'M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z';
  var I_SEND = 'M3.4 20.4 21 12 3.4 3.6 3.4 10.1 15 12 3.4 13.9z';
  var I_UP = 'M2 21h4V9H2v12zM23 10a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L14.2 1 7.6 7.6C7.2 8 7 8.5 7 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1.2-.7v-2z';
  var I_DOWN = 'M22 3h-4v12h4V3zM1 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1L9.8 23l6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H6c-.8 0-1.5.5-1.8 1.2l-3 7.1-.2.7v2z';
  var I_PERSON = 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-2.7 0-8 1.3-8 4v2h16v-2c0-2.7-5.3-4-8-4z';

  var CSS_TEXT = [
    ':host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;width:0!important;height:0!important;z-index:2147483000!important;visibility:visible!important;opacity:1!important}',
    '*,*::before,*::after{box-sizing:border-box}',
    '[hidden]{display:none!important}',
    '.w{--c:#3b5bdb;--ink:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;color:#1f2328;-webkit-font-smoothing:antialiased;text-align:left;letter-spacing:normal}',
    'button{font:inherit;color:inherit;margin:0;border:0;background:none;cursor:pointer;text-transform:none}',
    'button:focus-visible{outline:2px solid var(--c);outline-offset:2px}',
    '.l{position:fixed;bottom:20px;right:20px;width:58px;height:58px;border-radius:50%;background:var(--c);color:var(--ink);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(0,0,0,.22),0 2px 6px rgba(0,0,0,.12);transition:transform .18s ease,box-shadow .18s ease;padding:0}',
    '.l:hover{transform:scale(1.06);box-shadow:0 8px 26px rgba(0,0,0,.26)}',
    '.left .l{right:auto;left:20px}',
    '.l .ix,.open .l .ic{display:none}.open .l .ix{display:block}',
    '.b{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#e03131;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center;box-shadow:0 0 0 2px #fff}',
    '.p{position:fixed;bottom:90px;right:20px;width:380px;height:min(620px,calc(100vh - 110px));max-height:calc(100dvh - 110px);background:#fff;border-radius:18px;box-shadow:0 18px 50px rgba(0,0,0,.22),0 3px 10px rgba(0,0,0,.08);display:flex;flex-direction:column;overflow:hidden;transform-origin:bottom right;transition:opacity .18s ease,transform .18s ease}',
    '.left .p{right:auto;left:20px;transform-origin:bottom left}',
    '.open .p{animation:pin .2s ease}',
    '@keyframes pin{from{opacity:0;transform:translateY(12px) scale(.97)}to{opacity:1;transform:none}}',
    '.h{background:var(--c);color:var(--ink);padding:14px 12px 12px 16px;display:flex;align-items:center;gap:8px;flex:none}',
    '.ht{flex:1;min-width:0}',
    '.hn{font-weight:650;font-size:15.5px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.hs{font-size:12px;opacity:.85;display:flex;align-items:center;gap:6px}',
    '.hs::before{content:"";width:7px;height:7px;border-radius:50%;background:#51cf66;flex:none}',
    '.hs.off::before{background:#adb5bd}',
    '.hb{display:inline-flex;align-items:center;gap:5px;padding:6px 10px;border-radius:999px;background:rgba(255,255,255,.18);color:inherit;font-size:12.5px;font-weight:600;white-space:nowrap;border:1px solid rgba(255,255,255,.3)}',
    '.hb:hover{background:rgba(255,255,255,.28)}',
    '.hb[disabled]{opacity:.6;cursor:default}',
    '.hc{width:32px;height:32px;border-radius:50%;display:inline-flex;align-items:center;justify-content:center;color:inherit}',
    '.hc:hover{background:rgba(255,255,255,.18)}',
    '.rc{background:#fff4e6;color:#8a5300;font-size:12px;padding:4px 12px;text-align:center;flex:none}',
    '.s{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 8px;background:#f7f8fa;scroll-behavior:smooth}',
    '.log{display:flex;flex-direction:column;gap:8px}',
    '.m{display:flex;flex-direction:column;align-items:flex-start;max-width:85%;animation:min .18s ease}',
    '@keyframes min{from{opacity:0;transform:translateY(4px)}to{opacity:1;transform:none}}',
    '.m .t{padding:9px 13px;border-radius:16px 16px 16px 5px;background:#fff;border:1px solid #e6e8eb;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;box-shadow:0 1px 1px rgba(0,0,0,.03)}',
    '.m.customer{align-self:flex-end;align-items:flex-end}',
    '.m.customer .t{background:var(--c);color:var(--ink);border-color:transparent;border-radius:16px 16px 5px 16px}',
    '.m.pending .t{opacity:.6}',
    '.m.operator .t{background:#eef6ee;border-color:#d3e9d3}',
    '.m.system{align-self:center;align-items:center;max-width:92%}',
    '.m.system .t{background:none;border:0;box-shadow:none;color:#6a737d;font-size:12.5px;text-align:center;padding:2px 8px}',
    '.m.notice .t{font-style:italic}',
    '.m.old{opacity:.55}',
    '.lb{font-size:11px;font-weight:650;color:#2b8a3e;margin:0 0 2px 4px;text-transform:uppercase;letter-spacing:.04em}',
    '.st .t::after{content:"";display:inline-block;width:7px;height:14px;margin-left:2px;vertical-align:-2px;background:currentColor;opacity:.5;animation:blink 1s steps(2) infinite}',
    '@keyframes blink{50%{opacity:0}}',
    '.src{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin:5px 0 0 2px;font-size:11.5px;color:#6a737d}',
    '.chip{background:#fff;border:1px solid #e1e4e8;border-radius:999px;padding:2px 8px;color:#444d56;max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}',
    '.act{display:flex;gap:2px;align-items:center;margin:3px 0 0 2px;flex-wrap:wrap}',
    '.fb{width:26px;height:24px;border-radius:6px;color:#8b949e;display:inline-flex;align-items:center;justify-content:center}',
    '.fb:hover{background:#eceef1;color:#57606a}',
    '.fb[aria-pressed="true"]{color:var(--c);background:#eceef1}',
    '.ih{margin-left:4px;padding:3px 10px;border-radius:999px;border:1px solid var(--c);color:var(--c);font-size:12px;font-weight:600;background:#fff}',
    '.ih:hover{background:var(--c);color:var(--ink)}',
    '.opts{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}.opt{margin-left:0;text-align:left;line-height:1.3;padding:5px 10px}',
    '.ty{display:flex;gap:4px;padding:12px 14px;margin-top:8px;background:#fff;border:1px solid #e6e8eb;border-radius:16px 16px 16px 5px;width:max-content}',
    '.ty i{width:7px;height:7px;border-radius:50%;background:#a0a7b1;animation:dot 1.2s infinite ease-in-out}',
    '.ty i:nth-child(2){animation-delay:.15s}.ty i:nth-child(3){animation-delay:.3s}',
    '@keyframes dot{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-4px);opacity:1}}',
    '.f{display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 14px;border-top:1px solid #eceef1;background:#fff;flex:none}',
    'textarea{flex:1;resize:none;border:1px solid #dfe2e6;border-radius:12px;padding:9px 12px;font:inherit;color:inherit;background:#fff;min-height:40px;max-height:120px;line-height:1.4;margin:0;outline:none}',
    'textarea:focus{border-color:var(--c);box-shadow:0 0 0 1px var(--c)}',
    '.sb{width:40px;height:40px;border-radius:50%;background:var(--c);color:var(--ink);display:inline-flex;align-items:center;justify-content:center;flex:none}',
    '.sb[disabled]{opacity:.45;cursor:default}',
    '.ft{font-size:10.5px;color:#a0a7b1;text-align:center;padding:0 0 6px;background:#fff;flex:none}',
    '.cf,.rt{align-self:stretch;background:#fff;border:1px solid #e6e8eb;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:8px;font-size:13px}',
    '.cf input,.cf textarea{width:100%;border:1px solid #dfe2e6;border-radius:8px;padding:7px 9px;font:inherit;color:inherit;max-height:none}',
    '.cf .ih,.rt .ih{align-self:flex-start;margin-left:0}',
    '.stars{display:flex;gap:6px}.stars .ih{min-width:34px}',
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',
    '@media (max-width:480px){.w .p{inset:0;width:100%;height:100%;max-height:none;border-radius:0}.open .l{display:none}textarea{font-size:16px}.m{max-width:90%}}',
    '@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important;scroll-behavior:auto!important}}'
  ].join('\n');

  // ---------- state ----------
  var token = sget(LS, 'token') || '';
  var conv = null;            // current conversation id (null: none yet / unknown)
  var lastSeq = 0;            // highest seq received in a `message` frame of the current conversation
  var shown = new Map();      // seq -> {el, sender, text}
  var pending = new Map();    // client_id -> {el, text}  (optimistic customer bubbles)
  var streams = new Map();    // reply_to -> {el, text}
  var outbox = jget(SS, 'outbox', []); // [{client_id, text}] unacked
  if (!Array.isArray(outbox)) outbox = [];
  var queued = [];            // other frames (handoff, feedback) waiting for a session
  var feedback = jget(LS, 'fb', {}) || {};
  var seen = jget(LS, 'seen', {}) || {};     // {c: conv, s: seq} last seq seen with the panel open
  var unread = 0;
  var ws = null, ready = false, everReady = false, wanted = false;
  var attempt = 0, retryTimer = null, lastTry = 0, helloTimer = null;
  var notBefore = 0;          // rate_limited on connect: no new connection before this time (ms)
  var holdUntil = 0, holdTimer = null, rateNotice = null; // rate_limited on a message: hold the outbox
  var isOpen = false, status = 'bot', typingTimer = null, lastTypingSent = 0;
  var color = validColor(ATTR_COLOR) || validColor(sget(LS, 'color')) || '#3b5bdb';

  // ---------- skeleton ----------
  var host = document.createElement('chatbot-widget');
  var root = host.attachShadow({ mode: 'open' });
  var style = el('style'); style.textContent = CSS_TEXT; root.appendChild(style);
  var W = el('div', 'w' + (LEFT ? ' left' : ''));
  root.appendChild(W);

  var launcher = el('button', 'l', { type: 'button', 'data-testid': 'launcher', 'aria-label': t('open'), 'aria-expanded': 'false', 'aria-controls': 'cbw-panel' });
  var ic = icon(I_CHAT, 28); ic.setAttribute('class', 'ic');
  var ix = icon(I_X, 26); ix.setAttribute('class', 'ix');
  var badge = el('span', 'b', { 'aria-hidden': 'true', hidden: '' });
  launcher.append(ic, ix, badge);

  var panel = el('div', 'p', { id: 'cbw-panel', 'data-testid': 'panel', role: 'dialog', 'aria-label': t('chat'), hidden: '' });
  var header = el('div', 'h');
  var htext = el('div', 'ht');
  var hname = el('div', 'hn', null, sget(LS, 'name') || t('chat'));
  var hstatus = el('div', 'hs', { 'aria-live': 'polite' }, t('bot'));
  htext.append(hname, hstatus);
  var human = el('button', 'hb', { type: 'button', 'data-testid': 'human', title: t('askPerson') });
  var humanText = document.createTextNode(t('human'));
  human.append(icon(I_PERSON, 14), humanText);
  var closeBtn = el('button', 'hc', { type: 'button', 'aria-label': t('close'), 'data-testid': 'close' });
  closeBtn.appendChild(icon(I_X, 20));
  header.append(htext, human, closeBtn);
  var recon = el('div', 'rc', { 'data-testid': 'reconnecting', role: 'status', hidden: '' }, t('reconnecting'));
  var scroller = el('div', 's');
  var log = el('div', 'log', { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': t('conversation') });
  var greet = el('div', 'm bot', { 'data-testid': 'greeting' });
  var greetText = el('div', 't');
  greet.appendChild(greetText); greet.hidden = true;
  log.appendChild(greet);
  var typing = el('div', 'ty', { 'data-testid': 'typing', 'aria-hidden': 'true', hidden: '' });
  typing.append(el('i'), el('i'), el('i'));
  var typingSr = el('span', 'sr', { role: 'status' });
  scroller.append(log, typing, typingSr);
  var form = el('div', 'f');
  var input = el('textarea', null, { 'data-testid': 'input', rows: '1', maxlength: '4000', placeholder: t('placeholder'), 'aria-label': t('message') });
  var sendBtn = el('button', 'sb', { type: 'button', 'data-testid': 'send', 'aria-label': t('send'), disabled: '' });
  sendBtn.appendChild(icon(I_SEND, 20));
  form.append(input, sendBtn);
  panel.append(header, recon, scroller, form);
  W.append(panel, launcher);

  // Labels of the widget's fixed parts in `lang` (dynamic parts call t() as they are made).
  function applyLang() {
    W.setAttribute('lang', lang);
    panel.setAttribute('lang', lang);
    human.title = t('askPerson'); humanText.textContent = t('human');
    closeBtn.setAttribute('aria-label', t('close'));
    log.setAttribute('aria-label', t('conversation'));
    input.placeholder = t('placeholder'); input.setAttribute('aria-label', t('message'));
    sendBtn.setAttribute('aria-label', t('send'));
    hstatus.textContent = STATUS()[status] || status;
    setRecon(); setBadge();
  }
  function applyColor(c) {
    W.style.setProperty('--c', c);
    W.style.setProperty('--ink', inkFor(c));
  }
  applyColor(color);

  // ---------- rendering ----------
  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80; }
  function toBottom(force) {
    if (force || nearBottom()) requestAnimationFrame(function () { scroller.scrollTop = scroller.scrollHeight; });
  }
  function bubble(sender, text, cls, label) {
    var m = el('div', 'm ' + sender + (cls ? ' ' + cls : ''), { 'data-sender': sender });
    if (sender === 'operator') m.appendChild(el('div', 'lb', null, label || t('agent')));
    m.appendChild(el('div', 't', null, text));
    return m;
  }
  function setText(m, text) { m.querySelector('.t').textContent = text; }
  // seq'd bubbles of the current conversation sit in seq order, before any pending / streaming bubble
  function place(m, seq) {
    var kids = log.children;
    for (var i = 0; i < kids.length; i++) {
      var k = kids[i];
      if (k === m || k === greet || k.classList.contains('old') || k.classList.contains('notice')) continue;
      var s = k.getAttribute('data-seq');
      if (!s || +s > seq) { if (k !== m.nextSibling || m.parentNode !== log) log.insertBefore(m, k); return; }
    }
    if (m.parentNode !== log || m !== log.lastElementChild) log.appendChild(m);
  }
  function markSeq(m, seq) {
    m.setAttribute('data-seq', String(seq));
    m.setAttribute('data-testid', 'message');
    m.classList.remove('pending');
    m.removeAttribute('aria-busy');
  }
  function addExtras(m, f) {
    var old = m.querySelectorAll('.src,.act,.opts');
    for (var i = 0; i < old.length; i++) old[i].remove();
    if (Array.isArray(f.sources) && f.sources.length) {
      var src = el('div', 'src', { 'data-testid': 'sources' });
      src.appendChild(el('span', null, null, t('sources')));
      f.sources.forEach(function (s) {
        if (s && s.question != null) src.appendChild(el('span', 'chip', { title: String(s.question) }, String(s.question)));
      });
      m.appendChild(src);
    }
    if (Array.isArray(f.options) && f.options.length) { // a clarifying question: one button per candidate
      var opts = el('div', 'opts', { 'data-testid': 'options', role: 'group', 'aria-label': t('choose') });
      f.options.forEach(function (o) {
        if (!o || o.question == null) return;
        var ob = el('button', 'ih opt', { type: 'button', 'data-testid': 'option' }, String(o.question));
        ob.addEventListener('click', function () { send(String(o.question)); });
        opts.appendChild(ob);
      });
      m.appendChild(opts);
    }
    var act = el('div', 'act');
    var fbKey = conv + ':' + f.seq;
    [['up', I_UP, t('helpful')], ['down', I_DOWN, t('notHelpful')]].forEach(function (d) {
      var b = el('button', 'fb', { type: 'button', 'aria-label': d[2], title: d[2], 'data-testid': 'feedback-' + d[0], 'aria-pressed': String(feedback[fbKey] === d[0]) });
      b.appendChild(icon(d[1], 14));
      b.addEventListener('click', function () {
        feedback[fbKey] = d[0];
        sset(LS, 'fb', JSON.stringify(feedback));
        var bs = act.querySelectorAll('.fb');
        for (var j = 0; j < bs.length; j++) bs[j].setAttribute('aria-pressed', String(bs[j] === b));
        sendFrame({ type: 'feedback', seq: f.seq, value: d[0] });
      });
      act.appendChild(b);
    });
    if (f.handoff_offered === true) {
      var ih = el('button', 'ih', { type: 'button', 'data-testid': 'human-inline' }, t('human'));
      ih.addEventListener('click', handoff);
      act.appendChild(ih);
    }
    m.appendChild(act);
  }
  function notice(text) {
    var m = bubble('system', String(text || t('error')), 'notice');
    m.setAttribute('data-testid', 'notice');
    log.appendChild(m);
    toBottom();
  }
  function showTyping(on, who) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    typingSr.textContent = on ? (who === 'operator' ? t('agentTyping') : t('botTyping')) : '';
    if (on) { typingTimer = setTimeout(function () { showTyping(false); }, 8000); toBottom(); }
  }
  function STATUS() { return { bot: t('bot'), waiting_human: t('waiting'), human: t('withHuman'), closed: t('closed') }; }
  var waitTimer = null, contactForm = null, ratingBox = null;
  // `f`: a status frame, or the session frame (same fields).
  function setStatus(f) {
    var s = f && f.status;
    if (typeof s !== 'string') return;
    status = s;
    hstatus.textContent = STATUS()[s] || s;
    hstatus.classList.toggle('off', s === 'closed');
    human.disabled = s === 'waiting_human' || s === 'human';
    if (s !== 'bot') { // the bot no longer answers: a reply still streaming will not be completed
      streams.forEach(function (v) { v.el.remove(); });
      streams.clear();
      if (!typing.hidden) showTyping(false);
    }
    clearTimeout(waitTimer);
    if (s !== 'waiting_human' && contactForm) { contactForm.remove(); contactForm = null; }
    if (s === 'waiting_human' && typeof f.waiting_since === 'string' && typeof f.handoff_timeout_s === 'number') {
      var due = Date.parse(f.waiting_since) + f.handoff_timeout_s * 1000 - Date.now();
      waitTimer = setTimeout(function () { if (status === 'waiting_human') offerContact(); }, Math.max(0, due));
    }
    if (s === 'closed' && conv !== null && !ratingBox && !jget(LS, 'rated:' + conv, null)) offerRating(conv);
  }
  // Nobody took the chat in time: say so, and offer to leave an e-mail address and a message.
  function offerContact() {
    if (contactForm) return;
    contactForm = el('form', 'cf', { 'data-testid': 'contact-form' });
    contactForm.appendChild(el('div', null, null, t('contactIntro')));
    var email = el('input', null, { type: 'email', required: '', maxlength: '254', placeholder: 'you@example.com', 'aria-label': t('email'), 'data-testid': 'contact-email' });
    var text = el('textarea', null, { required: '', maxlength: '4000', rows: '3', placeholder: t('yourMessage'), 'aria-label': t('yourMessage'), 'data-testid': 'contact-text' });
    var go = el('button', 'ih', { type: 'submit', 'data-testid': 'contact-send' }, t('contactSend'));
    contactForm.append(email, text, go);
    contactForm.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!email.value.trim() || !text.value.trim()) return;
      sendFrame({ type: 'contact', email: email.value.trim(), text: text.value.trim() });
      contactForm.remove(); contactForm = null;
    });
    log.appendChild(contactForm);
    toBottom(true);
  }
  function offerRating(id) {
    ratingBox = el('div', 'rt', { 'data-testid': 'rating' });
    ratingBox.appendChild(el('div', null, null, t('rate')));
    var stars = el('div', 'stars', { role: 'group', 'aria-label': t('rateGroup') });
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = el('button', 'ih', { type: 'button', 'aria-label': n + t('of5'), 'data-testid': 'rate-' + n }, String(n));
      b.addEventListener('click', function () { sendFrame({ type: 'rating', conversation: id, score: n }); });
      stars.appendChild(b);
    });
    ratingBox.appendChild(stars);
    log.appendChild(ratingBox);
    toBottom(true);
  }
  function onRated(f) {
    sset(LS, 'rated:' + f.conversation, String(f.score));
    if (ratingBox) { ratingBox.replaceChildren(el('div', null, null, t('rated'))); ratingBox = null; }
  }
  function setBadge() {
    badge.hidden = !unread;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute('aria-label', (isOpen ? t('close') : t('open')) + (unread ? ' (' + unread + t('unread') + ')' : ''));
  }
  function markSeen() {
    if (conv == null) return;
    seen = { c: conv, s: lastSeq };
    sset(LS, 'seen', JSON.stringify(seen));
  }
  function saveOutbox() { sset(SS, 'outbox', outbox.length ? JSON.stringify(outbox) : null); }
  function setRecon() {
    var show = wanted && !ready && (everReady || attempt > 0);
    recon.hidden = !show;
    recon.textContent = everReady ? t('reconnecting') : t('connecting');
  }

  // A different conversation (new visitor, closed one replaced): keep old bubbles visible but inert.
  function setConv(id) {
    if (id === undefined || id === conv) return;
    if (conv !== null || shown.size) {
      shown.forEach(function (v) { v.el.classList.add('old'); v.el.setAttribute('data-testid', 'message-old'); v.el.removeAttribute('data-seq'); });
      shown.clear();
      lastSeq = 0;
    }
    conv = id;
  }

  // ---------- incoming frames ----------
  function onMessage(f) {
    if (typeof f.seq !== 'number') return;
    if (f.conversation != null) setConv(f.conversation);
    var sender = ['customer', 'bot', 'operator', 'system'].indexOf(f.sender) >= 0 ? f.sender : 'system';
    if (sender !== 'customer') showTyping(false);
    if (shown.has(f.seq)) { if (f.seq > lastSeq) lastSeq = f.seq; return; }
    var text = f.text == null ? '' : String(f.text);
    var m = null, p;
    if (sender === 'customer' && f.client_id && (p = pending.get(f.client_id))) {
      m = p.el; pending.delete(f.client_id); dropOutbox(f.client_id);
    } else if (sender === 'bot' && f.reply_to != null && (p = streams.get(f.reply_to))) {
      m = p.el; streams.delete(f.reply_to); m.classList.remove('st');
    }
    if (m) setText(m, text); else m = bubble(sender, text, null, typeof f.author === 'string' ? f.author : null);
    markSeq(m, f.seq);
    if (f.created_at) { var d = new Date(f.created_at); if (!isNaN(d)) m.title = d.toLocaleString(); }
    if (sender === 'bot') addExtras(m, f);
    shown.set(f.seq, { el: m, sender: sender, text: text });
    var atEnd = f.seq > lastSeq;
    if (atEnd) lastSeq = f.seq;
    place(m, f.seq);
    if (sender !== 'customer' && !(seen.c === conv && f.seq <= seen.s)) {
      if (isOpen && !document.hidden) markSeen(); else if (!isOpen) { unread++; setBadge(); }
    } else if (isOpen) markSeen();
    toBottom(sender === 'customer');
  }
  function onAck(f) {
    if (f.conversation != null) setConv(f.conversation);
    var p = pending.get(f.client_id);
    dropOutbox(f.client_id);
    if (!p || typeof f.seq !== 'number') return;
    pending.delete(f.client_id);
    if (shown.has(f.seq)) { p.el.remove(); return; }
    markSeq(p.el, f.seq);
    shown.set(f.seq, { el: p.el, sender: 'customer', text: p.text });
    place(p.el, f.seq);
  }
  function dropOutbox(id) {
    var n = outbox.length;
    outbox = outbox.filter(function (o) { return o.client_id !== id; });
    if (outbox.length !== n) saveOutbox();
  }
  function onToken(f) {
    // after a takeover (or a handoff request) the bot's reply must never show: late pieces are dropped
    if (f.reply_to == null || typeof f.delta !== 'string' || status !== 'bot') return;
    showTyping(false);
    var s = streams.get(f.reply_to);
    if (!s) {
      s = { el: bubble('bot', '', 'st'), text: '', attempt: f.attempt };
      s.el.setAttribute('data-testid', 'streaming');
      s.el.setAttribute('aria-busy', 'true');
      streams.set(f.reply_to, s);
      log.appendChild(s.el);
    }
    // a worker died mid-reply and another one generates it again from the start
    if (f.attempt !== s.attempt) { s.attempt = f.attempt; s.text = ''; }
    s.text += f.delta;
    setText(s.el, s.text);
    toBottom();
  }
  function onSession(f) {
    clearTimeout(helloTimer);
    if (typeof f.token === 'string' && f.token) { token = f.token; sset(LS, 'token', token); }
    var site = f.site || {};
    if (typeof site.language === 'string' && !script.getAttribute('data-language')) {
      var served = Array.isArray(site.languages) ? site.languages.map(langCode) : [langCode(site.language)];
      lang = pickLang(served, langCode(site.language));
      sset(LS, 'lang', lang);
      applyLang();
    }
    if (typeof site.name === 'string' && site.name) { hname.textContent = site.name; panel.setAttribute('aria-label', t('chatWith') + site.name); sset(LS, 'name', site.name); }
    var greeting = site.greetings && typeof site.greetings[lang] === 'string' ? site.greetings[lang] : site.greeting;
    if (typeof greeting === 'string' && greeting) { greetText.textContent = greeting; greet.hidden = false; sset(LS, 'greeting', greeting); }
    var c = validColor(site.color);
    if (c) { sset(LS, 'color', c); if (!validColor(ATTR_COLOR)) applyColor(c); }
    setConv(f.conversation === undefined ? null : f.conversation);
    setStatus(f);
    ready = true; everReady = true; attempt = 0;
    setRecon();
    if (conv !== null) raw({ type: 'resume', after_seq: lastSeq });
    flushOutbox();
    var q = queued; queued = [];
    q.forEach(raw);
  }
  // Past one of the server's limits: wait the `retry_after` seconds it asks for (plus jitter, so a
  // crowd of widgets does not come back together). Refused on connect, the connection closes (4429)
  // and the next one waits; a message was not stored: it stays in the outbox and goes again later.
  function rateWait(f) {
    var s = typeof f.retry_after === 'number' && f.retry_after > 0 ? Math.min(f.retry_after, 3600) : 10;
    return s * 1000 * (1 + 0.25 * Math.random());
  }
  function onRateLimited(f) {
    var until = Date.now() + rateWait(f);
    if (ready) { holdUntil = Math.max(holdUntil, until); flushOutbox(); } else notBefore = Math.max(notBefore, until);
    var text = f.message || t('tooMany');
    if (rateNotice && rateNotice.parentNode === log) { setText(rateNotice, text); log.appendChild(rateNotice); toBottom(); }
    else { notice(text); rateNotice = log.lastElementChild; }
  }
  // Every unacked message, in order; while messages are held (rate_limited), once the hold ends.
  function flushOutbox() {
    if (!ready) return;
    var wait = holdUntil - Date.now();
    if (wait > 0) {
      if (!holdTimer) holdTimer = setTimeout(function () { holdTimer = null; flushOutbox(); }, wait);
      return;
    }
    outbox.forEach(function (o) { raw({ type: 'message', client_id: o.client_id, text: o.text }); });
  }
  function onFrame(ev) {
    if (typeof ev.data !== 'string') return;
    var f;
    try { f = JSON.parse(ev.data); } catch (e) { return; }
    if (!f || typeof f !== 'object') return;
    try {
      switch (f.type) {
        case 'session': onSession(f); break;
        case 'message': onMessage(f); break;
        case 'ack': onAck(f); break;
        case 'token': onToken(f); break;
        case 'status': setStatus(f); break;
        case 'rated': onRated(f); break;
        case 'typing': if (f.sender === 'bot' || f.sender === 'operator') showTyping(true, f.sender); break;
        case 'error':
          if (f.code === 'rate_limited') onRateLimited(f);
          else if (f.code !== 'token_invalid' && f.code !== 'no_conversation') notice(f.message || f.code);
          break;
        default: break; // unknown frames are ignored (forward compatible)
      }
    } catch (e) { if (window.console) console.error('[chatbot]', e); }
  }

  // ---------- connection ----------
  function wsURL() {
    var page = String(location.href).slice(0, 1500);
    return WS_ORIGIN + '/ws/chat/?site=' + encodeURIComponent(KEY) +
      (token ? '&token=' + encodeURIComponent(token) : '') + '&page=' + encodeURIComponent(page);
  }
  function connect() {
    wanted = true;
    if (ws) return;
    if (notBefore - Date.now() > 20) { schedule(); return; } // told to wait: a nudge or a send does not hurry it
    clearTimeout(retryTimer); retryTimer = null;
    lastTry = Date.now();
    var s;
    try { s = new WebSocket(wsURL()); } catch (e) { schedule(); return; }
    ws = s;
    s.onopen = function () {
      // the server always speaks first; a silent socket is treated as dead
      helloTimer = setTimeout(function () { if (ws === s && !ready) s.close(); }, 15000);
    };
    s.onmessage = function (ev) { if (ws === s) onFrame(ev); };
    s.onclose = s.onerror = function (ev) {
      if (ws !== s) return;
      if (ev && ev.code === 4429 && notBefore < Date.now()) notBefore = Date.now() + rateWait({}); // refused for its rate
      ws = null; ready = false;
      clearTimeout(helloTimer);
      try { s.close(); } catch (e) { /* ignore */ }
      // streamed text is not replayed: the final message comes through resume
      streams.forEach(function (v) { v.el.remove(); });
      streams.clear();
      showTyping(false);
      schedule();
    };
    setRecon();
  }
  function schedule() {
    if (retryTimer || ws) return;
    var delay = Math.max(Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random()), notBefore - Date.now());
    attempt++;
    setRecon();
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, delay);
  }
  function nudge() { // network back / tab visible: retry now, without hammering a refusing server
    if (wanted && !ws && (attempt < 4 || Date.now() - lastTry > 10000)) connect();
  }
  window.addEventListener('online', nudge);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { nudge(); if (isOpen) markSeen(); }
  });
  function raw(f) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(f)); }
  function sendFrame(f) { if (ready) raw(f); else { queued.push(f); connect(); } }

  // ---------- actions ----------
  function send(text) {
    text = String(text == null ? '' : text).trim();
    if (!text) return null;
    if (text.length > 4000) text = text.slice(0, 4000);
    var id = uuid();
    outbox.push({ client_id: id, text: text });
    saveOutbox();
    addPending(id, text);
    if (!ready) connect();
    else if (Date.now() < holdUntil) flushOutbox(); // held after rate_limited: it goes with the others
    else raw({ type: 'message', client_id: id, text: text });
    return id;
  }
  function addPending(id, text) {
    var m = bubble('customer', text, 'pending');
    m.setAttribute('data-testid', 'message');
    m.setAttribute('data-client-id', id);
    m.setAttribute('aria-busy', 'true');
    pending.set(id, { el: m, text: text });
    log.appendChild(m);
    toBottom(true);
  }
  function handoff() {
    sendFrame({ type: 'handoff', language: lang });
  }
  function open(auto) {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    W.classList.add('open');
    launcher.setAttribute('aria-expanded', 'true');
    unread = 0; setBadge(); markSeen();
    connect();
    toBottom(true);
    if (auto !== true) { try { input.focus({ preventScroll: true }); } catch (e) { input.focus(); } }
  }
  function close() {
    if (!isOpen) return;
    var hadFocus = root.activeElement && root.activeElement !== launcher;
    isOpen = false;
    panel.hidden = true;
    W.classList.remove('open');
    launcher.setAttribute('aria-expanded', 'false');
    setBadge();
    if (hadFocus) launcher.focus();
  }
  function submit() {
    if (send(input.value)) { input.value = ''; grow(); }
  }
  function grow() {
    input.style.height = 'auto';
    input.style.height = Math.min(120, input.scrollHeight + 2) + 'px';
    sendBtn.disabled = !input.value.trim();
  }

  launcher.addEventListener('click', function () { if (isOpen) close(); else open(); });
  closeBtn.addEventListener('click', close);
  human.addEventListener('click', handoff);
  sendBtn.addEventListener('click', function () { submit(); input.focus(); });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  input.addEventListener('input', function () {
    grow();
    var now = Date.now();
    if (ready && conv !== null && input.value && now - lastTypingSent > 3000) { lastTypingSent = now; raw({ type: 'typing' }); }
  });
  W.addEventListener('keydown', function (e) { if (e.key === 'Escape' && isOpen) { e.stopPropagation(); close(); } });

  // ---------- boot ----------
  var g = sget(LS, 'greeting');
  if (g) { greetText.textContent = g; greet.hidden = false; }
  outbox.forEach(function (o) { if (o && o.client_id && o.text) addPending(o.client_id, o.text); });
  setBadge();
  function mount() {
    (document.body || document.documentElement).appendChild(host);
    if (START_OPEN) open(true);
    else if (token || outbox.length) connect();
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);

  window.ChatbotWidget = {
    open: function () { open(); },
    close: close,
    send: function (t) { var id = send(t); if (!isOpen && id) connect(); return id; },
    state: function () {
      var msgs = [];
      var kids = log.querySelectorAll('[data-testid="message"]');
      for (var i = 0; i < kids.length; i++) {
        var k = kids[i], s = k.getAttribute('data-seq');
        msgs.push({ seq: s ? +s : null, sender: k.getAttribute('data-sender'), text: k.querySelector('.t').textContent, pending: !s });
      }
      return { connected: ready, lastSeq: lastSeq, token: token || null, conversation: conv, status: status, open: isOpen, unread: unread, messages: msgs };
    }
  };
})();
