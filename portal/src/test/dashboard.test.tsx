import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Manifest } from "../manifest";
import { toCsv, windowOf } from "../pages/DashboardPage";
import helloJson from "./fixtures/hello.json";
import { mockFetch, modelDetail, renderApp } from "./helpers";

const hello = helloJson as unknown as Manifest;
const figures = (runs: number, failed: number, p50: number) => ({
  runs,
  requested: runs,
  succeeded: runs - failed,
  errors: failed,
  errors_by_kind: { failed, timed_out: 0, canceled: 0 },
  error_rate: runs ? failed / runs : 0,
  latency_ms: { p50, p95: p50 * 2, p99: p50 * 3, mean: p50 },
  queue_ms: { p50: 1, p95: 2, p99: 3, mean: 1.5 },
  predict_ms: { p50: p50 / 2, p95: p50, p99: p50, mean: p50 / 2 },
});
const metrics = { model: "ann/hello", from: "", to: "", step: "1h", ...figures(40, 4, 12), series: [{ start: "2026-12-01T10:00:00+00:00", ...figures(40, 4, 12) }] };
const drift = {
  model: "ann/hello",
  version: 1,
  reference: { pinned: false, first_runs: 1000 },
  fields: [{ field: "inputs.name.length", test: "ks", score: 0.001, threshold: 0.05, drifted: true, reference_rows: 30, current_rows: 10, bins: [0, 1, 2], reference: [20, 10], current: [1, 9] }],
  drifted_fields: 1,
  share: 1,
  drifted: true,
  reference_rows: 30,
  current_rows: 10,
};
const feedback = { feedback: 3, up: 2, down: 1, stars: { n: 0, mean: null }, labelled: 2, correct: 1, accuracy: 0.5, versions: {}, series: [] };
const runs = [
  { id: "r1", model: "ann/hello", version: 1, step: "greet", status: "succeeded", inputs: { name: "Ada" }, outputs: { greeting: "Hi" }, requested_at: "2026-12-01T10:01:00Z" },
  { id: "r2", model: "ann/hello", version: 1, step: "greet", status: "failed", inputs: { name: "x" }, outputs: null, error: "boom", requested_at: "2026-12-01T10:02:00Z", feedback: { rating: "down" } },
];

describe("the dashboard", () => {
  it("shows the totals, versions, drift, feedback and runs the API answers, and filters the runs", async () => {
    const fetcher = mockFetch([
      { method: "GET", path: "/v1/models/ann/hello", reply: { json: modelDetail("ann", hello) } },
      { method: "GET", path: "/v1/models/ann/hello/metrics", reply: { json: metrics } },
      { method: "GET", path: "/v1/models/ann/hello/drift", reply: { json: drift } },
      { method: "GET", path: "/v1/models/ann/hello/feedback", reply: { json: feedback } },
      { method: "GET", path: "/v1/models/ann/hello/runs", reply: { json: { items: runs, next_cursor: null } } },
      {
        method: "GET",
        path: "/v1/models/ann/hello/alerts",
        reply: { json: { webhook: null, events: [], rules: [{ name: "errors", metric: "error_rate", threshold: 0.05, window_min: 10, state: "firing", since: "x", value: 0.1 }] } },
      },
    ]);
    const user = userEvent.setup();
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    const totals = await screen.findByRole("region", { name: "Totals" });
    expect(within(totals).getByText("40")).toBeInTheDocument();
    expect(within(totals).getByText("10.0%")).toBeInTheDocument();
    expect(within(totals).getByText("24 ms")).toBeInTheDocument(); // p95
    expect(screen.getByText("inputs.name.length")).toBeInTheDocument();
    const alerts = screen.getByRole("region", { name: "Alerts" });
    expect(within(alerts).getByText("error rate above 0.05 over 10 min")).toBeInTheDocument();
    expect(screen.getByText(/drifting/)).toBeInTheDocument();
    expect(screen.getByTestId("accuracy")).toHaveTextContent("50.0%");
    expect(screen.getByTestId("thumbs-up")).toHaveTextContent(/^2$/);
    const explorer = screen.getByRole("region", { name: "Runs" });
    expect(within(explorer).getAllByRole("row")).toHaveLength(3);
    await user.selectOptions(within(explorer).getByLabelText("status"), "failed");
    expect(within(explorer).getAllByRole("row")).toHaveLength(2);
    await user.selectOptions(within(explorer).getByLabelText("status"), "");
    await user.selectOptions(within(explorer).getByLabelText("feedback"), "with");
    expect(within(explorer).getByText("r2")).toBeInTheDocument();

    const before = fetcher.find("GET", "/v1/models/ann/hello/metrics").length;
    await user.click(screen.getByRole("button", { name: "7 d" }));
    await waitFor(() => expect(fetcher.find("GET", "/v1/models/ann/hello/metrics").length).toBeGreaterThan(before));
    const last = fetcher.find("GET", "/v1/models/ann/hello/metrics").at(-1)!;
    expect(last.query.get("step")).toBe("1h");
    expect(Date.parse(last.query.get("to")!) - Date.parse(last.query.get("from")!)).toBe(7 * 86_400_000);
  });

  it("picks minute buckets for short windows and exports runs as CSV", () => {
    expect(windowOf("1h", 0).step).toBe("1m");
    expect(windowOf("24h", 0).step).toBe("1h");
    const csv = toCsv(runs as never);
    expect(csv.split("\n")[0]).toBe("id,version,step,status,requested_at,total_ms,inputs,outputs,error,feedback");
    expect(csv).toContain('r1,1,greet,succeeded,2026-12-01T10:01:00Z,,"{""name"":""Ada""}","{""greeting"":""Hi""}",,');
  });
});

describe("feedback after a run", () => {
  it("sends a thumb, then a correction and a comment as a revision", async () => {
    const { Runner } = await import("../components/Runner");
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/models/ann/hello/runs", reply: { status: 201, json: { id: "r9", model: "ann/hello", version: 1, step: "greet", status: "succeeded", outputs: { greeting: "Hello, Ada!" }, urls: { get: "/v1/runs/r9?token=tk" } } } },
      { method: "POST", path: "/v1/runs/r9/feedback", reply: (call) => ({ json: { revision: fetcher.find("POST", "/v1/runs/r9/feedback").length, ...(call.body as object) } }) },
    ]);
    const user = userEvent.setup();
    render(<Runner owner="ann" name="hello" manifest={hello} />);
    await user.type(screen.getByLabelText(/Your name/), "Ada");
    await user.click(screen.getByRole("button", { name: "Run" }));
    await user.click(await screen.findByRole("button", { name: "Good answer" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Thanks, noted.");
    await user.click(screen.getByText("Correct it or comment"));
    await user.type(screen.getByLabelText("Comment"), "friendly");
    await user.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("(updated)"));
    const sent = fetcher.find("POST", "/v1/runs/r9/feedback");
    expect(sent.map((c) => c.body)).toEqual([{ rating: "up", label: null, comment: "" }, { rating: "up", label: null, comment: "friendly" }]);
    expect(sent[0].query.get("token")).toBe("tk");
  });
});
