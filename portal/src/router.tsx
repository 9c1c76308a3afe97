/**
 * A tiny history router: the location as React state, `navigate`, `<Link>` and path matching.
 * The gateway serves index.html for every path outside /v1 and /healthz, so deep links work.
 */
import { createContext, useContext, useLayoutEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from "react";

export interface Location {
  pathname: string;
  search: string;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { pathname: window.location.pathname, search: window.location.search };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const here = window.location.pathname + window.location.search;
  if (to === here && !options.replace) return;
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const listener of [...listeners]) listener();
  if (!options.replace) window.scrollTo?.(0, 0);
}

const LocationContext = createContext<Location>({ pathname: "/", search: "" });

export function RouterProvider({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState<Location>(current);
  // a layout effect subscribes before any child's passive effect can navigate
  useLayoutEffect(() => {
    const update = () => setLocation((old) => {
      const next = current();
      return old.pathname === next.pathname && old.search === next.search ? old : next;
    });
    listeners.add(update);
    window.addEventListener("popstate", update);
    update(); // catch a navigation that happened before this subscription
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return <LocationContext.Provider value={location}>{children}</LocationContext.Provider>;
}

export function useLocation(): Location {
  return useContext(LocationContext);
}

export function useQuery(): URLSearchParams {
  return new URLSearchParams(useLocation().search);
}

/** `/m/:owner/:name` against a path -> the decoded parameters, or null. */
export function match(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = pathname.replace(/\/+$/, "").split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(have[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== have[i]) return null;
  }
  return params;
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

export function Link({ to, onClick, children, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (rest.target && rest.target !== "_self") return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={handle} {...rest}>
      {children}
    </a>
  );
}

/** A `next` parameter that stays on this site ("/..." but not "//host"). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
