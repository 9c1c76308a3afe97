/** The table input: typed columns, rows to edit, and CSV or TSV to paste. */
import { useState } from "react";
import { parseDelimited, tableColumns, type TableState } from "../lib/form";
import { describedBy, Field } from "./ui";
import { num, sentences, type WidgetProps } from "./widget";

export function TableWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const table = value as TableState;
  const { names, types } = tableColumns(spec.props);
  const columns = names ?? table.columns;
  const fixed = names !== null;
  const [pasting, setPasting] = useState(false);
  const [pasted, setPasted] = useState("");
  const maxRows = num(spec, "max_rows");
  const minRows = num(spec, "min_rows");

  const set = (rows: string[][], cols = table.columns) => onChange({ columns: cols, rows });
  const cell = (r: number, c: number, text: string) => {
    const rows = table.rows.map((row) => [...row]);
    while (rows[r].length < columns.length) rows[r].push("");
    rows[r][c] = text;
    set(rows);
  };
  const spread = (r: number, c: number, text: string) => {
    const grid = parseDelimited(text);
    const rows = table.rows.map((row) => [...row]);
    grid.forEach((line, dr) => {
      while (rows.length <= r + dr) rows.push(columns.map(() => ""));
      line.forEach((text2, dc) => {
        if (c + dc < columns.length) rows[r + dr][c + dc] = text2.trim();
      });
    });
    set(rows);
  };
  const importText = () => {
    let grid = parseDelimited(pasted);
    if (!grid.length) return;
    let cols = table.columns;
    const header = grid[0].map((h) => h.trim());
    if (fixed ? header.join() === columns.join() : header.every((h) => h && Number.isNaN(Number(h)))) {
      if (!fixed) cols = header;
      grid = grid.slice(1);
    }
    const width = fixed ? columns.length : cols.length;
    set(grid.map((row) => Array.from({ length: width }, (_, c) => (row[c] ?? "").trim())), cols);
    setPasting(false);
    setPasted("");
  };
  const hint = sentences(
    spec.description,
    types ? `Columns: ${columns.map((c) => `${c} (${types[c]})`).join(", ")}.` : null,
    minRows || maxRows ? `Rows: ${minRows ?? 0} to ${maxRows ?? "any number"}.` : null,
    "Empty cells are sent as missing values. Paste from a spreadsheet into a cell to fill several.",
  );

  return (
    <Field id={id} label={spec.label} description={hint} error={error} required={spec.required} group>
      <div className="table-scroll">
        <table className="table-input" aria-describedby={describedBy(id, hint, error)}>
          <thead>
            <tr>
              <th scope="col" className="row-head">
                <span className="visually-hidden">Row</span>
              </th>
              {columns.map((column, c) => (
                <th key={c} scope="col">
                  {fixed ? (
                    column
                  ) : (
                    <input
                      aria-label={`Column ${c + 1} name`}
                      value={column}
                      onChange={(e) => set(table.rows, table.columns.map((old, i) => (i === c ? e.target.value : old)))}
                    />
                  )}
                </th>
              ))}
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row, r) => (
              <tr key={r}>
                <th scope="row" className="row-head">
                  {r + 1}
                </th>
                {columns.map((column, c) => {
                  const type = types?.[column];
                  const text = row[c] ?? "";
                  const label = `Row ${r + 1}, ${column}`;
                  return (
                    <td key={c}>
                      {type === "boolean" ? (
                        <input type="checkbox" aria-label={label} checked={text === "true"} onChange={(e) => cell(r, c, e.target.checked ? "true" : "false")} />
                      ) : (
                        <input
                          id={r === 0 && c === 0 ? id : undefined}
                          aria-label={label}
                          value={text}
                          inputMode={type === "number" ? "decimal" : undefined}
                          onChange={(e) => cell(r, c, e.target.value)}
                          onPaste={(e) => {
                            const data = e.clipboardData.getData("text");
                            if (/[\t\n]/.test(data.trim()) || (data.includes(",") && type === "number")) {
                              e.preventDefault();
                              spread(r, c, data);
                            }
                          }}
                        />
                      )}
                    </td>
                  );
                })}
                <td>
                  <button
                    type="button"
                    className="button small subtle"
                    aria-label={`Remove row ${r + 1}`}
                    disabled={table.rows.length <= 1}
                    onClick={() => set(table.rows.filter((_, i) => i !== r))}
                  >
                    ×
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="toolbar">
        <button
          type="button"
          className="button small"
          disabled={maxRows !== undefined && table.rows.length >= maxRows}
          onClick={() => set([...table.rows, columns.map(() => "")])}
        >
          Add row
        </button>
        {!fixed ? (
          <button type="button" className="button small" onClick={() => set(table.rows.map((row) => [...row, ""]), [...table.columns, `column_${table.columns.length + 1}`])}>
            Add column
          </button>
        ) : null}
        <button type="button" className="button small" aria-expanded={pasting} onClick={() => setPasting(!pasting)}>
          Paste CSV
        </button>
        <button type="button" className="button small subtle" onClick={() => set([columns.map(() => "")])}>
          Clear
        </button>
      </div>
      {pasting ? (
        <div className="paste-box">
          <label htmlFor={`${id}-csv`}>CSV or tab-separated rows{fixed ? ` (columns: ${columns.join(", ")}; a header row is optional)` : ""}</label>
          <textarea id={`${id}-csv`} rows={5} value={pasted} onChange={(e) => setPasted(e.target.value)} />
          <div className="toolbar">
            <button type="button" className="button small primary" onClick={importText}>
              Use these rows
            </button>
          </div>
        </div>
      ) : null}
    </Field>
  );
}
