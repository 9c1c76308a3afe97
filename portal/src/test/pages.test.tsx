import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { curlSnippet, jsSnippet, pythonSnippet } from "../components/ApiSnippets";
import type { Manifest } from "../manifest";
import helloJson from "./fixtures/hello.json";
import pickDigitJson from "./fixtures/pick-digit.json";
import irisJson from "./fixtures/iris-table.json";
import { fileHref, permalink } from "../api";
import { mockFetch, modelDetail, renderApp } from "./helpers";

const hello = helloJson as unknown as Manifest;
const pickDigit = pickDigitJson as unknown as Manifest;
const iris = irisJson as unknown as Manifest;

const item = (name: string, runs: number) => ({ owner: "local", name, description: `The ${name} model`, status: "ready", visibility: "public", runs });

describe("catalogue", () => {
  it("lists models with owner, description, status and runs; searches (debounced), sorts and loads more", async () => {
    const fetcher = mockFetch([
      {
        method: "GET",
        path: "/v1/models",
        reply: (call) => {
          const q = call.query.get("q");
          if (q === "zzz") return { json: { items: [], next_cursor: null } };
          if (call.query.get("cursor") === "c2") return { json: { items: [item("third", 0)], next_cursor: null } };
          if (q === "hel") return { json: { items: [item("hello", 5)], next_cursor: null } };
          return { json: { items: [item("hello", 5), item("echo", 1)], next_cursor: "c2" } };
        },
      },
    ]);
    const user = userEvent.setup();
    renderApp("/", null);
    const link = await screen.findByRole("link", { name: "local/hello" });
    expect(link).toHaveAttribute("href", "/m/local/hello");
    const card = link.closest("li") as HTMLElement;
    expect(within(card).getByText("The hello model")).toBeInTheDocument();
    expect(within(card).getByText("ready")).toBeInTheDocument();
    expect(within(card).getByText("5 runs")).toBeInTheDocument();
    expect(screen.getByText("1 run")).toBeInTheDocument();
    expect(fetcher.calls[0].query.get("limit")).toBe("24");
    expect(fetcher.calls[0].query.get("sort")).toBe("recent");

    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("link", { name: "local/third" })).toBeInTheDocument();
    expect(screen.getAllByRole("listitem")).toHaveLength(3);
    expect(fetcher.calls[1].query.get("cursor")).toBe("c2");
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();

    // typing sends one request after the pause, not one per key
    const before = fetcher.calls.length;
    await user.type(screen.getByLabelText("Search models"), "hel");
    await waitFor(() => expect(screen.queryByRole("link", { name: "local/echo" })).not.toBeInTheDocument());
    const searches = fetcher.calls.slice(before);
    expect(searches.map((c) => c.query.get("q"))).toEqual(["hel"]);
    expect(window.location.search).toBe("?q=hel");

    await user.selectOptions(screen.getByLabelText("Sort by"), "popular");
    await waitFor(() => expect(fetcher.calls.at(-1)?.query.get("sort")).toBe("popular"));

    // a clear empty state
    await user.clear(screen.getByLabelText("Search models"));
    await user.type(screen.getByLabelText("Search models"), "zzz");
    expect(await screen.findByText("No public model matches “zzz”.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Clear the search" }));
    expect(await screen.findByRole("link", { name: "local/hello" })).toBeInTheDocument();
    expect(screen.getByLabelText("Search models")).toHaveValue("");
  });
});

describe("model page", () => {
  it("shows the model and its form, and the API snippets in a tab", async () => {
    mockFetch([{ method: "GET", path: "/v1/models/local/hello", reply: { json: modelDetail("local", hello) } }]);
    const user = userEvent.setup();
    renderApp("/m/local/hello", null);
    expect(await screen.findByRole("heading", { level: 1 })).toHaveTextContent("local/hello");
    expect(await screen.findByText("Greets whoever you name.")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Your name/)).toBeInTheDocument();
    await user.click(screen.getByRole("tab", { name: "Use via API" }));
    const code = await screen.findByText(/curl -X POST/);
    expect(code.textContent).toContain('"name": "Hello"');
    expect(code.textContent).toContain("Authorization: Bearer YOUR_API_TOKEN");
    await user.type(screen.getByLabelText(/Your API token/), "ft_mine");
    expect(screen.getByText(/curl -X POST/).textContent).toContain("Bearer ft_mine");
    await user.click(screen.getByRole("tab", { name: "Python" }));
    expect(screen.getByText(/import feather/).textContent).toContain('client.run("local/hello", name="Hello")');
    // arrow keys move between tabs
    await user.keyboard("{ArrowRight}");
    expect(screen.getByRole("tab", { name: "JavaScript" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByText(/await fetch/)).toBeInTheDocument();
  });

  it("names the version that serves, not the latest, when an older one is deployed", async () => {
    const deployment = { version: 2, follow: "pinned", deployed: 2, previous: 3, at: "2026-01-03T00:00:00Z" };
    mockFetch([{ method: "GET", path: "/v1/models/local/hello", reply: { json: modelDetail("local", hello, { latest_version: 3, deployment }) } }]);
    renderApp("/m/local/hello", null);
    expect(await screen.findByText("version 2")).toBeInTheDocument();
    expect(screen.queryByText("version 3")).not.toBeInTheDocument();
  });

  it("says so when the model does not exist", async () => {
    mockFetch([{ method: "GET", path: "/v1/models/local/nope", reply: { status: 404, json: { detail: "no model local/nope" } } }]);
    renderApp("/m/local/nope", null);
    expect(await screen.findByText("There is no such model, or it is private.")).toBeInTheDocument();
  });
});

describe("API snippets", () => {
  it("builds calls for each step from the manifest", () => {
    const curl = curlSnippet("local", "pick-digit", pickDigit.steps, 1, "T");
    expect(curl).toContain("http://localhost:3000/v1/models/local/pick-digit/runs".replace("localhost:3000", window.location.host));
    expect(curl).toContain('"previous_run": "RUN_ID_OF_THE_PREVIOUS_STEP"');
    expect(curl).toContain('"selected": [');
    const python = pythonSnippet("local", "pick-digit", pickDigit.steps, 1, "T");
    expect(python).toContain('first = client.run("local/pick-digit", picture="picture.png")');
    expect(python).toContain('run = client.run(\n    "local/pick-digit",\n    step="read",\n    previous_run=first.id,\n    digits={"selected": [0]},\n)');
    const js = jsSnippet("local", "iris-table", iris.steps, 0, "T");
    expect(js).toContain('"rows": [');
    const irisPython = pythonSnippet("local", "iris-table", iris.steps, 0, "T");
    expect(irisPython).toContain('"sepal_length": 1.5');
    expect(irisPython).toContain('print(run.outputs["predictions"])');
  });
});

describe("run page", () => {
  it("shows the model, the inputs and the outputs of a run", async () => {
    mockFetch([
      {
        method: "GET",
        path: "/v1/runs/r42",
        reply: { json: { id: "r42", model: "local/hello", version: 1, step: "greet", status: "succeeded", inputs: { name: "Ada" }, outputs: { greeting: "Hello, Ada!" }, metrics: { total_ms: 12, predict_ms: 3 } } },
      },
      { method: "GET", path: "/v1/models/local/hello", reply: { json: modelDetail("local", hello) } },
    ]);
    renderApp("/runs/r42", null);
    expect(await screen.findByText("Hello, Ada!")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "local/hello" })).toHaveAttribute("href", "/m/local/hello");
    expect(await screen.findByRole("region", { name: "Your name" })).toHaveTextContent("Ada");
    expect(screen.getByRole("region", { name: "Greeting" })).toBeInTheDocument();
    expect(screen.getByText("12 ms (model 3 ms)")).toBeInTheDocument();
  });
});

describe("a run made without an account", () => {
  it("is read with the token in its permalink, and its files through the links the gateway gave", async () => {
    const fetcher = mockFetch([
      {
        method: "GET",
        path: "/v1/runs/r7",
        reply: (call) =>
          call.query.get("token") === "tok"
            ? { json: { id: "r7", model: "local/hello", version: 1, step: "greet", status: "succeeded", inputs: { name: "Ada" },
                outputs: { greeting: "Hello, Ada!" }, urls: { get: "/v1/runs/r7?token=tok", cancel: "/v1/runs/r7/cancel?token=tok" } } }
            : { status: 404, json: { detail: "no run r7" } },
      },
      { method: "GET", path: "/v1/models/local/hello", reply: { json: modelDetail("local", hello) } },
    ]);
    renderApp("/runs/r7?token=tok", null);
    expect(await screen.findByText("Hello, Ada!")).toBeInTheDocument();
    expect(fetcher.calls[0].query.get("token")).toBe("tok");
  });

  it("links a file to its href when there is one", () => {
    expect(fileHref({ url: "feather:files/a/b.png", href: "/v1/files/a/b.png?run=r7&token=tok" })).toBe("/v1/files/a/b.png?run=r7&token=tok");
    expect(fileHref({ url: "feather:files/a/b.png" })).toBe("/v1/files/a/b.png");
    expect(permalink({ id: "r7", model: "m/n", status: "succeeded", urls: { get: "/v1/runs/r7?token=t%2Bk", cancel: "" } })).toBe("/runs/r7?token=t%2Bk");
    expect(permalink({ id: "r8", model: "m/n", status: "succeeded", urls: { get: "/v1/runs/r8", cancel: "" } })).toBe("/runs/r8");
  });
});

describe("my models", () => {
  it("follows a build log live, changes visibility and description, deletes after confirming", async () => {
    let logCalls = 0;
    const fetcher = mockFetch([
      {
        method: "GET",
        path: "/v1/models",
        reply: { json: { items: [{ owner: "ann", name: "demo", description: "old", status: "building", visibility: "public", latest_version: 2, runs: 0 }] } },
      },
      {
        method: "GET",
        path: "/v1/models/ann/demo",
        reply: () => ({
          json: {
            owner: "ann",
            name: "demo",
            status: logCalls >= 2 ? "ready" : "building",
            manifest: null,
            versions: [
              { version: 1, status: "failed", error: "pip failed", created_at: "2026-01-01T00:00:00Z" },
              { version: 2, status: logCalls >= 2 ? "ready" : "building", created_at: "2026-01-02T00:00:00Z" },
            ],
          },
        }),
      },
      {
        method: "GET",
        path: "/v1/models/ann/demo/versions/2/build-log",
        reply: (call) => {
          logCalls++;
          return call.query.get("offset") === "0"
            ? { text: "resolving\n", headers: { "X-Build-Status": "building", "X-Log-Size": "10" } }
            : { text: "installed\n", headers: { "X-Build-Status": "ready", "X-Log-Size": "20" } };
        },
      },
      { method: "PATCH", path: "/v1/models/ann/demo", reply: (call) => ({ json: { owner: "ann", name: "demo", ...(call.body as object) } }) },
      { method: "DELETE", path: "/v1/models/ann/demo", reply: { status: 204 } },
    ]);
    const user = userEvent.setup();
    renderApp("/me/models", { username: "ann" });
    expect(await screen.findByRole("link", { name: "ann/demo" })).toBeInTheDocument();
    expect(fetcher.calls[0].query.get("owner")).toBe("me");

    // the building version's log is open and streams until the build ends
    const log = await screen.findByLabelText("Build log of version 2");
    await waitFor(() => expect(log.textContent).toBe("resolving\ninstalled\n"), { timeout: 4000 });
    const offsets = fetcher.find("GET", "/v1/models/ann/demo/versions/2/build-log").map((c) => c.query.get("offset"));
    expect(offsets).toEqual(["0", "10"]);
    await waitFor(() => expect(screen.getAllByText("ready").length).toBeGreaterThan(0));
    expect(screen.getByText("pip failed")).toBeInTheDocument();

    await user.selectOptions(screen.getByLabelText("Visibility"), "private");
    await waitFor(() => expect(fetcher.find("PATCH", "/v1/models/ann/demo")).toHaveLength(1));
    expect(fetcher.find("PATCH", "/v1/models/ann/demo")[0].body).toEqual({ visibility: "private" });

    await user.click(screen.getByRole("button", { name: "Edit description" }));
    const box = screen.getByLabelText("Description");
    await user.clear(box);
    await user.type(box, "A better description");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("A better description")).toBeInTheDocument();
    expect(fetcher.find("PATCH", "/v1/models/ann/demo")[1].body).toEqual({ description: "A better description" });

    await user.click(screen.getByRole("button", { name: "Delete…" }));
    expect(fetcher.find("DELETE", "/v1/models/ann/demo")).toHaveLength(0);
    await user.click(screen.getByRole("button", { name: "Delete model" }));
    await waitFor(() => expect(screen.queryByRole("link", { name: "ann/demo" })).not.toBeInTheDocument());
    expect(fetcher.find("DELETE", "/v1/models/ann/demo")).toHaveLength(1);
    expect(screen.getByText("You have not published a model yet.")).toBeInTheDocument();
  });
});

describe("catalogue address", () => {
  it("follows the header's Models link while a search is shown", async () => {
    const fetcher = mockFetch([{ method: "GET", path: "/v1/models", reply: { json: { items: [item("hello", 1)], next_cursor: null } } }]);
    const user = userEvent.setup();
    renderApp("/?q=hel", null);
    expect(await screen.findByLabelText("Search models")).toHaveValue("hel");
    await screen.findByRole("link", { name: "local/hello" });
    await user.click(screen.getByRole("link", { name: "Models" }));
    await waitFor(() => expect(screen.getByLabelText("Search models")).toHaveValue(""));
    expect(window.location.search).toBe("");
    await waitFor(() => expect(fetcher.calls.at(-1)?.query.get("q")).toBeNull());
  });
});

describe("deploying from my models", () => {
  const ready = (version: number) => ({ version, status: "ready", created_at: "2026-01-01T00:00:00Z" });
  const listed = {
    owner: "ann",
    name: "demo",
    status: "failed",
    visibility: "public",
    latest_version: 3,
    runs: 4,
    versions: [ready(1), ready(2), { version: 3, status: "failed", error: "pip failed" }],
    deployment: { version: 2, follow: "latest", deployed: null, previous: null, at: null },
  };

  it("deploys an older version, rolls back, pins, and shows a refusal", async () => {
    const answers = [
      { json: { version: 1, follow: "latest", deployed: 1, previous: 2, at: "2026-01-04T00:00:00Z" } },
      { json: { version: 2, follow: "latest", deployed: 2, previous: 1, at: "2026-01-04T00:01:00Z" } },
      { json: { version: 2, follow: "pinned", deployed: 2, previous: 1, at: "2026-01-04T00:02:00Z" } },
      { status: 409, json: { detail: "version 1 of ann/demo is building; deploy a version that is ready" } },
      { status: 422, json: { detail: [{ loc: ["body", "follow"], msg: "Input should be 'latest' or 'pinned'", type: "literal_error" }] } },
    ];
    const fetcher = mockFetch([
      { method: "GET", path: "/v1/models", reply: { json: { items: [listed], next_cursor: null } } },
      { method: "PUT", path: "/v1/models/ann/demo/deployment", reply: () => answers.shift()! },
    ]);
    const user = userEvent.setup();
    renderApp("/me/models", { username: "ann" });
    const control = await screen.findByRole("group", { name: "Deployment of ann/demo" });
    expect(within(control).getByText("Serving v2")).toBeInTheDocument();
    const select = within(control).getByLabelText("Version to deploy");
    expect(select).toHaveValue("2");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["v2 (serving)", "v1"]); // not the failed v3
    expect(within(control).queryByRole("button", { name: /Roll back/ })).not.toBeInTheDocument();

    await user.selectOptions(select, "1");
    await user.click(within(control).getByRole("button", { name: "Deploy" }));
    expect(await within(control).findByRole("status")).toHaveTextContent("Deployed: v1 serves ann/demo.");
    expect(within(control).getByText("Serving v1")).toBeInTheDocument();
    expect(select).toHaveValue("1");

    await user.click(within(control).getByRole("button", { name: "Roll back to v2" }));
    await waitFor(() => expect(within(control).getByRole("status")).toHaveTextContent("Rolled back: v2 serves again."));
    expect(within(control).getByText("Serving v2")).toBeInTheDocument();
    expect(within(control).getByRole("button", { name: "Roll back to v1" })).toBeInTheDocument();

    await user.selectOptions(within(control).getByLabelText("Follow"), "pinned");
    await waitFor(() => expect(within(control).getByRole("status")).toHaveTextContent("Pinned: v2 serves until you deploy another."));
    expect(within(control).getByLabelText("Follow")).toHaveValue("pinned");

    await user.selectOptions(select, "1");
    await user.click(within(control).getByRole("button", { name: "Deploy" }));
    expect(await within(control).findByRole("alert")).toHaveTextContent("version 1 of ann/demo is building; deploy a version that is ready");
    expect(within(control).queryByRole("status")).not.toBeInTheDocument();
    expect(within(control).getByText("Serving v2")).toBeInTheDocument();

    await user.selectOptions(within(control).getByLabelText("Follow"), "latest");
    await waitFor(() => expect(within(control).getByRole("alert")).toHaveTextContent("Input should be 'latest' or 'pinned'"));

    expect(fetcher.find("PUT", "/v1/models/ann/demo/deployment").map((c) => c.body)).toEqual([
      { version: 1 },
      { version: 2 },
      { follow: "pinned" },
      { version: 1 },
      { follow: "latest" },
    ]);
    expect(fetcher.find("PUT", "/v1/models/ann/demo/deployment")[0].headers["content-type"]).toBe("application/json");
  });

  it("reads the deployment with the model's full view when the list lacks it", async () => {
    const { versions, deployment, ...bare } = listed;
    const fetcher = mockFetch([
      { method: "GET", path: "/v1/models", reply: { json: { items: [bare], next_cursor: null } } },
      { method: "GET", path: "/v1/models/ann/demo", reply: { json: { ...bare, manifest: null, versions, deployment } } },
    ]);
    const user = userEvent.setup();
    renderApp("/me/models", { username: "ann" });
    await user.click(await screen.findByRole("button", { name: "Deployment…" }));
    const control = await screen.findByRole("group", { name: "Deployment of ann/demo" });
    expect(within(control).getByText("Serving v2")).toBeInTheDocument();
    expect(fetcher.find("GET", "/v1/models/ann/demo")).toHaveLength(1);
  });
});
