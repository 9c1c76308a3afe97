import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Runner } from "../components/Runner";
import { INLINE_LIMIT } from "../lib/form";
import type { Manifest } from "../manifest";
import digitsJson from "./fixtures/digits.json";
import { mockFetch, pngFile } from "./helpers";

const digits = digitsJson as unknown as Manifest;
const RUNS = "/v1/models/local/digits/runs";
const done = { id: "r1", model: "local/digits", step: "classify", status: "succeeded", outputs: { digit: { label: "7", confidences: [{ label: "7", confidence: 0.9 }] } } };

function fileInput() {
  return screen.getByLabelText(/^Image/, { selector: "input[type=file]" });
}

describe("file inputs", () => {
  it("sends a file up to 256 KiB inline as a data: URL", async () => {
    const fetcher = mockFetch([{ method: "POST", path: RUNS, reply: { status: 201, json: done } }]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="digits" manifest={digits} />);
    await user.upload(fileInput(), pngFile("small.png", INLINE_LIMIT));
    await screen.findByAltText("Image: small.png");
    await user.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText("90%");
    expect(fetcher.find("POST", "/v1/files")).toHaveLength(0);
    const image = (fetcher.find("POST", RUNS)[0].body as { inputs: { image: Record<string, unknown> } }).inputs.image;
    expect(image).toMatchObject({ name: "small.png", content_type: "image/png", size: INLINE_LIMIT });
    expect(String(image.url)).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });

  it("uploads a larger file through POST /v1/files and sends the answer, once", async () => {
    const uploaded = { url: "feather:files/abc123/big.png", name: "big.png", content_type: "image/png", size: INLINE_LIMIT + 1, sha256: "00" };
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/files", reply: { status: 201, json: uploaded } },
      { method: "POST", path: RUNS, reply: { status: 201, json: done } },
    ]);
    const user = userEvent.setup();
    render(<Runner owner="local" name="digits" manifest={digits} />);
    await user.upload(fileInput(), pngFile("big.png", INLINE_LIMIT + 1));
    expect(await screen.findByText(/uploaded when you run/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText("90%");
    const [upload] = fetcher.find("POST", "/v1/files");
    const form = upload.init.body as FormData;
    expect(form).toBeInstanceOf(FormData);
    const sent = form.get("file") as File;
    expect(sent.name).toBe("big.png");
    expect(sent.size).toBe(INLINE_LIMIT + 1);
    expect((fetcher.find("POST", RUNS)[0].body as { inputs: unknown }).inputs).toEqual({ image: uploaded });
    // running again reuses the uploaded file
    await user.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(() => expect(fetcher.find("POST", RUNS)).toHaveLength(2));
    expect(fetcher.find("POST", "/v1/files")).toHaveLength(1);
  });

  it("takes a dropped file and a pasted file", async () => {
    mockFetch([]);
    render(<Runner owner="local" name="digits" manifest={digits} />);
    const zone = screen.getByRole("group", { name: /^Image: drop, paste or choose/ });
    fireEvent.dragOver(zone, { dataTransfer: { files: [] } });
    expect(zone).toHaveClass("dragging");
    fireEvent.drop(zone, { dataTransfer: { files: [pngFile("dropped.png")] } });
    expect(await screen.findByAltText("Image: dropped.png")).toBeInTheDocument();
    fireEvent.paste(zone, { clipboardData: { files: [pngFile("pasted.png")] } });
    expect(await screen.findByAltText("Image: pasted.png")).toBeInTheDocument();
  });

  it("refuses a non-image on an image input", async () => {
    mockFetch([]);
    render(<Runner owner="local" name="digits" manifest={digits} />);
    const zone = screen.getByRole("group", { name: /^Image: drop, paste or choose/ });
    fireEvent.drop(zone, { dataTransfer: { files: [new File(["a,b"], "data.csv", { type: "text/csv" })] } });
    expect(await screen.findByText("Must be image/*; data.csv is text/csv")).toBeInTheDocument();
  });
});
