/** Pages that need an account: wait for the session, send anonymous visitors to /login. */
import { useEffect, type ReactNode } from "react";
import { Spinner } from "../components/ui";
import { navigate, useLocation } from "../router";
import { loginUrl, useSession } from "../session";

export function RequireLogin({ children }: { children: ReactNode }) {
  const { user } = useSession();
  const location = useLocation();
  useEffect(() => {
    if (user === null) navigate(loginUrl(location.pathname + location.search), { replace: true });
  }, [user, location.pathname, location.search]);
  if (user === undefined) return <Spinner label="Checking your session" />;
  if (user === null) return null;
  return <>{children}</>;
}
