/** /me/models — the caller's models: versions and live build logs, which version serves, visibility,
 * description, delete. */
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, type Deployment, type Follow, type ModelSummary, type ModelVersion, type Visibility } from "../api";
import { ErrorBox, Spinner, StatusBadge, when } from "../components/ui";
import { Link } from "../router";
import { RequireLogin } from "./RequireLogin";

export const BUILD_LOG_POLL_MS = 1000;

export default function MyModelsPage() {
  return (
    <RequireLogin>
      <MyModels />
    </RequireLogin>
  );
}

function MyModels() {
  const [items, setItems] = useState<ModelSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    document.title = "My models · feather";
    api.myModels().then(
      (page) => {
        setItems(page.items ?? []);
        setCursor(page.next_cursor ?? null);
      },
      (e) => {
        setError(e instanceof ApiError ? e.message : String(e));
        setItems([]);
      },
    );
  }, []);

  const loadMore = async () => {
    try {
      const page = await api.myModels(cursor);
      setItems((old) => [...(old ?? []), ...(page.items ?? [])]);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <div className="page">
      <h1>My models</h1>
      <p className="hint">
        Publish a model with <code>feather publish app.py</code>; each publish with changes makes a new version.
      </p>
      <ErrorBox>{error}</ErrorBox>
      {items === null ? <Spinner label="Loading your models" /> : null}
      {items && items.length === 0 && !error ? <p className="empty">You have not published a model yet.</p> : null}
      {items?.map((model) => (
        <ModelCard
          key={`${model.owner}/${model.name}`}
          initial={model}
          onDeleted={() => setItems((old) => (old ?? []).filter((m) => m !== model))}
        />
      ))}
      {cursor ? (
        <div className="load-more">
          <button type="button" className="button" onClick={loadMore}>
            Load more
          </button>
        </div>
      ) : null}
    </div>
  );
}

function ModelCard({ initial, onDeleted }: { initial: ModelSummary; onDeleted: () => void }) {
  const [model, setModel] = useState<ModelSummary>(initial);
  const [versions, setVersions] = useState<ModelVersion[] | null>(initial.versions ?? null);
  // the owner's list carries it; otherwise it comes with the model's full view, on demand
  const [deployment, setDeployment] = useState<Deployment | null>(initial.deployment ?? null);
  const [loading, setLoading] = useState(false);
  const [open, setOpen] = useState(initial.status === "building");
  const [editing, setEditing] = useState(false);
  const [description, setDescription] = useState(initial.description ?? "");
  const [saving, setSaving] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const ref = `${model.owner}/${model.name}`;
  const base = `card-${model.owner}-${model.name}`;

  const refresh = useCallback(async () => {
    try {
      const detail = await api.model(model.owner, model.name);
      setVersions(detail.versions ?? []);
      if (detail.deployment) setDeployment(detail.deployment); // a finished build may serve now
      setModel((old) => ({ ...old, status: detail.status, latest_version: detail.latest_version, visibility: detail.visibility ?? old.visibility }));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }, [model.owner, model.name]);

  useEffect(() => {
    if (open && versions === null) void refresh();
  }, [open, versions, refresh]);

  const loadDeployment = async () => {
    setLoading(true);
    await refresh();
    setLoading(false);
  };

  const patch = async (changes: { visibility?: Visibility; description?: string; public_metrics?: boolean }, what: string) => {
    setSaving(what);
    setError(null);
    try {
      const answer = await api.updateModel(model.owner, model.name, changes);
      setModel((old) => ({ ...old, ...changes, ...(answer && typeof answer === "object" ? pick(answer) : {}) }));
      if (changes.description !== undefined) setEditing(false);
    } catch (e) {
      setError(e instanceof ApiError ? (e.fields.description || e.fields.visibility || e.message) : String(e));
    } finally {
      setSaving(null);
    }
  };

  const remove = async () => {
    setSaving("delete");
    setError(null);
    try {
      await api.deleteModel(model.owner, model.name);
      onDeleted();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      setSaving(null);
      setConfirmDelete(false);
    }
  };

  return (
    <article className="panel model-card" aria-labelledby={`${base}-title`}>
      <header className="model-card-head">
        <h2 id={`${base}-title`} className="panel-title">
          <Link to={`/m/${encodeURIComponent(model.owner)}/${encodeURIComponent(model.name)}`}>{ref}</Link>
        </h2>
        <StatusBadge status={model.status} />
        {typeof model.latest_version === "number" ? <span className="muted">latest version {model.latest_version}</span> : null}
        {typeof model.runs === "number" ? <span className="muted">{model.runs} runs</span> : null}
      </header>

      <div className="model-card-settings">
        <div className="field">
          <label htmlFor={`${base}-visibility`}>Visibility</label>
          <select
            id={`${base}-visibility`}
            value={model.visibility ?? "public"}
            disabled={saving !== null}
            onChange={(e) => patch({ visibility: e.target.value as Visibility }, "visibility")}
          >
            <option value="public">Public: listed in the catalogue</option>
            <option value="unlisted">Unlisted: anyone with the link</option>
            <option value="private">Private: only you</option>
          </select>
          {saving === "visibility" ? <span className="muted" role="status">Saving…</span> : null}
          <label className="checkbox">
            <input
              type="checkbox"
              checked={Boolean(model.public_metrics)}
              disabled={saving !== null}
              onChange={(e) => patch({ public_metrics: e.target.checked }, "public_metrics")}
            />{" "}
            Anyone who can see it may read its metrics
          </label>
          <Link to={`/m/${encodeURIComponent(model.owner)}/${encodeURIComponent(model.name)}/dashboard`}>Dashboard</Link>
        </div>
        <div className="field grow">
          {editing ? (
            <>
              <label htmlFor={`${base}-description`}>Description</label>
              <textarea id={`${base}-description`} rows={3} maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
              <div className="toolbar">
                <button type="button" className="button small primary" disabled={saving !== null} onClick={() => patch({ description: description.trim() }, "description")}>
                  {saving === "description" ? "Saving…" : "Save"}
                </button>
                <button
                  type="button"
                  className="button small"
                  onClick={() => {
                    setEditing(false);
                    setDescription(model.description ?? "");
                  }}
                >
                  Cancel
                </button>
              </div>
            </>
          ) : (
            <>
              <span className="label-like">Description</span>
              <p className="description">{model.description || <span className="muted">No description.</span>}</p>
              <button type="button" className="button small" onClick={() => setEditing(true)}>
                Edit description
              </button>
            </>
          )}
        </div>
      </div>

      {deployment && versions ? (
        <DeployControl owner={model.owner} name={model.name} versions={versions} deployment={deployment} onChange={setDeployment} />
      ) : (
        <div className="toolbar">
          <button type="button" className="button small" disabled={loading} onClick={loadDeployment}>
            {loading ? "Loading…" : "Deployment…"}
          </button>
        </div>
      )}

      <ErrorBox>{error}</ErrorBox>

      <div className="toolbar">
        <button type="button" className="button small" aria-expanded={open} aria-controls={`${base}-versions`} onClick={() => setOpen(!open)}>
          {open ? "Hide versions" : "Versions and build logs"}
        </button>
        {confirmDelete ? (
          <span role="group" aria-label={`Delete ${ref}?`} className="confirm">
            <span>Delete {ref} and all its versions? This cannot be undone.</span>{" "}
            <button type="button" className="button small danger" onClick={remove} disabled={saving === "delete"}>
              {saving === "delete" ? "Deleting…" : "Delete model"}
            </button>{" "}
            <button type="button" className="button small" onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" className="button small danger-outline" onClick={() => setConfirmDelete(true)}>
            Delete…
          </button>
        )}
      </div>

      {open ? (
        <div id={`${base}-versions`} className="versions">
          {versions === null ? (
            <Spinner label="Loading versions" />
          ) : versions.length === 0 ? (
            <p className="muted">No versions.</p>
          ) : (
            <ul className="version-list">
              {[...versions]
                .sort((a, b) => b.version - a.version)
                .map((v) => (
                  <VersionRow key={v.version} owner={model.owner} name={model.name} version={v} serving={v.version === deployment?.version} onBuilt={refresh} />
                ))}
            </ul>
          )}
        </div>
      ) : null}
    </article>
  );
}

function pick(answer: object): Partial<ModelSummary> {
  const a = answer as Partial<ModelSummary>;
  const out: Partial<ModelSummary> = {};
  if (typeof a.visibility === "string") out.visibility = a.visibility;
  if (typeof a.description === "string") out.description = a.description;
  if (typeof a.status === "string") out.status = a.status;
  if (typeof a.public_metrics === "boolean") out.public_metrics = a.public_metrics;
  return out;
}

const DEPLOY_ERRORS = ["version", "follow"];

/** Which ready version serves runs that name none: deploy one, roll back, follow the latest or pin. */
function DeployControl({
  owner,
  name,
  versions,
  deployment,
  onChange,
}: {
  owner: string;
  name: string;
  versions: ModelVersion[];
  deployment: Deployment;
  onChange: (deployment: Deployment) => void;
}) {
  const [chosen, setChosen] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const ready = versions.filter((v) => v.status === "ready").map((v) => v.version).sort((a, b) => b - a);
  const serving = deployment.version;
  const previous = deployment.previous;
  // until the owner picks one, the select shows what serves
  const target = chosen ?? String(serving ?? ready[0] ?? "");
  const base = `deploy-${owner}-${name}`;

  const send = async (change: { version?: number; follow?: Follow }, said: (answer: Deployment) => string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const answer = await api.deploy(owner, name, change);
      onChange(answer);
      setChosen(null);
      setDone(said(answer));
    } catch (e) {
      if (!(e instanceof ApiError)) setError(String(e));
      else setError(DEPLOY_ERRORS.map((field) => e.fields[field]).filter(Boolean).join("; ") || e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="deployment" role="group" aria-label={`Deployment of ${owner}/${name}`}>
      <p>
        <strong>{serving === null ? "Nothing serves yet: no version is ready" : `Serving v${serving}`}</strong>
        {deployment.at ? <span className="muted"> · changed {when(deployment.at)}</span> : null}
      </p>
      <div className="inline-form">
        <div className="field">
          <label htmlFor={`${base}-version`}>Version to deploy</label>
          <select id={`${base}-version`} value={target} disabled={busy || !ready.length} onChange={(e) => setChosen(e.target.value)}>
            {ready.map((v) => (
              <option key={v} value={v}>
                v{v}
                {v === serving ? " (serving)" : ""}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          className="button primary"
          disabled={busy || !ready.length}
          onClick={() => send({ version: Number(target) }, (d) => `Deployed: v${d.version} serves ${owner}/${name}.`)}
        >
          Deploy
        </button>
        {previous !== null && previous !== serving ? (
          <button type="button" className="button" disabled={busy} onClick={() => send({ version: previous }, (d) => `Rolled back: v${d.version} serves again.`)}>
            Roll back to v{previous}
          </button>
        ) : null}
        <div className="field">
          <label htmlFor={`${base}-follow`}>Follow</label>
          <select
            id={`${base}-follow`}
            value={deployment.follow}
            disabled={busy}
            onChange={(e) =>
              send({ follow: e.target.value as Follow }, (d) =>
                d.follow === "latest" ? "A version published later will serve once it is ready." : `Pinned: v${d.version} serves until you deploy another.`,
              )
            }
          >
            <option value="latest">Latest: a version published later takes over once ready</option>
            <option value="pinned">Pinned: the deployed version keeps serving</option>
          </select>
        </div>
      </div>
      <ErrorBox>{error}</ErrorBox>
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
    </div>
  );
}

function VersionRow({
  owner,
  name,
  version,
  serving,
  onBuilt,
}: {
  owner: string;
  name: string;
  version: ModelVersion;
  serving: boolean;
  onBuilt: () => void;
}) {
  const building = version.status === "building";
  const [showLog, setShowLog] = useState(building);
  useEffect(() => {
    if (building) setShowLog(true);
  }, [building]);
  const id = `log-${owner}-${name}-${version.version}`;
  return (
    <li className="version">
      <div className="toolbar">
        <strong>Version {version.version}</strong>
        <StatusBadge status={version.status} />
        {serving ? <span className="badge">serving</span> : null}
        {version.created_at ? <span className="muted">{when(version.created_at)}</span> : null}
        {typeof version.build_ms === "number" ? <span className="muted">built in {(version.build_ms / 1000).toFixed(1)} s</span> : null}
        <button type="button" className="button small" aria-expanded={showLog} aria-controls={id} onClick={() => setShowLog(!showLog)}>
          {showLog ? "Hide build log" : "Build log"}
        </button>
      </div>
      {version.error ? <ErrorBox>{version.error}</ErrorBox> : null}
      {showLog ? <BuildLog id={id} owner={owner} name={name} version={version.version} onDone={onBuilt} /> : null}
    </li>
  );
}

/** Follows a build log: fetches from the last offset until X-Build-Status is no longer "building". */
export function BuildLog({ id, owner, name, version, onDone }: { id: string; owner: string; name: string; version: number; onDone?: (status: string | null) => void }) {
  const [text, setText] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  const done = useRef(onDone);
  done.current = onDone;

  useEffect(() => {
    let alive = true;
    let offset = 0;
    let timer: number | undefined;
    let wasBuilding = false;
    const tick = async () => {
      try {
        const chunk = await api.buildLog(owner, name, version, offset);
        if (!alive) return;
        if (chunk.text) setText((old) => old + chunk.text);
        // X-Log-Size is the whole log's length in bytes: the next offset
        offset = chunk.size !== null && Number.isFinite(chunk.size) ? chunk.size : offset + new TextEncoder().encode(chunk.text).length;
        setStatus(chunk.status);
        if (chunk.status === "building") {
          wasBuilding = true;
          timer = window.setTimeout(tick, BUILD_LOG_POLL_MS);
        } else if (wasBuilding) done.current?.(chunk.status);
      } catch (e) {
        if (alive) setError(e instanceof ApiError ? e.message : String(e));
      }
    };
    void tick();
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [owner, name, version]);

  useEffect(() => {
    const el = pre.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [text]);

  return (
    <div className="build-log" id={id}>
      <div className="toolbar">
        <span className="muted">Build log</span>
        {status === "building" ? <span className="live-dot" role="status">building, live</span> : null}
      </div>
      <ErrorBox>{error}</ErrorBox>
      <pre ref={pre} className="code log" tabIndex={0} aria-label={`Build log of version ${version}`}>
        {text || (status === null ? "Loading…" : "(empty)")}
      </pre>
    </div>
  );
}
