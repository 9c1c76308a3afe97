import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Manifest } from "../manifest";
import { figure, toCsv, windowOf } from "../pages/DashboardPage";
import helloJson from "./fixtures/hello.json";
import { mockFetch, modelDetail, renderApp, type Route } from "./helpers";

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
const age = (count: number, p50: number) => ({
  field: "inputs.age",
  count,
  missing: 2,
  missing_share: 2 / (count + 2),
  type: "number",
  mean: 41.372,
  min: 18.1,
  max: 88.9,
  quantiles: { p5: 19.02, p25: 30, p50, p75: 55, p95: 1234.6 },
});
const profiles = {
  model: "ann/hello",
  from: "",
  to: "",
  step: "1h",
  fields: [
    age(38, 40.46),
    {
      field: "outputs.label",
      count: 40,
      missing: 0,
      missing_share: 0,
      type: "category",
      distinct: 5,
      top: [
        { value: "cat", count: 21 },
        { value: "dog", count: 12 },
        { value: "fox", count: 4 },
        { value: "owl", count: 2 },
      ],
    },
    { field: "inputs.photo.type", count: 0, missing: 40, missing_share: 1, type: "missing" },
  ],
  series: [
    { start: "2026-12-01T09:00:00+00:00", fields: [age(20, 38.5)] },
    { start: "2026-12-01T10:00:00+00:00", fields: [age(18, 42.25)] },
  ],
};
const feedback = { feedback: 3, up: 2, down: 1, stars: { n: 0, mean: null }, labelled: 2, correct: 1, accuracy: 0.5, versions: {}, series: [] };
const errorsRule = { name: "errors", metric: "error_rate", threshold: 0.05, window_min: 10, min_runs: 10 };
const alerts = { webhook: null, secret: null, events: [], rules: [{ ...errorsRule, state: "firing", since: "x", value: 0.1 }] };
const runs = [
  { id: "r1", model: "ann/hello", version: 1, step: "greet", status: "succeeded", inputs: { name: "Ada" }, outputs: { greeting: "Hi" }, requested_at: "2026-12-01T10:01:00Z" },
  { id: "r2", model: "ann/hello", version: 1, step: "greet", status: "failed", inputs: { name: "x" }, outputs: null, error: "boom", requested_at: "2026-12-01T10:02:00Z", feedback: { rating: "down" } },
];

/** The dashboard's reads; `first` routes answer before them. */
function dashboardRoutes(first: Route[] = []): Route[] {
  return [
    ...first,
    { method: "GET", path: "/v1/models/ann/hello", reply: { json: modelDetail("ann", hello) } },
    { method: "GET", path: "/v1/models/ann/hello/metrics", reply: { json: metrics } },
    { method: "GET", path: "/v1/models/ann/hello/drift", reply: { json: drift } },
    { method: "GET", path: "/v1/models/ann/hello/feedback", reply: { json: feedback } },
    { method: "GET", path: "/v1/models/ann/hello/runs", reply: { json: { items: runs, next_cursor: null } } },
    { method: "GET", path: "/v1/models/ann/hello/alerts", reply: { json: alerts } },
    { method: "GET", path: "/v1/models/ann/hello/profiles", reply: { json: profiles } },
  ];
}

describe("the dashboard", () => {
  it("shows the totals, versions, drift, feedback and runs the API answers, and filters the runs", async () => {
    const fetcher = mockFetch(dashboardRoutes());
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
    expect(screen.getByTestId("drift-reference")).toHaveTextContent("Reference: the version's first 1,000 runs (30 so far).");
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

  it("shows others who may read it no editors, and no field profiles", async () => {
    const fetcher = mockFetch(dashboardRoutes());
    renderApp("/m/ann/hello/dashboard", { username: "bob" });
    await screen.findByRole("region", { name: "Totals" });
    expect(screen.queryByRole("button", { name: "Edit rules" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Pin reference" })).not.toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Fields" })).not.toBeInTheDocument();
    expect(fetcher.find("GET", "/v1/models/ann/hello/profiles")).toHaveLength(0);
  });

  it("shows each field's profile the API answers, in the same window as the metrics", async () => {
    const fetcher = mockFetch(dashboardRoutes());
    const user = userEvent.setup();
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    const section = await screen.findByRole("region", { name: "Fields" });
    const row = (field: string) => within(section).getByRole("rowheader", { name: field }).closest("tr") as HTMLElement;
    const cells = (field: string) => within(row(field)).getAllByRole("cell").map((c) => c.textContent);
    expect(cells("inputs.age")).toEqual(["38", "5.0%", "41.4", "19", "40.5", "1,235"]);
    expect(cells("outputs.label")).toEqual(["40", "0.0%", "cat (21) · dog (12) · fox (4) · +2 more"]);
    expect(cells("inputs.photo.type")).toEqual(["0", "100.0%", "no values"]);

    // a number field opens its quantiles bucket by bucket
    await user.click(within(section).getByRole("button", { name: "inputs.age" }));
    const trend = within(section).getByText("inputs.age: p5, p50 and p95: the figures").closest("details") as HTMLElement;
    expect(within(trend).getAllByRole("row").map((r) => within(r).queryAllByRole("cell")[1]?.textContent)).toEqual([undefined, "38.5", "42.25"]);

    const [read] = fetcher.find("GET", "/v1/models/ann/hello/profiles");
    const [metricsRead] = fetcher.find("GET", "/v1/models/ann/hello/metrics");
    for (const key of ["from", "to", "step"]) expect(read.query.get(key)).toBe(metricsRead.query.get(key));
  });

  it("leaves the fields out when the gateway refuses them", async () => {
    mockFetch(dashboardRoutes([{ method: "GET", path: "/v1/models/ann/hello/profiles", reply: { status: 403, json: { detail: "only ann can read this" } } }]));
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    await screen.findByRole("region", { name: "Totals" });
    expect(screen.getByRole("region", { name: "Drift" })).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Fields" })).not.toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("writes figures to three significant digits, thousands whole", () => {
    expect([figure(0), figure(0.4567), figure(5), figure(41.372), figure(1234.6), figure(0.00123), figure(null)]).toEqual(["0", "0.457", "5", "41.4", "1,235", "1.23e-3", "–"]);
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

describe("the owner's alert rules", () => {
  it("adds, changes and removes rules, sets the webhook, saves, and shows the states and the signing secret", async () => {
    let stored = alerts;
    const fetcher = mockFetch(
      dashboardRoutes([
        {
          method: "PUT",
          path: "/v1/models/ann/hello/alerts",
          reply: (call) => {
            const body = call.body as { rules: object[]; webhook: string | null };
            stored = { ...body, secret: "whsec_abc", events: [], rules: body.rules.map((r) => ({ ...r, state: "ok", since: null, value: null })) } as never;
            return { json: stored };
          },
        },
        { method: "GET", path: "/v1/models/ann/hello/alerts", reply: () => ({ json: stored }) },
      ]),
    );
    const user = userEvent.setup();
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    const panel = await screen.findByRole("region", { name: "Alerts" });
    await user.click(within(panel).getByRole("button", { name: "Edit rules" }));
    const first = within(panel).getByRole("group", { name: "Rule 1" });
    expect(within(first).getByLabelText("Name")).toHaveValue("errors");
    await user.clear(within(first).getByLabelText("Threshold"));
    await user.type(within(first).getByLabelText("Threshold"), "0.1");

    await user.click(within(panel).getByRole("button", { name: "Add a rule" }));
    await user.click(within(panel).getByRole("button", { name: "Add a rule" }));
    const second = within(panel).getByRole("group", { name: "Rule 2" });
    await user.type(within(second).getByLabelText("Name"), "acc");
    await user.selectOptions(within(second).getByLabelText("Metric"), "accuracy");
    expect(within(second).getByText("Fires when below this.")).toBeInTheDocument();
    await user.clear(within(second).getByLabelText("Threshold"));
    await user.type(within(second).getByLabelText("Threshold"), "0.8");
    await user.clear(within(second).getByLabelText("Window (min)"));
    await user.type(within(second).getByLabelText("Window (min)"), "60");
    await user.clear(within(second).getByLabelText("Minimum runs"));
    await user.type(within(second).getByLabelText("Minimum runs"), "5");
    await user.click(within(panel).getByRole("button", { name: "Remove rule 3" }));
    expect(within(panel).queryByRole("group", { name: "Rule 3" })).not.toBeInTheDocument();
    await user.click(within(panel).getByLabelText("Webhook URL"));
    await user.paste("https://hooks.example.com/ml");
    await user.click(within(panel).getByRole("button", { name: "Save" }));

    expect(await within(panel).findByRole("status")).toHaveTextContent("Saved 2 rules; alerts are posted to https://hooks.example.com/ml.");
    const [put] = fetcher.find("PUT", "/v1/models/ann/hello/alerts");
    expect(put.body).toEqual({
      rules: [
        { ...errorsRule, threshold: 0.1 },
        { name: "acc", metric: "accuracy", threshold: 0.8, window_min: 60, min_runs: 5 },
      ],
      webhook: "https://hooks.example.com/ml",
    });
    expect(await within(panel).findByText("accuracy below 0.8 over 60 min")).toBeInTheDocument();
    expect(within(panel).getByTestId("webhook-secret")).toHaveTextContent("whsec_abc");
    expect(within(panel).getByText(/feather-signature: sha256=/)).toBeInTheDocument();
    const reads = fetcher.calls.filter((c) => c.method === "GET" && c.path === "/v1/models/ann/hello/alerts");
    expect(fetcher.calls.indexOf(reads.at(-1)!)).toBeGreaterThan(fetcher.calls.indexOf(put)); // the states were read again
  });

  it("shows a refusal next to the field it names and keeps the editor open", async () => {
    mockFetch(
      dashboardRoutes([
        {
          method: "PUT",
          path: "/v1/models/ann/hello/alerts",
          reply: {
            status: 422,
            json: {
              detail: [
                { loc: ["body", "rules", 1, "threshold"], msg: "Input should be a valid number", type: "float_type" },
                { loc: ["body", "webhook"], msg: "an https URL", type: "value_error" },
              ],
            },
          },
        },
      ]),
    );
    const user = userEvent.setup();
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    const panel = await screen.findByRole("region", { name: "Alerts" });
    await user.click(within(panel).getByRole("button", { name: "Edit rules" }));
    await user.click(within(panel).getByRole("button", { name: "Add a rule" }));
    await user.click(within(panel).getByRole("button", { name: "Save" }));

    const second = within(panel).getByRole("group", { name: "Rule 2" });
    const threshold = within(second).getByLabelText("Threshold");
    await waitFor(() => expect(threshold).toHaveAttribute("aria-invalid", "true"));
    expect(threshold).toHaveAccessibleDescription(/Input should be a valid number/);
    expect(within(panel).getByLabelText("Webhook URL")).toHaveAccessibleDescription(/an https URL/);
    const first = within(panel).getByRole("group", { name: "Rule 1" });
    expect(within(first).getByLabelText("Threshold")).not.toHaveAttribute("aria-invalid");
    expect(within(panel).getByRole("alert")).toHaveTextContent("see the highlighted ones");
    expect(within(panel).queryByRole("status")).not.toBeInTheDocument();
  });
});

describe("pinning the drift reference", () => {
  it("sends the chosen window and version, then shows the pinned reference", async () => {
    let pinned: object | null = null;
    const fetcher = mockFetch(
      dashboardRoutes([
        { method: "GET", path: "/v1/models/ann/hello", reply: { json: modelDetail("ann", hello, { versions: [{ version: 1, status: "ready" }, { version: 2, status: "ready" }] }) } },
        {
          method: "PUT",
          path: "/v1/models/ann/hello/drift/reference",
          reply: (call) => {
            pinned = call.body as object;
            return { json: pinned };
          },
        },
        { method: "GET", path: "/v1/models/ann/hello/drift", reply: () => ({ json: pinned ? { ...drift, reference: { pinned: true, ...pinned } } : drift }) },
      ]),
    );
    const user = userEvent.setup();
    renderApp("/m/ann/hello/dashboard", { username: "ann" });
    const section = await screen.findByRole("region", { name: "Drift" });
    await user.click(screen.getByRole("button", { name: "7 d" }));
    const from = within(section).getByLabelText("From");
    // the defaults follow the window the dashboard shows
    await waitFor(() => {
      const shown = fetcher.find("GET", "/v1/models/ann/hello/drift").at(-1)!;
      expect(Date.parse(shown.query.get("to")!) - Date.parse(shown.query.get("from")!)).toBe(7 * 86_400_000);
      expect(new Date((from as HTMLInputElement).value).getTime()).toBe(Math.floor(Date.parse(shown.query.get("from")!) / 1000) * 1000);
    });
    expect(within(section).getByLabelText("Version")).toHaveValue("1");
    await user.selectOptions(within(section).getByLabelText("Version"), "2");
    await user.click(within(section).getByRole("button", { name: "Pin reference" }));

    expect(await within(section).findByRole("status")).toHaveTextContent(/^Version 2 is now compared with its runs from/);
    const [put] = fetcher.find("PUT", "/v1/models/ann/hello/drift/reference");
    const body = put.body as { version: number; from: string; to: string };
    expect(Object.keys(body).sort()).toEqual(["from", "to", "version"]);
    expect(body.version).toBe(2);
    expect(body.from).toBe(new Date((from as HTMLInputElement).value).toISOString());
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(7 * 86_400_000);
    await waitFor(() => expect(within(section).getByTestId("drift-reference")).toHaveTextContent(/^Reference: the pinned window from .+ to .+ \(30 runs\)\.$/));
  });
});
