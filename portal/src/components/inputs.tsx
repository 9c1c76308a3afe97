/** Input widgets, one per component kind, rendered from a manifest entry. */
import { isFileValue, type FileValue, type InputSpec, type Region } from "../manifest";
import { INLINE_LIMIT, options, type FieldValue, type SelectionState } from "../lib/form";
import { FileWidget } from "./FileInput";
import { BoxedImage } from "./outputs";
import { TableWidget } from "./TableInput";
import { Field } from "./ui";
import { aria, num, sentences, type WidgetProps } from "./widget";

export type { WidgetProps } from "./widget";
export { sentences } from "./widget";

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
