/** Who is logged in, and the actions that change it. */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ApiError, onUnauthorized, readCookie, setSession, type Account } from "./api";
import { saveAllDrafts } from "./lib/drafts";
import { navigate } from "./router";

interface SessionValue {
  /** undefined while the first /v1/me is on its way; null when logged out. */
  user: Account | null | undefined;
  login(username: string, password: string): Promise<void>;
  signup(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const SessionContext = createContext<SessionValue>({
  user: null,
  login: async () => undefined,
  signup: async () => undefined,
  logout: async () => undefined,
});

export function loginUrl(next: string, expired = false): string {
  const params = new URLSearchParams({ next });
  if (expired) params.set("expired", "1");
  return `/login?${params.toString()}`;
}

export function SessionProvider({ children, initial }: { children: ReactNode; initial?: Account | null }) {
  const [user, setUser] = useState<Account | null | undefined>(initial);

  const adopt = useCallback((account: Account | null) => {
    setSession(account);
    setUser(account);
  }, []);

  useEffect(() => {
    if (initial !== undefined) {
      setSession(initial);
      return;
    }
    // The session cookie is HttpOnly, but the CSRF cookie is set and cleared with it: without
    // it there is no session, so anonymous visitors cost no request (and no 401 in the console).
    if (readCookie("feather_csrf") === null) {
      adopt(null);
      return;
    }
    let live = true;
    api.me().then(
      (account) => live && adopt(account),
      (error) => {
        // a stale session cookie would make the gateway refuse even public reads: drop it
        if (error instanceof ApiError && error.status === 401) void api.logout().catch(() => undefined);
        if (live) adopt(null);
      },
    );
    return () => {
      live = false;
    };
  }, [adopt, initial]);

  useEffect(
    () =>
      onUnauthorized(() => {
        saveAllDrafts();
        setSession(null);
        setUser(null);
        const here = window.location.pathname + window.location.search;
        if (!window.location.pathname.startsWith("/login")) navigate(loginUrl(here, true));
      }),
    [],
  );

  const value = useMemo<SessionValue>(
    () => ({
      user,
      login: async (username, password) => adopt(await api.login(username, password)),
      signup: async (username, password) => adopt(await api.signup(username, password)),
      logout: async () => {
        try {
          await api.logout();
        } finally {
          adopt(null);
        }
      },
    }),
    [user, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  return useContext(SessionContext);
}
