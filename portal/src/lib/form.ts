/**
 * Form values for a step's inputs: what each widget keeps while the user types (raw text for
 * numbers and table cells, so nothing typed is lost on an error), and the conversion to wire
 * values with the same checks as the SDK (sdk/feather/_basic.py, _choices.py, _media.py,
 * _table.py, _interactive.py) plus the input's JSON Schema.
 */
import type { FileValue, InputSpec, Props } from "../manifest";
import { FILE_KINDS, humanSize, isFileValue } from "../manifest";
import { checkSchema } from "./schema";

/** Decoded bytes a file may have to travel inline as a data: URL; bigger ones are uploaded. */
export const INLINE_LIMIT = 256 * 1024;

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

export function options(props: Props): Array<string | number> {
  return Array.isArray(props.options) ? (props.options as Array<string | number>) : [];
}

export function tableColumns(props: Props): { names: string[] | null; types: Record<string, string> | null } {
  const columns = props.columns;
  if (Array.isArray(columns)) return { names: columns.map(String), types: null };
  if (columns && typeof columns === "object") {
    return { names: Object.keys(columns), types: columns as Record<string, string> };
  }
  return { names: null, types: null };
}

function num(props: Props, key: string): number | undefined {
  const value = props[key];
  return typeof value === "number" ? value : undefined;
}

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

export function dataType(url: string): string | undefined {
  if (!url.startsWith("data:")) return undefined;
  return url.slice(5).split(/[;,]/)[0] || undefined;
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

/** `accept` entries such as ".csv", "image/*", "image/png" against a name and content type. */
export function accepts(name: string, contentType: string | undefined, accept: string[]): boolean {
  const lowerName = name.toLowerCase();
  const type = (contentType ?? "").toLowerCase();
  return accept.some((raw) => {
    const entry = raw.toLowerCase();
    if (entry.startsWith(".")) return lowerName.endsWith(entry);
    if (entry.endsWith("/*")) return type.startsWith(entry.slice(0, -1));
    return type === entry;
  });
}

export function acceptList(spec: InputSpec): string[] | undefined {
  const accept = spec.props.accept;
  if (Array.isArray(accept) && accept.length) return accept.map(String);
  if (spec.kind === "image") return ["image/*"];
  if (spec.kind === "audio") return ["audio/*"];
  return undefined;
}

/** Problems with a picked file before it is read: kind, accept list and max_size. */
export function checkFile(spec: InputSpec, name: string, size: number | undefined, contentType: string | undefined): string | null {
  const accept = acceptList(spec);
  const declared = Array.isArray(spec.props.accept) && spec.props.accept.length > 0;
  if (accept && (declared || contentType) && !accepts(name, contentType, accept)) {
    return `must be ${accept.join(", ")}; ${name} is ${contentType || "of an unknown type"}`;
  }
  const max = num(spec.props, "max_size");
  if (max !== undefined && size !== undefined && size > max) {
    return `must be at most ${humanSize(max)}; ${name} is ${humanSize(size)}`;
  }
  return null;
}

export function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error("could not read the file"));
    reader.readAsDataURL(file);
  });
}

/** A picked file -> widget state: small ones inline at once, large ones kept for upload. */
export async function fileState(file: File): Promise<FileState> {
  const contentType = file.type || undefined;
  if (file.size <= INLINE_LIMIT) {
    let url = await readAsDataUrl(file);
    if (url.startsWith("data:;") || url.startsWith("data:,")) url = `data:application/octet-stream${url.slice(5)}`;
    return {
      value: { url, name: file.name, content_type: contentType ?? "application/octet-stream", size: file.size },
      name: file.name,
      size: file.size,
      contentType,
    };
  }
  return { value: null, file, name: file.name, size: file.size, contentType };
}

// ---- to wire --------------------------------------------------------------------------------

export type Upload = (file: File) => Promise<FileValue>;

export type Outcome = { ok: true; omit: boolean; wire?: unknown } | { ok: false; error: string };

const required = "This field is required.";

function fail(error: string): Outcome {
  return { ok: false, error: error.charAt(0).toUpperCase() + error.slice(1) };
}

function countOf(value: string): number {
  return [...value].length;
}

/**
 * Check one input and build its wire value. `choiceOnly`: an interactive input answered
 * with `{"selected": [...]}` against `available` items shown from the previous step.
 */
export function toWire(spec: InputSpec, value: FieldValue, available?: number): Outcome {
  const p = spec.props;
  if (spec.kind === "pick_list" || spec.kind === "image_regions") {
    const selected = (value as SelectionState | null)?.selected ?? [];
    const multiple = p.multiple === true;
    const min = multiple ? num(p, "min_selected") ?? 1 : 1;
    const max = multiple ? num(p, "max_selected") : 1;
    if (selected.length < min) return fail(multiple ? `Select at least ${min}.` : "Select one.");
    if (max !== undefined && selected.length > max) return fail(multiple ? `Select at most ${max}.` : "Select only one.");
    if (available !== undefined && selected.some((i) => i >= available)) return fail("A selection is no longer available.");
    return { ok: true, omit: false, wire: { selected: [...selected].sort((a, b) => a - b) } };
  }

  if (isEmpty(spec, value)) {
    if (spec.kind === "editable_text" && typeof value === "string") return { ok: true, omit: false, wire: "" };
    return spec.required ? fail(required) : { ok: true, omit: true };
  }

  let wire: unknown;
  switch (spec.kind) {
    case "text":
    case "editable_text": {
      const text = String(value);
      const min = num(p, "min_length");
      const max = num(p, "max_length");
      if (min !== undefined && countOf(text) < min) return fail(`Enter at least ${min} characters (now ${countOf(text)}).`);
      if (max !== undefined && countOf(text) > max) return fail(`Enter at most ${max} characters (now ${countOf(text)}).`);
      wire = text;
      break;
    }
    case "number":
    case "slider": {
      const raw = typeof value === "number" ? value : String(value).trim().replace(",", ".");
      const n = typeof raw === "number" ? raw : raw === "" ? NaN : Number(raw);
      if (!Number.isFinite(n)) return fail("Enter a number.");
      const integer = p.integer === true || spec.schema.type === "integer";
      if (integer && !Number.isInteger(n)) return fail("Enter a whole number.");
      const min = num(p, "minimum");
      const max = num(p, "maximum");
      if (min !== undefined && n < min) return fail(`Must be at least ${min}.`);
      if (max !== undefined && n > max) return fail(`Must be at most ${max}.`);
      const step = num(p, "step");
      if (spec.kind === "slider" && step && min !== undefined) {
        const ticks = (n - min) / step;
        if (Math.abs(ticks - Math.round(ticks)) > 1e-9 * Math.max(1, Math.abs(ticks))) {
          return fail(`Must be ${min} plus a multiple of ${step}.`);
        }
      }
      wire = n;
      break;
    }
    case "checkbox":
      wire = value === true;
      break;
    case "choice":
      if (!options(p).some((o) => o === value)) return fail("Choose one of the options.");
      wire = value;
      break;
    case "multi_choice": {
      const chosen = value as Array<string | number>;
      const min = num(p, "min_selected");
      const max = num(p, "max_selected");
      if (min !== undefined && chosen.length < min) return fail(`Choose at least ${min}.`);
      if (max !== undefined && chosen.length > max) return fail(`Choose at most ${max}.`);
      const order = options(p);
      wire = [...chosen].sort((a, b) => order.indexOf(a) - order.indexOf(b));
      break;
    }
    case "image":
    case "audio":
    case "file": {
      const state = value as FileState;
      const problem = checkFile(spec, state.name, state.size ?? state.value?.size, state.contentType ?? state.value?.content_type);
      if (problem) return fail(problem);
      if (state.file && !state.value) {
        // validated now; uploaded when sent (the placeholder mirrors the SDK's pending upload)
        return { ok: true, omit: false, wire: undefined };
      }
      if (!state.value) return spec.required ? fail(required) : { ok: true, omit: true };
      wire = state.value;
      break;
    }
    case "table": {
      const built = tableToWire(spec, value as TableState);
      if (typeof built === "string") return fail(built);
      wire = built;
      break;
    }
    default: {
      // a kind this portal does not know: the user typed JSON
      try {
        wire = JSON.parse(String(value));
      } catch {
        return fail("Enter valid JSON.");
      }
    }
  }
  const problem = checkSchema(wire, spec.schema);
  if (problem) return fail(problem);
  return { ok: true, omit: false, wire };
}

export function tableToWire(spec: InputSpec, table: TableState): { columns: string[]; rows: unknown[][] } | string {
  const { names, types } = tableColumns(spec.props);
  const columns = names ?? table.columns.map((c) => c.trim());
  if (!names) {
    if (columns.some((c) => !c)) return "Every column needs a name.";
    if (new Set(columns).size !== columns.length) return "Column names must differ.";
  }
  // Blank rows at the end are ignored, as in a spreadsheet.
  const rows = [...table.rows];
  while (rows.length && rows[rows.length - 1].every((c) => c.trim() === "")) rows.pop();
  const minRows = num(spec.props, "min_rows");
  const maxRows = num(spec.props, "max_rows");
  if (minRows !== undefined && rows.length < minRows) return `Needs at least ${minRows} row${minRows === 1 ? "" : "s"} (now ${rows.length}).`;
  if (maxRows !== undefined && rows.length > maxRows) return `Allows at most ${maxRows} rows (now ${rows.length}).`;
  const out: unknown[][] = [];
  for (let r = 0; r < rows.length; r++) {
    const row: unknown[] = [];
    for (let c = 0; c < columns.length; c++) {
      const raw = (rows[r][c] ?? "").trim();
      const type = types?.[columns[c]];
      if (raw === "") {
        row.push(null);
      } else if (type === "number") {
        const n = Number(raw.replace(",", "."));
        if (!Number.isFinite(n)) return `Row ${r + 1}, column ${columns[c]} must be a number (got "${raw}").`;
        row.push(n);
      } else if (type === "boolean") {
        const lower = raw.toLowerCase();
        if (["true", "yes", "1"].includes(lower)) row.push(true);
        else if (["false", "no", "0"].includes(lower)) row.push(false);
        else return `Row ${r + 1}, column ${columns[c]} must be true or false (got "${raw}").`;
      } else {
        row.push(raw);
      }
    }
    out.push(row);
  }
  return { columns, rows: out };
}

/** Parse CSV or TSV text (quotes supported) into rows of cells. */
export function parseDelimited(text: string): string[][] {
  const delimiter = text.includes("\t") ? "\t" : ",";
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === delimiter) {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((c) => c.trim() !== ""));
}

export function isFileKind(kind: string): boolean {
  return FILE_KINDS.has(kind);
}

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
