/**
 * /m/:owner/:name/dashboard — the owner's view of a model's use: runs by status, latency,
 * queue against model time, versions side by side, drift field by field, feedback and accuracy,
 * and the runs themselves to filter and export. Refreshes every few seconds.
 */
import { useCallback, useEffect, useMemo, useState } from "react";
import {
  api,
  ApiError,
  type Drift,
  type Alerts,
  type DriftField,
  type FeedbackSummary,
  type Metrics,
  type ModelDetail,
  type Run,
  type WindowQuery,
} from "../api";
import { Chart, type Series } from "../components/Chart";
import { ErrorBox, Spinner, StatusBadge } from "../components/ui";
import { Link } from "../router";
import { RequireLogin } from "./RequireLogin";

export const REFRESH_MS = 5000;
export const RANGES = [
  { key: "10m", label: "10 min", ms: 10 * 60_000 },
  { key: "1h", label: "1 h", ms: 3_600_000 },
  { key: "24h", label: "24 h", ms: 86_400_000 },
  { key: "7d", label: "7 d", ms: 7 * 86_400_000 },
  { key: "90d", label: "90 d", ms: 90 * 86_400_000 },
] as const;
type RangeKey = (typeof RANGES)[number]["key"];
const STATUSES = ["succeeded", "failed", "timed_out", "canceled"] as const;
const COLORS = { succeeded: "#2f855a", failed: "#c53030", timed_out: "#b7791f", canceled: "#718096", p50: "#3182ce", p95: "#805ad5", p99: "#d53f8c" };

export function windowOf(range: RangeKey, now = Date.now()): WindowQuery {
  const ms = RANGES.find((r) => r.key === range)!.ms;
  return { from: new Date(now - ms).toISOString(), to: new Date(now).toISOString(), step: ms <= 6 * 3_600_000 ? "1m" : "1h" };
}

interface Data {
  metrics: Metrics;
  versions: Array<{ version: number; metrics: Metrics }>;
  drift: Drift | null;
  feedback: FeedbackSummary;
  runs: Run[];
  alerts: Alerts;
}

export default function DashboardPage({ owner, name }: { owner: string; name: string }) {
  return (
    <RequireLogin>
      <Dashboard owner={owner} name={name} />
    </RequireLogin>
  );
}

function Dashboard({ owner, name }: { owner: string; name: string }) {
  const [range, setRange] = useState<RangeKey>("24h");
  const [model, setModel] = useState<ModelDetail | null>(null);
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (signal: AbortSignal) => {
      const window = windowOf(range);
      const detail = model ?? (await api.model(owner, name, signal));
      if (!model) setModel(detail);
      const recent = (detail.versions ?? []).map((v) => v.version).sort((a, b) => b - a).slice(0, 5);
      const [metrics, feedback, runs, alerts, drift, ...perVersion] = await Promise.all([
        api.metrics(owner, name, window, signal),
        api.feedbackSummary(owner, name, window, signal),
        api.modelRuns(owner, name, 200, signal),
        api.alerts(owner, name, signal),
        api.drift(owner, name, window, signal).catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e))),
        ...recent.map((version) => api.metrics(owner, name, { ...window, version }, signal)),
      ]);
      setData({ metrics, feedback, alerts, runs: runs.items ?? [], drift, versions: recent.map((version, i) => ({ version, metrics: perVersion[i] })) });
      setError(null);
    },
    [owner, name, range, model],
  );

  useEffect(() => {
    document.title = `Dashboard of ${owner}/${name} · feather`;
    let controller = new AbortController();
    const tick = () => {
      controller.abort();
      controller = new AbortController();
      load(controller.signal).catch((e) => {
        if ((e as Error).name !== "AbortError") setError(e instanceof ApiError ? e.message : String(e));
      });
    };
    tick();
    const timer = window.setInterval(() => {
      if (document.visibilityState !== "hidden") tick();
    }, REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controller.abort();
    };
  }, [load, owner, name]);

  return (
    <div className="page dashboard">
      <p className="crumbs">
        <Link to={`/m/${owner}/${name}`}>
          {owner}/{name}
        </Link>{" "}
        › dashboard
      </p>
      <h1>Dashboard</h1>
      <div className="toolbar" role="group" aria-label="Time range">
        {RANGES.map((r) => (
          <button key={r.key} type="button" className={`button small${r.key === range ? " primary" : ""}`} aria-pressed={r.key === range} onClick={() => setRange(r.key)}>
            {r.label}
          </button>
        ))}
        <span className="muted">refreshed every {REFRESH_MS / 1000} s</span>
      </div>
      <ErrorBox>{error}</ErrorBox>
      {!data && !error ? <Spinner label="Loading the dashboard" /> : null}
      {data ? <Panels data={data} /> : null}
    </div>
  );
}

function ms(value: number | null | undefined): string {
  return typeof value === "number" ? `${Math.round(value)} ms` : "–";
}

function pct(value: number | null | undefined): string {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "–";
}

function Panels({ data }: { data: Data }) {
  const { metrics, feedback } = data;
  const times = useMemo(() => metrics.series.map((b) => Date.parse(b.start) / 1000), [metrics]);
  const byStatus: Series[] = useMemo(
    () => [
      { label: "succeeded", values: metrics.series.map((b) => b.succeeded), color: COLORS.succeeded },
      ...(["failed", "timed_out", "canceled"] as const).map((s) => ({ label: s.replace("_", " "), values: metrics.series.map((b) => b.errors_by_kind[s]), color: COLORS[s] })),
    ],
    [metrics],
  );
  const latency: Series[] = useMemo(
    () => (["p50", "p95", "p99"] as const).map((p) => ({ label: p, values: metrics.series.map((b) => b.latency_ms[p]), color: COLORS[p] })),
    [metrics],
  );
  const split: Series[] = useMemo(
    () => [
      { label: "queue p50", values: metrics.series.map((b) => b.queue_ms.p50), color: COLORS.timed_out },
      { label: "model p50", values: metrics.series.map((b) => b.predict_ms.p50), color: COLORS.p50 },
    ],
    [metrics],
  );
  const span: [number, number] = [Date.parse(metrics.from) / 1000, Date.parse(metrics.to) / 1000];
  const accuracyTimes = useMemo(() => feedback.series.map((b) => Date.parse(b.start) / 1000), [feedback]);
  const accuracy: Series[] = useMemo(() => [{ label: "accuracy", values: feedback.series.map((b) => b.accuracy), color: COLORS.succeeded }], [feedback]);

  return (
    <>
      <section className="tiles" aria-label="Totals">
        <Tile label="Runs" value={String(metrics.runs)} />
        <Tile label="Error rate" value={pct(metrics.error_rate)} />
        <Tile label="Latency p50" value={ms(metrics.latency_ms.p50)} />
        <Tile label="Latency p95" value={ms(metrics.latency_ms.p95)} />
        <Tile label="Latency p99" value={ms(metrics.latency_ms.p99)} />
        <Tile label="Queue / model (mean)" value={`${ms(metrics.queue_ms.mean)} / ${ms(metrics.predict_ms.mean)}`} />
      </section>
      <section className="panel">
        <h2 className="panel-title">Runs by status</h2>
        <Chart title="Runs by status" xRange={span} x={times} series={byStatus} xLabels={metrics.series.map((b) => b.start)} />
        <h2 className="panel-title">Latency</h2>
        <Chart title="Latency" xRange={span} x={times} series={latency} unit=" ms" xLabels={metrics.series.map((b) => b.start)} />
        <h2 className="panel-title">Queue time and model time</h2>
        <Chart title="Queue and model time" xRange={span} x={times} series={split} unit=" ms" xLabels={metrics.series.map((b) => b.start)} />
      </section>
      <AlertList alerts={data.alerts} />
      <VersionTable versions={data.versions} />
      <DriftTable drift={data.drift} />
      <section className="panel" aria-labelledby="feedback-title">
        <h2 className="panel-title" id="feedback-title">
          Feedback
        </h2>
        <p>
          thumbs up <span data-testid="thumbs-up">{feedback.up}</span> · thumbs down <span data-testid="thumbs-down">{feedback.down}</span> · stars{" "}
          {feedback.stars.mean ?? "–"} ({feedback.stars.n}) · accuracy <strong data-testid="accuracy">{pct(feedback.accuracy)}</strong> over {feedback.labelled}{" "}
          labelled runs
        </p>
        {feedback.series.length ? <Chart title="Accuracy" xRange={span} x={accuracyTimes} series={accuracy} xLabels={feedback.series.map((b) => b.start)} /> : null}
      </section>
      <RunExplorer runs={data.runs} />
    </>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div className="tile">
      <div className="tile-label">{label}</div>
      <div className="tile-value">{value}</div>
    </div>
  );
}

function AlertList({ alerts }: { alerts: Alerts }) {
  return (
    <section className="panel" aria-labelledby="alerts-title">
      <h2 className="panel-title" id="alerts-title">
        Alerts
      </h2>
      {!alerts.rules.length ? (
        <p className="muted">
          No alert rules. Set them with <code>PUT /v1/models/…/alerts</code>.
        </p>
      ) : (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">rule</th>
              <th scope="col">watches</th>
              <th scope="col">state</th>
              <th scope="col">last value</th>
            </tr>
          </thead>
          <tbody>
            {alerts.rules.map((rule) => (
              <tr key={rule.name}>
                <th scope="row">{rule.name}</th>
                <td>
                  {rule.metric.replace("_", " ")} {rule.metric === "accuracy" ? "below" : "above"} {rule.threshold} over {rule.window_min} min
                </td>
                <td>{rule.state === "firing" ? <StatusBadge status="failed" /> : "ok"}</td>
                <td>{rule.value === null ? "–" : rule.value.toPrecision(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function VersionTable({ versions }: { versions: Data["versions"] }) {
  if (!versions.length) return null;
  return (
    <section className="panel" aria-labelledby="versions-title">
      <h2 className="panel-title" id="versions-title">
        Versions
      </h2>
      <table className="data">
        <thead>
          <tr>
            <th scope="col">version</th>
            <th scope="col">runs</th>
            <th scope="col">error rate</th>
            <th scope="col">p50</th>
            <th scope="col">p95</th>
          </tr>
        </thead>
        <tbody>
          {versions.map(({ version, metrics }) => (
            <tr key={version}>
              <th scope="row">{version}</th>
              <td>{metrics.runs}</td>
              <td>{pct(metrics.error_rate)}</td>
              <td>{ms(metrics.latency_ms.p50)}</td>
              <td>{ms(metrics.latency_ms.p95)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function DriftTable({ drift }: { drift: Drift | null }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section className="panel" aria-labelledby="drift-title">
      <h2 className="panel-title" id="drift-title">
        Drift
      </h2>
      {!drift ? <p className="muted">No runs to compare yet.</p> : null}
      {drift ? (
        <>
          <p>
            Version {drift.version}: <strong>{drift.drifted ? "drifting" : "no drift"}</strong> — {drift.drifted_fields} of {drift.fields.length} fields drifted (
            {pct(drift.share)}), {drift.current_rows} runs against{" "}
            {drift.reference.pinned ? `the pinned window (${drift.reference_rows} runs)` : `the version's first ${drift.reference_rows} runs`}.
          </p>
          <table className="data">
            <thead>
              <tr>
                <th scope="col">field</th>
                <th scope="col">test</th>
                <th scope="col">score</th>
                <th scope="col">threshold</th>
                <th scope="col">drifted</th>
              </tr>
            </thead>
            <tbody>
              {drift.fields.map((f) => (
                <tr key={f.field}>
                  <th scope="row">
                    <button type="button" className="link" onClick={() => setOpen(open === f.field ? null : f.field)} aria-expanded={open === f.field}>
                      {f.field}
                    </button>
                  </th>
                  <td>{f.test.replace("_", " ")}</td>
                  <td>{f.score.toPrecision(3)}</td>
                  <td>{f.threshold}</td>
                  <td>{f.drifted ? <StatusBadge status="failed" /> : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {open ? <Distribution field={drift.fields.find((f) => f.field === open)!} /> : null}
        </>
      ) : null}
    </section>
  );
}

function Distribution({ field }: { field: DriftField }) {
  const labels = field.categories ?? (field.bins ?? []).slice(0, -1).map((b, i) => `${b.toPrecision(3)}–${(field.bins ?? [])[i + 1].toPrecision(3)}`);
  const x = labels.map((_, i) => i);
  const share = (counts: number[]) => {
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    return counts.map((c) => Math.round((c / total) * 1000) / 10);
  };
  return (
    <Chart
      title={`${field.field}: reference and current (%)`}
      bars
      x={x}
      xLabels={labels}
      series={[
        { label: "reference", values: share(field.reference), color: COLORS.p50 },
        { label: "current", values: share(field.current), color: COLORS.failed },
      ]}
    />
  );
}

export function toCsv(runs: Run[]): string {
  const quote = (v: unknown) => {
    const text = typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const columns = ["id", "version", "step", "status", "requested_at", "total_ms", "inputs", "outputs", "error", "feedback"] as const;
  return [columns.join(","), ...runs.map((r) => columns.map((c) => quote((r as unknown as Record<string, unknown>)[c])).join(","))].join("\n") + "\n";
}

function download(text: string, name: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

function Filter({ label, value, onChange, options }: { label: string; value: string; onChange: (value: string) => void; options: Array<[string, string]> }) {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">any</option>
        {options.map(([key, text]) => (
          <option key={key} value={key}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

function RunExplorer({ runs }: { runs: Run[] }) {
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState("");
  const [rated, setRated] = useState("");
  const versions = [...new Set(runs.map((r) => r.version))].sort();
  const shown = runs.filter(
    (r) =>
      (!status || r.status === status) &&
      (!version || String(r.version) === version) &&
      (!rated || (rated === "with" ? Boolean((r as unknown as { feedback?: unknown }).feedback) : !(r as unknown as { feedback?: unknown }).feedback)),
  );
  return (
    <section className="panel" aria-labelledby="explorer-title">
      <h2 className="panel-title" id="explorer-title">
        Runs
      </h2>
      <div className="toolbar">
        <Filter label="status" value={status} onChange={setStatus} options={STATUSES.map((s) => [s, s])} />
        <Filter label="version" value={version} onChange={setVersion} options={versions.map((v) => [String(v), String(v)])} />
        <Filter label="feedback" value={rated} onChange={setRated} options={[["with", "with feedback"], ["without", "without"]]} />
        <button type="button" className="button small" onClick={() => download(toCsv(shown), "runs.csv", "text/csv")}>
          Export CSV
        </button>
        <button type="button" className="button small" onClick={() => download(shown.map((r) => JSON.stringify(r)).join("\n") + "\n", "runs.jsonl", "application/x-ndjson")}>
          Export JSONL
        </button>
        <span className="muted">{shown.length} runs</span>
      </div>
      <table className="data">
        <thead>
          <tr>
            <th scope="col">run</th>
            <th scope="col">version</th>
            <th scope="col">status</th>
            <th scope="col">when</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(0, 100).map((r) => (
            <tr key={r.id}>
              <th scope="row">
                <Link to={`/runs/${encodeURIComponent(r.id)}`}>{r.id}</Link>
              </th>
              <td>{r.version}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{(r as unknown as { requested_at?: string }).requested_at ?? r.created_at ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
