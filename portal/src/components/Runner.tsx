/**
 * The model form's layout: the steps, the inputs panel and the outputs panel. What it shows and
 * does is the wizard's state (hooks/useWizard.ts).
 */
import { TERMINAL, permalink, type Run } from "../api";
import { useWizard } from "../hooks/useWizard";
import type { Manifest, StepSpec } from "../manifest";
import { initialValue } from "../lib/form";
import { Link } from "../router";
import { FeedbackBar } from "./FeedbackBar";
import { InputWidget } from "./inputs";
import { OutputBlock } from "./outputs";
import { CopyButton, ErrorBox, StatusBadge } from "./ui";

interface Props {
  owner: string;
  name: string;
  manifest: Manifest;
}

export function Runner({ owner, name, manifest }: Props) {
  const wizard = useWizard(owner, name, manifest);
  const { steps, step, stepIndex, plan, current, previousRun, run, live, isLast, busy, phase, errors, formError, examples } = wizard;
  const shownRun = live ?? run;
  const outputsOf = (r: Run | null, s: StepSpec) => (r?.outputs ? s.outputs.filter((o) => o.name in (r.outputs ?? {})) : []);

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
        <form ref={wizard.formRef} className="panel inputs-panel" onSubmit={wizard.submit} noValidate aria-labelledby={`step-title-${stepIndex}`}>
          <h2 id={`step-title-${stepIndex}`} className="panel-title">
            {steps.length > 1 ? `Step ${stepIndex + 1} of ${steps.length}: ${step.name.replace(/_/g, " ")}` : "Inputs"}
          </h2>
          {step.description ? <p className="hint">{step.description}</p> : null}
          {examples.length ? (
            <div className="examples">
              <h3 className="small-title">Examples</h3>
              <div className="toolbar">
                {examples.map((example, i) => (
                  <button key={i} type="button" className="button small" onClick={() => wizard.loadExample(example.inputs)}>
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
              onChange={(value) => wizard.setValue(spec.name, value)}
              onError={(message) => wizard.setFieldError(spec.name, message)}
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
              <button type="button" className="button" onClick={wizard.back} disabled={busy}>
                ← Back
              </button>
            ) : null}
            <button type="submit" className="button primary" disabled={busy} aria-busy={busy}>
              {phase === "uploading" ? "Uploading…" : phase === "running" ? "Running…" : isLast ? "Run" : "Run and continue"}
            </button>
            {wizard.canContinue ? (
              <button type="button" className="button" onClick={wizard.forward} disabled={busy}>
                Continue →
              </button>
            ) : null}
          </div>
        </form>
        <section className="panel outputs-panel" aria-labelledby="outputs-title" aria-live="polite">
          <h2 id="outputs-title" className="panel-title">
            Outputs
          </h2>
          {shownRun ? <RunStatusLine run={shownRun} onCancel={live && !TERMINAL.has(live.status) ? wizard.cancel : undefined} /> : null}
          {!shownRun && !busy ? <p className="muted">Run the model to see its outputs here.</p> : null}
          {!live && run?.status === "failed" ? <ErrorBox>{run.error || "The run failed."}</ErrorBox> : null}
          {!live && run && (run.status === "canceled" || run.status === "timed_out") ? <ErrorBox>{run.error || `The run ${run.status.replace("_", " ")}.`}</ErrorBox> : null}
          {live
            ? // the outputs so far, while a streaming step writes them
              outputsOf(live, step).map((spec) => (
                <OutputBlock key={spec.name} spec={spec} value={live.outputs?.[spec.name]} streaming={!TERMINAL.has(live.status)} />
              ))
            : run?.status === "succeeded"
              ? outputsOf(run, step).map((spec) => <OutputBlock key={spec.name} spec={spec} value={run.outputs?.[spec.name]} />)
              : null}
          {!live && run && TERMINAL.has(run.status) ? <FeedbackBar key={run.id} run={run} step={step} /> : null}
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
