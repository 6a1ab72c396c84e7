// A lightweight-charts time chart: one or more line/area series, optional markers on the first series.
import { AreaSeries, ColorType, createChart, createSeriesMarkers, LineSeries, type IChartApi } from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { Marker, Point } from "./data";

export interface SeriesSpec {
  label: string;
  color: string;
  data: Point[];
  area?: boolean;
}

export function TimeChart({ series, markers, height = 260, label }: { series: SeriesSpec[]; markers?: Marker[]; height?: number; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let chart: IChartApi;
    try {
      chart = createChart(element, {
        height,
        autoSize: true,
        layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: "#9aa4b2" },
        grid: { vertLines: { color: "rgba(127,127,127,0.12)" }, horzLines: { color: "rgba(127,127,127,0.12)" } },
        timeScale: { timeVisible: true, secondsVisible: false },
      });
    } catch {
      return; // no canvas (a test DOM): the legend below still says what is drawn
    }
    series.forEach((spec, i) => {
      const added = spec.area
        ? chart.addSeries(AreaSeries, { lineColor: spec.color, topColor: `${spec.color}55`, bottomColor: `${spec.color}05`, lineWidth: 2, title: spec.label })
        : chart.addSeries(LineSeries, { color: spec.color, lineWidth: 2, title: spec.label });
      added.setData(spec.data);
      if (i === 0 && markers && markers.length > 0) createSeriesMarkers(added, markers);
    });
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [series, markers, height]);
  return (
    <figure className="chart" aria-label={label}>
      <div ref={box} style={{ height }} />
      <figcaption className="legend small">
        {series.map((s) => (
          <span key={s.label}><span className="swatch" style={{ background: s.color }} aria-hidden="true" />{s.label}</span>
        ))}
      </figcaption>
    </figure>
  );
}
