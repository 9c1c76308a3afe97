/** The shell: header with navigation and session, the routes, a skip link. */
import { lazy, Suspense, useEffect, useRef } from "react";
import { Spinner } from "./components/ui";
import { Catalogue } from "./pages/Catalogue";
import { ModelPage } from "./pages/ModelPage";
import { Link, match, navigate, useLocation } from "./router";
import { useSession } from "./session";

// Rarely used pages load on demand, so the catalogue and model pages start fast.
const AuthPage = lazy(() => import("./pages/AuthPage"));
const TokensPage = lazy(() => import("./pages/TokensPage"));
const MyModelsPage = lazy(() => import("./pages/MyModelsPage"));
const RunPage = lazy(() => import("./pages/RunPage"));
// charts come with uPlot: loaded only by those who open a dashboard
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const TasksPage = lazy(() => import("./pages/TasksPage"));

function Header() {
  const { user, logout } = useSession();
  const location = useLocation();
  const here = location.pathname + location.search;
  const next = location.pathname.startsWith("/login") || location.pathname.startsWith("/signup") ? "/" : here;
  return (
    <header className="site-header">
      <nav className="nav" aria-label="Main">
        <Link to="/" className="brand">
          <svg className="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
            <path d="M20 3C12 3 6 8 5 16l-2 5h2l1.6-4C14 16 19 11 20 3Z" fill="currentColor" opacity="0.85" />
            <path d="M6.6 17 15 8" stroke="var(--panel)" strokeWidth="1.4" fill="none" />
          </svg>{" "}
          feather
        </Link>
        <Link to="/" aria-current={location.pathname === "/" ? "page" : undefined}>
          Models
        </Link>
        <Link to="/tasks" aria-current={location.pathname.startsWith("/tasks") ? "page" : undefined}>
          Tasks
        </Link>
        {user ? (
          <>
            <Link to="/me/models" aria-current={location.pathname === "/me/models" ? "page" : undefined}>
              My models
            </Link>
            <Link to="/tokens" aria-current={location.pathname === "/tokens" ? "page" : undefined}>
              Tokens
            </Link>
          </>
        ) : null}
        <span className="nav-spacer" />
        {user === undefined ? null : user ? (
          <>
            <span className="muted user-name" title="Logged in">
              {user.username}
            </span>
            <button
              type="button"
              className="button small"
              onClick={async () => {
                await logout().catch(() => undefined);
                navigate("/");
              }}
            >
              Log out
            </button>
          </>
        ) : (
          <>
            <Link to={`/login?next=${encodeURIComponent(next)}`}>Log in</Link>
            <Link to={`/signup?next=${encodeURIComponent(next)}`} className="button small primary">
              Sign up
            </Link>
          </>
        )}
      </nav>
    </header>
  );
}

function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Browse the models</Link>
      </p>
    </div>
  );
}

export function Routes() {
  const { pathname } = useLocation();
  let params: Record<string, string> | null;
  if (pathname === "/" || pathname === "") return <Catalogue />;
  if ((params = match("/m/:owner/:name/dashboard", pathname))) return <DashboardPage key={`${params.owner}/${params.name}`} owner={params.owner} name={params.name} />;
  if ((params = match("/m/:owner/:name", pathname))) return <ModelPage key={`${params.owner}/${params.name}`} owner={params.owner} name={params.name} />;
  if (match("/tasks", pathname)) return <TasksPage />;
  if ((params = match("/tasks/:task", pathname))) return <TasksPage key={params.task} task={params.task} />;
  if ((params = match("/tasks/:task/arena", pathname))) return <TasksPage key={`${params.task}-arena`} task={params.task} arena />;
  if ((params = match("/runs/:id", pathname))) return <RunPage key={params.id} id={params.id} />;
  if (match("/login", pathname)) return <AuthPage mode="login" />;
  if (match("/signup", pathname)) return <AuthPage mode="signup" />;
  if (match("/tokens", pathname)) return <TokensPage />;
  if (match("/me/models", pathname)) return <MyModelsPage />;
  return <NotFound />;
}

export function App() {
  const { pathname } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // move focus to the new page for keyboard and screen-reader users (not on first load)
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" ref={main} tabIndex={-1}>
        <Suspense fallback={<div className="page"><Spinner /></div>}>
          <Routes />
        </Suspense>
      </main>
      <footer className="site-footer">
        <span className="muted">feather: share and serve models</span>
      </footer>
    </>
  );
}
