/** / — public models: search (debounced), sort, "Load more" with the cursor. */
import { useEffect, useRef, useState } from "react";
import { api, ApiError, type ModelSummary } from "../api";
import { ErrorBox, plural, Spinner, StatusBadge } from "../components/ui";
import { Link, navigate, useLocation } from "../router";

export const PAGE_SIZE = 24;
export const DEBOUNCE_MS = 300;
type Sort = "recent" | "popular";

export function Catalogue() {
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const [text, setText] = useState(params.get("q") ?? "");
  const [query, setQuery] = useState(params.get("q") ?? "");
  const [sort, setSort] = useState<Sort>(params.get("sort") === "popular" ? "popular" : "recent");
  const [items, setItems] = useState<ModelSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const request = useRef(0);
  const written = useRef(location.search);

  // the address changed from outside (the header's "Models" link, back/forward): follow it
  useEffect(() => {
    if (location.search === written.current) return;
    written.current = location.search;
    const next = new URLSearchParams(location.search);
    setText(next.get("q") ?? "");
    setQuery(next.get("q") ?? "");
    setSort(next.get("sort") === "popular" ? "popular" : "recent");
  }, [location.search]);

  useEffect(() => {
    document.title = "Models · feather";
  }, []);

  // debounce typing into the query
  useEffect(() => {
    if (text === query) return;
    const timer = window.setTimeout(() => setQuery(text.trim()), DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text, query]);

  // keep the address shareable
  useEffect(() => {
    const next = new URLSearchParams();
    if (query) next.set("q", query);
    if (sort !== "recent") next.set("sort", sort);
    const search = next.toString() ? `?${next}` : "";
    written.current = search;
    if (search !== window.location.search) navigate(`/${search}`, { replace: true });
  }, [query, sort]);

  useEffect(() => {
    const controller = new AbortController();
    const id = ++request.current;
    setLoading(true);
    setError(null);
    api
      .models({ q: query || undefined, sort, limit: PAGE_SIZE }, controller.signal)
      .then((page) => {
        if (id !== request.current) return;
        setItems(page.items ?? []);
        setCursor(page.next_cursor ?? null);
      })
      .catch((e) => {
        if ((e as Error).name === "AbortError" || id !== request.current) return;
        setError(e instanceof ApiError ? e.message : String(e));
        setItems([]);
        setCursor(null);
      })
      .finally(() => {
        if (id === request.current) setLoading(false);
      });
    return () => controller.abort();
  }, [query, sort]);

  const loadMore = async () => {
    if (!cursor) return;
    const id = request.current;
    setMore(true);
    try {
      const page = await api.models({ q: query || undefined, sort, limit: PAGE_SIZE, cursor });
      if (id !== request.current) return;
      setItems((old) => [...old, ...(page.items ?? [])]);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setMore(false);
    }
  };

  return (
    <div className="page">
      <h1>Models</h1>
      <form className="catalogue-controls" role="search" onSubmit={(e) => {
        e.preventDefault();
        setQuery(text.trim());
      }}>
        <div className="field grow">
          <label htmlFor="catalogue-q">Search models</label>
          <input id="catalogue-q" type="search" value={text} placeholder="Name, owner or description" onChange={(e) => setText(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="catalogue-sort">Sort by</label>
          <select id="catalogue-sort" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            <option value="recent">Recently updated</option>
            <option value="popular">Most runs</option>
          </select>
        </div>
      </form>
      <ErrorBox>{error}</ErrorBox>
      {loading ? <Spinner label="Loading models" /> : null}
      {!loading && !error && items.length === 0 ? (
        <div className="empty">
          {query ? (
            <>
              <p>No public model matches “{query}”.</p>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setText("");
                  setQuery("");
                }}
              >
                Clear the search
              </button>
            </>
          ) : (
            <>
              <p>No public models yet.</p>
              <p className="hint">
                Publish one with <code>feather publish app.py</code>.
              </p>
            </>
          )}
        </div>
      ) : null}
      {items.length ? (
        <ul className="cards" aria-busy={loading}>
          {items.map((model) => (
            <li key={`${model.owner}/${model.name}`} className="card">
              <h2 className="card-title">
                <Link to={`/m/${encodeURIComponent(model.owner)}/${encodeURIComponent(model.name)}`}>
                  <span className="owner">{model.owner}/</span>
                  {model.name}
                </Link>
              </h2>
              <p className="card-description">{model.description || <span className="muted">No description.</span>}</p>
              <p className="card-meta">
                <StatusBadge status={model.status} />
                <span className="muted">{plural(model.runs ?? 0, "run")}</span>
              </p>
            </li>
          ))}
        </ul>
      ) : null}
      {cursor && !loading ? (
        <div className="load-more">
          <button type="button" className="button" onClick={loadMore} disabled={more} aria-busy={more}>
            {more ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </div>
  );
}
