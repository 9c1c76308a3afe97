import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Runner } from "../components/Runner";
import type { Manifest } from "../manifest";
import allKindsJson from "./fixtures/all-kinds.json";
import irisJson from "./fixtures/iris-table.json";
import { mockFetch, pngFile } from "./helpers";

const allKinds = allKindsJson as unknown as Manifest;
const iris = irisJson as unknown as Manifest;

function renderRunner(manifest: Manifest) {
  return render(<Runner owner="tester" name={manifest.name} manifest={manifest} />);
}

describe("the form rendered from a manifest", () => {
  it("renders a control for every input kind of the first step", () => {
    renderRunner(allKinds);
    // text, multiline, with its placeholder and a counter
    const prompt = screen.getByLabelText(/^Prompt/);
    expect(prompt.tagName).toBe("TEXTAREA");
    expect(prompt).toHaveAttribute("placeholder", "Say something");
    expect(screen.getByText("0/20")).toBeInTheDocument();
    // text with a default
    expect(screen.getByLabelText(/^Title/)).toHaveValue("Untitled");
    // number and its range hint
    expect(screen.getByLabelText(/^Count/)).toHaveAttribute("inputmode", "numeric");
    expect(screen.getByText("A whole number from 1 to 10.")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Ratio/)).toHaveValue("0.5");
    // slider
    const slider = screen.getByRole("slider", { name: /Temperature/ });
    expect(slider).toHaveAttribute("min", "0");
    expect(slider).toHaveAttribute("max", "2");
    expect(slider).toHaveValue("1");
    // checkbox
    expect(screen.getByRole("checkbox", { name: "Shout" })).not.toBeChecked();
    // choice: radios for a few options, a select for more
    const color = screen.getByRole("group", { name: /Color/ });
    expect(within(color).getAllByRole("radio")).toHaveLength(3);
    expect(screen.getByRole("combobox", { name: /Size/ })).toHaveDisplayValue("m");
    // multi choice
    const tags = screen.getByRole("group", { name: /Tags/ });
    expect(within(tags).getAllByRole("checkbox")).toHaveLength(4);
    expect(within(tags).getByText("Choose at least 1, at most 2.")).toBeInTheDocument();
    // files: image, audio, file, each with a picker, drop and paste
    for (const name of ["Photo", "Voice", "Document"]) {
      expect(screen.getByRole("group", { name: new RegExp(`^${name}: drop, paste or choose`) })).toBeInTheDocument();
    }
    expect(screen.getByLabelText(/^Photo/, { selector: "input[type=file]" })).toHaveAttribute("accept", "image/*");
    expect(screen.getByLabelText(/^Voice/, { selector: "input[type=file]" })).toHaveAttribute("accept", "audio/*");
    expect(screen.getByLabelText(/^Document/, { selector: "input[type=file]" })).toHaveAttribute("accept", ".csv,.txt");
    // table with typed columns
    const rows = screen.getByRole("group", { name: /Rows/ });
    expect(within(rows).getByRole("columnheader", { name: "x" })).toBeInTheDocument();
    expect(within(rows).getByRole("textbox", { name: "Row 1, name" })).toBeInTheDocument();
    expect(within(rows).getByRole("checkbox", { name: "Row 1, ok" })).toBeInTheDocument();
    // one Run button, no examples section when the manifest has none
    expect(screen.getByRole("button", { name: "Run and continue" })).toBeInTheDocument();
    expect(screen.queryByText("Examples")).not.toBeInTheDocument();
    // a wizard: both steps are listed
    const steps = screen.getByRole("list", { name: "Steps" });
    expect(within(steps).getAllByRole("listitem")).toHaveLength(2);
  });

  it("renders the real iris-table manifest's table input and sends typed cells", async () => {
    const fetcher = mockFetch([
      {
        method: "POST",
        path: "/v1/models/tester/iris-table/runs",
        reply: { status: 201, json: { id: "r1", model: "tester/iris-table", status: "succeeded", outputs: { predictions: { columns: ["species"], rows: [["setosa"]] } } } },
      },
    ]);
    const user = userEvent.setup();
    renderRunner(iris);
    await user.type(screen.getByRole("textbox", { name: "Row 1, sepal_length" }), "5.1");
    await user.type(screen.getByRole("textbox", { name: "Row 1, sepal_width" }), "3.5");
    await user.type(screen.getByRole("textbox", { name: "Row 1, petal_length" }), "1.4");
    await user.click(screen.getByRole("button", { name: "Add row" }));
    expect(screen.getByRole("textbox", { name: "Row 2, sepal_length" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText("setosa");
    const [post] = fetcher.find("POST", "/v1/models/tester/iris-table/runs");
    // the blank second row is dropped, the blank cell is a missing value
    expect(post.body).toEqual({
      step: "predict",
      inputs: { flowers: { columns: ["sepal_length", "sepal_width", "petal_length", "petal_width"], rows: [[5.1, 3.5, 1.4, null]] } },
    });
    expect(post.headers["prefer"]).toBe("wait=1");
  });

  it("fills a table from pasted CSV", async () => {
    mockFetch([]);
    const user = userEvent.setup();
    renderRunner(iris);
    await user.click(screen.getByRole("button", { name: "Paste CSV" }));
    const box = screen.getByLabelText(/CSV or tab-separated rows/);
    fireEvent.change(box, { target: { value: "sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n5,6,7,8\n" } });
    await user.click(screen.getByRole("button", { name: "Use these rows" }));
    expect(screen.getByRole("textbox", { name: "Row 2, petal_width" })).toHaveValue("8");
  });

  it("loads an example from the manifest with one click", async () => {
    mockFetch([]);
    const user = userEvent.setup();
    const withExamples = {
      ...iris,
      examples: [{ name: "Three flowers", inputs: { flowers: { columns: ["sepal_length", "sepal_width", "petal_length", "petal_width"], rows: [[5.1, 3.5, 1.4, 0.2], [6, 2.7, 5.1, 1.6]] } } }],
    } as Manifest;
    renderRunner(withExamples);
    await user.click(screen.getByRole("button", { name: "Three flowers" }));
    expect(screen.getByRole("textbox", { name: "Row 2, petal_length" })).toHaveValue("5.1");
  });

  it("shows the chosen image in the drop zone and can remove it", async () => {
    mockFetch([]);
    const user = userEvent.setup();
    renderRunner(allKinds);
    const input = screen.getByLabelText(/^Photo/, { selector: "input[type=file]" });
    await user.upload(input, pngFile("cat.png", 100));
    expect(await screen.findByAltText("Photo: cat.png")).toBeInTheDocument();
    await user.click(within(screen.getByRole("group", { name: /^Photo: drop/ })).getByRole("button", { name: "Remove" }));
    await waitFor(() => expect(screen.queryByAltText("Photo: cat.png")).not.toBeInTheDocument());
  });
});
