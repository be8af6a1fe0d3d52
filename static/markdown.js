// A small Markdown renderer for the chat's answers: text in, DOM nodes out.
// Model output is untrusted, so nothing here parses HTML: every piece of text becomes a text node, elements
// come from a fixed list, and a link keeps its href only when it is http(s) or mailto.
"use strict";

const markdown = (() => {
  const MAX_DEPTH = 8;  // nested lists and quotes deeper than this stay text, so a hostile answer cannot recurse far
  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
  const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
  const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  const QUOTE = /^ {0,3}> ?(.*)$/;
  const ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:\s+(.*)|$)/;
  const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
  const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

  function el(tag, children, attributes) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
    (children || []).forEach((child) => node.append(child));
    return node;
  }

  // The URL as the browser would resolve it, or null unless its scheme is one a chat answer may link to.
  function safeHref(raw) {
    try {
      const url = new URL(raw.trim());
      return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
    } catch (_) {
      return null;  // relative or malformed: shown as text
    }
  }

  function link(href, children) {
    return el("a", children, { href, rel: "noopener noreferrer", target: "_blank" });
  }

  // ---- inline: code spans, links, autolinks, emphasis, strike-through, escapes ----------------------

  // A closing mark is looked for this far at most, so a line of a thousand unclosed `[` or `*` stays linear.
  const REACH = 2000;
  const AUTOLINK = /<((?:https?:\/\/|mailto:)[^\s<>]+)>|(https?:\/\/[^\s<>]*[^\s<>.,;:!?'")\]*_~])/iy;
  const LINK_TARGET = /\(\s*<?([^\s<>()]*(?:\([^\s()]*\)[^\s<>()]*)*)>?(?:\s+"[^"]*")?\s*\)/y;

  // The index of the `]` closing the `[` at `open`, counting nested brackets, or -1.
  function closingBracket(text, open) {
    let depth = 0;
    for (let i = open; i < Math.min(text.length, open + REACH); i++) {
      if (text[i] === "\\") { i++; continue; }
      if (text[i] === "[") depth++;
      if (text[i] === "]" && --depth === 0) return i;
    }
    return -1;
  }

  // `[label](url)` or `![alt](url)` at `start`: [label, url, end] or null.
  function linkAt(text, start) {
    const open = text[start] === "!" ? start + 1 : start;
    const close = closingBracket(text, open);
    if (close < 0) return null;
    LINK_TARGET.lastIndex = close + 1;
    const target = LINK_TARGET.exec(text);
    return target ? [text.slice(open + 1, close), target[1], LINK_TARGET.lastIndex] : null;
  }

  // Emphasis runs: `**x**`, `__x__`, `*x*`, `_x_`, `~~x~~`; `_` only at word edges so snake_case stays text.
  function emphasisAt(text, start) {
    for (const [mark, tag] of [["**", "strong"], ["__", "strong"], ["~~", "del"], ["*", "em"], ["_", "em"]]) {
      if (!text.startsWith(mark, start) || /\s/.test(text[start + mark.length] || " ")) continue;
      if (mark[0] === "_" && /\w/.test(text[start - 1] || "")) continue;
      const last = start + REACH;
      for (let end = text.indexOf(mark, start + mark.length + 1); end > 0 && end < last;
        end = text.indexOf(mark, end + 1)) {
        const closes = !/\s/.test(text[end - 1])
          && !(mark.length === 1 && text[end + 1] === mark)              // `*` is not half of a `**`
          && !(mark[0] === "_" && /\w/.test(text[end + mark.length] || ""));
        if (closes) return [tag, text.slice(start + mark.length, end), end + mark.length];
        if (mark.length === 1 && text[end + 1] === mark) end++;
      }
    }
    return null;
  }

  // Bare URLs start at a word edge; `<...>` autolinks anywhere.
  function autolinkAt(text, start) {
    const ch = text[start];
    if (ch !== "<" && (!/h/i.test(ch) || /\w/.test(text[start - 1] || ""))) return null;
    AUTOLINK.lastIndex = start;
    const found = AUTOLINK.exec(text);
    if (!found) return null;
    const href = safeHref(found[1] || found[2]);
    return href ? [href, found[1] || found[2], AUTOLINK.lastIndex] : null;
  }

  function inline(text, depth = 0) {
    const out = [];
    let plain = "";
    const flush = () => { if (plain) out.push(document.createTextNode(plain)); plain = ""; };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === "\\" && /[!-/:-@[-`{-~]/.test(text[i + 1] || "")) { plain += text[i + 1]; i += 2; continue; }
      if (ch === "`") {
        let run = i;
        while (text[run] === "`") run++;
        const ticks = text.slice(i, run);
        const end = text.indexOf(ticks, run);
        if (end > 0 && text[end + ticks.length] !== "`") {
          flush();
          out.push(el("code", [text.slice(run, end).replace(/^ (.+) $/, "$1")]));
          i = end + ticks.length;
        } else {
          plain += ticks;
          i = run;
        }
        continue;
      }
      const found = (ch === "[" || (ch === "!" && text[i + 1] === "[")) && depth < MAX_DEPTH ? linkAt(text, i) : null;
      if (found) {
        const [label, url, end] = found;
        const href = safeHref(url);
        // An image is shown as a link to it: the page loads nothing a model names.
        const children = inline(label || url, depth + 1);
        flush();
        out.push(...(href ? [link(href, children)] : children));
        i = end;
        continue;
      }
      const auto = autolinkAt(text, i);
      if (auto) {
        flush();
        out.push(link(auto[0], [auto[1]]));
        i = auto[2];
        continue;
      }
      const emphasis = depth < MAX_DEPTH && "*_~".includes(ch) ? emphasisAt(text, i) : null;
      if (emphasis) {
        flush();
        out.push(el(emphasis[0], inline(emphasis[1], depth + 1)));
        i = emphasis[2];
        continue;
      }
      plain += ch;
      i++;
    }
    flush();
    return out;
  }

  // Lines of a paragraph keep their breaks: chat answers use single newlines as line breaks.
  function lines(textLines, depth) {
    const out = [];
    textLines.forEach((line, n) => {
      if (n) out.push(el("br"));
      out.push(...inline(line.trim(), depth));
    });
    return out;
  }

  // ---- blocks: fences, headings, rules, quotes, lists, tables, paragraphs ----------------------------

  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((cell) => cell.trim());
  }

  function startsBlock(line, next) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line)
      || (line.includes("|") && TABLE_RULE.test(next || ""));
  }

  function blocks(source, depth = 0) {
    const all = source.replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let i = 0;
    while (i < all.length) {
      const line = all[i];
      let match;
      if (!line.trim()) { i++; continue; }
      if ((match = FENCE.exec(line))) {
        const body = [];
        for (i++; i < all.length; i++) {
          const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(all[i]);
          if (close && close[1][0] === match[1][0] && close[1].length >= match[1].length) { i++; break; }
          body.push(all[i]);
        }
        const language = match[2].replace(/[^\w+#.-]/g, "");
        out.push(el("pre", [el("code", [body.join("\n")], language ? { class: "language-" + language } : {})]));
        continue;
      }
      if ((match = HEADING.exec(line))) {
        out.push(el("h" + match[1].length, inline(match[2] || "", depth)));
        i++;
        continue;
      }
      if (RULE.test(line)) { out.push(el("hr")); i++; continue; }
      if (QUOTE.test(line) && depth < MAX_DEPTH) {
        const quoted = [];
        for (; i < all.length && (match = QUOTE.exec(all[i])); i++) quoted.push(match[1]);
        out.push(el("blockquote", blocks(quoted.join("\n"), depth + 1)));
        continue;
      }
      if ((match = ITEM.exec(line)) && depth < MAX_DEPTH) {
        const ordered = /\d/.test(match[2]);
        const indent = match[1].length;
        const list = el(ordered ? "ol" : "ul", [], ordered && parseInt(match[2], 10) !== 1
          ? { start: String(parseInt(match[2], 10)) } : {});
        // The next item of this list, past blank lines (a loose list), or -1 where the list ends.
        const nextItem = () => {
          let j = i;
          while (j < all.length && !all[j].trim()) j++;
          const next = ITEM.exec(all[j] || "");
          return next && next[1].length === indent && /\d/.test(next[2]) === ordered ? j : -1;
        };
        for (let j = i; j >= 0; j = nextItem()) {
          i = j;
          match = ITEM.exec(all[i]);
          const item = [match[3] || ""];
          const inner = indent + match[2].length + 1;
          // An item runs on over its indented lines (nested lists, code) and lazy continuation lines.
          for (i++; i < all.length; i++) {
            const next = all[i];
            const lead = /^ */.exec(next)[0].length;
            if (!next.trim()) {
              if (i + 1 < all.length && /^ */.exec(all[i + 1])[0].length > indent && all[i + 1].trim()) {
                item.push("");
                continue;
              }
              break;
            }
            if (lead > indent) { item.push(next.slice(Math.min(lead, inner))); continue; }
            if (!startsBlock(next, all[i + 1])) { item.push(next); continue; }
            break;
          }
          const content = blocks(item.join("\n"), depth + 1);
          const tight = content.length && content[0].tagName === "P" ? [...content[0].childNodes, ...content.slice(1)]
            : content;
          list.append(el("li", tight));
        }
        out.push(list);
        continue;
      }
      if (line.includes("|") && TABLE_RULE.test(all[i + 1] || "")) {
        const head = cells(line);
        const aligns = cells(all[i + 1]).map((c) => (c.endsWith(":") ? (c.startsWith(":") ? "center" : "right")
          : c.startsWith(":") ? "left" : ""));
        const row = (values, tag) => el("tr", head.map((_, n) =>
          el(tag, inline(values[n] || "", depth), aligns[n] ? { class: "align-" + aligns[n] } : {})));
        const body = [];
        for (i += 2; i < all.length && all[i].includes("|") && all[i].trim(); i++) body.push(row(cells(all[i]), "td"));
        out.push(el("table", [el("thead", [row(head, "th")]), el("tbody", body)]));
        continue;
      }
      const paragraph = [line];
      for (i++; i < all.length && all[i].trim() && !startsBlock(all[i], all[i + 1]); i++) paragraph.push(all[i]);
      out.push(el("p", lines(paragraph, depth)));
    }
    return out;
  }

  // Where the finished blocks of a growing text end (at or after `from`, itself such a point): after a blank
  // line outside a code fence whose next line cannot continue a list, so what follows never changes them.
  function settled(text, from) {
    let end = from;
    let fence = null;
    let blank = false;
    for (let start = from, stop; (stop = text.indexOf("\n", start)) >= 0; start = stop + 1) {
      const line = text.slice(start, stop);
      if (fence) {
        const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
        if (close && close[1][0] === fence[0] && close[1].length >= fence.length) fence = null;
        blank = false;
        continue;
      }
      if (blank && line.trim() && !/^[\s\d*+-]/.test(line)) end = start;
      blank = !line.trim();
      const open = FENCE.exec(line);
      if (open) fence = open[1];
    }
    return end;
  }

  return {
    // Render `text` into `target`, replacing what it held.
    render(target, text) {
      target.replaceChildren(...blocks(text));
    },
    // Render a text that grows (a streamed answer): blocks that are finished are built once, not every time.
    painter(target) {
      let done = 0;
      let kept = 0;
      return (text) => {
        while (target.childNodes.length > kept) target.lastChild.remove();
        const end = settled(text, done);
        if (end > done) {
          target.append(...blocks(text.slice(done, end)));
          done = end;
          kept = target.childNodes.length;
        }
        target.append(...blocks(text.slice(done)));
      };
    },
  };
})();
