import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockFetch, renderApp } from "./helpers";

const form = { steps: [{ name: "read", inputs: [{ name: "text", kind: "text", label: "Text", required: true, default: null, props: {}, schema: { type: "string" } }], outputs: [{ name: "digit", kind: "label", label: "Digit", props: {} }], input_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }, interactive: [] }] };
const fresh = { id: "b1", task: "digits", form, runs: {}, winner: null, models: null };
const side = (label: string) => ({ status: "succeeded", outputs: { digit: { label, confidences: [] } }, error: null });

describe("the arena", () => {
  it("runs the same inputs on two unnamed models, and names them after the vote", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/tasks/digits/battles", reply: { status: 201, json: fresh } },
      { method: "POST", path: "/v1/battles/b1/runs", reply: { json: { ...fresh, runs: { a: { status: "running", outputs: null, error: null }, b: side("3") } } } },
      { method: "GET", path: "/v1/battles/b1", reply: { json: { ...fresh, runs: { a: side("7"), b: side("3") } } } },
      { method: "POST", path: "/v1/battles/b1/vote", reply: { json: { ...fresh, winner: "a", models: { a: "ann/good", b: "bob/bad" } } } },
    ]);
    const user = userEvent.setup();
    renderApp("/tasks/digits/arena", { username: "ann" });
    await user.type(await screen.findByLabelText(/Text/), "a seven");
    await user.click(screen.getByRole("button", { name: "Run both" }));
    const a = await screen.findByRole("region", { name: "Model A" });
    await waitFor(() => expect(within(a).getByText("7")).toBeInTheDocument());
    expect(screen.queryByText("ann/good")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "A is better" }));
    expect(await screen.findByText("ann/good")).toBeInTheDocument();
    expect(screen.getByText("bob/bad")).toBeInTheDocument();
    expect(fetcher.find("POST", "/v1/battles/b1/runs")[0].body).toEqual({ inputs: { text: "a seven" } });
    expect(fetcher.find("POST", "/v1/battles/b1/vote")[0].body).toEqual({ winner: "a" });
  });

  it("ranks a task's models on its leaderboard", async () => {
    mockFetch([
      {
        method: "GET",
        path: "/v1/tasks/digits/leaderboard",
        reply: { json: { task: "digits", votes: 12, arena: [{ model: "ann/good", rating: 1050.5, low: 1010.2, high: 1090.1, votes: 12 }, { model: "bob/bad", rating: 949.5, low: 910, high: 990, votes: 12 }], accuracy: [{ model: "ann/good", labelled: 4, correct: 3, accuracy: 0.75 }] } },
      },
    ]);
    renderApp("/tasks/digits");
    const arena = await screen.findByRole("region", { name: /Arena/ });
    const rows = within(arena).getAllByRole("row");
    expect(within(rows[1]).getByText("ann/good")).toBeInTheDocument();
    expect(within(rows[1]).getByText("1010.2 – 1090.1")).toBeInTheDocument();
    expect(screen.getByText("75.0%")).toBeInTheDocument();
  });
});
