/** "Use via API": curl, Python (feather.Client) and JavaScript (fetch) calls built from the manifest. */
import { useId, useState } from "react";
import { api, ApiError, apiPaths, baseUrl } from "../api";
import type { InputSpec, Manifest, StepSpec } from "../manifest";
import { options, tableColumns } from "../lib/form";
import { Link } from "../router";
import { useSession } from "../session";
import { CopyButton, Tabs } from "./ui";

type Lang = "curl" | "python" | "js";
const PLACEHOLDER = "YOUR_API_TOKEN";
const PREVIOUS = "RUN_ID_OF_THE_PREVIOUS_STEP";

const SAMPLE_FILES: Record<string, string> = {
  image: "https://example.com/picture.png",
  audio: "https://example.com/sound.wav",
  file: "https://example.com/document.pdf",
};

/** A plausible wire value for an input, for the examples. */
export function sampleValue(spec: InputSpec, forPython = false): unknown {
  if (spec.default !== null && spec.default !== undefined) return spec.default;
  const p = spec.props;
  switch (spec.kind) {
    case "text":
    case "editable_text":
      return typeof p.placeholder === "string" && p.placeholder ? p.placeholder : "Hello";
    case "number":
    case "slider": {
      const min = typeof p.minimum === "number" ? p.minimum : undefined;
      const max = typeof p.maximum === "number" ? p.maximum : undefined;
      if (min !== undefined) return min;
      if (max !== undefined) return Math.min(0, max);
      return p.integer === true ? 1 : 1.0;
    }
    case "checkbox":
      return true;
    case "choice":
      return options(p)[0] ?? null;
    case "multi_choice": {
      const count = Math.max(1, typeof p.min_selected === "number" ? p.min_selected : 1);
      return options(p).slice(0, count);
    }
    case "image":
    case "audio":
    case "file":
      return forPython ? `${spec.name}${spec.kind === "image" ? ".png" : spec.kind === "audio" ? ".wav" : ".pdf"}` : { url: SAMPLE_FILES[spec.kind] };
    case "table": {
      const { names, types } = tableColumns(p);
      const columns = names ?? ["a", "b"];
      const cell = (c: string) => (types?.[c] === "number" ? 1.5 : types?.[c] === "boolean" ? true : "x");
      if (forPython) return [Object.fromEntries(columns.map((c) => [c, cell(c)]))];
      return { columns, rows: [columns.map(cell)] };
    }
    case "pick_list":
    case "image_regions":
      return { selected: [0] };
    default:
      return null;
  }
}

function inputsFor(steps: StepSpec[], index: number, forPython: boolean): Record<string, unknown> {
  const step = steps[index];
  const previous = index > 0 ? steps[index - 1] : null;
  const out: Record<string, unknown> = {};
  for (const spec of step.inputs) {
    const fromPrevious = previous && (previous.outputs.some((o) => o.name === spec.name) || previous.inputs.some((i) => i.name === spec.name));
    if (fromPrevious && !(previous.interactive.includes(spec.name) || ["pick_list", "image_regions", "editable_text"].includes(spec.kind))) continue;
    if (index === 0 && !spec.required && spec.default !== null && spec.default !== undefined && step.inputs.length > 3) continue;
    out[spec.name] = sampleValue(spec, forPython);
  }
  return out;
}

/** JSON -> a Python literal. */
export function py(value: unknown, indent = 0): string {
  const pad = "    ".repeat(indent + 1);
  const end = "    ".repeat(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    const inner = value.map((v) => py(v, indent + 1));
    const flat = `[${inner.join(", ")}]`;
    return flat.length < 70 ? flat : `[\n${inner.map((v) => pad + v).join(",\n")},\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${py(v, indent + 1)}`);
  const flat = `{${entries.join(", ")}}`;
  return flat.length < 70 ? flat : `{\n${entries.map((v) => pad + v).join(",\n")},\n${end}}`;
}

const PY_KEYWORDS = new Set(["version", "step", "previous_run", "wait", "ref", "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield"]);

function indentJson(value: unknown, spaces: number): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${" ".repeat(spaces)}`);
}

export function curlSnippet(owner: string, name: string, steps: StepSpec[], index: number, token: string): string {
  const base = baseUrl();
  const body: Record<string, unknown> = index === 0 ? { inputs: inputsFor(steps, 0, false) } : { step: steps[index].name, previous_run: PREVIOUS, inputs: inputsFor(steps, index, false) };
  const json = JSON.stringify(body, null, 2).replace(/'/g, "'\\''");
  return [
    `curl -X POST "${base}${apiPaths.runs(owner, name)}" \\`,
    `  -H "Authorization: Bearer ${token}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -H "Prefer: wait" \\`,
    `  -d '${json}'`,
    "",
    "# A 202 answer means the run is still going: poll it until its status is final",
    `curl -H "Authorization: Bearer ${token}" "${base}${apiPaths.run("RUN_ID")}"`,
  ].join("\n");
}

export function pythonSnippet(owner: string, name: string, steps: StepSpec[], index: number, token: string): string {
  const ref = `${owner}/${name}`;
  const call = (inputs: Record<string, unknown>, extra: string[]) => {
    const names = Object.keys(inputs);
    if (names.some((n) => PY_KEYWORDS.has(n) || !/^[A-Za-z_]\w*$/.test(n))) {
      return `client.run_with(${JSON.stringify(ref)}, ${py(inputs)}${extra.map((e) => `, ${e}`).join("")})`;
    }
    const args = [JSON.stringify(ref), ...extra, ...names.map((n) => `${n}=${py(inputs[n], 1)}`)];
    const flat = `client.run(${args.join(", ")})`;
    return flat.length < 80 ? flat : `client.run(\n    ${args.join(",\n    ")},\n)`;
  };
  const lines = [
    "import feather",
    "",
    `client = feather.Client(${JSON.stringify(baseUrl())}, token=${JSON.stringify(token)})`,
  ];
  const first = steps[0];
  const fileNote = first.inputs.some((i) => ["image", "audio", "file"].includes(i.kind))
    ? ["# files: a path, bytes, a PIL image or a URL; large files are uploaded for you"]
    : [];
  lines.push(...fileNote);
  if (index === 0) {
    lines.push(`run = ${call(inputsFor(steps, 0, true), [])}`);
    for (const output of first.outputs) lines.push(`print(run.outputs[${JSON.stringify(output.name)}])`);
  } else {
    lines.push(`first = ${call(inputsFor(steps, 0, true), [])}`);
    for (let i = 1; i < index; i++) lines.push(`first = ${call(inputsFor(steps, i, true), [`step=${JSON.stringify(steps[i].name)}`, "previous_run=first.id"])}`);
    const prev = steps[index - 1];
    for (const name2 of prev.interactive) lines.push(`print(first.outputs[${JSON.stringify(name2)}])  # what to choose from`);
    lines.push(`run = ${call(inputsFor(steps, index, true), [`step=${JSON.stringify(steps[index].name)}`, "previous_run=first.id"])}`);
    for (const output of steps[index].outputs) lines.push(`print(run.outputs[${JSON.stringify(output.name)}])`);
  }
  return lines.join("\n");
}

export function jsSnippet(owner: string, name: string, steps: StepSpec[], index: number, token: string): string {
  const base = baseUrl();
  const body: Record<string, unknown> = index === 0 ? { inputs: inputsFor(steps, 0, false) } : { step: steps[index].name, previous_run: PREVIOUS, inputs: inputsFor(steps, index, false) };
  return [
    `const headers = { Authorization: "Bearer ${token}" };`,
    `const response = await fetch("${base}${apiPaths.runs(owner, name)}", {`,
    `  method: "POST",`,
    `  headers: { ...headers, "Content-Type": "application/json", Prefer: "wait" },`,
    `  body: JSON.stringify(${indentJson(body, 2)}),`,
    `});`,
    `let run = await response.json();`,
    `if (!response.ok) throw new Error(JSON.stringify(run.detail));`,
    `while (!["succeeded", "failed", "canceled", "timed_out"].includes(run.status)) {`,
    `  await new Promise((resolve) => setTimeout(resolve, 500));`,
    `  run = await (await fetch(\`${base}/v1/runs/\${run.id}\`, { headers })).json();`,
    `}`,
    `console.log(run.status, run.outputs ?? run.error);`,
  ].join("\n");
}

export default function ApiSnippets({ owner, name, manifest }: { owner: string; name: string; manifest: Manifest }) {
  const [lang, setLang] = useState<Lang>("curl");
  const [token, setToken] = useState("");
  const [stepIndex, setStepIndex] = useState(0);
  const [minting, setMinting] = useState<string | null>(null);
  const { user } = useSession();
  const id = useId();
  // tokens are stored hashed, so an existing one cannot be shown: a logged-in user can make a
  // fresh one for these snippets instead (it appears on the Tokens page, where it can be revoked)
  const mint = async () => {
    setMinting("Creating…");
    try {
      const made = await api.createToken(`snippets for ${owner}/${name}`);
      setToken(made.token);
      setMinting(null);
    } catch (e) {
      setMinting(e instanceof ApiError ? e.message : String(e));
    }
  };
  const steps = manifest.steps;
  const shownToken = token.trim() || PLACEHOLDER;
  const code =
    lang === "curl"
      ? curlSnippet(owner, name, steps, stepIndex, shownToken)
      : lang === "python"
        ? pythonSnippet(owner, name, steps, stepIndex, shownToken)
        : jsSnippet(owner, name, steps, stepIndex, shownToken);
  return (
    <section className="panel api-panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="panel-title">
        Use via API
      </h2>
      <p className="hint">
        Send the inputs as JSON; files are <code>{"{\"url\": ...}"}</code> values: a <code>data:</code> URL up to 256 KiB, a link, or what{" "}
        <code>POST /v1/files</code> answers. Get a token on the <Link to="/tokens">Tokens</Link> page.
      </p>
      <div className="api-options">
        <div className="field">
          <label htmlFor={`${id}-token`}>Your API token (optional, stays in this page)</label>
          <input
            id={`${id}-token`}
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder={PLACEHOLDER}
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
          {user && !token ? (
            <button type="button" className="button small" onClick={() => void mint()} disabled={minting === "Creating…"}>
              Fill in a new token
            </button>
          ) : null}
          {minting && minting !== "Creating…" ? <p className="error" role="alert">{minting}</p> : null}
        </div>
        {steps.length > 1 ? (
          <div className="field">
            <label htmlFor={`${id}-step`}>Step</label>
            <select id={`${id}-step`} value={stepIndex} onChange={(e) => setStepIndex(Number(e.target.value))}>
              {steps.map((s, i) => (
                <option key={s.name} value={i}>
                  {i + 1}. {s.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </div>
      {stepIndex > 0 ? (
        <p className="hint">
          Step {stepIndex + 1} continues a run of step {stepIndex}: send its id as <code>previous_run</code> and the choices for its interactive outputs as{" "}
          <code>{"{\"selected\": [index, ...]}"}</code>. To run every step in one call, send <code>"chain": true</code> with{" "}
          <code>{"\"choices\": {\"<step>\": {\"<input>\": choice}}"}</code>.
        </p>
      ) : null}
      <Tabs<Lang>
        label="Language"
        tabs={[
          { id: "curl", label: "cURL" },
          { id: "python", label: "Python" },
          { id: "js", label: "JavaScript" },
        ]}
        active={lang}
        onChange={setLang}
      />
      <div role="tabpanel" id={`panel-${lang}`} aria-labelledby={`tab-${lang}`} className="snippet">
        <div className="toolbar">
          <CopyButton text={code} label="Copy code" />
        </div>
        <pre className="code" tabIndex={0}>
          <code>{code}</code>
        </pre>
      </div>
      <p className="hint">
        Python needs the feather SDK; <code>client.submit(...)</code> returns at once with a job, and <code>client.run_chain(...)</code> runs every step in one call.
      </p>
    </section>
  );
}
