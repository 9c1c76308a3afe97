/**
 * What each input's widget keeps while the user types (raw text for numbers and table cells, so
 * nothing typed is lost on an error), how a form starts, and how a wire value comes back into it.
 */
import { isFileValue, type FileValue, type InputSpec } from "../../manifest";
import { dataType } from "./files";
import { num, tableColumns } from "./props";

export interface FileState {
  /** The wire value once known: inline data: URL, uploaded feather:files/..., or an example's URL. */
  value: FileValue | null;
  /** A picked file above INLINE_LIMIT, uploaded when the form is sent. */
  file?: File;
  name: string;
  size?: number;
  contentType?: string;
}

export interface TableState {
  columns: string[];
  rows: string[][];
}

export interface SelectionState {
  selected: number[];
}

export type FieldValue =
  | string
  | number
  | boolean
  | null
  | Array<string | number>
  | FileState
  | TableState
  | SelectionState;

export type Values = Record<string, FieldValue>;

export type Errors = Record<string, string>;

/** The widget value an input starts with (its default, or empty). */
export function initialValue(spec: InputSpec): FieldValue {
  if (spec.default !== null && spec.default !== undefined) return fromWire(spec, spec.default);
  switch (spec.kind) {
    case "text":
    case "editable_text":
    case "number":
      return "";
    case "slider":
      return num(spec.props, "minimum") ?? 0;
    case "checkbox":
      return false;
    case "choice":
      return null;
    case "multi_choice":
      return [];
    case "image":
    case "audio":
    case "file":
      return null;
    case "table": {
      const { names } = tableColumns(spec.props);
      const columns = names ?? ["column_1", "column_2"];
      const rows = Math.max(1, num(spec.props, "min_rows") ?? 1);
      return { columns, rows: Array.from({ length: rows }, () => columns.map(() => "")) };
    }
    case "pick_list":
    case "image_regions":
      return { selected: [] };
    default:
      return "";
  }
}

/** A wire value (a default, an example, a saved draft) -> the widget value. */
export function fromWire(spec: InputSpec, wire: unknown): FieldValue {
  switch (spec.kind) {
    case "text":
    case "editable_text":
      return typeof wire === "string" ? wire : wire == null ? "" : String(wire);
    case "number":
      return typeof wire === "number" ? String(wire) : typeof wire === "string" ? wire : "";
    case "slider":
      return typeof wire === "number" ? wire : num(spec.props, "minimum") ?? 0;
    case "checkbox":
      return wire === true;
    case "choice":
      return typeof wire === "string" || typeof wire === "number" ? wire : null;
    case "multi_choice":
      return Array.isArray(wire) ? (wire.filter((v) => typeof v === "string" || typeof v === "number") as Array<string | number>) : [];
    case "image":
    case "audio":
    case "file": {
      const value: FileValue | null = isFileValue(wire) ? wire : typeof wire === "string" ? { url: wire } : null;
      if (!value) return null;
      return { value, name: value.name ?? nameFromUrl(value.url), size: value.size, contentType: value.content_type ?? dataType(value.url) };
    }
    case "table": {
      const table = wire as { columns?: unknown; rows?: unknown } | null;
      if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) return initialValue({ ...spec, default: null });
      return {
        columns: table.columns.map(String),
        rows: (table.rows as unknown[]).map((row) => (Array.isArray(row) ? row.map((c) => (c === null || c === undefined ? "" : String(c))) : [])),
      };
    }
    case "pick_list":
    case "image_regions": {
      const selected = (wire as { selected?: unknown } | null)?.selected;
      return { selected: Array.isArray(selected) ? selected.filter((i): i is number => Number.isInteger(i)) : [] };
    }
    default:
      return typeof wire === "string" ? wire : JSON.stringify(wire, null, 2);
  }
}

function nameFromUrl(url: string): string {
  if (url.startsWith("data:")) return "file";
  const last = url.split(/[?#]/)[0].split("/").pop();
  return last ? decodeURIComponent(last) : "file";
}

/** True when the widget holds nothing the user entered (so an optional input is left out). */
export function isEmpty(spec: InputSpec, value: FieldValue): boolean {
  if (value === null || value === undefined) return true;
  switch (spec.kind) {
    case "text":
    case "number":
      return value === "";
    case "multi_choice":
      return false;
    case "table": {
      const table = value as TableState;
      return table.rows.every((row) => row.every((cell) => cell === ""));
    }
    default:
      return false;
  }
}

// ---- files ----------------------------------------------------------------------------------

/** Values that can be kept in sessionStorage (files waiting for upload are dropped). */
export function serializable(values: Values): Values {
  const out: Values = {};
  for (const [key, value] of Object.entries(values)) {
    if (value && typeof value === "object" && "file" in value && (value as FileState).file) {
      const state = value as FileState;
      if (!state.value) continue;
      const { file: _dropped, ...rest } = state;
      void _dropped;
      out[key] = rest;
      continue;
    }
    out[key] = value;
  }
  return out;
}
