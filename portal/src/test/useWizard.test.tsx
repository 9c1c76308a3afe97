import { act, renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError, type Run } from "../api";
import { collectInputs, planStep, refusal, startValues, useWizard } from "../hooks/useWizard";
import type { Manifest } from "../manifest";
import helloJson from "./fixtures/hello.json";
import pickDigitJson from "./fixtures/pick-digit.json";
import { mockFetch } from "./helpers";

const hello = helloJson as unknown as Manifest;
const pickDigit = pickDigitJson as unknown as Manifest;
const picture = { value: { url: "feather:files/in1/p.png", name: "p.png" }, name: "p.png", size: 64, contentType: "image/png" };

function run(step: string, outputs: Record<string, unknown>, extra: Partial<Run> = {}): Run {
  return { id: `run-${step}`, model: "local/pick-digit", version: 1, step, status: "succeeded", inputs: {}, outputs, error: null, ...extra } as Run;
}

const found = run("find", { digits: { image: { url: "feather:files/f1/d.png" }, regions: [{ box: [0, 0, 1, 1] }, { box: [2, 0, 3, 1] }] } });

describe("the wizard's rules, without React", () => {
  it("shows a later step's interactive inputs and carries the rest", () => {
    const plan = planStep(pickDigit.steps, 1, [found]);
    expect(plan.shown.map((s) => s.name)).toEqual(["digits"]);
    expect([...plan.interactive]).toEqual(["digits"]);
    expect(startValues(pickDigit.steps, 1, [found])).toEqual({ digits: { selected: [] } });
  });

  it("collects valid inputs, names what is wrong, and holds back files to upload", () => {
    const plan = planStep(hello.steps, 0, []);
    expect(collectInputs(plan, { name: "Ada" }, null)).toEqual({ inputs: { name: "Ada" }, uploads: [], errors: {} });
    expect(collectInputs(plan, { name: "" }, null).errors).toEqual({ name: "This field is required." });
    const big = new File([new Uint8Array(8)], "big.png", { type: "image/png" });
    const upload = collectInputs(planStep(pickDigit.steps, 0, []), { picture: { value: null, file: big, name: "big.png" } }, null);
    expect(upload.uploads.map((u) => u.spec.name)).toEqual(["picture"]);
  });

  it("maps a refusal to the fields shown, and the rest to one message", () => {
    const shown = planStep(hello.steps, 0, []).shown;
    expect(refusal(new ApiError(422, "invalid", { name: "too long" }), shown)).toEqual({
      fields: { name: "Too long" },
      message: "The server refused some inputs; see the highlighted fields.",
    });
    expect(refusal(new ApiError(422, "invalid", { step: "unknown" }), shown)).toEqual({ fields: {}, message: "step: unknown" });
  });
});

describe("useWizard", () => {
  it("runs step 1, moves on to step 2 with its choices, sends previous_run, and goes back with the values kept", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/models/local/pick-digit/runs", times: 1, reply: { status: 201, json: found } },
      { method: "POST", path: "/v1/models/local/pick-digit/runs", times: 1, reply: { status: 201, json: run("read", { number: "7" }) } },
    ]);
    const { result } = renderHook(() => useWizard("local", "pick-digit", pickDigit));
    act(() => result.current.setValue("picture", picture));
    await act(() => result.current.submit());
    await waitFor(() => expect(result.current.stepIndex).toBe(1));
    expect(fetcher.calls[0].body).toEqual({ step: "find", inputs: { picture: picture.value } });
    expect(result.current.current).toEqual({ digits: { selected: [] } });

    act(() => result.current.setValue("digits", { selected: [1] }));
    await act(() => result.current.submit());
    await waitFor(() => expect(result.current.run?.step).toBe("read"));
    expect(fetcher.calls[1].body).toMatchObject({ step: "read", previous_run: "run-find", inputs: { digits: { selected: [1] } } });
    expect(result.current.isLast).toBe(true);

    act(() => result.current.back());
    expect(result.current.stepIndex).toBe(0);
    expect(result.current.current).toEqual({ picture });
    expect(result.current.canContinue).toBe(true);
    act(() => result.current.forward());
    expect(result.current.current).toEqual({ digits: { selected: [1] } });
  });

  it("sends nothing while an input is wrong, and shows the server's refusal on its field", async () => {
    const fetcher = mockFetch([
      {
        method: "POST",
        path: "/v1/models/local/hello/runs",
        reply: { status: 422, json: { detail: [{ loc: ["body", "inputs", "name"], msg: "at most 100 characters", type: "x" }] } },
      },
    ]);
    const { result } = renderHook(() => useWizard("local", "hello", hello));
    await act(() => result.current.submit());
    expect(fetcher.calls).toEqual([]);
    expect(result.current.errors).toEqual({ name: "This field is required." });
    expect(result.current.formError).toBe("Check the highlighted field.");

    act(() => result.current.setValue("name", "Ada"));
    expect(result.current.errors).toEqual({});
    await act(() => result.current.submit());
    expect(result.current.errors.name).toMatch(/^At most 100 characters/);
    expect(result.current.phase).toBe("idle");
  });
});
