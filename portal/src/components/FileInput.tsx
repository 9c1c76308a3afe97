/** The file, image and audio input: pick, drop or paste a file; small ones travel inline. */
import { useEffect, useId, useMemo, useRef, useState, type ClipboardEvent, type DragEvent } from "react";
import { fileHref } from "../api";
import { humanSize } from "../manifest";
import { acceptList, checkFile, fileState, type FileState } from "../lib/form";
import { describedBy, Field } from "./ui";
import { num, type WidgetProps } from "./widget";

// ---- files ----------------------------------------------------------------------------------

function usePreview(state: FileState | null): string | undefined {
  const file = state?.file;
  const url = useMemo(() => (file && typeof URL.createObjectURL === "function" ? URL.createObjectURL(file) : undefined), [file]);
  useEffect(() => () => {
    if (url) URL.revokeObjectURL(url);
  }, [url]);
  return url ?? fileHref(state?.value);
}

export function FileWidget({ spec, id, value, error, onChange, onError }: WidgetProps) {
  const state = value && typeof value === "object" && "name" in value ? (value as FileState) : null;
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const preview = usePreview(state);
  const accept = acceptList(spec);
  const max = num(spec, "max_size");
  const hintId = useId();

  const take = async (file: File | null | undefined) => {
    if (!file) return;
    const problem = checkFile(spec, file.name, file.size, file.type || undefined);
    if (problem) {
      onError(problem.charAt(0).toUpperCase() + problem.slice(1));
      return;
    }
    setBusy(true);
    try {
      onChange(await fileState(file));
      onError(undefined);
    } catch (e) {
      onError(`Could not read ${file.name}: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void take(event.dataTransfer?.files?.[0]);
  };
  const onPaste = (event: ClipboardEvent) => {
    const files = event.clipboardData?.files;
    if (files && files.length) {
      event.preventDefault();
      void take(files[0]);
    }
  };
  const what = spec.kind === "image" ? "an image" : spec.kind === "audio" ? "a sound file" : "a file";
  const limits = [accept && spec.props.accept ? accept.join(", ") : "", max ? `up to ${humanSize(max)}` : ""].filter(Boolean).join(", ");
  const contentType = state?.contentType ?? state?.value?.content_type ?? "";

  return (
    <Field id={id} label={spec.label} description={spec.description} error={error} required={spec.required}>
      <div
        className={`dropzone${dragging ? " dragging" : ""}${error ? " invalid" : ""}`}
        tabIndex={0}
        role="group"
        aria-label={`${spec.label}: drop, paste or choose ${what}`}
        aria-describedby={[hintId, describedBy(id, spec.description, error)].filter(Boolean).join(" ")}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        onPaste={onPaste}
      >
        {state ? (
          <div className="file-preview">
            {spec.kind === "image" && preview && (contentType.startsWith("image/") || !contentType) ? (
              <img src={preview} alt={`${spec.label}: ${state.name}`} />
            ) : null}
            {spec.kind === "audio" && preview ? <audio controls src={preview} aria-label={`${spec.label}: ${state.name}`} /> : null}
            <p>
              <span className="file-name">{state.name}</span>
              {typeof (state.size ?? state.value?.size) === "number" ? <span className="muted"> · {humanSize((state.size ?? state.value?.size) as number)}</span> : null}
              {state.file && !state.value ? <span className="muted"> · uploaded when you run</span> : null}
            </p>
          </div>
        ) : (
          <p className="muted" id={hintId}>
            Drop {what} here, paste it, or choose one.{limits ? ` (${limits})` : ""}
          </p>
        )}
        <div className="toolbar">
          <button type="button" className="button small" onClick={() => input.current?.click()} disabled={busy}>
            {state ? "Replace" : "Choose file"}
          </button>
          {state ? (
            <button
              type="button"
              className="button small subtle"
              onClick={() => {
                onChange(null);
                onError(undefined);
              }}
            >
              Remove
            </button>
          ) : null}
          {busy ? <span className="muted">Reading…</span> : null}
        </div>
        <input
          ref={input}
          id={id}
          className="visually-hidden"
          type="file"
          tabIndex={-1}
          accept={accept?.join(",")}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy(id, spec.description, error)}
          onChange={(e) => {
            void take(e.target.files?.[0]);
            e.target.value = "";
          }}
        />
      </div>
    </Field>
  );
}
