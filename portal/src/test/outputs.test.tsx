import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { OutputBlock } from "../components/outputs";
import type { Manifest, OutputSpec } from "../manifest";
import allKindsJson from "./fixtures/all-kinds.json";
import { loadImage } from "./helpers";

const outputs = (allKindsJson as unknown as Manifest).steps[0].outputs;
const spec = (name: string): OutputSpec => outputs.find((o) => o.name === name) as OutputSpec;
const file = (id: string, name: string, type: string) => ({ url: `feather:files/${id}/${name}`, name, content_type: type, size: 2048 });

describe("output views", () => {
  it("label: the top class and a bar per confidence", () => {
    render(<OutputBlock spec={spec("kind")} value={{ label: "cat", confidences: [{ label: "cat", confidence: 0.875 }, { label: "dog", confidence: 0.1 }, { label: "fox", confidence: 0.025 }] }} />);
    const block = screen.getByRole("region", { name: "Kind" });
    expect(within(block).getByText("cat", { selector: ".label-top" })).toBeInTheDocument();
    const items = within(block).getAllByRole("listitem");
    expect(items.map((li) => li.textContent)).toEqual(["cat88%", "dog10%", "fox2.5%"]);
    expect(items[0]).toHaveClass("top");
    expect((items[1].querySelector(".bar-fill") as HTMLElement).style.width).toBe("10%");
  });

  it("image: boxes with their labels drawn over it, the caption, a download link", () => {
    const value = { ...file("img1", "marked.png", "image/png"), boxes: [{ box: [10, 20, 60, 70], label: "cat", score: 0.9 }], caption: "One cat" };
    render(<OutputBlock spec={spec("marked")} value={value} />);
    const img = screen.getByRole("img", { name: "One cat" });
    expect(img).toHaveAttribute("src", "/v1/files/img1/marked.png");
    loadImage(img as HTMLImageElement, 200, 100);
    const box = document.querySelector<HTMLElement>("[data-region='0']");
    expect(box).not.toBeNull();
    expect(box?.style.left).toBe("5%");
    expect(box?.style.top).toBe("20%");
    expect(box?.style.width).toBe("25%");
    expect(box?.style.height).toBe("50%");
    expect(box).toHaveTextContent("cat 90%");
    expect(screen.getByText("One cat", { selector: "figcaption" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: /Download marked.png/ })).toHaveAttribute("href", "/v1/files/img1/marked.png");
  });

  it("table: columns, rows and a CSV download", () => {
    render(<OutputBlock spec={spec("result")} value={{ columns: ["name", "score"], rows: [["a", 0.5], ["b", null]] }} />);
    const table = screen.getByRole("table");
    expect(within(table).getAllByRole("columnheader").map((th) => th.textContent)).toEqual(["name", "score"]);
    expect(within(table).getAllByRole("row")).toHaveLength(3);
    expect(within(table).getByRole("cell", { name: "0.5" })).toHaveClass("num");
    expect(screen.getByRole("link", { name: "Download CSV" }).getAttribute("href")).toBe(`data:text/csv;charset=utf-8,${encodeURIComponent("name,score\na,0.5\nb,")}`);
  });

  it("table: long tables show the first rows, then all on request", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => [i]);
    render(<OutputBlock spec={spec("result")} value={{ columns: ["i"], rows }} />);
    expect(screen.getAllByRole("row")).toHaveLength(101);
    await userEvent.setup().click(screen.getByRole("button", { name: "Show all 150 rows" }));
    expect(screen.getAllByRole("row")).toHaveLength(151);
  });

  it("json: pretty, collapsible, with a raw view", async () => {
    const user = userEvent.setup();
    render(<OutputBlock spec={spec("details")} value={{ name: "x", items: [1, 2], deep: { a: { b: { c: true } } } }} />);
    const block = screen.getByRole("region", { name: "Details" });
    expect(within(block).getByText('"x"')).toHaveClass("json-string");
    const groups = block.querySelectorAll("details");
    expect(groups.length).toBe(5);
    expect((groups[0] as HTMLDetailsElement).open).toBe(true);
    expect((groups[3] as HTMLDetailsElement).open).toBe(false); // deeper levels start folded
    await user.click(within(block).getByRole("button", { name: "Raw" }));
    expect(block.querySelector("pre")?.textContent).toBe(JSON.stringify({ name: "x", items: [1, 2], deep: { a: { b: { c: true } } } }, null, 2));
  });

  it("gallery: every image with its caption", () => {
    const value = { items: [{ image: file("g1", "a.png", "image/png"), caption: "first" }, { image: file("g2", "b.png", "image/png"), caption: "" }] };
    render(<OutputBlock spec={spec("pictures")} value={value} />);
    const list = screen.getByRole("list");
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    expect(within(list).getByRole("img", { name: "first" })).toHaveAttribute("src", "/v1/files/g1/a.png");
    expect(within(list).getByRole("img", { name: "Pictures 2" })).toHaveAttribute("src", "/v1/files/g2/b.png");
  });

  it("audio and file: a player and download links", () => {
    render(
      <>
        <OutputBlock spec={spec("speech")} value={file("au", "speech.wav", "audio/wav")} />
        <OutputBlock spec={spec("report")} value={file("rp", "report.pdf", "application/pdf")} />
      </>,
    );
    expect(document.querySelector("audio")).toHaveAttribute("src", "/v1/files/au/speech.wav");
    const link = screen.getByRole("link", { name: /report\.pdf/ });
    expect(link).toHaveAttribute("href", "/v1/files/rp/report.pdf");
    expect(link).toHaveAttribute("download", "report.pdf");
    expect(link).toHaveTextContent("(2 KiB)");
  });

  it("markdown: rendered, never as raw HTML", () => {
    const source = "# Title\n\nSome **bold** and `code`, a [link](https://example.com) and a [bad one](javascript:alert(1)).\n\n<script>alert('x')</script>\n<img src=x onerror=alert(1)>\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |";
    render(<OutputBlock spec={spec("notes")} value={source} />);
    const block = screen.getByRole("region", { name: "Notes" });
    expect(within(block).getByRole("heading", { name: "Title" }).tagName).toBe("H3");
    expect(within(block).getByText("bold").tagName).toBe("STRONG");
    expect(within(block).getByRole("link", { name: "link" })).toHaveAttribute("href", "https://example.com");
    expect(within(block).queryByRole("link", { name: "bad one" })).toBeNull();
    expect(block.querySelector("script")).toBeNull();
    expect(block.querySelector("img")).toBeNull();
    expect(block).toHaveTextContent("<script>alert('x')</script>");
    expect(within(block).getAllByRole("listitem")).toHaveLength(2);
    expect(within(block).getByRole("table")).toBeInTheDocument();
  });

  it("text, number, and interactive outputs shown read-only", () => {
    render(
      <>
        <OutputBlock spec={spec("answer")} value={"Hello\nworld"} />
        <OutputBlock spec={spec("score")} value={0.123456789} />
        <OutputBlock spec={spec("words")} value={{ options: ["a", "b"], multiple: true }} />
      </>,
    );
    expect(screen.getByText(/Hello/, { selector: "pre" }).textContent).toBe("Hello\nworld");
    expect(screen.getByText("0.123457")).toBeInTheDocument();
    expect(within(screen.getByRole("region", { name: "Words" })).getAllByRole("listitem")).toHaveLength(2);
  });
});
