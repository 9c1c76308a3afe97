import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";

// lazily loaded pages are compiled on first use in tests: allow for it
configure({ asyncUtilTimeout: 4000 });

// Fail any test that logs a console error (React warnings included): the portal must not.
const errors: unknown[][] = [];
beforeEach(() => {
  errors.length = 0;
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    errors.push(args);
  });
  window.history.replaceState(null, "", "/");
  sessionStorage.clear();
  document.cookie.split(";").forEach((c) => {
    const name = c.split("=")[0].trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  });
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  if (errors.length) {
    const shown = errors.map((args) => args.map(String).join(" ")).join("\n");
    throw new Error(`console.error was called:\n${shown}`);
  }
});

if (!("scrollTo" in window) || typeof window.scrollTo !== "function") {
  Object.defineProperty(window, "scrollTo", { value: () => undefined, writable: true });
}
window.scrollTo = () => undefined;
if (typeof URL.createObjectURL !== "function") {
  Object.defineProperty(URL, "createObjectURL", { value: () => "blob:mock", writable: true });
  Object.defineProperty(URL, "revokeObjectURL", { value: () => undefined, writable: true });
}

// jsdom has no matchMedia; uPlot asks it for the device pixel ratio when it loads
if (typeof window !== "undefined" && !window.matchMedia) {
  window.matchMedia = ((query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    addListener: () => undefined,
    removeListener: () => undefined,
    dispatchEvent: () => false,
  })) as unknown as typeof window.matchMedia;
}
