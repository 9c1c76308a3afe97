/** After a run: a thumb, the right answer (for a model with a label output) and a comment. */
import { useState, type FormEvent } from "react";
import { api, ApiError, type Run } from "../api";
import type { StepSpec } from "../manifest";
import { ErrorBox } from "./ui";

export function FeedbackBar({ run, step }: { run: Run; step: StepSpec }) {
  const [rating, setRating] = useState<"up" | "down" | null>(null);
  const [label, setLabel] = useState("");
  const [comment, setComment] = useState("");
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const hasLabel = step.outputs.some((o) => o.kind === "label");

  const send = async (event?: FormEvent, thumb: "up" | "down" | null = rating) => {
    event?.preventDefault();
    setError(null);
    try {
      const answer = await api.giveFeedback(run, { rating: thumb, label: label.trim() || null, comment: comment.trim() });
      setSent(Number(answer.revision ?? 1));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  const thumb = (value: "up" | "down") => {
    const next = rating === value ? null : value;
    setRating(next);
    void send(undefined, next);
  };

  return (
    <form className="feedback" onSubmit={send} aria-label="Feedback on this run">
      <div className="toolbar">
        <span className="muted">Was this right?</span>
        <button type="button" className="button small" aria-pressed={rating === "up"} onClick={() => thumb("up")} aria-label="Good answer">
          <span aria-hidden="true">▲</span> Good
        </button>
        <button type="button" className="button small" aria-pressed={rating === "down"} onClick={() => thumb("down")} aria-label="Bad answer">
          <span aria-hidden="true">▼</span> Bad
        </button>
        {sent ? <span className="muted" role="status">Thanks, noted{sent > 1 ? " (updated)" : ""}.</span> : null}
      </div>
      <details>
        <summary>Correct it or comment</summary>
        {hasLabel ? (
          <label>
            The right answer <input value={label} onChange={(e) => setLabel(e.target.value)} maxLength={500} />
          </label>
        ) : null}
        <label>
          Comment <textarea value={comment} onChange={(e) => setComment(e.target.value)} maxLength={2000} rows={2} />
        </label>
        <button type="submit" className="button small">
          Send
        </button>
      </details>
      <ErrorBox>{error}</ErrorBox>
    </form>
  );
}
