/** Output views, one per component kind; also used to show a run's inputs. */
import { useMemo, useState, type ReactNode } from "react";
import { fileHref } from "../api";
import { humanSize, isFileValue, type FileValue, type OutputSpec, type Region } from "../manifest";
import { Markdown } from "../lib/markdown";
import { CopyButton } from "./ui";

// ---- files ----------------------------------------------------------------------------------

export function fileName(value: FileValue): string {
  if (value.name) return value.name;
  const tail = value.url.startsWith("data:") ? "" : value.url.split(/[?#]/)[0].split("/").pop();
  return tail || "file";
}

export function FileLink({ value, label = "Download" }: { value: FileValue; label?: string }) {
  const href = fileHref(value);
  const name = fileName(value);
  if (!href) return <span className="muted">{name} (not downloadable)</span>;
  return (
    <a className="file-link" href={href} download={name} target={href.startsWith("http") ? "_blank" : undefined} rel="noopener noreferrer">
      {label} <span className="file-name">{name}</span>
      {typeof value.size === "number" ? <span className="muted"> ({humanSize(value.size)})</span> : null}
    </a>
  );
}

const SMALL_IMAGE = 320;

interface BoxedImageProps {
  value: FileValue;
  alt: string;
  regions?: Region[];
  caption?: string;
  /** Interactive: indexes chosen, and what a click on a region does. */
  selected?: number[];
  onToggle?: (index: number) => void;
}

/** An image with its boxes drawn over it (positions in the image's own pixels). */
export function BoxedImage({ value, alt, regions = [], caption, selected, onToggle }: BoxedImageProps) {
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const src = fileHref(value);
  const measure = (img: HTMLImageElement | null) => {
    if (img && img.complete && img.naturalWidth && !size) setSize({ w: img.naturalWidth, h: img.naturalHeight });
  };
  const chosen = new Set(selected ?? []);
  // small pictures (a digit, an icon) are scaled up so their boxes can be seen and clicked
  const scale = size && size.w > 0 && size.w < SMALL_IMAGE ? Math.min(SMALL_IMAGE, size.w * 6) : null;
  return (
    <figure className="boxed-figure">
      <div className="boxed" style={scale ? { width: `min(${scale}px, 100%)` } : undefined}>
        {src ? (
          <img
            ref={measure}
            src={src}
            alt={alt}
            style={scale ? { width: "100%", imageRendering: scale / (size?.w ?? 1) >= 3 ? "pixelated" : undefined } : undefined}
            onLoad={(event) => setSize({ w: event.currentTarget.naturalWidth, h: event.currentTarget.naturalHeight })}
          />
        ) : (
          <span className="muted">{alt}: image not available</span>
        )}
        {size && size.w > 0 && size.h > 0
          ? regions.map((region, index) => {
              const [x0, y0, x1, y1] = region.box;
              const style = {
                left: `${(x0 / size.w) * 100}%`,
                top: `${(y0 / size.h) * 100}%`,
                width: `${(Math.max(0, x1 - x0) / size.w) * 100}%`,
                height: `${(Math.max(0, y1 - y0) / size.h) * 100}%`,
              };
              const text = region.label || `region ${index + 1}`;
              const className = `region${onToggle ? " selectable" : ""}${chosen.has(index) ? " chosen" : ""}`;
              const tag = (
                <span className="region-label">
                  {text}
                  {typeof region.score === "number" ? ` ${Math.round(region.score * 100)}%` : ""}
                </span>
              );
              return onToggle ? (
                // Mouse and touch path; keyboard users have the checkbox list under the image.
                <button
                  key={index}
                  type="button"
                  tabIndex={-1}
                  aria-hidden="true"
                  className={className}
                  style={style}
                  data-region={index}
                  onClick={() => onToggle(index)}
                >
                  {tag}
                </button>
              ) : (
                <span key={index} className={className} style={style} data-region={index}>
                  {tag}
                </span>
              );
            })
          : null}
      </div>
      {regions.length && !onToggle ? (
        <ul className="region-list visually-hidden">
          {regions.map((region, index) => (
            <li key={index}>
              {region.label || `region ${index + 1}`}: {region.box.join(", ")}
            </li>
          ))}
        </ul>
      ) : null}
      {caption ? <figcaption>{caption}</figcaption> : null}
    </figure>
  );
}

// ---- plain values -------------------------------------------------------------------------

export function TextView({ text }: { text: string }) {
  return (
    <div className="text-out">
      <pre>{text}</pre>
      {text ? <CopyButton text={text} /> : null}
    </div>
  );
}

interface LabelValue {
  label: string;
  confidences?: Array<{ label: string; confidence: number }>;
}

export function LabelView({ value }: { value: LabelValue }) {
  const confidences = Array.isArray(value.confidences) ? value.confidences : [];
  return (
    <div className="label-out">
      <p className="label-top">{value.label}</p>
      {confidences.length ? (
        <ul className="bars">
          {confidences.map((c, index) => {
            const pct = Math.max(0, Math.min(100, c.confidence * 100));
            const shown = `${pct >= 10 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`;
            return (
              <li key={index} className={c.label === value.label ? "top" : undefined}>
                <span className="bar-name">{c.label}</span>
                <span className="bar" aria-hidden="true">
                  <span className="bar-fill" style={{ width: `${pct}%` }} />
                </span>
                <span className="bar-value">{shown}</span>
              </li>
            );
          })}
        </ul>
      ) : null}
    </div>
  );
}

function summary(value: unknown): string {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? "" : "s"}]`;
  const n = Object.keys(value as object).length;
  return `{${n} key${n === 1 ? "" : "s"}}`;
}

function JsonNode({ name, value, depth }: { name?: string; value: unknown; depth: number }) {
  const label = name !== undefined ? <span className="json-key">{name}: </span> : null;
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return (
      <div className="json-leaf">
        {label}
        <span className={`json-${kind}`}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  return (
    <details className="json-node" open={depth < 2}>
      <summary>
        {label}
        <span className="muted">{summary(value)}</span>
      </summary>
      <div className="json-children">
        {entries.map(([key, child]) => (
          <JsonNode key={key} name={key} value={child} depth={depth + 1} />
        ))}
      </div>
    </details>
  );
}

export function JsonView({ value }: { value: unknown }) {
  const text = useMemo(() => JSON.stringify(value, null, 2) ?? "null", [value]);
  const [raw, setRaw] = useState(false);
  return (
    <div className="json-out">
      <div className="toolbar">
        <button type="button" className="button small" aria-pressed={raw} onClick={() => setRaw(!raw)}>
          {raw ? "Tree" : "Raw"}
        </button>
        <CopyButton text={text} label="Copy JSON" />
      </div>
      {raw ? <pre className="code">{text}</pre> : <JsonNode value={value} depth={0} />}
    </div>
  );
}

interface TableValue {
  columns: string[];
  rows: unknown[][];
}

function csvCell(cell: unknown): string {
  const text = cell === null || cell === undefined ? "" : String(cell);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function TableView({ value, caption, limit = 100 }: { value: TableValue; caption?: string; limit?: number }) {
  const [all, setAll] = useState(false);
  const columns = Array.isArray(value?.columns) ? value.columns : [];
  const rows = Array.isArray(value?.rows) ? value.rows : [];
  const shown = all ? rows : rows.slice(0, limit);
  const csv = useMemo(() => [columns, ...rows].map((row) => row.map(csvCell).join(",")).join("\n"), [columns, rows]);
  return (
    <div className="table-out">
      <div className="table-scroll" tabIndex={0} role="region" aria-label={caption ?? "table"}>
        <table>
          {caption ? <caption className="visually-hidden">{caption}</caption> : null}
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, r) => (
              <tr key={r}>
                {columns.map((_, c) => {
                  const cell = Array.isArray(row) ? row[c] : undefined;
                  return (
                    <td key={c} className={typeof cell === "number" ? "num" : undefined}>
                      {cell === null || cell === undefined ? <span className="muted">–</span> : typeof cell === "number" ? formatNumber(cell) : String(cell)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="toolbar">
        <span className="muted">
          {rows.length.toLocaleString()} row{rows.length === 1 ? "" : "s"}
        </span>
        {rows.length > limit ? (
          <button type="button" className="button small" onClick={() => setAll(!all)}>
            {all ? `Show the first ${limit}` : `Show all ${rows.length.toLocaleString()} rows`}
          </button>
        ) : null}
        <a className="button small" href={`data:text/csv;charset=utf-8,${encodeURIComponent(csv)}`} download={`${caption ?? "table"}.csv`}>
          Download CSV
        </a>
      </div>
    </div>
  );
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString(undefined, { useGrouping: false });
  return Number(n.toPrecision(6)).toString();
}

interface GalleryValue {
  items: Array<{ image: FileValue; caption?: string }>;
}

export function GalleryView({ value, label }: { value: GalleryValue; label: string }) {
  const items = Array.isArray(value?.items) ? value.items : [];
  if (!items.length) return <p className="muted">No images.</p>;
  return (
    <ul className="gallery">
      {items.map((item, index) => (
        <li key={index}>
          <BoxedImage value={item.image} alt={item.caption || `${label} ${index + 1}`} regions={item.image.boxes} caption={item.caption} />
          <FileLink value={item.image} />
        </li>
      ))}
    </ul>
  );
}

// ---- dispatch -----------------------------------------------------------------------------

/** One output value by kind; unknown kinds and odd values fall back to the JSON view. */
export function OutputValue({ kind, value, label, selected }: { kind: string; value: unknown; label: string; selected?: number[] }) {
  if (value === undefined || value === null) return <p className="muted">No value.</p>;
  switch (kind) {
    case "text":
    case "editable_text":
      if (typeof value === "string") return <TextView text={value} />;
      break;
    case "markdown":
      if (typeof value === "string") return <Markdown source={value} />;
      break;
    case "number":
      if (typeof value === "number") return <p className="number-out">{formatNumber(value)}</p>;
      break;
    case "label":
      if (typeof value === "object" && typeof (value as LabelValue).label === "string") return <LabelView value={value as LabelValue} />;
      break;
    case "image":
      if (isFileValue(value))
        return (
          <div>
            <BoxedImage value={value} alt={value.caption || label} regions={value.boxes} caption={value.caption} />
            <FileLink value={value} />
          </div>
        );
      break;
    case "audio":
      if (isFileValue(value))
        return (
          <div className="audio-out">
            <audio controls src={fileHref(value)} aria-label={label} />
            <FileLink value={value} />
          </div>
        );
      break;
    case "file":
      if (isFileValue(value)) return <FileLink value={value} />;
      break;
    case "table":
      if (typeof value === "object" && Array.isArray((value as TableValue).columns)) return <TableView value={value as TableValue} caption={label} />;
      break;
    case "gallery":
      if (typeof value === "object" && Array.isArray((value as GalleryValue).items)) return <GalleryView value={value as GalleryValue} label={label} />;
      break;
    case "pick_list": {
      const opts = (value as { options?: unknown }).options;
      const chosen = new Set(selected ?? ((value as { selected?: number[] }).selected || []));
      if (Array.isArray(opts))
        return (
          <ul className="pick-out">
            {opts.map((option, index) => (
              <li key={index} className={chosen.has(index) ? "chosen" : undefined}>
                {String(option)}
                {chosen.has(index) ? <span className="visually-hidden"> (chosen)</span> : null}
              </li>
            ))}
          </ul>
        );
      break;
    }
    case "image_regions": {
      const v = value as { image?: unknown; regions?: Region[]; selected?: number[] };
      if (isFileValue(v.image)) {
        const chosen = selected ?? v.selected;
        return <BoxedImage value={v.image} alt={label} regions={v.regions ?? []} selected={chosen} />;
      }
      break;
    }
    case "json":
      return <JsonView value={value} />;
  }
  return <JsonView value={value} />;
}

/** `streaming`: the value is still being written (a generator step's output so far). */
export function OutputBlock({ spec, value, streaming, children }: { spec: OutputSpec; value: unknown; streaming?: boolean; children?: ReactNode }) {
  return (
    // aria-busy: screen readers wait for the whole value rather than read out every word
    <section className="output" aria-label={spec.label} data-kind={spec.kind} aria-busy={streaming || undefined}>
      <h3 className="output-title">{spec.label}</h3>
      {spec.description ? <p className="hint">{spec.description}</p> : null}
      <OutputValue kind={spec.kind} value={value} label={spec.label} />
      {streaming ? <p className="streaming">streaming</p> : null}
      {children}
    </section>
  );
}
