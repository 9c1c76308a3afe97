/**
 * The model form: one page per step (a wizard when the model has several), validation before
 * sending, uploads of large files, the run with `Prefer: wait=1` then polling, and outputs.
 *
 * Step N+1 shows step N's interactive outputs (pick lists, image regions, editable text) as
 * inputs of the same name; its request is `{"step", "previous_run", "inputs": {name: choice}}`
 * and the gateway fills every other input it can from step N's run.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, TERMINAL, permalink, runToken, type Run } from "../api";
import { examplesFor, INTERACTIVE_KINDS, type InputSpec, type Manifest, type StepSpec } from "../manifest";
import { fromWire, initialValue, serializable, toWire, type Errors, type FieldValue, type FileState, type Values } from "../lib/form";
import { forgetDraft, peekDraft, registerDraftSaver, storeDraft } from "../lib/drafts";
import { Link } from "../router";
import { InputWidget } from "./inputs";
import { OutputBlock } from "./outputs";
import { CopyButton, ErrorBox, StatusBadge } from "./ui";

export const POLL_MS = 300;

interface Props {
  owner: string;
  name: string;
  manifest: Manifest;
}

type Phase = "idle" | "uploading" | "running";

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

function startValues(steps: StepSpec[], index: number, runs: Array<Run | null>): Values {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function availableCount(spec: InputSpec, source: unknown): number | undefined {
  const key = spec.kind === "pick_list" ? "options" : spec.kind === "image_regions" ? "regions" : null;
  const items = key ? (source as Record<string, unknown> | undefined)?.[key] : undefined;
  return Array.isArray(items) ? items.length : undefined;
}

export function Runner({ owner, name, manifest }: Props) {
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
  const examples = examplesFor(manifest, step, stepIndex === 0);

  const setValue = useCallback(
    (field: string, value: FieldValue) => {
      setValues((all) => {
        const next = [...all];
        next[stepIndex] = { ...(next[stepIndex] ?? {}), [field]: value };
        return next;
      });
      setErrors((old) => {
        if (!(field in old)) return old;
        const { [field]: _gone, ...rest } = old;
        void _gone;
        return rest;
      });
    },
    [stepIndex],
  );

  const setFieldError = (field: string, message: string | undefined) =>
    setErrors((old) => {
      if (!message) {
        const { [field]: _gone, ...rest } = old;
        void _gone;
        return rest;
      }
      return { ...old, [field]: message };
    });

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

  async function follow(started: Run): Promise<Run> {
    let latest = started;
    while (!TERMINAL.has(latest.status)) {
      await sleep(POLL_MS);
      if (!alive.current) return latest;
      try {
        latest = await api.refresh(latest);
      } catch (error) {
        // a blip while polling: keep trying unless the run is gone
        if (error instanceof ApiError && (error.status === 404 || error.status === 401 || error.status === 403)) throw error;
        continue;
      }
      if (alive.current) setLive(latest);
    }
    return latest;
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const found: Errors = {};
    const inputs: Record<string, unknown> = {};
    const uploads: Array<{ spec: InputSpec; state: FileState }> = [];
    for (const spec of plan.shown) {
      const source = previousRun?.outputs?.[spec.name];
      const outcome = toWire(spec, current[spec.name] ?? initialValue(spec), plan.interactive.has(spec.name) ? availableCount(spec, source) : undefined);
      if (!outcome.ok) found[spec.name] = outcome.error;
      else if (!outcome.omit && outcome.wire === undefined) uploads.push({ spec, state: current[spec.name] as FileState });
      else if (!outcome.omit) inputs[spec.name] = outcome.wire;
    }
    if (Object.keys(found).length) {
      focusFirstError.current = true;
      setErrors(found);
      setFormError(`Check the highlighted field${Object.keys(found).length === 1 ? "" : "s"}.`);
      return;
    }
    setErrors({});
    const runIndex = stepIndex;
    try {
      if (uploads.length) {
        setPhase("uploading");
        for (const { spec, state: fileState } of uploads) {
          let uploaded;
          try {
            uploaded = await api.upload(fileState.file as File, fileState.name);
          } catch (error) {
            if (error instanceof ApiError && error.status !== 401) {
              focusFirstError.current = true;
              setErrors({ [spec.name]: `Upload failed: ${error.message}` });
              setPhase("idle");
              return;
            }
            throw error;
          }
          inputs[spec.name] = uploaded;
          // keep the uploaded reference, so running again does not upload again
          setValue(spec.name, { value: uploaded, name: fileState.name, size: fileState.size, contentType: fileState.contentType });
        }
      }
      setPhase("running");
      const body =
        runIndex === 0
          ? { step: steps[0].name, inputs }
          : { step: steps[runIndex].name, previous_run: previousRun?.id as string, previous_run_token: runToken(previousRun), inputs };
      const started = await api.createRun(owner, name, body, 1);
      if (!alive.current) return;
      setLive(started);
      const finished = await follow(started);
      if (!alive.current) return;
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
        const fieldErrors: Errors = {};
        const shownNames = new Set(plan.shown.map((s) => s.name));
        const other: string[] = [];
        for (const [field, message] of Object.entries(error.fields)) {
          if (shownNames.has(field)) fieldErrors[field] = message.charAt(0).toUpperCase() + message.slice(1);
          else other.push(`${field}: ${message}`);
        }
        if (Object.keys(fieldErrors).length) {
          focusFirstError.current = true;
          setErrors(fieldErrors);
        }
        setFormError(other.length ? other.join("; ") : Object.keys(fieldErrors).length ? "The server refused some inputs; see the highlighted fields." : error.message);
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

  const shownRun = live ?? run;
  const outputsOf = (r: Run | null, s: StepSpec) =>
    r?.status === "succeeded" && r.outputs ? s.outputs.filter((o) => o.name in (r.outputs ?? {})) : [];

  return (
    <div className="runner">
      {steps.length > 1 ? (
        <ol className="stepper" aria-label="Steps">
          {steps.map((s, i) => (
            <li key={s.name} className={i === stepIndex ? "current" : i < stepIndex ? "done" : undefined} aria-current={i === stepIndex ? "step" : undefined}>
              <span className="step-number">{i + 1}</span> {s.name.replace(/_/g, " ")}
            </li>
          ))}
        </ol>
      ) : null}
      <div className="runner-grid">
        <form ref={formRef} className="panel inputs-panel" onSubmit={submit} noValidate aria-labelledby={`step-title-${stepIndex}`}>
          <h2 id={`step-title-${stepIndex}`} className="panel-title">
            {steps.length > 1 ? `Step ${stepIndex + 1} of ${steps.length}: ${step.name.replace(/_/g, " ")}` : "Inputs"}
          </h2>
          {step.description ? <p className="hint">{step.description}</p> : null}
          {examples.length ? (
            <div className="examples">
              <h3 className="small-title">Examples</h3>
              <div className="toolbar">
                {examples.map((example, i) => (
                  <button key={i} type="button" className="button small" onClick={() => loadExample(example.inputs)}>
                    {example.name ?? `Example ${i + 1}`}
                  </button>
                ))}
              </div>
            </div>
          ) : null}
          {stepIndex > 0 && previousRun ? <PreviousResults step={steps[stepIndex - 1]} run={previousRun} skip={plan.interactive} /> : null}
          {plan.shown.map((spec) => (
            <InputWidget
              key={`${stepIndex}-${spec.name}`}
              spec={spec}
              id={`f${stepIndex}-${spec.name}`}
              value={current[spec.name] ?? initialValue(spec)}
              error={errors[spec.name]}
              onChange={(value) => setValue(spec.name, value)}
              onError={(message) => setFieldError(spec.name, message)}
              source={plan.interactive.has(spec.name) ? previousRun?.outputs?.[spec.name] : undefined}
            />
          ))}
          {plan.carried.length ? (
            <p className="hint carried">
              Filled from step {stepIndex}: {plan.carried.map((s) => s.label).join(", ")}.
            </p>
          ) : null}
          {plan.shown.length === 0 && stepIndex === 0 ? <p className="muted">This model takes no inputs.</p> : null}
          <ErrorBox>{formError}</ErrorBox>
          <div className="actions">
            {stepIndex > 0 ? (
              <button type="button" className="button" onClick={() => goToStep(stepIndex - 1, false)} disabled={busy}>
                ← Back
              </button>
            ) : null}
            <button type="submit" className="button primary" disabled={busy} aria-busy={busy}>
              {phase === "uploading" ? "Uploading…" : phase === "running" ? "Running…" : isLast ? "Run" : "Run and continue"}
            </button>
            {run && !isLast && run.status === "succeeded" && values[stepIndex + 1] ? (
              <button type="button" className="button" onClick={() => goToStep(stepIndex + 1, false)} disabled={busy}>
                Continue →
              </button>
            ) : null}
          </div>
        </form>
        <section className="panel outputs-panel" aria-labelledby="outputs-title" aria-live="polite">
          <h2 id="outputs-title" className="panel-title">
            Outputs
          </h2>
          {shownRun ? <RunStatusLine run={shownRun} onCancel={live && !TERMINAL.has(live.status) ? cancel : undefined} /> : null}
          {!shownRun && !busy ? <p className="muted">Run the model to see its outputs here.</p> : null}
          {!live && run?.status === "failed" ? <ErrorBox>{run.error || "The run failed."}</ErrorBox> : null}
          {!live && run && (run.status === "canceled" || run.status === "timed_out") ? <ErrorBox>{run.error || `The run ${run.status.replace("_", " ")}.`}</ErrorBox> : null}
          {!live
            ? outputsOf(run, step).map((spec) => <OutputBlock key={spec.name} spec={spec} value={run?.outputs?.[spec.name]} />)
            : null}
        </section>
      </div>
    </div>
  );
}

function PreviousResults({ step, run, skip }: { step: StepSpec; run: Run; skip: Set<string> }) {
  const shown = step.outputs.filter((o) => !skip.has(o.name) && run.outputs && o.name in run.outputs);
  if (!shown.length) return null;
  return (
    <details className="previous" open>
      <summary>Results of the previous step ({step.name.replace(/_/g, " ")})</summary>
      {shown.map((spec) => (
        <OutputBlock key={spec.name} spec={spec} value={run.outputs?.[spec.name]} />
      ))}
    </details>
  );
}

export function RunStatusLine({ run, onCancel }: { run: Run; onCancel?: () => void }) {
  const fraction = run.progress?.fraction;
  const terminal = TERMINAL.has(run.status);
  const total = run.metrics?.total_ms;
  const predict = run.metrics?.predict_ms;
  return (
    <div className="run-status">
      <div className="toolbar">
        <StatusBadge status={run.status} />
        {!terminal && run.progress?.message ? <span className="progress-message">{run.progress.message}</span> : null}
        {terminal && typeof total === "number" ? (
          <span className="muted">
            {Math.round(total)} ms{typeof predict === "number" ? ` (model ${Math.round(predict)} ms)` : ""}
          </span>
        ) : null}
        {onCancel ? (
          <button type="button" className="button small subtle" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      {!terminal ? (
        <progress
          className="progress"
          aria-label="Progress"
          max={1}
          value={typeof fraction === "number" ? Math.max(0, Math.min(1, fraction)) : undefined}
        />
      ) : null}
      {terminal ? (
        <p className="permalink">
          <Link to={permalink(run)}>Permalink to this run</Link>{" "}
          <CopyButton text={`${window.location.origin}${permalink(run)}`} label="Copy link" />
        </p>
      ) : null}
    </div>
  );
}
