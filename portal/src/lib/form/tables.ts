/**
 * Tables in the form: typed cells to wire rows, and pasted CSV or TSV to cells.
 */
import type { InputSpec } from "../../manifest";
import { num, tableColumns } from "./props";
import type { TableState } from "./values";

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
