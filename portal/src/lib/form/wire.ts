/**
 * Form values to wire values, with the same checks as the SDK (sdk/feather/_basic.py, _choices.py,
 * _media.py, _table.py, _interactive.py) plus the input's JSON Schema.
 */
import type { InputSpec } from "../../manifest";
import { checkSchema } from "../schema";
import { checkFile } from "./files";
import { tableToWire } from "./tables";
import { num, options } from "./props";
import { isEmpty, type FieldValue, type FileState, type SelectionState, type TableState } from "./values";

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
