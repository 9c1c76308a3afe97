/** /m/:owner/:name — the model's page: its form (Run) and code to call it (Use via API). */
import { lazy, Suspense, useEffect, useState } from "react";
import { api, ApiError, type DevState, type ModelDetail } from "../api";
import { Runner } from "../components/Runner";
import { ErrorBox, plural, Spinner, StatusBadge, Tabs } from "../components/ui";
import { Link } from "../router";
import { useSession } from "../session";

const ApiSnippets = lazy(() => import("../components/ApiSnippets"));

type Tab = "run" | "api";

export function ModelPage({ owner, name }: { owner: string; name: string }) {
  const [model, setModel] = useState<ModelDetail | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tab, setTab] = useState<Tab>("run");
  const [revision, setRevision] = useState(0);
  const { user } = useSession();
  const dev = useDevPreview(owner === "dev", setRevision);

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    setModel(null);
    setError(null);
    const load = async () => {
      try {
        const found = await api.model(owner, name, controller.signal);
        setModel(found);
        // while a version builds and nothing is ready yet, look again every few seconds
        if (!found.manifest && found.status === "building") timer = window.setTimeout(load, 3000);
      } catch (e) {
        if ((e as Error).name === "AbortError") return;
        setError(e instanceof ApiError ? e : new ApiError(0, String(e)));
      }
    };
    void load();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [owner, name, revision]);

  useEffect(() => {
    document.title = `${owner}/${name} · feather`;
  }, [owner, name]);

  if (error) {
    return (
      <div className="page">
        <h1>
          {owner}/{name}
        </h1>
        <ErrorBox>{error.status === 404 ? "There is no such model, or it is private." : error.message}</ErrorBox>
        <p>
          <Link to="/">Back to the catalogue</Link>
          {error.status === 404 && user === null ? (
            <>
              {" · "}
              <Link to={`/login?next=${encodeURIComponent(`/m/${owner}/${name}`)}`}>Log in to see your private models</Link>
            </>
          ) : null}
        </p>
      </div>
    );
  }
  if (!model) {
    return (
      <div className="page">
        <h1>
          {owner}/{name}
        </h1>
        <Spinner label="Loading the model" />
      </div>
    );
  }
  const manifest = model.manifest;
  const mine = user?.username === model.owner;
  // the version that runs when none is named (and whose form this is): the deployed one
  const serving = model.deployment?.version ?? model.latest_version;
  return (
    <div className="page model-page">
      <header className="model-head">
        <h1>
          <Link to={`/?q=${encodeURIComponent(model.owner)}`} className="owner">
            {model.owner}
          </Link>
          <span aria-hidden="true"> / </span>
          <span className="visually-hidden"> slash </span>
          {model.name}
        </h1>
        <div className="meta">
          <StatusBadge status={model.status} />
          {model.visibility && model.visibility !== "public" ? <span className="badge">{model.visibility}</span> : null}
          {typeof serving === "number" ? <span className="muted">version {serving}</span> : null}
          {typeof model.runs === "number" ? <span className="muted">{plural(model.runs, "run")}</span> : null}
          {mine ? <Link to="/me/models">Manage</Link> : null}
          {mine && owner !== "dev" ? <Link to={`/m/${model.owner}/${model.name}/dashboard`}>Dashboard</Link> : null}
        </div>
        {model.description || manifest?.description ? <p className="description">{model.description || manifest?.description}</p> : null}
        {dev ? <DevBar state={dev} /> : null}
      </header>
      {!manifest ? (
        <div className="panel">
          {model.status === "building" ? (
            <p>
              <Spinner label="This model is being built; the page updates when it is ready" />
            </p>
          ) : (
            <ErrorBox>No version of this model is ready to run{model.status === "failed" ? ": the last build failed" : ""}.</ErrorBox>
          )}
          {mine ? (
            <p>
              See the build log in <Link to="/me/models">My models</Link>.
            </p>
          ) : null}
        </div>
      ) : (
        <>
          <Tabs<Tab>
            label="Model views"
            tabs={[
              { id: "run", label: "Run" },
              { id: "api", label: "Use via API" },
            ]}
            active={tab}
            onChange={setTab}
          />
          <div role="tabpanel" id="panel-run" aria-labelledby="tab-run" hidden={tab !== "run"}>
            <Runner owner={model.owner} name={model.name} manifest={manifest} />
          </div>
          {tab === "api" ? (
            <div role="tabpanel" id="panel-api" aria-labelledby="tab-api">
              <Suspense fallback={<Spinner />}>
                <ApiSnippets owner={model.owner} name={model.name} manifest={manifest} />
              </Suspense>
            </div>
          ) : null}
        </>
      )}
    </div>
  );
}

/** In `feather dev`, follow the file being edited: reload the page's model when it changes. */
function useDevPreview(enabled: boolean, onChange: (revision: number) => void): DevState | null {
  const [state, setState] = useState<DevState | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let timer: number | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const next = await api.devState();
        setState((before) => {
          if (before && before.revision !== next.revision) onChange(next.revision);
          return next;
        });
      } catch {
        // not a preview server, or it is restarting: try again shortly
      }
      if (!stopped) timer = window.setTimeout(poll, 700);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [enabled, onChange]);
  return state;
}

function DevBar({ state }: { state: DevState }) {
  const [outcome, setOutcome] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const publish = async () => {
    setBusy(true);
    setOutcome(null);
    try {
      const answer = await api.devPublish();
      setOutcome(`Published ${answer.owner}/${answer.name}, version ${answer.version} (${answer.status}).`);
    } catch (e) {
      setOutcome(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel dev-bar" role="region" aria-label="Local preview">
      <p>
        Local preview of <code>{state.app}</code>; the page follows the file as you save it.
      </p>
      {state.error ? <ErrorBox>{state.error}</ErrorBox> : null}
      <button type="button" className="button primary" onClick={() => void publish()} disabled={busy} aria-busy={busy}>
        {busy ? "Publishing…" : "Publish"}
      </button>
      {outcome ? <p role="status">{outcome}</p> : null}
    </div>
  );
}
