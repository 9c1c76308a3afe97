/** /login and /signup. After success, back to `next` (where an expired session sent the user from). */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api";
import { ErrorBox, Field } from "../components/ui";
import { Link, navigate, safeNext, useQuery } from "../router";
import { useSession } from "../session";

export default function AuthPage({ mode }: { mode: "login" | "signup" }) {
  const query = useQuery();
  const next = safeNext(query.get("next"));
  const expired = query.get("expired") === "1";
  const session = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);
  const signup = mode === "signup";

  useEffect(() => {
    document.title = `${signup ? "Sign up" : "Log in"} · feather`;
  }, [signup]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!username.trim()) found.username = "Enter your username.";
    if (!password) found.password = "Enter your password.";
    if (signup && username.trim() && !/^[a-z][a-z0-9-]{2,31}$/.test(username.trim())) {
      found.username = "3 to 32 lowercase letters, digits or '-', starting with a letter.";
    }
    if (signup && password && password.length < 8) found.password = "Use at least 8 characters.";
    setErrors(found);
    setMessage(null);
    if (found.username) return userRef.current?.focus();
    if (found.password) return passRef.current?.focus();
    setBusy(true);
    try {
      if (signup) await session.signup(username.trim(), password);
      else await session.login(username.trim(), password);
      navigate(next, { replace: true });
    } catch (e) {
      setBusy(false);
      if (e instanceof ApiError) {
        const fields = { ...e.fields };
        setErrors(fields);
        if (fields.username) userRef.current?.focus();
        else if (fields.password) passRef.current?.focus();
        setMessage(Object.keys(fields).length ? null : e.status === 401 ? e.message.charAt(0).toUpperCase() + e.message.slice(1) + "." : e.message);
      } else setMessage(String(e));
    }
  };

  const other = signup ? `/login?next=${encodeURIComponent(next)}` : `/signup?next=${encodeURIComponent(next)}`;
  return (
    <div className="page narrow">
      <h1>{signup ? "Create an account" : "Log in"}</h1>
      {expired && !signup ? <p className="notice" role="status">Your session has expired. Log in again to continue where you were.</p> : null}
      <form className="panel" onSubmit={submit} noValidate>
        <Field id="auth-username" label="Username" error={errors.username} required description={signup ? "Lowercase letters, digits and '-'; 3 to 32 characters." : undefined}>
          <input
            ref={userRef}
            id="auth-username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            aria-invalid={errors.username ? true : undefined}
            aria-describedby={[signup ? "auth-username-hint" : "", errors.username ? "auth-username-error" : ""].filter(Boolean).join(" ") || undefined}
            onChange={(e) => setUsername(e.target.value)}
          />
        </Field>
        <Field id="auth-password" label="Password" error={errors.password} required description={signup ? "At least 8 characters." : undefined}>
          <input
            ref={passRef}
            id="auth-password"
            name="password"
            type="password"
            autoComplete={signup ? "new-password" : "current-password"}
            value={password}
            aria-invalid={errors.password ? true : undefined}
            aria-describedby={[signup ? "auth-password-hint" : "", errors.password ? "auth-password-error" : ""].filter(Boolean).join(" ") || undefined}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <ErrorBox>{message}</ErrorBox>
        <div className="actions">
          <button type="submit" className="button primary" disabled={busy} aria-busy={busy}>
            {busy ? (signup ? "Creating…" : "Logging in…") : signup ? "Sign up" : "Log in"}
          </button>
        </div>
      </form>
      <p>
        {signup ? "Already have an account? " : "New here? "}
        <Link to={other}>{signup ? "Log in" : "Create an account"}</Link>
      </p>
    </div>
  );
}
