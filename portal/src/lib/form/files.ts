/**
 * Files in the form: which a file input accepts, which travel inline, and reading a picked one.
 */
import { FILE_KINDS, humanSize, type FileValue, type InputSpec } from "../../manifest";
import { num } from "./props";
import type { FileState } from "./values";

/** Decoded bytes a file may have to travel inline as a data: URL; bigger ones are uploaded. */
export const INLINE_LIMIT = 256 * 1024;

export function dataType(url: string): string | undefined {
  if (!url.startsWith("data:")) return undefined;
  return url.slice(5).split(/[;,]/)[0] || undefined;
}

/** `accept` entries such as ".csv", "image/*", "image/png" against a name and content type. */
export function accepts(name: string, contentType: string | undefined, accept: string[]): boolean {
  const lowerName = name.toLowerCase();
  const type = (contentType ?? "").toLowerCase();
  return accept.some((raw) => {
    const entry = raw.toLowerCase();
    if (entry.startsWith(".")) return lowerName.endsWith(entry);
    if (entry.endsWith("/*")) return type.startsWith(entry.slice(0, -1));
    return type === entry;
  });
}

export function acceptList(spec: InputSpec): string[] | undefined {
  const accept = spec.props.accept;
  if (Array.isArray(accept) && accept.length) return accept.map(String);
  if (spec.kind === "image") return ["image/*"];
  if (spec.kind === "audio") return ["audio/*"];
  return undefined;
}

/** Problems with a picked file before it is read: kind, accept list and max_size. */
export function checkFile(spec: InputSpec, name: string, size: number | undefined, contentType: string | undefined): string | null {
  const accept = acceptList(spec);
  const declared = Array.isArray(spec.props.accept) && spec.props.accept.length > 0;
  if (accept && (declared || contentType) && !accepts(name, contentType, accept)) {
    return `must be ${accept.join(", ")}; ${name} is ${contentType || "of an unknown type"}`;
  }
  const max = num(spec.props, "max_size");
  if (max !== undefined && size !== undefined && size > max) {
    return `must be at most ${humanSize(max)}; ${name} is ${humanSize(size)}`;
  }
  return null;
}

export function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error("could not read the file"));
    reader.readAsDataURL(file);
  });
}

/** A picked file -> widget state: small ones inline at once, large ones kept for upload. */
export async function fileState(file: File): Promise<FileState> {
  const contentType = file.type || undefined;
  if (file.size <= INLINE_LIMIT) {
    let url = await readAsDataUrl(file);
    if (url.startsWith("data:;") || url.startsWith("data:,")) url = `data:application/octet-stream${url.slice(5)}`;
    return {
      value: { url, name: file.name, content_type: contentType ?? "application/octet-stream", size: file.size },
      name: file.name,
      size: file.size,
      contentType,
    };
  }
  return { value: null, file, name: file.name, size: file.size, contentType };
}

// ---- to wire --------------------------------------------------------------------------------

export type Upload = (file: File) => Promise<FileValue>;

export function isFileKind(kind: string): boolean {
  return FILE_KINDS.has(kind);
}
