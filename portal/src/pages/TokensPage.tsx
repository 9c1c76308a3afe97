/** /tokens — API tokens: list, create (the secret is shown once), revoke. */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, type NewToken, type TokenInfo } from "../api";
import { CopyButton, ErrorBox, Field, Spinner, when } from "../components/ui";
import { RequireLogin } from "./RequireLogin";

export default function TokensPage() {
  return (
    <RequireLogin>
      <Tokens />
    </RequireLogin>
  );
}

function Tokens() {
  const [items, setItems] = useState<TokenInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [fresh, setFresh] = useState<NewToken | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const freshRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    document.title = "API tokens · feather";
    api.tokens().then(
      (page) => setItems(page.items ?? []),
      (e) => {
        setError(e instanceof ApiError ? e.message : String(e));
        setItems([]);
      },
    );
  }, []);

  useEffect(() => {
    if (fresh) freshRef.current?.focus();
  }, [fresh]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = name.trim();
    if (!wanted) return setNameError("Give the token a name, such as the machine that uses it.");
    if (wanted.length > 64) return setNameError("Use at most 64 characters.");
    setNameError(undefined);
    setBusy(true);
    setError(null);
    try {
      const created = await api.createToken(wanted);
      setFresh(created);
      setItems((old) => [...(old ?? []), { id: created.id, name: created.name, created_at: created.created_at, last_used_at: null }]);
      setName("");
    } catch (e) {
      if (e instanceof ApiError && e.fields.name) setNameError(e.fields.name);
      else setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (token: TokenInfo) => {
    setError(null);
    try {
      await api.revokeToken(token.id);
      setItems((old) => (old ?? []).filter((t) => t.id !== token.id));
      if (fresh?.id === token.id) setFresh(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setConfirming(null);
    }
  };

  return (
    <div className="page">
      <h1>API tokens</h1>
      <p className="hint">
        A token lets a program call the API as you: send it as <code>Authorization: Bearer &lt;token&gt;</code>, or give it to <code>feather.Client(token=...)</code>.
      </p>
      {fresh ? (
        <div className="panel fresh-token" tabIndex={-1} ref={freshRef} role="region" aria-label="Your new token">
          <h2 className="panel-title">Your new token “{fresh.name}”</h2>
          <p>
            <strong>Copy it now: it will not be shown again.</strong>
          </p>
          <div className="token-value">
            <code data-testid="new-token">{fresh.token}</code>
            <CopyButton text={fresh.token} label="Copy token" />
          </div>
          <div className="actions">
            <button type="button" className="button" onClick={() => setFresh(null)}>
              I have copied it
            </button>
          </div>
        </div>
      ) : null}
      <form className="panel inline-form" onSubmit={create} noValidate>
        <Field id="token-name" label="New token name" error={nameError}>
          <input
            id="token-name"
            value={name}
            maxLength={80}
            placeholder="laptop, CI, notebook…"
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? "token-name-error" : undefined}
            onChange={(e) => setName(e.target.value)}
          />
        </Field>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </form>
      <ErrorBox>{error}</ErrorBox>
      {items === null ? (
        <Spinner label="Loading your tokens" />
      ) : items.length === 0 ? (
        <p className="muted">You have no tokens yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="list-table">
            <caption className="visually-hidden">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td>{when(token.created_at, "–")}</td>
                  <td>{when(token.last_used_at)}</td>
                  <td className="row-actions">
                    {confirming === token.id ? (
                      <span role="group" aria-label={`Revoke ${token.name}?`}>
                        <span className="muted">Revoke? Programs using it stop working. </span>
                        <button type="button" className="button small danger" onClick={() => revoke(token)}>
                          Revoke
                        </button>{" "}
                        <button type="button" className="button small" onClick={() => setConfirming(null)}>
                          Keep
                        </button>
                      </span>
                    ) : (
                      <button type="button" className="button small" onClick={() => setConfirming(token.id)} aria-label={`Revoke ${token.name}`}>
                        Revoke…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
