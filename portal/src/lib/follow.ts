/**
 * Following a run until it ends. Its event stream (`urls.stream`, Server-Sent Events) shows the
 * outputs as a generator step yields them, so the stream is preferred; polling `urls.get` is the
 * fallback when the browser has no EventSource or the stream keeps failing (a proxy that cuts or
 * buffers it), and it picks up from what the stream had shown.
 */
import { api, ApiError, TERMINAL, type Run } from "../api";

export const POLL_MS = 300;
/** Connection errors in a row (no event in between) before the stream is given up for polling. */
export const STREAM_ERRORS = 3;

/**
 * Calls `onUpdate` with the run each time it changes (the last call being the ended run) and
 * resolves with the ended run; once `signal` aborts, it stops (the stream is closed) and
 * resolves with the run as last seen.
 */
export async function followRun(started: Run, onUpdate: (run: Run) => void, signal: AbortSignal): Promise<Run> {
  let latest = started;
  const update = (run: Run) => {
    latest = run;
    if (!signal.aborted) onUpdate(run);
  };
  const url = started.urls?.stream;
  if (url && !TERMINAL.has(started.status) && typeof EventSource !== "undefined") {
    const ended = await stream(url, () => latest, update, signal);
    if (ended || signal.aborted) return ended ?? latest;
  }
  return poll(latest, update, signal);
}

/** The ended run from the stream, or null when the stream was given up or stopped. */
function stream(url: string, current: () => Run, update: (run: Run) => void, signal: AbortSignal): Promise<Run | null> {
  return new Promise((resolve) => {
    const source = new EventSource(url);
    let errors = 0;
    const finish = (run: Run | null) => {
      // closed before the server closes, or the browser would reconnect and replay the end
      source.close();
      signal.removeEventListener("abort", stop);
      resolve(run);
    };
    const stop = () => finish(null);
    signal.addEventListener("abort", stop);
    const on = (kind: string, apply: (data: Record<string, unknown>) => void) =>
      source.addEventListener(kind, (event) => {
        errors = 0;
        try {
          apply(JSON.parse((event as MessageEvent<string>).data));
        } catch {
          // a malformed event: the next one (or `done`) carries the whole state again
        }
      });
    // a progress or output event means the run is going, even if it was queued when created
    const going = () => (TERMINAL.has(current().status) ? current().status : "running");
    on("progress", (data) => update({ ...current(), status: going(), progress: data as unknown as Run["progress"] }));
    on("output", (data) => update({ ...current(), status: going(), outputs: data.outputs as Run["outputs"] }));
    on("done", (data) => {
      update(data as unknown as Run);
      finish(data as unknown as Run);
    });
    source.addEventListener("error", (event) => {
      // the server's `error` event (a run that did not succeed) has data, and `done` follows it;
      // only a broken connection is a plain Event
      if ((event as MessageEvent).data !== undefined) return;
      errors += 1;
      // CLOSED: the browser gave up by itself (the answer was not a stream, e.g. a 404 or 502)
      if (source.readyState === EventSource.CLOSED || errors >= STREAM_ERRORS) finish(null);
    });
  });
}

async function poll(latest: Run, update: (run: Run) => void, signal: AbortSignal): Promise<Run> {
  while (!TERMINAL.has(latest.status)) {
    await sleep(POLL_MS);
    if (signal.aborted) break;
    let next: Run;
    try {
      next = await api.refresh(latest, signal);
    } catch (error) {
      if (signal.aborted) break;
      // a blip while polling: keep trying unless the run is gone
      if (error instanceof ApiError && (error.status === 404 || error.status === 401 || error.status === 403)) throw error;
      continue;
    }
    latest = next;
    update(next);
  }
  return latest;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
