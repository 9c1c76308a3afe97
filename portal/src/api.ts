/**
 * The portal's only door to the gateway: every URL the portal calls is written in this file.
 *
 * - `credentials: "same-origin"` so the session cookie travels;
 * - state-changing calls carry `X-CSRF-Token` (the token from login/signup, else the
 *   non-HttpOnly `feather_csrf` cookie);
 * - errors become `ApiError` with the HTTP status, a readable message and, for 422 answers,
 *   the message of each field (`fields`), keyed by input name;
 * - a 401 on a call made while the portal believed it was logged in (or on a page that needs
 *   a login) is reported to `onUnauthorized` listeners: the app saves drafts and goes to /login.
 */
import type { FileValue, Manifest, StepSpec } from "./manifest";

export type Visibility = "public" | "unlisted" | "private";
export type VersionStatus = "building" | "ready" | "failed" | string;
export type RunStatus = "queued" | "starting" | "processing" | "running" | "succeeded" | "failed" | "canceled" | "timed_out" | string;

export const TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "canceled", "timed_out"]);

export interface ModelVersion {
  version: number;
  status: VersionStatus;
  error?: string | null;
  created_at?: string | null;
  build_ms?: number | null;
}

export interface ModelSummary {
  id?: string;
  owner: string;
  name: string;
  description?: string | null;
  visibility?: Visibility;
  public_metrics?: boolean;
  latest_version?: number | null;
  status?: VersionStatus;
  runs?: number;
  created_at?: string | null;
  updated_at?: string | null;
  versions?: ModelVersion[];
  /** In the full view (a model's page, and the owner's own list). */
  deployment?: Deployment;
}

export type Follow = "latest" | "pinned";

/** Which version serves the model when a run names none. */
export interface Deployment {
  /** the version that serves now; null while none is ready */
  version: number | null;
  follow: Follow;
  /** the version the owner last deployed; null until they do */
  deployed: number | null;
  previous: number | null;
  at: string | null;
}

export interface ModelDetail extends ModelSummary {
  manifest: Manifest | null;
  versions: ModelVersion[];
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Progress {
  fraction: number | null;
  message?: string | null;
}

export interface Run {
  id: string;
  model: string;
  version?: number;
  step?: string;
  status: RunStatus;
  inputs?: Record<string, unknown> | null;
  outputs?: Record<string, unknown> | null;
  steps?: unknown;
  error?: string | null;
  logs?: string | null;
  progress?: Progress | null;
  metrics?: { queue_ms?: number | null; predict_ms?: number | null; total_ms?: number | null } | null;
  created_at?: string | null;
  completed_at?: string | null;
  /** Where to read, cancel and follow it (Server-Sent Events); a run made without an account
   * carries its read token here. */
  urls?: { get: string; cancel: string; stream?: string };
}

export interface RunRequest {
  inputs: Record<string, unknown>;
  step?: string;
  previous_run?: string;
  previous_run_token?: string;
  version?: number;
}

export interface Account {
  username: string;
  csrf_token?: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  created_at?: string | null;
  last_used_at?: string | null;
}

export interface NewToken extends TokenInfo {
  token: string;
}

export interface BuildLogChunk {
  text: string;
  status: string | null;
  size: number | null;
}

/** An answer other than 2xx. `fields` maps an input (or form field) name to its message. */
export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  readonly detail: unknown;

  constructor(status: number, message: string, fields: Record<string, string> = {}, detail: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.detail = detail;
  }
}

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
}

/** `{"detail": ...}` -> a message and per-field messages (loc ["body", "inputs", name, ...] or ["body", name]). */
export function parseDetail(status: number, body: unknown): ApiError {
  const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : body;
  if (Array.isArray(detail)) {
    const fields: Record<string, string> = {};
    const general: string[] = [];
    for (const item of detail as ValidationItem[]) {
      const loc = Array.isArray(item?.loc) ? item.loc.map(String) : [];
      const msg = String(item?.msg ?? "is invalid");
      let field: string | undefined;
      if (loc[0] === "body" && loc[1] === "inputs" && loc.length > 2) {
        field = loc[2];
        const deeper = loc.slice(3);
        const text = deeper.length ? `${deeper.join(".")}: ${msg}` : msg;
        fields[field] = fields[field] ? `${fields[field]}; ${text}` : text;
        continue;
      }
      if (loc[0] === "body" && loc.length >= 2) field = loc[loc.length - 1];
      if (field) fields[field] = fields[field] ? `${fields[field]}; ${msg}` : msg;
      else general.push(msg);
    }
    const names = Object.keys(fields);
    const message = general.length ? general.join("; ") : names.length ? `Check ${names.join(", ")}.` : `Request refused (${status})`;
    return new ApiError(status, message, fields, detail);
  }
  if (typeof detail === "string" && detail) return new ApiError(status, detail, {}, detail);
  return new ApiError(status, statusText(status), {}, detail);
}

/** A 422's messages keyed by their place in the body (`webhook`, `rules.0.threshold`): for forms
 * with repeated fields, which `fields` (keyed by the last name alone) cannot tell apart. */
export function bodyFields(error: ApiError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const item of Array.isArray(error.detail) ? (error.detail as ValidationItem[]) : []) {
    const loc = Array.isArray(item?.loc) ? item.loc.map(String) : [];
    const key = (loc[0] === "body" ? loc.slice(1) : loc).join(".");
    const msg = String(item?.msg ?? "is invalid");
    fields[key] = fields[key] ? `${fields[key]}; ${msg}` : msg;
  }
  return fields;
}

function statusText(status: number): string {
  if (status === 401) return "You need to log in.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "Not found.";
  if (status === 409) return "Conflict: the resource is not ready or already changed.";
  if (status === 413) return "Too large.";
  if (status === 429) return "Too many requests; try again shortly.";
  if (status >= 500) return `The server failed (${status}); try again.`;
  return `Request failed (${status}).`;
}

// ---- session bits -------------------------------------------------------------------------

let csrfToken: string | null = null;
let sessionBelieved = false;
type Listener = (path: string) => void;
const unauthorizedListeners = new Set<Listener>();

export function setSession(account: Account | null): void {
  sessionBelieved = account !== null;
  csrfToken = account?.csrf_token ?? null;
}

export function readCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie ? document.cookie.split(";") : []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function csrfHeader(): string | null {
  return readCookie("feather_csrf") ?? csrfToken;
}

/** Called with the failing path when a call answers 401 while a session was expected. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

// ---- the request helper -------------------------------------------------------------------

interface Options {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined | null>;
  /** The page needs a login: a 401 always goes to the login page. */
  needsLogin?: boolean;
  /** Never treat a 401 as an expired session (login, signup, /v1/me). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

async function send(path: string, options: Options = {}): Promise<Response> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json", ...(options.headers ?? {}) };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  if (!SAFE.has(method)) {
    const token = csrfHeader();
    if (token) headers["X-CSRF-Token"] = token;
  }
  let url = path;
  if (options.query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, credentials: "same-origin", signal: options.signal });
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the server; check your connection and try again.");
  }
  if (!response.ok) {
    let parsed: unknown = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    const error = parseDetail(response.status, parsed);
    if (response.status === 401 && !options.quiet401 && (sessionBelieved || options.needsLogin)) {
      sessionBelieved = false;
      for (const listener of [...unauthorizedListeners]) listener(path);
    }
    throw error;
  }
  return response;
}

async function json<T>(path: string, options: Options = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 204) {
    await response.text().catch(() => ""); // finish the exchange (an unread body shows as aborted)
    return undefined as T;
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const enc = encodeURIComponent;
const modelPath = (owner: string, name: string) => `/v1/models/${enc(owner)}/${enc(name)}`;

/** API paths, for the calls below and for the "Use via API" snippets. */
/** What the local preview server says about the model it serves. */
export interface DevState {
  model: string;
  revision: number;
  error: string | null;
  app: string;
}

/** A time window of a model's metrics, drift or feedback. */
export interface WindowQuery {
  from?: string;
  to?: string;
  step?: "1m" | "1h";
  version?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export interface MetricsFigures {
  runs: number;
  requested: number;
  succeeded: number;
  errors: number;
  errors_by_kind: { failed: number; timed_out: number; canceled: number };
  error_rate: number;
  latency_ms: Percentiles;
  queue_ms: Percentiles;
  predict_ms: Percentiles;
}

export interface Metrics extends MetricsFigures {
  model: string;
  from: string;
  to: string;
  step: string;
  series: Array<MetricsFigures & { start: string }>;
}

export interface DriftField {
  field: string;
  test: string;
  score: number;
  threshold: number;
  drifted: boolean;
  reference_rows: number;
  current_rows: number;
  bins?: number[];
  categories?: string[];
  reference: number[];
  current: number[];
}

export interface Drift {
  model: string;
  version: number;
  reference: { pinned: boolean; first_runs?: number; from?: string; to?: string };
  fields: DriftField[];
  drifted_fields: number;
  share: number;
  drifted: boolean;
  reference_rows: number;
  current_rows: number;
}

export type AlertMetric = "error_rate" | "p95_ms" | "drift_share" | "accuracy";

/** A rule as the owner sets it (services/contracts/alerts.py). */
export interface AlertRuleConfig {
  name: string;
  metric: AlertMetric;
  threshold: number;
  window_min: number;
  min_runs: number;
}

export interface AlertRule extends AlertRuleConfig {
  state: "ok" | "firing";
  since: string | null;
  value: number | null;
}

export interface Alerts {
  webhook: string | null;
  /** Keys the HMAC-SHA256 in each webhook delivery's `feather-signature`; null until rules are first saved. */
  secret?: string | null;
  rules: AlertRule[];
  events: Array<{ rule: string; state: string; value: number | null; threshold: number; at: string }>;
}

/** The window of a version's runs its drift is measured against (ISO 8601 times). */
export interface ReferencePin {
  version: number;
  from: string;
  to: string;
}

/** One input's or output's profile (services/telemetry/profiles.py). */
export interface FieldProfile {
  field: string;
  count: number;
  missing: number;
  missing_share: number;
  type: "number" | "category" | "missing";
  mean?: number | null;
  min?: number | null;
  max?: number | null;
  quantiles?: Record<"p5" | "p25" | "p50" | "p75" | "p95", number | null>;
  distinct?: number;
  top?: Array<{ value: string; count: number }>;
}

export interface Profiles {
  model: string;
  from: string;
  to: string;
  step: string;
  fields: FieldProfile[];
  series: Array<{ start: string; fields: FieldProfile[] }>;
}

export interface FeedbackFigures {
  feedback: number;
  up: number;
  down: number;
  stars: { n: number; mean: number | null };
  labelled: number;
  correct: number;
  accuracy: number | null;
}

export interface FeedbackSummary extends FeedbackFigures {
  versions: Record<string, FeedbackFigures>;
  series: Array<FeedbackFigures & { start: string }>;
}

export interface Rating {
  model: string;
  rating: number | null;
  low: number | null;
  high: number | null;
  votes: number;
}

export interface Leaderboard {
  task: string;
  votes: number;
  arena: Rating[];
  accuracy: Array<{ model: string; labelled: number; correct: number; accuracy: number | null }>;
}

export interface BattleSide {
  status: string;
  outputs: Record<string, unknown> | null;
  error: string | null;
}

export interface Battle {
  id: string;
  task: string;
  form: { steps: StepSpec[] } | null;
  runs: Partial<Record<"a" | "b", BattleSide>>;
  winner: string | null;
  models: { a: string; b: string } | null;
}

export const apiPaths = {
  runs: (owner: string, name: string) => `${modelPath(owner, name)}/runs`,
  run: (id: string) => `/v1/runs/${enc(id)}`,
  files: "/v1/files",
};

// ---- the calls ----------------------------------------------------------------------------

export const api = {
  // accounts
  me: () => json<Account>("/v1/me", { quiet401: true }),
  signup: (username: string, password: string) =>
    json<Account>("/v1/auth/signup", { method: "POST", json: { username, password }, quiet401: true }),
  login: (username: string, password: string) =>
    json<Account>("/v1/auth/login", { method: "POST", json: { username, password }, quiet401: true }),
  logout: () => json<void>("/v1/auth/logout", { method: "POST", quiet401: true }),

  // tokens
  tokens: () => json<Page<TokenInfo>>("/v1/tokens", { needsLogin: true }),
  createToken: (name: string) => json<NewToken>("/v1/tokens", { method: "POST", json: { name }, needsLogin: true }),
  revokeToken: (id: string) => json<void>(`/v1/tokens/${enc(id)}`, { method: "DELETE", needsLogin: true }),

  // models
  models: (params: { q?: string; sort?: string; limit?: number; cursor?: string | null }, signal?: AbortSignal) =>
    json<Page<ModelSummary>>("/v1/models", { query: params, signal }),
  myModels: (cursor?: string | null) =>
    json<Page<ModelSummary>>("/v1/models", { query: { owner: "me", limit: 100, cursor }, needsLogin: true }),
  model: (owner: string, name: string, signal?: AbortSignal) => json<ModelDetail>(modelPath(owner, name), { signal }),
  updateModel: (owner: string, name: string, changes: { visibility?: Visibility; description?: string; public_metrics?: boolean }) =>
    json<ModelDetail>(modelPath(owner, name), { method: "PATCH", json: changes, needsLogin: true }),
  deleteModel: (owner: string, name: string) => json<void>(modelPath(owner, name), { method: "DELETE", needsLogin: true }),
  deploy: (owner: string, name: string, change: { version?: number; follow?: Follow }) =>
    json<Deployment>(`${modelPath(owner, name)}/deployment`, { method: "PUT", json: change, needsLogin: true }),
  async buildLog(owner: string, name: string, version: number, offset: number): Promise<BuildLogChunk> {
    const response = await send(`${modelPath(owner, name)}/versions/${version}/build-log`, {
      query: { offset },
      headers: { Accept: "text/plain" },
    });
    const size = response.headers.get("X-Log-Size");
    return { text: await response.text(), status: response.headers.get("X-Build-Status"), size: size === null ? null : Number(size) };
  },

  // what the owner sees of their model's use (dashboard)
  metrics: (owner: string, name: string, query: WindowQuery, signal?: AbortSignal) =>
    json<Metrics>(`${modelPath(owner, name)}/metrics`, { query: { ...query }, signal }),
  drift: (owner: string, name: string, query: WindowQuery, signal?: AbortSignal) =>
    json<Drift>(`${modelPath(owner, name)}/drift`, { query: { ...query }, signal }),
  profiles: (owner: string, name: string, query: WindowQuery, signal?: AbortSignal) =>
    json<Profiles>(`${modelPath(owner, name)}/profiles`, { query: { ...query }, signal }),
  pinReference: (owner: string, name: string, pin: ReferencePin) =>
    json<ReferencePin>(`${modelPath(owner, name)}/drift/reference`, { method: "PUT", json: pin, needsLogin: true }),
  alerts: (owner: string, name: string, signal?: AbortSignal) => json<Alerts>(`${modelPath(owner, name)}/alerts`, { signal, needsLogin: true }),
  setAlerts: (owner: string, name: string, config: { rules: AlertRuleConfig[]; webhook: string | null }) =>
    json<Alerts>(`${modelPath(owner, name)}/alerts`, { method: "PUT", json: config, needsLogin: true }),
  feedbackSummary: (owner: string, name: string, query: WindowQuery, signal?: AbortSignal) =>
    json<FeedbackSummary>(`${modelPath(owner, name)}/feedback`, { query: { ...query }, signal }),
  modelRuns: (owner: string, name: string, limit = 200, signal?: AbortSignal) =>
    json<Page<Run>>(`${modelPath(owner, name)}/runs`, { query: { limit }, signal, needsLogin: true }),
  giveFeedback: (run: Run, body: { rating?: "up" | "down" | number | null; label?: string | null; comment?: string }) => {
    const token = runToken(run);
    return json<Record<string, unknown>>(`/v1/runs/${enc(run.id)}/feedback`, {
      method: "POST",
      json: body,
      query: token ? { token } : undefined,
    });
  },

  // tasks and the arena
  tasks: () => json<{ items: Array<{ task: string; models: number }> }>("/v1/tasks"),
  leaderboard: (task: string) => json<Leaderboard>(`/v1/tasks/${enc(task)}/leaderboard`),
  startBattle: (task: string) => json<Battle>(`/v1/tasks/${enc(task)}/battles`, { method: "POST", needsLogin: true }),
  runBattle: (id: string, inputs: Record<string, unknown>) =>
    json<Battle>(`/v1/battles/${enc(id)}/runs`, { method: "POST", json: { inputs }, needsLogin: true }),
  battle: (id: string) => json<Battle>(`/v1/battles/${enc(id)}`, { needsLogin: true }),
  vote: (id: string, winner: "a" | "b" | "tie" | "both_bad") =>
    json<Battle>(`/v1/battles/${enc(id)}/vote`, { method: "POST", json: { winner }, needsLogin: true }),

  // runs
  createRun: (owner: string, name: string, body: RunRequest, waitSeconds = 1) =>
    json<Run>(apiPaths.runs(owner, name), { method: "POST", json: body, headers: { Prefer: `wait=${waitSeconds}` } }),
  run: (id: string, signal?: AbortSignal, token?: string | null) =>
    json<Run>(apiPaths.run(id), { signal, query: token ? { token } : undefined }),
  /** The run again, through its own URL (which holds its read token when it has one). */
  refresh: (run: Run, signal?: AbortSignal) => json<Run>(run.urls?.get ?? apiPaths.run(run.id), { signal }),
  cancelRun: (run: Run) => json<Run>(run.urls?.cancel ?? `/v1/runs/${enc(run.id)}/cancel`, { method: "POST" }),

  // `feather dev`: the local preview server answers these; the platform does not
  devState: (signal?: AbortSignal) => json<DevState>("/v1/dev", { signal, quiet401: true }),
  devPublish: () => json<{ owner: string; name: string; version: number; status: string }>("/v1/dev/publish", { method: "POST" }),

  // files
  upload(file: Blob, name: string): Promise<FileValue> {
    const form = new FormData();
    form.append("file", file, name);
    return json<FileValue>(apiPaths.files, { method: "POST", body: form });
  },
};

/** A run's read token, for a run made without an account (it rides in the run's URL). */
export function runToken(run: Run | null | undefined): string | undefined {
  const url = run?.urls?.get;
  if (!url || !url.includes("?")) return undefined;
  return new URLSearchParams(url.slice(url.indexOf("?") + 1)).get("token") ?? undefined;
}

/** The portal page of a run; one made without an account needs its token to be read. */
export function permalink(run: Run): string {
  const token = runToken(run);
  return `/runs/${encodeURIComponent(run.id)}${token ? `?token=${encodeURIComponent(token)}` : ""}`;
}

/** Where the browser can load a file value's bytes: the link the gateway gave it, or
 * `feather:files/<id>` -> `/v1/files/<id>` (the uploader's own files). */
export function fileHref(value: { url?: string | null; href?: string } | string | undefined | null): string | undefined {
  if (value && typeof value === "object" && value.href) return value.href;
  const url = typeof value === "string" ? value : value?.url;
  if (!url) return undefined;
  if (url.startsWith("feather:files/")) return `/v1/files/${url.slice("feather:files/".length)}`;
  if (url.startsWith("data:") || url.startsWith("https://") || url.startsWith("http://") || url.startsWith("blob:")) return url;
  return undefined;
}

/** The gateway's base URL as the browser sees it (for API snippets). */
export function baseUrl(): string {
  return typeof window !== "undefined" ? window.location.origin : "http://127.0.0.1:8080";
}
