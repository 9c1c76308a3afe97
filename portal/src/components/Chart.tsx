/**
 * A time series or a distribution drawn by uPlot, with the same figures in a table for screen
 * readers (and for where no canvas is, such as tests in jsdom).
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: Array<number | null>;
  color: string;
}

interface Props {
  title: string;
  /** x values: seconds since the epoch for time series, bin or category positions otherwise */
  x: number[];
  series: Series[];
  bars?: boolean;
  /** labels of the x values in the table (times or categories) */
  xLabels?: string[];
  unit?: string;
  height?: number;
  /** the x axis from..to (a time window), rather than the data's own extent */
  xRange?: [number, number];
}

function canDraw(): boolean {
  if (typeof navigator !== "undefined" && /jsdom/i.test(navigator.userAgent)) return false; // no canvas there
  try {
    return typeof document !== "undefined" && document.createElement("canvas").getContext("2d") !== null;
  } catch {
    return false;
  }
}

export function Chart({ title, x, series, bars = false, xLabels, unit = "", height = 180, xRange }: Props) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current;
    if (!el || !canDraw() || x.length === 0) return;
    const options: uPlot.Options = {
      title,
      width: Math.max(240, el.clientWidth || 480),
      height,
      scales: { x: xRange ? { time: !bars, range: () => xRange } : { time: !bars } },
      axes: [{}, { size: 70, values: (_u, ticks) => ticks.map((t) => `${t}${unit}`) }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: bars ? `${s.color}55` : undefined,
          width: 2,
          paths: bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : undefined,
          spanGaps: true,
        })),
      ],
    };
    const plot = new uPlot(options, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, x, series, bars, unit, height, xRange?.[0], xRange?.[1]]);

  return (
    <figure className="chart">
      <div ref={host} className="chart-canvas" aria-hidden="true" />
      <details className="chart-data">
        <summary>{title}: the figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{bars ? "bin" : "time"}</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {x.map((value, i) => (
              <tr key={i}>
                <th scope="row">{xLabels?.[i] ?? value}</th>
                {series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? "–"}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
