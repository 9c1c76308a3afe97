/**
 * The model form's state machine: which step is shown, what the user entered on each, the run
 * each step made, and the run being followed. One page per step (a wizard when the model has
 * several); validation before sending, uploads of large files, the run with `Prefer: wait=1` (0 for
 * a streaming step) then followed live until it ends (lib/follow.ts).
 *
 * Step N+1 shows step N's interactive outputs (pick lists, image regions, editable text) as
 * inputs of the same name; its request is `{"step", "previous_run", "inputs": {name: choice}}`
 * and the gateway fills every other input it can from step N's run.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, runToken, type Run } from "../api";
import { examplesFor, INTERACTIVE_KINDS, type InputSpec, type Manifest, type StepSpec } from "../manifest";
import { forgetDraft, peekDraft, registerDraftSaver, storeDraft } from "../lib/drafts";
import { followRun } from "../lib/follow";
import { fromWire, initialValue, serializable, toWire, type Errors, type FieldValue, type FileState, type Values } from "../lib/form";

export type Phase = "idle" | "uploading" | "running";

interface Draft {
  stepIndex: number;
  values: Values[];
  runs: Array<Run | null>;
}

/** How each input of a step gets its value. */
export interface Plan {
  shown: InputSpec[];
  interactive: Set<string>;
  carried: InputSpec[];
}

export function planStep(steps: StepSpec[], index: number, runs: Array<Run | null>): Plan {
  const step = steps[index];
  if (index === 0) return { shown: step.inputs, interactive: new Set(), carried: [] };
  const previous = runs[index - 1];
  const available = { ...(previous?.inputs ?? {}), ...(previous?.outputs ?? {}) };
  const prevStep = steps[index - 1];
  const interactive = new Set<string>();
  const shown: InputSpec[] = [];
  const carried: InputSpec[] = [];
  for (const spec of step.inputs) {
    const fromOutput = previous?.outputs && spec.name in previous.outputs;
    if (fromOutput && (prevStep.interactive.includes(spec.name) || INTERACTIVE_KINDS.has(spec.kind))) {
      interactive.add(spec.name);
      shown.push(spec);
    } else if (spec.name in available) carried.push(spec);
    else shown.push(spec);
  }
  return { shown, interactive, carried };
}

export function startValues(steps: StepSpec[], index: number, runs: Array<Run | null>): Values {
  const plan = planStep(steps, index, runs);
  const values: Values = {};
  for (const spec of plan.shown) {
    if (plan.interactive.has(spec.name)) {
      const source = runs[index - 1]?.outputs?.[spec.name];
      values[spec.name] = spec.kind === "editable_text" ? (typeof source === "string" ? source : "") : { selected: [] };
    } else values[spec.name] = initialValue(spec);
  }
  return values;
}

function availableCount(spec: InputSpec, source: unknown): number | undefined {
  const key = spec.kind === "pick_list" ? "options" : spec.kind === "image_regions" ? "regions" : null;
  const items = key ? (source as Record<string, unknown> | undefined)?.[key] : undefined;
  return Array.isArray(items) ? items.length : undefined;
}

export interface Collected {
  inputs: Record<string, unknown>;
  uploads: Array<{ spec: InputSpec; state: FileState }>;
  errors: Errors;
}

/** The request's inputs from what the user entered, the files still to upload, and what is wrong. */
export function collectInputs(plan: Plan, current: Values, previousRun: Run | null): Collected {
  const collected: Collected = { inputs: {}, uploads: [], errors: {} };
  for (const spec of plan.shown) {
    const source = previousRun?.outputs?.[spec.name];
    const available = plan.interactive.has(spec.name) ? availableCount(spec, source) : undefined;
    const outcome = toWire(spec, current[spec.name] ?? initialValue(spec), available);
    if (!outcome.ok) collected.errors[spec.name] = outcome.error;
    else if (!outcome.omit && outcome.wire === undefined) collected.uploads.push({ spec, state: current[spec.name] as FileState });
    else if (!outcome.omit) collected.inputs[spec.name] = outcome.wire;
  }
  return collected;
}

/** A refusal from the server as field errors (for the inputs shown) and one message for the rest. */
export function refusal(error: ApiError, shown: InputSpec[]): { fields: Errors; message: string } {
  const fields: Errors = {};
  const names = new Set(shown.map((s) => s.name));
  const other: string[] = [];
  for (const [field, message] of Object.entries(error.fields)) {
    if (names.has(field)) fields[field] = message.charAt(0).toUpperCase() + message.slice(1);
    else other.push(`${field}: ${message}`);
  }
  const message = other.length
    ? other.join("; ")
    : Object.keys(fields).length
      ? "The server refused some inputs; see the highlighted fields."
      : error.message;
  return { fields, message };
}

function without(errors: Errors, field: string): Errors {
  if (!(field in errors)) return errors;
  const { [field]: _gone, ...rest } = errors;
  void _gone;
  return rest;
}

export function useWizard(owner: string, name: string, manifest: Manifest) {
  const steps = manifest.steps;
  const draftKey = `model:${owner}/${name}`;
  // a draft saved when an expired session sent the user to /login: start from it
  const [draft] = useState(() => {
    const saved = peekDraft<Draft>(draftKey);
    return saved && Array.isArray(saved.values) && typeof saved.stepIndex === "number" && saved.stepIndex < steps.length ? saved : null;
  });
  const [stepIndex, setStepIndex] = useState(draft?.stepIndex ?? 0);
  const [values, setValues] = useState<Values[]>(() => draft?.values ?? [startValues(steps, 0, [])]);
  const [runs, setRuns] = useState<Array<Run | null>>(draft?.runs ?? []);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  const [live, setLive] = useState<Run | null>(null);
  const alive = useRef(true);
  // the run being followed: stopped (its stream closed) when another starts or the form goes away
  const following = useRef<AbortController | null>(null);
  const focusFirstError = useRef(false);
  const formRef = useRef<HTMLFormElement>(null);
  const state = useRef<Draft>({ stepIndex, values, runs });
  state.current = { stepIndex, values, runs };

  useEffect(() => {
    alive.current = true;
    forgetDraft(draftKey);
    const unregister = registerDraftSaver(() => {
      const { stepIndex: s, values: v, runs: r } = state.current;
      storeDraft(draftKey, { stepIndex: s, values: v.map((x) => serializable(x ?? {})), runs: r });
    });
    return () => {
      alive.current = false;
      following.current?.abort();
      unregister();
    };
  }, [draftKey]);

  useEffect(() => {
    if (!focusFirstError.current) return;
    focusFirstError.current = false;
    const first = formRef.current?.querySelector<HTMLElement>("[aria-invalid='true'], .invalid input, .invalid textarea, .invalid select, .invalid .dropzone");
    first?.focus();
  }, [errors]);

  const step = steps[stepIndex];
  const plan = planStep(steps, stepIndex, runs);
  const current = values[stepIndex] ?? {};
  const previousRun = stepIndex > 0 ? runs[stepIndex - 1] : null;
  const run = runs[stepIndex] ?? null;
  const isLast = stepIndex === steps.length - 1;
  const busy = phase !== "idle";

  const showErrors = (found: Errors) => {
    focusFirstError.current = Object.keys(found).length > 0;
    setErrors(found);
  };

  const setValue = useCallback(
    (field: string, value: FieldValue) => {
      setValues((all) => {
        const next = [...all];
        next[stepIndex] = { ...(next[stepIndex] ?? {}), [field]: value };
        return next;
      });
      setErrors((old) => without(old, field));
    },
    [stepIndex],
  );

  const setFieldError = (field: string, message: string | undefined) =>
    setErrors((old) => (message ? { ...old, [field]: message } : without(old, field)));

  const loadExample = (inputs: Record<string, unknown>) => {
    const next: Values = { ...startValues(steps, stepIndex, runs) };
    for (const spec of plan.shown) if (spec.name in inputs) next[spec.name] = fromWire(spec, inputs[spec.name]);
    setValues((all) => {
      const copy = [...all];
      copy[stepIndex] = next;
      return copy;
    });
    setErrors({});
    setFormError(null);
  };

  const goToStep = (index: number, fresh: boolean, withRuns = runs) => {
    setValues((all) => {
      const copy = all.slice(0, fresh ? index : undefined);
      if (fresh || !copy[index]) copy[index] = startValues(steps, index, withRuns);
      return copy;
    });
    setStepIndex(index);
    setErrors({});
    setFormError(null);
    setLive(null);
  };

  /** Upload what must be uploaded; false (with the field's error shown) when an upload failed. */
  async function upload(collected: Collected): Promise<boolean> {
    if (!collected.uploads.length) return true;
    setPhase("uploading");
    for (const { spec, state: fileState } of collected.uploads) {
      let uploaded;
      try {
        uploaded = await api.upload(fileState.file as File, fileState.name);
      } catch (error) {
        if (error instanceof ApiError && error.status !== 401) {
          showErrors({ [spec.name]: `Upload failed: ${error.message}` });
          setPhase("idle");
          return false;
        }
        throw error;
      }
      collected.inputs[spec.name] = uploaded;
      // keep the uploaded reference, so running again does not upload again
      setValue(spec.name, { value: uploaded, name: fileState.name, size: fileState.size, contentType: fileState.contentType });
    }
    return true;
  }

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (busy) return;
    setFormError(null);
    const collected = collectInputs(plan, current, previousRun);
    const problems = Object.keys(collected.errors).length;
    if (problems) {
      showErrors(collected.errors);
      setFormError(`Check the highlighted field${problems === 1 ? "" : "s"}.`);
      return;
    }
    setErrors({});
    const runIndex = stepIndex;
    try {
      if (!(await upload(collected))) return;
      setPhase("running");
      const body =
        runIndex === 0
          ? { step: steps[0].name, inputs: collected.inputs }
          : { step: steps[runIndex].name, previous_run: previousRun?.id as string, previous_run_token: runToken(previousRun), inputs: collected.inputs };
      // a streaming step answers at once, so that its first words show as they are written
      const started = await api.createRun(owner, name, body, steps[runIndex].streams ? 0 : 1);
      if (!alive.current) return;
      setLive(started);
      following.current?.abort();
      const controller = (following.current = new AbortController());
      const finished = await followRun(started, setLive, controller.signal);
      if (!alive.current || controller.signal.aborted) return;
      const nextRuns = [...runs.slice(0, runIndex), finished];
      setRuns(nextRuns);
      setLive(null);
      setPhase("idle");
      if (finished.status === "succeeded" && runIndex < steps.length - 1) goToStep(runIndex + 1, true, nextRuns);
    } catch (error) {
      if (!alive.current) return;
      setPhase("idle");
      setLive(null);
      if (error instanceof ApiError) {
        const refused = refusal(error, plan.shown);
        showErrors(refused.fields);
        setFormError(refused.message);
      } else setFormError(`Something went wrong: ${(error as Error).message}`);
    }
  };

  const cancel = async () => {
    if (!live) return;
    try {
      setLive(await api.cancelRun(live));
    } catch (error) {
      setFormError((error as Error).message);
    }
  };

  return {
    steps,
    step,
    stepIndex,
    plan,
    current,
    previousRun,
    run,
    live,
    isLast,
    busy,
    phase,
    errors,
    formError,
    formRef,
    examples: examplesFor(manifest, step, stepIndex === 0),
    /** the next step was reached before and can be shown again as it was left */
    canContinue: Boolean(run && !isLast && run.status === "succeeded" && values[stepIndex + 1]),
    setValue,
    setFieldError,
    loadExample,
    back: () => goToStep(stepIndex - 1, false),
    forward: () => goToStep(stepIndex + 1, false),
    submit,
    cancel,
  };
}

export type Wizard = ReturnType<typeof useWizard>;
