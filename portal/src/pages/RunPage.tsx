/** /runs/:id — a shareable run: the model, the inputs and the outputs (followed live until it ends,
 * the outputs as they are written). */
import { useEffect, useState } from "react";
import { api, ApiError, TERMINAL, type ModelDetail, type Run } from "../api";
import { JsonView, OutputBlock, OutputValue } from "../components/outputs";
import { RunStatusLine } from "../components/Runner";
import { followRun } from "../lib/follow";
import { ErrorBox, Spinner, when } from "../components/ui";
import type { InputSpec, OutputSpec, StepSpec } from "../manifest";
import { Link } from "../router";

const INPUT_AS_OUTPUT: Record<string, string> = {
  text: "text",
  editable_text: "text",
  number: "number",
  slider: "number",
  image: "image",
  audio: "audio",
  file: "file",
  table: "table",
  pick_list: "pick_list",
  image_regions: "image_regions",
};

function InputShown({ spec, value }: { spec: InputSpec; value: unknown }) {
  let shown: unknown = value;
  let kind = INPUT_AS_OUTPUT[spec.kind] ?? "json";
  if (spec.kind === "checkbox") {
    kind = "text";
    shown = value === true ? "Yes" : "No";
  } else if (spec.kind === "choice") {
    kind = "text";
    shown = String(value);
  } else if (spec.kind === "multi_choice" && Array.isArray(value)) {
    kind = "text";
    shown = value.map(String).join(", ") || "(none)";
  } else if (spec.kind === "pick_list" && Array.isArray(value)) {
    // the step received the chosen strings
    kind = "text";
    shown = value.join(", ");
  }
  return (
    <section className="output" aria-label={spec.label} data-kind={spec.kind}>
      <h3 className="output-title">{spec.label}</h3>
      <OutputValue kind={kind} value={shown} label={spec.label} />
    </section>
  );
}

export default function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<Run | null>(null);
  const [model, setModel] = useState<ModelDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    document.title = `Run ${id} · feather`;
    let alive = true;
    const following = new AbortController();
    const load = async () => {
      try {
        const found = await api.run(id, following.signal, new URLSearchParams(window.location.search).get("token"));
        if (!alive) return;
        setRun(found);
        if (found.model?.includes("/")) {
          const [owner, name] = found.model.split("/", 2);
          api.model(owner, name).then(
            (m) => alive && setModel(m),
            () => undefined, // the run still shows, with generic views
          );
        }
        if (!TERMINAL.has(found.status)) await followRun(found, setRun, following.signal);
      } catch (e) {
        if (alive) setError(e instanceof ApiError ? (e.status === 404 ? "There is no such run." : e.message) : String(e));
      }
    };
    void load();
    return () => {
      alive = false;
      following.abort(); // closes the run's stream
    };
  }, [id]);

  if (error) {
    return (
      <div className="page">
        <h1>Run</h1>
        <ErrorBox>{error}</ErrorBox>
      </div>
    );
  }
  if (!run) {
    return (
      <div className="page">
        <h1>Run</h1>
        <Spinner label="Loading the run" />
      </div>
    );
  }
  const [owner, name] = run.model.split("/", 2);
  const step: StepSpec | undefined = model?.manifest?.steps.find((s) => s.name === run.step);
  const inputs = run.inputs ?? {};
  const outputs = run.outputs ?? {};
  const inputSpecs: InputSpec[] = step
    ? step.inputs.filter((s) => s.name in inputs)
    : Object.keys(inputs).map((key) => ({ name: key, kind: "json", label: key, description: null, required: false, default: null, props: {}, schema: {} }));
  const outputSpecs: OutputSpec[] = step
    ? step.outputs.filter((s) => s.name in outputs)
    : Object.keys(outputs).map((key) => ({ name: key, kind: guessKind(outputs[key]), label: key, description: null, props: {}, schema: {} }));
  const multi = (model?.manifest?.steps.length ?? 1) > 1;

  return (
    <div className="page run-page">
      <header className="model-head">
        <h1>
          Run of{" "}
          <Link to={`/m/${encodeURIComponent(owner)}/${encodeURIComponent(name ?? "")}`}>
            {owner}/{name}
          </Link>
        </h1>
        <p className="meta">
          <span className="muted mono">{run.id}</span>
          {run.version ? <span className="muted">version {run.version}</span> : null}
          {multi && run.step ? <span className="muted">step {run.step}</span> : null}
          {run.created_at ? <span className="muted">{when(run.created_at)}</span> : null}
        </p>
      </header>
      <RunStatusLine run={run} />
      {run.status === "failed" || run.status === "timed_out" || run.status === "canceled" ? <ErrorBox>{run.error || `The run ${run.status.replace("_", " ")}.`}</ErrorBox> : null}
      <div className="runner-grid">
        <section className="panel" aria-labelledby="run-inputs">
          <h2 id="run-inputs" className="panel-title">
            Inputs
          </h2>
          {inputSpecs.length === 0 ? <p className="muted">No inputs.</p> : inputSpecs.map((spec) => <InputShown key={spec.name} spec={spec} value={inputs[spec.name]} />)}
        </section>
        <section className="panel" aria-labelledby="run-outputs">
          <h2 id="run-outputs" className="panel-title">
            Outputs
          </h2>
          {!TERMINAL.has(run.status) && outputSpecs.length === 0 ? <Spinner label="Waiting for the outputs" /> : null}
          {TERMINAL.has(run.status) && outputSpecs.length === 0 ? <p className="muted">No outputs.</p> : null}
          {outputSpecs.map((spec) => (
            <OutputBlock key={spec.name} spec={spec} value={outputs[spec.name]} streaming={!TERMINAL.has(run.status)} />
          ))}
        </section>
      </div>
      {Array.isArray(run.steps) && run.steps.length > 1 ? (
        <details className="panel">
          <summary>Every step of this chain</summary>
          <JsonView value={run.steps} />
        </details>
      ) : null}
      {run.logs ? (
        <details className="panel">
          <summary>Logs (only you, the model's owner, see them)</summary>
          <pre className="code log">{run.logs}</pre>
        </details>
      ) : null}
    </div>
  );
}

function guessKind(value: unknown): string {
  if (typeof value === "string") return "text";
  if (typeof value === "number") return "number";
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    if (typeof v.url === "string") {
      const type = String(v.content_type ?? "");
      return type.startsWith("image/") ? "image" : type.startsWith("audio/") ? "audio" : "file";
    }
    if (Array.isArray(v.columns) && Array.isArray(v.rows)) return "table";
    if (typeof v.label === "string" && Array.isArray(v.confidences)) return "label";
    if (Array.isArray(v.items)) return "gallery";
  }
  return "json";
}
