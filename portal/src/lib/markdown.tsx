/**
 * Markdown to React elements, never to an HTML string: raw HTML in the text stays text, links
 * keep only http(s), mailto and same-site targets, images only http(s) and data:image.
 * Covers what model outputs use: headings, paragraphs, emphasis, code (inline and fenced),
 * lists, block quotes, rules, pipe tables and links.
 */
import type { ReactNode } from "react";

export function safeHref(url: string): string | null {
  const trimmed = url.trim();
  if (/^(https?:|mailto:)/i.test(trimmed)) return trimmed;
  if (trimmed.startsWith("/") && !trimmed.startsWith("//")) return trimmed;
  if (trimmed.startsWith("#")) return trimmed;
  return null;
}

function safeImage(url: string): string | null {
  const trimmed = url.trim();
  if (/^https?:/i.test(trimmed)) return trimmed;
  if (/^data:image\/(png|jpe?g|gif|webp);/i.test(trimmed)) return trimmed;
  return null;
}

const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)|\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)|<(https?:\/\/[^>\s]+)>|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|~~([\s\S]+?)~~|\*([^*\s][^*]*?)\*|(?<![A-Za-z0-9])_([^_\s][^_]*?)_(?![A-Za-z0-9])| {2,}\n|\\\n/g;

export function inline(text: string, key = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let n = 0;
  // a fresh regex per call: the function recurses, and a shared /g regex keeps its position
  const pattern = new RegExp(INLINE.source, "g");
  const source = text;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) {
    if (m.index > last) out.push(source.slice(last, m.index));
    const k = `${key}-${n++}`;
    if (m[1]) out.push(<code key={k}>{m[2].trim() === "" ? m[2] : m[2].replace(/^ (.*) $/, "$1")}</code>);
    else if (m[4] !== undefined) {
      const src = safeImage(m[4]);
      out.push(src ? <img key={k} src={src} alt={m[3]} loading="lazy" /> : m[3]);
    } else if (m[6] !== undefined) {
      const href = safeHref(m[6]);
      const children = inline(m[5], k);
      out.push(
        href ? (
          <a key={k} href={href} rel="noopener noreferrer nofollow" target={href.startsWith("/") || href.startsWith("#") ? undefined : "_blank"}>
            {children}
          </a>
        ) : (
          <span key={k}>{children}</span>
        ),
      );
    } else if (m[7]) {
      out.push(
        <a key={k} href={m[7]} rel="noopener noreferrer nofollow" target="_blank">
          {m[7]}
        </a>,
      );
    } else if (m[8] !== undefined || m[9] !== undefined) out.push(<strong key={k}>{inline(m[8] ?? m[9], k)}</strong>);
    else if (m[10] !== undefined) out.push(<del key={k}>{inline(m[10], k)}</del>);
    else if (m[11] !== undefined || m[12] !== undefined) out.push(<em key={k}>{inline(m[11] ?? m[12], k)}</em>);
    else out.push(<br key={k} />);
    last = m.index + m[0].length;
    if (m[0].length === 0) pattern.lastIndex++;
  }
  if (last < source.length) out.push(source.slice(last));
  return out;
}

interface ListItem {
  text: string[];
}

function isTableSeparator(line: string): boolean {
  return /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(line);
}

function splitRow(line: string): string[] {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

export function renderMarkdown(source: string): ReactNode[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: ReactNode[] = [];
  let i = 0;
  let key = 0;
  const next = () => `b${key++}`;

  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i++;
      continue;
    }
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      blocks.push(
        <pre key={next()} className="code">
          <code data-language={fence[2] || undefined}>{body.join("\n")}</code>
        </pre>,
      );
      continue;
    }
    const heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      // Headings inside an output start at h3 so they never outrank the page's own.
      const level = Math.min(6, heading[1].length + 2);
      const Tag = `h${level}` as "h3";
      blocks.push(<Tag key={next()}>{inline(heading[2], `h${key}`)}</Tag>);
      i++;
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      blocks.push(<hr key={next()} />);
      i++;
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i])) body.push(lines[i++].replace(/^\s{0,3}>\s?/, ""));
      blocks.push(<blockquote key={next()}>{renderMarkdown(body.join("\n"))}</blockquote>);
      continue;
    }
    const bullet = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (bullet) {
      const ordered = /\d/.test(bullet[1]);
      const start = ordered ? parseInt(bullet[1], 10) : undefined;
      const items: ListItem[] = [];
      while (i < lines.length) {
        const item = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(lines[i]);
        if (item && /\d/.test(item[1]) === ordered) {
          items.push({ text: [item[2]] });
          i++;
        } else if (items.length && /^\s{2,}\S/.test(lines[i])) {
          items[items.length - 1].text.push(lines[i].trim());
          i++;
        } else break;
      }
      const children = items.map((item, n) => <li key={n}>{inline(item.text.join("\n"), `l${key}-${n}`)}</li>);
      blocks.push(
        ordered ? (
          <ol key={next()} start={start !== 1 ? start : undefined}>
            {children}
          </ol>
        ) : (
          <ul key={next()}>{children}</ul>
        ),
      );
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && isTableSeparator(lines[i + 1])) {
      const head = splitRow(line);
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") rows.push(splitRow(lines[i++]));
      const t = key;
      blocks.push(
        <div key={next()} className="table-scroll">
          <table>
            <thead>
              <tr>
                {head.map((cell, c) => (
                  <th key={c} scope="col">
                    {inline(cell, `t${t}h${c}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row, r) => (
                <tr key={r}>
                  {head.map((_, c) => (
                    <td key={c}>{inline(row[c] ?? "", `t${t}r${r}c${c}`)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
      );
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() !== "" &&
      !/^\s*(```|~~~)/.test(lines[i]) &&
      !/^\s{0,3}(#{1,6}\s|>|[-*+]\s|\d{1,9}[.)]\s)/.test(lines[i])
    ) {
      para.push(lines[i++]);
    }
    if (para.length === 0) para.push(lines[i++]);
    blocks.push(<p key={next()}>{inline(para.join("\n"), `p${key}`)}</p>);
  }
  return blocks;
}

export function Markdown({ source }: { source: string }) {
  return <div className="markdown">{renderMarkdown(source)}</div>;
}
