/**
 * /tasks — the tasks public models name; /tasks/:task — its leaderboard (arena ratings and label
 * accuracy); /tasks/:task/arena — two of its models answer the same inputs unnamed, you vote.
 */
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, TERMINAL, type Battle, type Leaderboard } from "../api";
import { InputWidget } from "../components/inputs";
import { OutputBlock } from "../components/outputs";
import { ErrorBox, Spinner, StatusBadge } from "../components/ui";
import { collectInputs, planStep, startValues } from "../hooks/useWizard";
import type { FieldValue, Values } from "../lib/form";
import { Link } from "../router";
import { RequireLogin } from "./RequireLogin";

export const BATTLE_POLL_MS = 400;

export default function TasksPage({ task, arena }: { task?: string; arena?: boolean }) {
  if (task && arena)
    return (
      <RequireLogin>
        <Arena task={task} />
      </RequireLogin>
    );
  return task ? <Board task={task} /> : <TaskList />;
}

function TaskList() {
  const [items, setItems] = useState<Array<{ task: string; models: number }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    document.title = "Tasks · feather";
    api.tasks().then((r) => setItems(r.items), (e) => setError(String(e)));
  }, []);
  return (
    <div className="page">
      <h1>Tasks</h1>
      <p className="hint">Models that name the same task are ranked together, by votes in the arena and by their accuracy on labelled runs.</p>
      <ErrorBox>{error}</ErrorBox>
      {!items && !error ? <Spinner /> : null}
      {items && !items.length ? <p className="empty">No public model names a task yet.</p> : null}
      <ul>
        {items?.map((t) => (
          <li key={t.task}>
            <Link to={`/tasks/${t.task}`}>{t.task}</Link> <span className="muted">({t.models} models)</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Board({ task }: { task: string }) {
  const [board, setBoard] = useState<Leaderboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    document.title = `${task} leaderboard · feather`;
    api.leaderboard(task).then(setBoard, (e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [task]);
  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> › {task}
      </p>
      <h1>{task}</h1>
      <p>
        <Link to={`/tasks/${task}/arena`} className="button primary">
          Compare two models
        </Link>
      </p>
      <ErrorBox>{error}</ErrorBox>
      {!board && !error ? <Spinner /> : null}
      {board ? (
        <>
          <section className="panel" aria-labelledby="arena-title">
            <h2 className="panel-title" id="arena-title">
              Arena ({board.votes} votes)
            </h2>
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">rank</th>
                  <th scope="col">model</th>
                  <th scope="col">rating</th>
                  <th scope="col">95% interval</th>
                  <th scope="col">votes</th>
                </tr>
              </thead>
              <tbody>
                {board.arena.map((row, i) => (
                  <tr key={row.model}>
                    <td>{row.rating === null ? "–" : i + 1}</td>
                    <th scope="row">
                      <Link to={`/m/${row.model}`}>{row.model}</Link>
                    </th>
                    <td>{row.rating ?? "–"}</td>
                    <td>{row.low === null ? "–" : `${row.low} – ${row.high}`}</td>
                    <td>{row.votes}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="panel" aria-labelledby="accuracy-title">
            <h2 className="panel-title" id="accuracy-title">
              Accuracy on labelled runs
            </h2>
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">model</th>
                  <th scope="col">accuracy</th>
                  <th scope="col">labelled runs</th>
                </tr>
              </thead>
              <tbody>
                {board.accuracy.map((row) => (
                  <tr key={row.model}>
                    <th scope="row">{row.model}</th>
                    <td>{row.accuracy === null ? "–" : `${(row.accuracy * 100).toFixed(1)}%`}</td>
                    <td>{row.labelled}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ) : null}
    </div>
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function Arena({ task }: { task: string }) {
  const [battle, setBattle] = useState<Battle | null>(null);
  const [values, setValues] = useState<Values>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const start = async () => {
    setError(null);
    try {
      const fresh = await api.startBattle(task);
      setBattle(fresh);
      setValues(fresh.form ? startValues(fresh.form.steps, 0, []) : {});
      setErrors({});
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  useEffect(() => {
    document.title = `Arena: ${task} · feather`;
    void start();
  }, [task]);

  const steps = battle?.form?.steps ?? [];
  const plan = steps.length ? planStep(steps, 0, []) : null;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!battle || !plan) return;
    const collected = collectInputs(plan, values, null);
    if (Object.keys(collected.errors).length) {
      setErrors(collected.errors);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      for (const { spec, state } of collected.uploads) collected.inputs[spec.name] = await api.upload(state.file as File, state.name);
      let now = await api.runBattle(battle.id, collected.inputs);
      while (!(["a", "b"] as const).every((side) => now.runs[side] && TERMINAL.has(now.runs[side]!.status))) {
        setBattle(now);
        await sleep(BATTLE_POLL_MS);
        now = await api.battle(battle.id);
      }
      setBattle(now);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const vote = async (winner: "a" | "b" | "tie" | "both_bad") => {
    if (!battle) return;
    try {
      setBattle({ ...battle, ...(await api.vote(battle.id, winner)), runs: battle.runs });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  const answered = battle && (["a", "b"] as const).every((side) => battle.runs[side] && TERMINAL.has(battle.runs[side]!.status));
  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> › <Link to={`/tasks/${task}`}>{task}</Link> › arena
      </p>
      <h1>Which answers better?</h1>
      <p className="hint">Two of the task's models, picked at random, answer the same inputs. Their names show after you vote.</p>
      <ErrorBox>{error}</ErrorBox>
      {battle && plan && !Object.keys(battle.runs).length ? (
        <form className="panel" onSubmit={submit} noValidate aria-label="Inputs for both models">
          {plan.shown.map((spec) => (
            <InputWidget
              key={spec.name}
              spec={spec}
              id={`arena-${spec.name}`}
              value={values[spec.name]}
              error={errors[spec.name]}
              onChange={(value: FieldValue) => setValues((old) => ({ ...old, [spec.name]: value }))}
              onError={(message) => setErrors((old) => (message ? { ...old, [spec.name]: message } : old))}
            />
          ))}
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? "Running…" : "Run both"}
          </button>
        </form>
      ) : null}
      {battle && Object.keys(battle.runs).length ? (
        <div className="runner-grid">
          {(["a", "b"] as const).map((side) => {
            const run = battle.runs[side];
            return (
              <section key={side} className="panel" aria-label={`Model ${side.toUpperCase()}`}>
                <h2 className="panel-title">{battle.models ? battle.models[side] : `Model ${side.toUpperCase()}`}</h2>
                {run ? <StatusBadge status={run.status} /> : null}
                {run?.error ? <ErrorBox>{run.error}</ErrorBox> : null}
                {run?.outputs
                  ? (steps[0]?.outputs ?? []).filter((o) => o.name in (run.outputs ?? {})).map((spec) => <OutputBlock key={spec.name} spec={spec} value={run.outputs?.[spec.name]} />)
                  : null}
              </section>
            );
          })}
        </div>
      ) : null}
      {answered && !battle?.winner ? (
        <div className="toolbar" role="group" aria-label="Your vote">
          <button type="button" className="button" onClick={() => vote("a")}>
            A is better
          </button>
          <button type="button" className="button" onClick={() => vote("b")}>
            B is better
          </button>
          <button type="button" className="button" onClick={() => vote("tie")}>
            Tie
          </button>
          <button type="button" className="button" onClick={() => vote("both_bad")}>
            Both are bad
          </button>
        </div>
      ) : null}
      {battle?.winner ? (
        <p role="status">
          Thanks: you voted <strong>{battle.winner.replace("_", " ")}</strong>.{" "}
          <button type="button" className="button small" onClick={start}>
            Another round
          </button>
        </p>
      ) : null}
    </div>
  );
}
