import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Runner } from "../components/Runner";
import type { InputSpec, Manifest } from "../manifest";
import { toWire, tableToWire } from "../lib/form";
import { checkSchema } from "../lib/schema";
import allKindsJson from "./fixtures/all-kinds.json";
import helloJson from "./fixtures/hello.json";
import { mockFetch, pngFile } from "./helpers";

const allKinds = allKindsJson as unknown as Manifest;
const hello = helloJson as unknown as Manifest;

function errorOf(label: RegExp): string | null {
  const control = screen.getAllByLabelText(label)[0];
  const ids = (control.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id.endsWith("-error"));
  return ids.length ? document.getElementById(ids[0])?.textContent ?? null : null;
}

describe("client-side validation", () => {
  it("shows each problem next to its field, keeps the values and sends nothing", async () => {
    const fetcher = mockFetch([]);
    const user = userEvent.setup();
    render(<Runner owner="t" name="all-kinds" manifest={allKinds} />);
    await user.type(screen.getByLabelText(/^Prompt/), "x");
    await user.type(screen.getByLabelText(/^Count/), "20");
    await user.click(screen.getByRole("button", { name: "Run and continue" }));

    expect(errorOf(/^Prompt/)).toBe("Enter at least 2 characters (now 1).");
    expect(errorOf(/^Count/)).toBe("Must be at most 10.");
    expect(screen.getByRole("group", { name: /Color/ })).toHaveTextContent("This field is required.");
    expect(screen.getByRole("group", { name: /Tags/ })).toHaveTextContent("Choose at least 1.");
    expect(screen.getByRole("group", { name: /^Photo: drop/ }).closest(".field")).toHaveTextContent("This field is required.");
    expect(screen.getByRole("group", { name: /Rows/ })).toHaveTextContent("This field is required.");
    expect(screen.getByRole("alert")).toHaveTextContent("Check the highlighted fields.");
    // values kept, invalid fields marked, focus on the first problem
    expect(screen.getByLabelText(/^Prompt/)).toHaveValue("x");
    expect(screen.getByLabelText(/^Count/)).toHaveValue("20");
    expect(screen.getByLabelText(/^Prompt/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText(/^Prompt/)).toHaveFocus();
    expect(fetcher.calls).toHaveLength(0);

    // fixing a field clears its message
    await user.clear(screen.getByLabelText(/^Count/));
    await user.type(screen.getByLabelText(/^Count/), "2.5");
    expect(errorOf(/^Count/)).toBeNull();
    await user.click(screen.getByRole("button", { name: "Run and continue" }));
    expect(errorOf(/^Count/)).toBe("Enter a whole number.");
  });

  it("checks max_length as the user types and on send", async () => {
    mockFetch([]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="hello" manifest={hello} />);
    const name = screen.getByLabelText(/^Your name/);
    fireEvent.change(name, { target: { value: "a".repeat(101) } });
    expect(screen.getByText("101/100")).toHaveClass("over");
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(errorOf(/^Your name/)).toBe("Enter at most 100 characters (now 101).");
  });

  it("refuses a file of the wrong type or too large when it is picked", async () => {
    mockFetch([]);
    const user = userEvent.setup({ applyAccept: false });
    render(<Runner owner="t" name="all-kinds" manifest={allKinds} />);
    const doc = screen.getByLabelText(/^Document/, { selector: "input[type=file]" });
    await user.upload(doc, pngFile("cat.png"));
    expect(await screen.findByText("Must be .csv, .txt; cat.png is image/png")).toBeInTheDocument();

    const photo = screen.getByLabelText(/^Photo/, { selector: "input[type=file]" });
    await user.upload(photo, pngFile("huge.png", 1_200_000));
    expect(await screen.findByText("Must be at most 977 KiB; huge.png is 1.1 MiB")).toBeInTheDocument();
    // nothing was taken
    expect(within(screen.getByRole("group", { name: /^Photo: drop/ })).getByRole("button", { name: "Choose file" })).toBeInTheDocument();
  });

  it("shows the gateway's 422 errors next to the fields", async () => {
    mockFetch([
      {
        method: "POST",
        path: "/v1/models/local/hello/runs",
        reply: { status: 422, json: { detail: [{ loc: ["body", "inputs", "name"], msg: "'Bob' is too short", type: "minLength" }] } },
      },
    ]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="hello" manifest={hello} />);
    await user.type(screen.getByLabelText(/^Your name/), "Bob");
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByText("'Bob' is too short")).toHaveClass("field-error");
    expect(screen.getByLabelText(/^Your name/)).toHaveValue("Bob");
  });
});

describe("wire conversion", () => {
  const spec = (kind: string, props: Record<string, unknown> = {}, schema: Record<string, unknown> = {}, required = true): InputSpec => ({
    name: "x",
    kind,
    label: "X",
    description: null,
    required,
    default: null,
    props,
    schema,
  });

  it("converts and checks each kind like the SDK", () => {
    expect(toWire(spec("number", { minimum: 0 }, { type: "number" }), "1,5")).toEqual({ ok: true, omit: false, wire: 1.5 });
    expect(toWire(spec("slider", { minimum: 0, maximum: 1, step: 0.25 }), 0.3)).toEqual({ ok: false, error: "Must be 0 plus a multiple of 0.25." });
    expect(toWire(spec("choice", { options: [1, 2] }, { enum: [1, 2] }), 2)).toEqual({ ok: true, omit: false, wire: 2 });
    expect(toWire(spec("multi_choice", { options: ["a", "b", "c"] }), ["c", "a"])).toEqual({ ok: true, omit: false, wire: ["a", "c"] });
    expect(toWire(spec("text", {}, { type: "string" }, false), "")).toEqual({ ok: true, omit: true });
    expect(toWire(spec("image_regions", { multiple: false }), { selected: [] })).toEqual({ ok: false, error: "Select one." });
    expect(toWire(spec("pick_list", { multiple: true, max_selected: 2 }), { selected: [0, 1, 2] })).toEqual({ ok: false, error: "Select at most 2." });
    expect(toWire(spec("pick_list", { multiple: true }), { selected: [2, 0] }, 3)).toEqual({ ok: true, omit: false, wire: { selected: [0, 2] } });
    expect(toWire(spec("editable_text"), "")).toEqual({ ok: true, omit: false, wire: "" });
  });

  it("types table cells from the declared columns", () => {
    const table = spec("table", { columns: { n: "number", ok: "boolean", s: "string" } });
    expect(tableToWire(table, { columns: ["n", "ok", "s"], rows: [["1", "yes", " a "], ["", "", ""]] })).toEqual({ columns: ["n", "ok", "s"], rows: [[1, true, "a"]] });
    expect(tableToWire(table, { columns: ["n", "ok", "s"], rows: [["x", "", ""]] })).toBe('Row 1, column n must be a number (got "x").');
  });

  it("checks the JSON Schema keywords manifests use", () => {
    const fileSchema = { type: "object", properties: { url: { type: "string", pattern: "^(data:|feather:|https?://)" } }, required: ["url"] };
    expect(checkSchema({ url: "ftp://x" }, fileSchema)).toBe("url: does not have the expected form");
    expect(checkSchema({}, fileSchema)).toBe('needs "url"');
    expect(checkSchema([1, "a"], { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], items: false })).toBe("1: must be a number");
    expect(checkSchema(["a", "a"], { type: "array", uniqueItems: true })).toBe("lists an item twice");
    expect(checkSchema(3, { type: "integer", maximum: 2 })).toBe("must be at most 2");
    expect(checkSchema(null, { type: ["number", "null"] })).toBeNull();
  });
});
