/** Small shared pieces: status badges, errors, copy buttons, field frames, time formatting. */
import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from "react";

export function StatusBadge({ status }: { status?: string | null }) {
  const text = status ?? "unknown";
  return <span className={`badge badge-${text.replace(/[^a-z_]/g, "")}`}>{text.replace("_", " ")}</span>;
}

export function ErrorBox({ children, id }: { children: ReactNode; id?: string }) {
  if (!children) return null;
  return (
    <div className="error-box" role="alert" id={id}>
      {children}
    </div>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span className="spinner" role="status">
      <span className="spinner-dot" aria-hidden="true" />
      {label}…
    </span>
  );
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function CopyButton({ text, label = "Copy", className }: { text: string; label?: string; className?: string }) {
  const [state, setState] = useState<"idle" | "done" | "failed">("idle");
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const onClick = async () => {
    const ok = await copyText(text);
    setState(ok ? "done" : "failed");
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState("idle"), 2000);
  };
  return (
    <button type="button" className={`button small ${className ?? ""}`} onClick={onClick}>
      {state === "done" ? "Copied" : state === "failed" ? "Copy failed: select the text" : label}
      <span className="visually-hidden" aria-live="polite">
        {state === "done" ? "Copied to the clipboard" : ""}
      </span>
    </button>
  );
}

/** Label, description, control and error message, tied together for screen readers. */
export function Field({
  id,
  label,
  description,
  error,
  required,
  group,
  children,
  extra,
}: {
  id: string;
  label: string;
  description?: string | null;
  error?: string;
  required?: boolean;
  group?: boolean;
  children: ReactNode;
  extra?: ReactNode;
}) {
  const marker = required ? (
    <span className="required" aria-hidden="true">
      {" "}
      *
    </span>
  ) : null;
  const hint = description ? (
    <p className="hint" id={`${id}-hint`}>
      {description}
    </p>
  ) : null;
  const problem = error ? (
    <p className="field-error" id={`${id}-error`}>
      {error}
    </p>
  ) : null;
  if (group) {
    return (
      <fieldset className={`field${error ? " invalid" : ""}`} aria-describedby={describedBy(id, description, error)}>
        <legend>
          {label}
          {marker}
        </legend>
        {hint}
        {children}
        {extra}
        {problem}
      </fieldset>
    );
  }
  return (
    <div className={`field${error ? " invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {marker}
      </label>
      {hint}
      {children}
      {extra}
      {problem}
    </div>
  );
}

export function describedBy(id: string, description?: string | null, error?: string): string | undefined {
  const ids = [description ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return ids || undefined;
}

export function when(iso?: string | null, missing = "never"): string {
  if (!iso) return missing;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

/** Keyboard-friendly tabs (arrow keys move between tabs, as the ARIA pattern says). */
export function Tabs<T extends string>({
  tabs,
  active,
  onChange,
  label,
}: {
  tabs: Array<{ id: T; label: string }>;
  active: T;
  onChange: (id: T) => void;
  label: string;
}) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const onKey = (event: KeyboardEvent, index: number) => {
    let next = -1;
    if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next < 0) return;
    event.preventDefault();
    onChange(tabs[next].id);
    refs.current[tabs[next].id]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((tab, index) => (
        <button
          key={tab.id}
          ref={(el) => {
            refs.current[tab.id] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${tab.id}`}
          aria-selected={tab.id === active}
          aria-controls={`panel-${tab.id}`}
          tabIndex={tab.id === active ? 0 : -1}
          className={`tab${tab.id === active ? " active" : ""}`}
          onClick={() => onChange(tab.id)}
          onKeyDown={(event) => onKey(event, index)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}
