/** What every input widget takes, and the helpers they share. */
import type { InputSpec } from "../manifest";
import type { FieldValue } from "../lib/form";
import { describedBy } from "./ui";

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

export function aria(id: string, spec: InputSpec, error?: string) {
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

export function num(spec: InputSpec, key: string): number | undefined {
  const value = spec.props[key];
  return typeof value === "number" ? value : undefined;
}
