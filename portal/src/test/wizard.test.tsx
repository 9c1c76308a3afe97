import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Runner } from "../components/Runner";
import type { Manifest } from "../manifest";
import allKindsJson from "./fixtures/all-kinds.json";
import pickDigitJson from "./fixtures/pick-digit.json";
import { loadImage, mockFetch, pngFile } from "./helpers";

const pickDigit = pickDigitJson as unknown as Manifest;
const allKinds = allKindsJson as unknown as Manifest;
const RUNS = "/v1/models/local/pick-digit/runs";

const found = {
  id: "run-find",
  model: "local/pick-digit",
  version: 1,
  step: "find",
  status: "succeeded",
  inputs: { picture: { url: "feather:files/in1/p.png", name: "p.png", content_type: "image/png", size: 64 } },
  outputs: {
    digits: {
      image: { url: "feather:files/f1/digits.png", name: "digits.png", content_type: "image/png", size: 300 },
      regions: [
        { box: [0, 0, 10, 20], label: "digit 1" },
        { box: [12, 0, 22, 20], label: "digit 2" },
        { box: [24, 0, 34, 20], label: "digit 3" },
      ],
    },
  },
  error: null,
  metrics: { queue_ms: 1, predict_ms: 5, total_ms: 9 },
};

const read = {
  id: "run-read",
  model: "local/pick-digit",
  version: 1,
  step: "read",
  status: "succeeded",
  outputs: {
    number: "73",
    readings: { columns: ["region", "digit", "confidence"], rows: [["digit 1", "7", 0.98], ["digit 3", "3", 0.91]] },
  },
  metrics: { queue_ms: 1, predict_ms: 5, total_ms: 9 },
};

describe("a multi-step model (the real pick-digit manifest)", () => {
  it("runs step 1, shows step 2 with the regions to pick, sends the choice with previous_run, and goes back", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: RUNS, times: 1, reply: { status: 201, json: found } },
      {
        method: "POST",
        path: RUNS,
        times: 1,
        reply: { status: 202, json: { ...read, status: "running", outputs: null, progress: { fraction: 0.5, message: "reading digit 1" } } },
      },
      { method: "GET", path: "/v1/runs/run-read", reply: { json: read } },
    ]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="pick-digit" manifest={pickDigit} />);

    expect(screen.getByRole("heading", { name: "Step 1 of 2: find" })).toBeInTheDocument();
    await user.upload(screen.getByLabelText(/^Picture/, { selector: "input[type=file]" }), pngFile("p.png"));
    await screen.findByAltText("Picture: p.png");
    await user.click(screen.getByRole("button", { name: "Run and continue" }));

    // step 2: the regions of step 1's output, to choose from
    expect(await screen.findByRole("heading", { name: "Step 2 of 2: read" })).toBeInTheDocument();
    const first = fetcher.find("POST", RUNS)[0];
    expect(first.body).toMatchObject({ step: "find", inputs: { picture: { name: "p.png", content_type: "image/png", size: 64 } } });
    expect((first.body as { inputs: { picture: { url: string } } }).inputs.picture.url).toMatch(/^data:image\/png;base64,/);
    const group = screen.getByRole("group", { name: /^Digits/ });
    const boxes = within(group).getAllByRole("checkbox");
    expect(boxes.map((b) => b.parentElement?.textContent)).toEqual(["digit 1", "digit 2", "digit 3"]);
    const img = within(group).getByRole("img", { name: "Digits" });
    expect(img).toHaveAttribute("src", "/v1/files/f1/digits.png");

    // nothing chosen yet: refused before sending
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(within(group).getByText("Select at least 1.")).toBeInTheDocument();
    expect(fetcher.find("POST", RUNS)).toHaveLength(1);

    // choose one from the list and one by clicking its box on the image
    await user.click(boxes[0]);
    loadImage(img as HTMLImageElement, 40, 20);
    const region3 = group.querySelector<HTMLButtonElement>("[data-region='2']");
    expect(region3).not.toBeNull();
    await user.click(region3 as HTMLButtonElement);
    expect(boxes[2]).toBeChecked();
    expect(region3).toHaveClass("chosen");

    await user.click(screen.getByRole("button", { name: "Run" }));
    // 202: progress is shown while polling
    expect(await screen.findByText("reading digit 1")).toBeInTheDocument();
    expect(await screen.findByText("73", {}, { timeout: 3000 })).toBeInTheDocument();
    const second = fetcher.find("POST", RUNS)[1];
    expect(second.body).toEqual({ step: "read", previous_run: "run-find", inputs: { digits: { selected: [0, 2] } } });
    expect(second.headers["prefer"]).toBe("wait=1");
    expect(fetcher.find("GET", "/v1/runs/run-read").length).toBeGreaterThan(0);
    expect(screen.getByRole("cell", { name: "0.98" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Permalink to this run" })).toHaveAttribute("href", "/runs/run-read");

    // back to step 1: its picture is still there
    await user.click(screen.getByRole("button", { name: "← Back" }));
    expect(screen.getByRole("heading", { name: "Step 1 of 2: find" })).toBeInTheDocument();
    expect(screen.getByAltText("Picture: p.png")).toBeInTheDocument();
    // and forward again without rerunning: the choices are intact
    await user.click(screen.getByRole("button", { name: "Continue →" }));
    const again = within(screen.getByRole("group", { name: /^Digits/ })).getAllByRole("checkbox");
    expect(again.map((b) => (b as HTMLInputElement).checked)).toEqual([true, false, true]);
    expect(fetcher.find("POST", RUNS)).toHaveLength(2);
  });

  it("shows a failed run's error and stays on the step", async () => {
    mockFetch([{ method: "POST", path: RUNS, reply: { status: 201, json: { ...found, status: "failed", outputs: null, error: "ValueError: no ink found" } } }]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="pick-digit" manifest={pickDigit} />);
    await user.upload(screen.getByLabelText(/^Picture/, { selector: "input[type=file]" }), pngFile("p.png"));
    await screen.findByAltText("Picture: p.png");
    await user.click(screen.getByRole("button", { name: "Run and continue" }));
    expect(await screen.findByText("ValueError: no ink found")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Step 1 of 2: find" })).toBeInTheDocument();
  });

  it("shows pick lists and editable text from the previous step's outputs", async () => {
    const fetcher = mockFetch([
      {
        method: "POST",
        path: "/v1/models/t/all-kinds/runs",
        times: 1,
        reply: {
          status: 201,
          json: {
            id: "r1",
            model: "t/all-kinds",
            step: "first",
            status: "succeeded",
            outputs: {
              answer: "hi",
              words: { options: ["alpha", "beta", "gamma"], multiple: true },
              spots: { image: { url: "feather:files/s/spots.png", name: "spots.png", content_type: "image/png", size: 9 }, regions: [{ box: [1, 1, 5, 5], label: "spot" }] },
              draft: "first draft",
            },
          },
        },
      },
      { method: "POST", path: "/v1/models/t/all-kinds/runs", reply: { status: 201, json: { id: "r2", model: "t/all-kinds", step: "second", status: "succeeded", outputs: { final: "done" } } } },
    ]);
    const user = userEvent.setup();
    // start on step 2 by answering step 1 with valid inputs quickly: use a one-input copy of step 1
    const manifest = { ...allKinds, steps: [{ ...allKinds.steps[0], inputs: [allKinds.steps[0].inputs[1]] }, allKinds.steps[1]] } as Manifest;
    render(<Runner owner="t" name="all-kinds" manifest={manifest} />);
    await user.click(screen.getByRole("button", { name: "Run and continue" }));
    await screen.findByRole("heading", { name: "Step 2 of 2: second" });
    // results of step 1 that are not choices are shown for reference
    expect(screen.getByText("hi")).toBeInTheDocument();
    const words = screen.getByRole("group", { name: /^Words/ });
    await user.click(within(words).getByRole("checkbox", { name: "alpha" }));
    await user.click(within(words).getByRole("checkbox", { name: "gamma" }));
    await user.click(within(screen.getByRole("group", { name: /^Spots/ })).getByRole("radio", { name: "spot" }));
    const draft = screen.getByLabelText(/^Draft/);
    expect(draft).toHaveValue("first draft");
    await user.clear(draft);
    await user.type(draft, "edited");
    await user.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText("done");
    await waitFor(() => expect(fetcher.find("POST", "/v1/models/t/all-kinds/runs")).toHaveLength(2));
    expect(fetcher.find("POST", "/v1/models/t/all-kinds/runs")[1].body).toEqual({
      step: "second",
      previous_run: "r1",
      inputs: { words: { selected: [0, 2] }, spots: { selected: [0] }, draft: "edited", extra: 3 },
    });
  });
});
