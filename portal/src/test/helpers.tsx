/** Test helpers: a fetch mock with a route table that records every call, and app rendering. */
import { fireEvent, render } from "@testing-library/react";
import { vi } from "vitest";
import type { Account } from "../api";
import { setSession } from "../api";
import { App } from "../App";
import type { Manifest } from "../manifest";
import { RouterProvider } from "../router";
import { SessionProvider } from "../session";

export interface Call {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  init: RequestInit;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

type Handler = (call: Call) => Reply | Promise<Reply>;

export interface Route {
  method?: string;
  path: string | RegExp;
  reply: Reply | Handler;
  /** Answer only this many times (then the next matching route answers). */
  times?: number;
}

export function mockFetch(routes: Route[]) {
  const calls: Call[] = [];
  const used = new Map<Route, number>();
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const parsed = new URL(url, "http://localhost");
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    let body: unknown = init.body;
    if (typeof init.body === "string") {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    const call: Call = { method: (init.method ?? "GET").toUpperCase(), url, path: parsed.pathname, query: parsed.searchParams, headers, body, init };
    calls.push(call);
    const route = routes.find((r) => {
      if (r.method && r.method.toUpperCase() !== call.method) return false;
      if (r.times !== undefined && (used.get(r) ?? 0) >= r.times) return false;
      return typeof r.path === "string" ? r.path === call.path : r.path.test(call.path);
    });
    if (!route) return new Response(JSON.stringify({ detail: `no mock for ${call.method} ${call.path}` }), { status: 404, headers: { "Content-Type": "application/json" } });
    used.set(route, (used.get(route) ?? 0) + 1);
    const reply = typeof route.reply === "function" ? await route.reply(call) : route.reply;
    const status = reply.status ?? 200;
    if (status === 204) return new Response(null, { status, headers: reply.headers });
    const text = reply.text ?? JSON.stringify(reply.json ?? {});
    return new Response(text, { status, headers: { "Content-Type": reply.text !== undefined ? "text/plain" : "application/json", ...(reply.headers ?? {}) } });
  });
  vi.stubGlobal("fetch", fn);
  return {
    calls,
    fn,
    find: (method: string, path: string | RegExp) =>
      calls.filter((c) => c.method === method && (typeof path === "string" ? c.path === path : path.test(c.path))),
  };
}

export function renderApp(path: string, user: Account | null = null) {
  window.history.replaceState(null, "", path);
  setSession(user);
  return render(
    <RouterProvider>
      <SessionProvider initial={user}>
        <App />
      </SessionProvider>
    </RouterProvider>,
  );
}

export function modelDetail(owner: string, manifest: Manifest, extra: Record<string, unknown> = {}) {
  return {
    id: `${owner}/${manifest.name}`,
    owner,
    name: manifest.name,
    description: manifest.description,
    visibility: "public",
    latest_version: 1,
    status: "ready",
    runs: 3,
    manifest,
    versions: [{ version: 1, status: "ready", error: null, created_at: "2026-01-01T00:00:00Z", build_ms: 1200 }],
    ...extra,
  };
}

export function pngFile(name = "p.png", size = 64): File {
  const bytes = new Uint8Array(size);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new File([bytes], name, { type: "image/png" });
}

/** jsdom does not load images: give an <img> a size and fire its load event. */
export function loadImage(img: HTMLImageElement, width: number, height: number) {
  Object.defineProperty(img, "naturalWidth", { value: width, configurable: true });
  Object.defineProperty(img, "naturalHeight", { value: height, configurable: true });
  fireEvent.load(img);
}
