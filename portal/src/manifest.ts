/** The model manifest (sdk/feather/manifest.schema.json) and the wire values of docs/wire.md. */

export type InputKind =
  | "text"
  | "editable_text"
  | "number"
  | "slider"
  | "checkbox"
  | "choice"
  | "multi_choice"
  | "image"
  | "audio"
  | "file"
  | "table"
  | "pick_list"
  | "image_regions";

export type OutputKind =
  | "text"
  | "markdown"
  | "editable_text"
  | "number"
  | "label"
  | "json"
  | "image"
  | "audio"
  | "file"
  | "table"
  | "gallery"
  | "pick_list"
  | "image_regions";

export type JsonSchema = Record<string, unknown>;
export type Props = Record<string, unknown>;

export interface InputSpec {
  name: string;
  kind: InputKind | string;
  label: string;
  description: string | null;
  required: boolean;
  default: unknown;
  props: Props;
  schema: JsonSchema;
}

export interface OutputSpec {
  name: string;
  kind: OutputKind | string;
  label: string;
  description: string | null;
  props: Props;
  schema: JsonSchema;
}

export interface StepSpec {
  name: string;
  description: string | null;
  inputs: InputSpec[];
  outputs: OutputSpec[];
  input_schema: JsonSchema;
  interactive: string[];
  /** a generator step: its outputs arrive while it runs */
  streams?: boolean;
}

export interface Example {
  name?: string;
  label?: string;
  step?: string;
  inputs: Record<string, unknown>;
}

export interface Manifest {
  manifest_version: number;
  name: string;
  description: string | null;
  sdk_version?: string;
  python?: string;
  requirements?: string[];
  files?: string[];
  has_load?: boolean;
  steps: StepSpec[];
  examples?: unknown;
}

export interface FileValue {
  url: string;
  /** Where to download it, when reading it needs a run's access (set by the gateway). */
  href?: string;
  name?: string;
  content_type?: string;
  size?: number;
  sha256?: string;
  boxes?: Region[];
  caption?: string;
}

export interface Region {
  box: number[];
  label?: string;
  score?: number;
}

export const FILE_KINDS = new Set(["image", "audio", "file"]);
export const INTERACTIVE_KINDS = new Set(["pick_list", "image_regions", "editable_text"]);

export function isFileValue(value: unknown): value is FileValue {
  return !!value && typeof value === "object" && typeof (value as FileValue).url === "string";
}

/**
 * Examples from the manifest, for the given step. Accepts a list of input objects, or of
 * `{name?, step?, inputs}`; anything else is ignored (the section is then hidden).
 */
export function examplesFor(manifest: Manifest, step: StepSpec, first: boolean): Example[] {
  const raw = manifest.examples;
  if (!Array.isArray(raw)) return [];
  const out: Example[] = [];
  for (const item of raw) {
    if (!item || typeof item !== "object" || Array.isArray(item)) continue;
    const entry = item as Record<string, unknown>;
    const hasInputs = entry.inputs && typeof entry.inputs === "object" && !Array.isArray(entry.inputs);
    const inputs = (hasInputs ? entry.inputs : entry) as Record<string, unknown>;
    const stepName = typeof entry.step === "string" ? entry.step : undefined;
    if (stepName ? stepName !== step.name : !first) continue;
    const known = step.inputs.some((spec) => spec.name in inputs);
    if (!known) continue;
    const label = typeof entry.name === "string" ? entry.name : typeof entry.label === "string" ? entry.label : undefined;
    out.push({ name: label, step: stepName, inputs });
  }
  return out;
}

/** A human size: 1.2 MB, 340 KB, 12 B (binary units, as the SDK prints them). */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${trim(bytes / 1024)} KiB`;
  if (bytes < 1024 ** 3) return `${trim(bytes / 1024 ** 2)} MiB`;
  return `${trim(bytes / 1024 ** 3)} GiB`;
}

function trim(value: number): string {
  return value >= 10 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
}
