/**
 * /m/:owner/:name/dashboard — the owner's view of a model's use: runs by status, latency,
 * queue against model time, versions side by side, each input's and output's profile, drift field
 * by field, feedback and accuracy, and the runs themselves to filter and export. Refreshes every
 * few seconds. The owner also edits the alert rules and pins the window drift is measured against.
 */
import { useCallback, useEffect, useMemo, useReducer, useState, type FormEvent, type ReactNode } from "react";
import {
  api,
  ApiError,
  bodyFields,
  type AlertMetric,
  type AlertRule,
  type Drift,
  type Alerts,
  type DriftField,
  type FeedbackSummary,
  type FieldProfile,
  type Metrics,
  type ModelDetail,
  type Profiles,
  type Run,
  type WindowQuery,
} from "../api";
import { Chart, type Series } from "../components/Chart";
import { CopyButton, describedBy, ErrorBox, Field, plural, Spinner, StatusBadge, when } from "../components/ui";
import { Link } from "../router";
import { useSession } from "../session";
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

/** A refusal with one of these statuses reads as "nothing to show" rather than as an error. */
const nullOn =
  (...statuses: number[]) =>
  (e: unknown) =>
    e instanceof ApiError && statuses.includes(e.status) ? null : Promise.reject(e);

export function windowOf(range: RangeKey, now = Date.now()): WindowQuery {
  const ms = RANGES.find((r) => r.key === range)!.ms;
  return { from: new Date(now - ms).toISOString(), to: new Date(now).toISOString(), step: ms <= 6 * 3_600_000 ? "1m" : "1h" };
}

interface Data {
  range: RangeKey;
  period: WindowQuery;
  versionNumbers: number[];
  metrics: Metrics;
  versions: Array<{ version: number; metrics: Metrics }>;
  drift: Drift | null;
  /** null for anyone but the owner: profiles describe callers' data */
  profiles: Profiles | null;
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

/** What the owner's editors need to change the model's settings and show the result. */
interface Control {
  owner: string;
  name: string;
  owned: boolean;
  reload: () => void;
}

function Dashboard({ owner, name }: { owner: string; name: string }) {
  const { user } = useSession();
  const [range, setRange] = useState<RangeKey>("24h");
  const [model, setModel] = useState<ModelDetail | null>(null);
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  // a change the owner saved is shown at once, not at the next tick
  const [changes, reload] = useReducer((n: number) => n + 1, 0);
  const owned = user?.username === owner;
  const control = useMemo<Control>(() => ({ owner, name, owned, reload }), [owner, name, owned]);

  const load = useCallback(
    async (signal: AbortSignal) => {
      const window = windowOf(range);
      const detail = model ?? (await api.model(owner, name, signal));
      if (!model) setModel(detail);
      const versionNumbers = (detail.versions ?? []).map((v) => v.version).sort((a, b) => b - a);
      const recent = versionNumbers.slice(0, 5);
      const [metrics, feedback, runs, alerts, drift, profiles, ...perVersion] = await Promise.all([
        api.metrics(owner, name, window, signal),
        api.feedbackSummary(owner, name, window, signal),
        api.modelRuns(owner, name, 200, signal),
        api.alerts(owner, name, signal),
        api.drift(owner, name, window, signal).catch(nullOn(404)),
        // the gateway refuses anyone else: not asked for them, and a refusal hides the section
        owned ? api.profiles(owner, name, window, signal).catch(nullOn(401, 403)) : null,
        ...recent.map((version) => api.metrics(owner, name, { ...window, version }, signal)),
      ]);
      setData({
        range,
        period: window,
        versionNumbers,
        metrics,
        feedback,
        alerts,
        runs: runs.items ?? [],
        drift,
        profiles,
        versions: recent.map((version, i) => ({ version, metrics: perVersion[i] })),
      });
      setError(null);
    },
    [owner, name, range, model, owned],
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
  }, [load, owner, name, changes]);

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
      {data ? <Panels data={data} control={control} /> : null}
    </div>
  );
}

function ms(value: number | null | undefined): string {
  return typeof value === "number" ? `${Math.round(value)} ms` : "–";
}

function pct(value: number | null | undefined): string {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "–";
}

function Panels({ data, control }: { data: Data; control: Control }) {
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
      <AlertPanel alerts={data.alerts} control={control} />
      <VersionTable versions={data.versions} />
      {data.profiles ? <FieldTable profiles={data.profiles} span={span} /> : null}
      <DriftTable drift={data.drift}>
        {control.owned && data.drift ? (
          <PinReference key={data.range} control={control} period={data.period} versions={data.versionNumbers} version={data.drift.version} />
        ) : null}
      </DriftTable>
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

const METRICS: AlertMetric[] = ["error_rate", "p95_ms", "drift_share", "accuracy"];
const RULE_FIELDS = ["name", "metric", "threshold", "window_min", "min_runs"] as const;
type RuleDraft = Record<(typeof RULE_FIELDS)[number], string>;
const NEW_RULE: RuleDraft = { name: "", metric: "error_rate", threshold: "0.05", window_min: "10", min_runs: "10" };
const RULE_LABELS: RuleDraft = { name: "Name", metric: "Metric", threshold: "Threshold", window_min: "Window (min)", min_runs: "Minimum runs" };
// the errors the editor shows by their field; any other goes above the buttons
const PLACED = new RegExp(`^(webhook|rules\\.\\d+\\.(${RULE_FIELDS.join("|")}))$`);
const WEBHOOK_HINT = "An https URL each alert that fires or resolves is POSTed to; empty for none.";

function watches(rule: AlertRule): string {
  return `${rule.metric.replace("_", " ")} ${rule.metric === "accuracy" ? "below" : "above"} ${rule.threshold} over ${rule.window_min} min`;
}

// an empty or unreadable number goes out as NaN, which JSON sends as null: the server then names the field
const number = (text: string) => (text.trim() ? Number(text) : NaN);

function AlertPanel({ alerts, control }: { alerts: Alerts; control: Control }) {
  const [draft, setDraft] = useState<{ rules: RuleDraft[]; webhook: string } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const edit = () => {
    setSaved(null);
    setDraft({
      webhook: alerts.webhook ?? "",
      rules: alerts.rules.map((r) => ({ name: r.name, metric: r.metric, threshold: String(r.threshold), window_min: String(r.window_min), min_runs: String(r.min_runs) })),
    });
  };
  const change = (index: number, field: keyof RuleDraft, value: string) =>
    setDraft((d) => d && { ...d, rules: d.rules.map((r, i) => (i === index ? { ...r, [field]: value } : r)) });
  const remove = (index: number) => {
    setErrors({}); // they name rules by position
    setDraft((d) => d && { ...d, rules: d.rules.filter((_, i) => i !== index) });
  };

  const cancel = () => {
    setDraft(null);
    setErrors({});
    setProblem(null);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!draft) return;
    setBusy(true);
    setErrors({});
    setProblem(null);
    try {
      const rules = draft.rules.map((r) => ({ name: r.name.trim(), metric: r.metric as AlertMetric, threshold: number(r.threshold), window_min: number(r.window_min), min_runs: number(r.min_runs) }));
      const answer = await api.setAlerts(control.owner, control.name, { rules, webhook: draft.webhook.trim() || null });
      setDraft(null);
      setSaved(`Saved ${plural(answer.rules.length, "rule")}${answer.webhook ? `; alerts are posted to ${answer.webhook}` : ""}.`);
      control.reload();
    } catch (e) {
      if (!(e instanceof ApiError)) return setProblem(String(e));
      const fields = e.status === 422 ? bodyFields(e) : {};
      const elsewhere = Object.entries(fields).filter(([key]) => !PLACED.test(key)).map(([, msg]) => msg);
      setErrors(fields);
      setProblem(elsewhere.length ? elsewhere.join("; ") : Object.keys(fields).length ? "The server refused some fields; see the highlighted ones." : e.message);
    } finally {
      setBusy(false);
    }
  };

  const rules = draft ? (
    <form className="alert-rules" onSubmit={save} noValidate aria-label="Alert rules">
      <p className="hint">
        A rule fires when the error rate (0 to 1), p95 latency (ms) or drift share (0 to 1) rises above its threshold, or when accuracy (0 to 1) falls below it, over
        the last window of minutes; fewer runs (labelled runs, for accuracy) than its minimum decide nothing.
      </p>
      {draft.rules.map((rule, i) => (
        <RuleEditor key={i} index={i} rule={rule} errors={errors} onChange={(field, value) => change(i, field, value)} onRemove={() => remove(i)} />
      ))}
      {draft.rules.length ? null : <p className="muted">No rules.</p>}
      <div className="toolbar">
        <button type="button" className="button small" onClick={() => setDraft({ ...draft, rules: [...draft.rules, { ...NEW_RULE }] })}>
          Add a rule
        </button>
      </div>
      <Field id="alert-webhook" label="Webhook URL" description={WEBHOOK_HINT} error={errors.webhook}>
        <input
          id="alert-webhook"
          inputMode="url"
          autoComplete="off"
          placeholder="https://…"
          value={draft.webhook}
          aria-invalid={errors.webhook ? true : undefined}
          aria-describedby={describedBy("alert-webhook", WEBHOOK_HINT, errors.webhook)}
          onChange={(e) => setDraft({ ...draft, webhook: e.target.value })}
        />
      </Field>
      <ErrorBox>{problem}</ErrorBox>
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
        <button type="button" className="button" onClick={cancel}>
          Cancel
        </button>
      </div>
    </form>
  ) : !alerts.rules.length ? (
    <p className="muted">No alert rules.</p>
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
            <td>{watches(rule)}</td>
            <td>{rule.state === "firing" ? <StatusBadge status="failed" /> : "ok"}</td>
            <td>{rule.value === null ? "–" : rule.value.toPrecision(3)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <section className="panel" aria-labelledby="alerts-title">
      <h2 className="panel-title" id="alerts-title">
        Alerts
      </h2>
      {rules}
      {saved ? (
        <p className="notice" role="status">
          {saved}
        </p>
      ) : null}
      {control.owned && !draft ? (
        <div className="toolbar">
          <button type="button" className="button small" onClick={edit}>
            Edit rules
          </button>
        </div>
      ) : null}
      {control.owned && alerts.secret ? (
        <div className="webhook-secret">
          <p className="label-like">Webhook signing secret</p>
          <div className="token-value">
            <code data-testid="webhook-secret">{alerts.secret}</code>
            <CopyButton text={alerts.secret} label="Copy secret" />
          </div>
          <p className="hint">
            Each delivery carries <code>feather-signature: sha256=&lt;hex&gt;</code>, the HMAC-SHA256 of the request body keyed with this secret: compute it over the body
            you received and compare, to know the delivery came from feather.
          </p>
        </div>
      ) : null}
    </section>
  );
}

function RuleEditor({
  index,
  rule,
  errors,
  onChange,
  onRemove,
}: {
  index: number;
  rule: RuleDraft;
  errors: Record<string, string>;
  onChange: (field: keyof RuleDraft, value: string) => void;
  onRemove: () => void;
}) {
  const id = (field: string) => `rule-${index}-${field}`;
  const error = (field: string) => errors[`rules.${index}.${field}`];
  const hint = (field: string) => (field === "threshold" ? `Fires when ${rule.metric === "accuracy" ? "below" : "above"} this.` : undefined);
  const props = (field: keyof RuleDraft) => ({
    id: id(field),
    value: rule[field],
    "aria-invalid": error(field) ? true : undefined,
    "aria-describedby": describedBy(id(field), hint(field), error(field)),
    onChange: (e: { target: { value: string } }) => onChange(field, e.target.value),
  });
  return (
    <fieldset className="inline-form rule-editor">
      <legend>Rule {index + 1}</legend>
      {RULE_FIELDS.map((field) => (
        <Field key={field} id={id(field)} label={RULE_LABELS[field]} description={hint(field)} error={error(field)}>
          {field === "metric" ? (
            <select {...props(field)}>
              {METRICS.map((m) => (
                <option key={m} value={m}>
                  {m.replace("_", " ")} ({m === "accuracy" ? "below" : "above"})
                </option>
              ))}
            </select>
          ) : (
            <input {...props(field)} autoComplete="off" inputMode={field === "name" ? undefined : field === "threshold" ? "decimal" : "numeric"} maxLength={field === "name" ? 100 : undefined} />
          )}
        </Field>
      ))}
      <button type="button" className="button small danger-outline" onClick={onRemove} aria-label={`Remove rule ${index + 1}`}>
        Remove
      </button>
    </fieldset>
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

/** A figure as wide as it needs: thousands whole, others to three significant digits (the
 * quantiles come from a sketch that is within 2%, so more digits would only look precise). */
export function figure(value: number | null | undefined): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  const size = Math.abs(value);
  if (size >= 1000) return Math.round(value).toLocaleString();
  if (size === 0 || size >= 0.01) return String(Number(value.toPrecision(3)));
  return value.toExponential(2);
}

const SHOWN_VALUES = 3;

function topValues(f: FieldProfile): string {
  const top = (f.top ?? []).slice(0, SHOWN_VALUES);
  const more = (f.distinct ?? top.length) - top.length;
  return [...top.map((t) => `${t.value} (${t.count.toLocaleString()})`), ...(more > 0 ? [`+${more} more`] : [])].join(" · ");
}

function FieldTable({ profiles, span }: { profiles: Profiles; span: [number, number] }) {
  const [open, setOpen] = useState<string | null>(null);
  const shown = profiles.fields.find((f) => f.field === open && f.type === "number");
  return (
    <section className="panel" aria-labelledby="fields-title">
      <h2 className="panel-title" id="fields-title">
        Fields
      </h2>
      {!profiles.fields.length ? (
        <p className="muted">No runs in this window.</p>
      ) : (
        <div className="table-scroll">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">field</th>
                <th scope="col">count</th>
                <th scope="col">missing</th>
                <th scope="col">mean</th>
                <th scope="col">p5</th>
                <th scope="col">p50</th>
                <th scope="col">p95</th>
              </tr>
            </thead>
            <tbody>
              {profiles.fields.map((f) => (
                <tr key={f.field}>
                  <th scope="row">
                    {f.type === "number" && profiles.series.length ? (
                      <button type="button" className="link" onClick={() => setOpen(open === f.field ? null : f.field)} aria-expanded={open === f.field}>
                        {f.field}
                      </button>
                    ) : (
                      f.field
                    )}
                  </th>
                  <td>{f.count.toLocaleString()}</td>
                  <td>{pct(f.missing_share)}</td>
                  {f.type === "number" ? (
                    <>
                      <td>{figure(f.mean)}</td>
                      <td>{figure(f.quantiles?.p5)}</td>
                      <td>{figure(f.quantiles?.p50)}</td>
                      <td>{figure(f.quantiles?.p95)}</td>
                    </>
                  ) : (
                    // a category's most frequent values take the place of the number columns
                    <td colSpan={4}>{f.type === "category" ? topValues(f) : <span className="muted">no values</span>}</td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown ? <FieldTrend field={shown.field} profiles={profiles} span={span} /> : null}
    </section>
  );
}

/** A number field's quantiles bucket by bucket. */
function FieldTrend({ field, profiles, span }: { field: string; profiles: Profiles; span: [number, number] }) {
  const times = useMemo(() => profiles.series.map((b) => Date.parse(b.start) / 1000), [profiles]);
  const series: Series[] = useMemo(() => {
    const quantile = (q: "p5" | "p50" | "p95") => profiles.series.map((b) => b.fields.find((f) => f.field === field)?.quantiles?.[q] ?? null);
    return [
      { label: "p5", values: quantile("p5"), color: COLORS.succeeded },
      { label: "p50", values: quantile("p50"), color: COLORS.p50 },
      { label: "p95", values: quantile("p95"), color: COLORS.p95 },
    ];
  }, [profiles, field]);
  return <Chart title={`${field}: p5, p50 and p95`} xRange={span} x={times} series={series} xLabels={profiles.series.map((b) => b.start)} />;
}

function DriftTable({ drift, children }: { drift: Drift | null; children?: ReactNode }) {
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
            {pct(drift.share)}), {drift.current_rows} runs against its reference.
          </p>
          <p data-testid="drift-reference">
            Reference:{" "}
            {drift.reference.pinned
              ? `the pinned window from ${when(drift.reference.from)} to ${when(drift.reference.to)} (${plural(drift.reference_rows, "run")})`
              : `the version's first ${(drift.reference.first_runs ?? 1000).toLocaleString()} runs (${drift.reference_rows} so far)`}
            .
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
      {children}
    </section>
  );
}

/** A datetime-local control's value (local time, to the second) for an ISO time, and back. */
function localInput(iso: string): string {
  const at = new Date(iso);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

function isoOf(local: string): string {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? "" : at.toISOString();
}

function PinReference({ control, period, versions, version }: { control: Control; period: WindowQuery; versions: number[]; version: number }) {
  const [from, setFrom] = useState(() => localInput(period.from!));
  const [to, setTo] = useState(() => localInput(period.to!));
  const [chosen, setChosen] = useState(String(version));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const pin = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setProblem(null);
    setDone(null);
    try {
      const pinned = await api.pinReference(control.owner, control.name, { version: Number(chosen), from: isoOf(from), to: isoOf(to) });
      setDone(`Version ${pinned.version} is now compared with its runs from ${when(pinned.from)} to ${when(pinned.to)}.`);
      control.reload();
    } catch (e) {
      if (e instanceof ApiError && Object.keys(e.fields).length) setErrors(e.fields);
      else setProblem(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const aria = (id: string, field: string) => ({
    id,
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": describedBy(id, null, errors[field]),
  });
  return (
    <form className="pin-reference" onSubmit={pin} noValidate aria-label="Pin the reference">
      <h3 className="small-title">Pin the reference</h3>
      <p className="hint">Compare a version with its runs in a window you trust, instead of its first 1,000.</p>
      <div className="inline-form">
        <Field id="pin-from" label="From" error={errors.from}>
          <input {...aria("pin-from", "from")} type="datetime-local" step={1} value={from} onChange={(e) => setFrom(e.target.value)} />
        </Field>
        <Field id="pin-to" label="To" error={errors.to}>
          <input {...aria("pin-to", "to")} type="datetime-local" step={1} value={to} onChange={(e) => setTo(e.target.value)} />
        </Field>
        <Field id="pin-version" label="Version" error={errors.version}>
          <select {...aria("pin-version", "version")} value={chosen} onChange={(e) => setChosen(e.target.value)}>
            {versions.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Pinning…" : "Pin reference"}
        </button>
      </div>
      <ErrorBox>{problem}</ErrorBox>
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
    </form>
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
