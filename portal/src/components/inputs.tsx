/** Input widgets, one per component kind, rendered from a manifest entry. */
import { useEffect, useId, useMemo, useRef, useState, type ClipboardEvent, type DragEvent } from "react";
import { fileHref } from "../api";
import { humanSize, isFileValue, type FileValue, type InputSpec, type Region } from "../manifest";
import {
  acceptList,
  checkFile,
  fileState,
  INLINE_LIMIT,
  options,
  parseDelimited,
  tableColumns,
  type FieldValue,
  type FileState,
  type SelectionState,
  type TableState,
} from "../lib/form";
import { BoxedImage } from "./outputs";
import { describedBy, Field } from "./ui";

export interface WidgetProps {
  spec: InputSpec;
  id: string;
  value: FieldValue;
  error?: string;
  onChange: (value: FieldValue) => void;
  onError: (message: string | undefined) => void;
  /** For interactive inputs: the previous step's output of the same name. */
  source?: unknown;
}

function aria(id: string, spec: InputSpec, error?: string) {
  return {
    id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy(id, spec.description, error),
    "aria-required": spec.required || undefined,
  } as const;
}

/** Joins a description and generated hints as sentences ("Measurements in cm. Columns: ..."). */
export function sentences(...parts: Array<string | null | undefined | false>): string {
  return parts
    .filter((p): p is string => typeof p === "string" && p.trim() !== "")
    .map((p) => p.trim())
    .map((p) => (/[.!?:)]$/.test(p) ? p : `${p}.`))
    .join(" ");
}

function num(spec: InputSpec, key: string): number | undefined {
  const value = spec.props[key];
  return typeof value === "number" ? value : undefined;
}

// ---- text and numbers ------------------------------------------------------------------------

function TextWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const text = typeof value === "string" ? value : "";
  const max = num(spec, "max_length");
  const multiline = spec.props.multiline === true || spec.kind === "editable_text";
  const placeholder = typeof spec.props.placeholder === "string" ? spec.props.placeholder : undefined;
  const counter = max !== undefined ? (
    <p className={`counter${[...text].length > max ? " over" : ""}`} aria-live="polite">
      {[...text].length}/{max}
    </p>
  ) : null;
  return (
    <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required} extra={counter}>
      {multiline ? (
        <textarea {...aria(id, spec, error)} value={text} placeholder={placeholder} rows={Math.min(12, Math.max(4, text.split("\n").length + 1))} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...aria(id, spec, error)} type="text" value={text} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />
      )}
    </Field>
  );
}

function rangeHint(spec: InputSpec): string | null {
  const min = num(spec, "minimum");
  const max = num(spec, "maximum");
  const whole = spec.props.integer === true ? "whole number" : "number";
  if (min !== undefined && max !== undefined) return `A ${whole} from ${min} to ${max}.`;
  if (min !== undefined) return `A ${whole}, at least ${min}.`;
  if (max !== undefined) return `A ${whole}, at most ${max}.`;
  return spec.props.integer === true ? "A whole number." : null;
}

function NumberWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const hint = sentences(spec.description, rangeHint(spec));
  const described = { ...spec, description: hint || null };
  return (
    <Field id={id} label={spec.label} description={hint || null} error={error} required={spec.required}>
      <input
        {...aria(id, described, error)}
        type="text"
        inputMode={spec.props.integer === true ? "numeric" : "decimal"}
        autoComplete="off"
        value={typeof value === "string" ? value : value == null ? "" : String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    </Field>
  );
}

function SliderWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const min = num(spec, "minimum") ?? 0;
  const max = num(spec, "maximum") ?? 100;
  const step = num(spec, "step") ?? 1;
  const current = typeof value === "number" ? value : Number(value ?? min);
  return (
    <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required}>
      <div className="slider">
        <input {...aria(id, spec, error)} type="range" min={min} max={max} step={step} value={current} onChange={(e) => onChange(Number(e.target.value))} />
        <output htmlFor={id} className="slider-value">
          {current}
        </output>
      </div>
    </Field>
  );
}

function CheckboxWidget({ spec, id, value, error, onChange }: WidgetProps) {
  return (
    <div className={`field checkbox-field${error ? " invalid" : ""}`}>
      <label className="check">
        <input {...aria(id, spec, error)} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
        {spec.label}
      </label>
      {spec.description ? (
        <p className="hint" id={`${id}-hint`}>
          {spec.description}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

function ChoiceWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const opts = options(spec.props);
  if (opts.length <= 4) {
    return (
      <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required} group>
        <div className="choices" role="radiogroup" aria-required={spec.required || undefined} aria-invalid={error ? true : undefined}>
          {opts.map((option, index) => (
            <label key={index} className="check">
              <input type="radio" name={id} id={index === 0 ? id : undefined} checked={value === option} onChange={() => onChange(option)} />
              {String(option)}
            </label>
          ))}
        </div>
      </Field>
    );
  }
  const index = opts.findIndex((o) => o === value);
  return (
    <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required}>
      <select {...aria(id, spec, error)} value={index < 0 ? "" : String(index)} onChange={(e) => onChange(e.target.value === "" ? null : opts[Number(e.target.value)])}>
        <option value="">{spec.required ? "Choose…" : "(default)"}</option>
        {opts.map((option, i) => (
          <option key={i} value={String(i)}>
            {String(option)}
          </option>
        ))}
      </select>
    </Field>
  );
}

function MultiChoiceWidget({ spec, id, value, error, onChange }: WidgetProps) {
  const opts = options(spec.props);
  const chosen = Array.isArray(value) ? value : [];
  const min = num(spec, "min_selected");
  const max = num(spec, "max_selected");
  const limits = [min ? `at least ${min}` : "", max !== undefined ? `at most ${max}` : ""].filter(Boolean).join(", ");
  const hint = sentences(spec.description, limits ? `Choose ${limits}.` : "");
  return (
    <Field id={id} label={spec.label} description={hint || null} error={error} required={spec.required} group>
      <div className="choices">
        {opts.map((option, index) => (
          <label key={index} className="check">
            <input
              type="checkbox"
              id={index === 0 ? id : undefined}
              checked={chosen.includes(option)}
              onChange={(e) => onChange(e.target.checked ? [...chosen, option] : chosen.filter((o) => o !== option))}
            />
            {String(option)}
          </label>
        ))}
      </div>
    </Field>
  );
}

// ---- files ----------------------------------------------------------------------------------

function usePreview(state: FileState | null): string | undefined {
  const file = state?.file;
  const url = useMemo(() => (file && typeof URL.createObjectURL === "function" ? URL.createObjectURL(file) : undefined), [file]);
  useEffect(() => () => {
    if (url) URL.revokeObjectURL(url);
  }, [url]);
  return url ?? fileHref(state?.value);
}

function FileWidget({ spec, id, value, error, onChange, onError }: WidgetProps) {
  const state = value && typeof value === "object" && "name" in value ? (value as FileState) : null;
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const preview = usePreview(state);
  const accept = acceptList(spec);
  const max = num(spec, "max_size");
  const hintId = useId();

  const take = async (file: File | null | undefined) => {
    if (!file) return;
    const problem = checkFile(spec, file.name, file.size, file.type || undefined);
    if (problem) {
      onError(problem.charAt(0).toUpperCase() + problem.slice(1));
      return;
    }
    setBusy(true);
    try {
      onChange(await fileState(file));
      onError(undefined);
    } catch (e) {
      onError(`Could not read ${file.name}: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void take(event.dataTransfer?.files?.[0]);
  };
  const onPaste = (event: ClipboardEvent) => {
    const files = event.clipboardData?.files;
    if (files && files.length) {
      event.preventDefault();
      void take(files[0]);
    }
  };
  const what = spec.kind === "image" ? "an image" : spec.kind === "audio" ? "a sound file" : "a file";
  const limits = [accept && spec.props.accept ? accept.join(", ") : "", max ? `up to ${humanSize(max)}` : ""].filter(Boolean).join(", ");
  const contentType = state?.contentType ?? state?.value?.content_type ?? "";

  return (
    <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required}>
      <div
        className={`dropzone${dragging ? " dragging" : ""}${error ? " invalid" : ""}`}
        tabIndex={0}
        role="group"
        aria-label={`${spec.label}: drop, paste or choose ${what}`}
        aria-describedby={[hintId, describedBy(id, spec.description, error)].filter(Boolean).join(" ")}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        onPaste={onPaste}
      >
        {state ? (
          <div className="file-preview">
            {spec.kind === "image" && preview && (contentType.startsWith("image/") || !contentType) ? (
              <img src={preview} alt={`${spec.label}: ${state.name}`} />
            ) : null}
            {spec.kind === "audio" && preview ? <audio controls src={preview} aria-label={`${spec.label}: ${state.name}`} /> : null}
            <p>
              <span className="file-name">{state.name}</span>
              {typeof (state.size ?? state.value?.size) === "number" ? <span className="muted"> · {humanSize((state.size ?? state.value?.size) as number)}</span> : null}
              {state.file && !state.value ? <span className="muted"> · uploaded when you run</span> : null}
            </p>
          </div>
        ) : (
          <p className="muted" id={hintId}>
            Drop {what} here, paste it, or choose one.{limits ? ` (${limits})` : ""}
          </p>
        )}
        <div className="toolbar">
          <button type="button" className="button small" onClick={() => input.current?.click()} disabled={busy}>
            {state ? "Replace" : "Choose file"}
          </button>
          {state ? (
            <button
              type="button"
              className="button small subtle"
              onClick={() => {
                onChange(null);
                onError(undefined);
              }}
            >
              Remove
            </button>
          ) : null}
          {busy ? <span className="muted">Reading…</span> : null}
        </div>
        <input
          ref={input}
          id={id}
          className="visually-hidden"
          type="file"
          tabIndex={-1}
          accept={accept?.join(",")}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy(id, spec.description, error)}
          onChange={(e) => {
            void take(e.target.files?.[0]);
            e.target.value = "";
          }}
        />
      </div>
    </Field>
  );
}

// ---- table ----------------------------------------------------------------------------------

function TableWidget({ spec, id, value, error, onChange }: WidgetProps) {
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

// ---- interactive ----------------------------------------------------------------------------

function selection(value: FieldValue): number[] {
  return (value as SelectionState | null)?.selected ?? [];
}

function toggler(spec: InputSpec, value: FieldValue, onChange: (v: FieldValue) => void) {
  const multiple = spec.props.multiple === true;
  return (index: number, on?: boolean) => {
    const current = selection(value);
    const isOn = current.includes(index);
    const wanted = on ?? !isOn;
    if (!multiple) onChange({ selected: wanted ? [index] : [] });
    else onChange({ selected: wanted ? (isOn ? current : [...current, index].sort((a, b) => a - b)) : current.filter((i) => i !== index) });
  };
}

function selectionHint(spec: InputSpec): string {
  const multiple = spec.props.multiple === true;
  if (!multiple) return "Choose one.";
  const min = num(spec, "min_selected") ?? 1;
  const max = num(spec, "max_selected");
  return max !== undefined ? `Choose ${min} to ${max}.` : `Choose at least ${min}.`;
}

function PickListWidget({ spec, id, value, error, onChange, source }: WidgetProps) {
  const opts = Array.isArray((source as { options?: unknown })?.options) ? ((source as { options: unknown[] }).options.map(String)) : [];
  const multiple = spec.props.multiple === true;
  const toggle = toggler(spec, value, onChange);
  const chosen = selection(value);
  const hint = sentences(spec.description, selectionHint(spec));
  return (
    <Field id={id} label={spec.label} description={hint} error={error} required group>
      {opts.length === 0 ? <p className="muted">The previous step offered nothing to choose.</p> : null}
      <div className="choices pick-list">
        {opts.map((option, index) => (
          <label key={index} className="check">
            <input
              type={multiple ? "checkbox" : "radio"}
              name={id}
              id={index === 0 ? id : undefined}
              checked={chosen.includes(index)}
              onChange={(e) => toggle(index, e.target.checked)}
            />
            {option}
          </label>
        ))}
      </div>
      {multiple ? <SelectAllNone count={opts.length} onChange={onChange} /> : null}
    </Field>
  );
}

/** "Select all" / "Select none" under a multiple choice of ``count`` options (none for one). */
function SelectAllNone({ count, onChange }: { count: number; onChange: WidgetProps["onChange"] }) {
  if (count < 2) return null;
  return (
    <div className="toolbar">
      <button type="button" className="button small subtle" onClick={() => onChange({ selected: Array.from({ length: count }, (_, i) => i) })}>
        Select all
      </button>
      <button type="button" className="button small subtle" onClick={() => onChange({ selected: [] })}>
        Select none
      </button>
    </div>
  );
}

function ImageRegionsWidget({ spec, id, value, error, onChange, source }: WidgetProps) {
  const data = source as { image?: unknown; regions?: Region[] } | undefined;
  const regions = Array.isArray(data?.regions) ? data.regions : [];
  const image = isFileValue(data?.image) ? (data.image as FileValue) : null;
  const multiple = spec.props.multiple === true;
  const toggle = toggler(spec, value, onChange);
  const chosen = selection(value);
  const hint = sentences(spec.description, selectionHint(spec), "Click the boxes on the image or use the list.");
  return (
    <Field id={id} label={spec.label} description={hint} error={error} required group>
      {image ? <BoxedImage value={image} alt={spec.label} regions={regions} selected={chosen} onToggle={(i) => toggle(i)} /> : null}
      {regions.length === 0 ? <p className="muted">The previous step found no regions.</p> : null}
      <div className="choices region-choices">
        {regions.map((region, index) => (
          <label key={index} className="check">
            <input
              type={multiple ? "checkbox" : "radio"}
              name={id}
              id={index === 0 ? id : undefined}
              checked={chosen.includes(index)}
              onChange={(e) => toggle(index, e.target.checked)}
            />
            {region.label || `Region ${index + 1}`}
            {typeof region.score === "number" ? <span className="muted"> ({Math.round(region.score * 100)}%)</span> : null}
          </label>
        ))}
      </div>
      {multiple ? <SelectAllNone count={regions.length} onChange={onChange} /> : null}
    </Field>
  );
}

function JsonWidget({ spec, id, value, error, onChange }: WidgetProps) {
  return (
    <Field id={id} label={spec.label} description={sentences(spec.description, "Enter a JSON value.")} error={error} required={spec.required}>
      <textarea {...aria(id, spec, error)} className="mono" rows={6} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value)} />
    </Field>
  );
}

export function InputWidget(props: WidgetProps) {
  switch (props.spec.kind) {
    case "text":
    case "editable_text":
      return <TextWidget {...props} />;
    case "number":
      return <NumberWidget {...props} />;
    case "slider":
      return <SliderWidget {...props} />;
    case "checkbox":
      return <CheckboxWidget {...props} />;
    case "choice":
      return <ChoiceWidget {...props} />;
    case "multi_choice":
      return <MultiChoiceWidget {...props} />;
    case "image":
    case "audio":
    case "file":
      return <FileWidget {...props} />;
    case "table":
      return <TableWidget {...props} />;
    case "pick_list":
      return <PickListWidget {...props} />;
    case "image_regions":
      return <ImageRegionsWidget {...props} />;
    default:
      return <JsonWidget {...props} />;
  }
}

export { INLINE_LIMIT };
