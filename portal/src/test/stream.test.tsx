import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { Runner } from "../components/Runner";
import type { Manifest } from "../manifest";
import streamJson from "./fixtures/stream.json";
import { mockFetch, modelDetail, renderApp } from "./helpers";

const counting = streamJson as unknown as Manifest;
const RUNS = "/v1/models/local/stream/runs";

/** The browser's EventSource as a test drives it: the test plays the server's events. */
class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static opened: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;

  constructor(readonly url: string) {
    super();
    FakeEventSource.opened.push(this);
  }

  close() {
    this.readyState = FakeEventSource.CLOSED;
  }

  async send(kind: string, data: unknown) {
    this.readyState = FakeEventSource.OPEN;
    await act(async () => {
      this.dispatchEvent(new MessageEvent(kind, { data: JSON.stringify(data) }));
    });
  }

  /** The connection breaks; the browser retries unless `closed`. */
  async drop(closed = false) {
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    await act(async () => {
      this.dispatchEvent(new Event("error"));
    });
  }
}

const urls = (query = "") => ({ get: `/v1/runs/s1${query}`, cancel: `/v1/runs/s1/cancel${query}`, stream: `/v1/runs/s1/stream${query}` });
const queued = { id: "s1", model: "local/stream", version: 1, step: "count", status: "queued", inputs: { n: 4 }, outputs: null, error: null, urls: urls() };
const finished = { ...queued, status: "succeeded", outputs: { words: "1 2 3 4" }, metrics: { queue_ms: 2, predict_ms: 600, total_ms: 610 } };

const words = () => screen.getByRole("region", { name: "Words" });
const shown = () => words().querySelector("pre")?.textContent;

async function runWithFour(streamed = true) {
  const user = userEvent.setup();
  const view = render(<Runner owner="local" name="stream" manifest={counting} />);
  await user.type(screen.getByLabelText(/^N/), "4");
  await user.click(screen.getByRole("button", { name: "Run" }));
  if (streamed) await waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
  return { view, source: FakeEventSource.opened[0] };
}

beforeEach(() => {
  FakeEventSource.opened = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("a streaming step on the model form", () => {
  it("shows the text growing as it is written, then the finished run, without polling", async () => {
    const fetcher = mockFetch([{ method: "POST", path: RUNS, reply: { status: 202, json: queued } }]);
    const { source } = await runWithFour();
    expect(source.url).toBe("/v1/runs/s1/stream");
    expect(fetcher.calls[0].headers.prefer).toBe("wait=0"); // the first words are not held back

    await source.send("progress", { fraction: 0.25, message: "counting" });
    expect(screen.getByText("counting")).toBeInTheDocument();
    expect(screen.getByText("running")).toBeInTheDocument();
    await source.send("output", { outputs: { words: "1 " } });
    expect(shown()).toBe("1 ");
    expect(within(words()).getByText("streaming")).toBeInTheDocument();
    expect(words()).toHaveAttribute("aria-busy", "true");
    await source.send("output", { outputs: { words: "1 2 3 " } });
    expect(shown()).toBe("1 2 3 ");

    await source.send("output", { outputs: { words: "1 2 3 4" } });
    await source.send("done", finished);
    expect(await screen.findByText("610 ms (model 600 ms)")).toBeInTheDocument();
    expect(shown()).toBe("1 2 3 4");
    expect(screen.queryByText("streaming")).not.toBeInTheDocument();
    expect(words()).not.toHaveAttribute("aria-busy");
    expect(screen.getByRole("link", { name: "Permalink to this run" })).toHaveAttribute("href", "/runs/s1");
    expect(screen.getByRole("button", { name: "Run" })).toBeEnabled();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
    expect(fetcher.find("GET", /^\/v1\/runs\//)).toEqual([]);
  });

  it("falls back to polling after three broken connections, from what the stream had shown", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: RUNS, reply: { status: 202, json: queued } },
      { method: "GET", path: "/v1/runs/s1", times: 1, reply: { json: { ...queued, status: "running", outputs: { words: "1 2 " } } } },
      { method: "GET", path: "/v1/runs/s1", reply: { json: finished } },
    ]);
    const { source } = await runWithFour();
    await source.send("output", { outputs: { words: "1 " } });
    await source.drop();
    await source.drop();
    expect(source.readyState).not.toBe(FakeEventSource.CLOSED); // the browser is still retrying
    expect(shown()).toBe("1 ");
    await source.drop();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);

    await waitFor(() => expect(shown()).toBe("1 2 "));
    expect(await screen.findByText("610 ms (model 600 ms)")).toBeInTheDocument();
    expect(shown()).toBe("1 2 3 4");
    expect(fetcher.find("GET", "/v1/runs/s1")).toHaveLength(2);
    expect(FakeEventSource.opened).toHaveLength(1);
  });

  it("polls at once when the browser gives the stream up, and without EventSource at all", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: RUNS, reply: { status: 202, json: queued } },
      { method: "GET", path: "/v1/runs/s1", reply: { json: finished } },
    ]);
    const { source, view } = await runWithFour();
    await source.drop(true); // e.g. a 502 from a proxy: no retry
    expect(await screen.findByText("610 ms (model 600 ms)")).toBeInTheDocument();
    expect(fetcher.find("GET", "/v1/runs/s1")).toHaveLength(1);
    view.unmount();

    vi.stubGlobal("EventSource", undefined);
    FakeEventSource.opened = [];
    await runWithFour(false);
    expect(await screen.findByText("610 ms (model 600 ms)")).toBeInTheDocument();
    expect(fetcher.find("GET", "/v1/runs/s1")).toHaveLength(2);
    expect(FakeEventSource.opened).toEqual([]);
  });

  it("shows a failed run from `done`; the server's `error` event is not a broken connection", async () => {
    const fetcher = mockFetch([{ method: "POST", path: RUNS, reply: { status: 202, json: queued } }]);
    const { source } = await runWithFour();
    await source.send("output", { outputs: { words: "1 2 " } });
    for (let i = 0; i < 3; i++) await source.send("error", { status: "failed", error: "ValueError: four is too many" });
    expect(source.readyState).not.toBe(FakeEventSource.CLOSED);
    await source.send("done", { ...queued, status: "failed", outputs: null, error: "ValueError: four is too many" });
    expect(await screen.findByRole("alert")).toHaveTextContent("ValueError: four is too many");
    expect(screen.queryByRole("region", { name: "Words" })).not.toBeInTheDocument();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
    expect(fetcher.find("GET", /^\/v1\/runs\//)).toEqual([]);
  });

  it("closes the stream when the form goes away", async () => {
    mockFetch([{ method: "POST", path: RUNS, reply: { status: 202, json: queued } }]);
    const { source, view } = await runWithFour();
    await source.send("output", { outputs: { words: "1 " } });
    view.unmount();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });
});

describe("a running run's permalink page", () => {
  it("follows the run's stream (with its token) until it is done, and closes it on leaving", async () => {
    const running = { ...queued, status: "running", urls: urls("?token=tok") };
    mockFetch([
      { method: "GET", path: "/v1/runs/s1", reply: { json: running } },
      { method: "GET", path: "/v1/models/local/stream", reply: { json: modelDetail("local", counting) } },
    ]);
    const view = renderApp("/runs/s1?token=tok", null);
    await waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const source = FakeEventSource.opened[0];
    expect(source.url).toBe("/v1/runs/s1/stream?token=tok");
    expect(await screen.findByText("Waiting for the outputs…")).toBeInTheDocument();

    await source.send("output", { outputs: { words: "1 2 " } });
    await waitFor(() => expect(shown()).toBe("1 2 "));
    expect(within(words()).getByText("streaming")).toBeInTheDocument();
    expect(screen.queryByText("Waiting for the outputs…")).not.toBeInTheDocument();
    await source.send("done", { ...finished, urls: urls("?token=tok") });
    expect(shown()).toBe("1 2 3 4");
    expect(screen.queryByText("streaming")).not.toBeInTheDocument();
    expect(screen.getByText("610 ms (model 600 ms)")).toBeInTheDocument();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
    view.unmount();

    // a page left while the run goes closes its stream
    FakeEventSource.opened = [];
    const again = renderApp("/runs/s1?token=tok", null);
    await waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    again.unmount();
    expect(FakeEventSource.opened[0].readyState).toBe(FakeEventSource.CLOSED);
  });
});
