import { useJob } from "../api/hooks";
import type { Job, Stage } from "../api/schemas";
import { humanize } from "../format";
import { Notice, Spinner } from "./Spinner";

const STAGE_LABELS: Record<string, string> = {
  queued: "Queued",
  preflight: "Preflight checks",
  reserve: "Reserve capital",
  open_long: "Open long on Asgard",
  open_short: "Open short on Hyperliquid",
  validate_fills: "Validate fills (delta)",
  mark_open: "Mark open",
  open: "Position open",
  unwind: "Unwind the open leg",
  mark_failed: "Mark failed",
  close_preflight: "Close preflight",
  close_short: "Close short on Hyperliquid",
  close_long: "Close long on Asgard",
  reconcile: "Reconcile",
  closed: "Position closed",
};

// The workflow's steps in order (workflows/definitions.py), shown greyed until the server reports them.
const PLANNED: Record<Job["kind"], string[]> = {
  open: ["preflight", "reserve", "open_long", "open_short", "validate_fills", "open"],
  close: ["close_preflight", "reconcile", "closed"],
};

export function stageLabel(name: string): string {
  return STAGE_LABELS[name] ?? humanize(name);
}

function StageIcon({ status }: { status: Stage["status"] | "pending" }) {
  switch (status) {
    case "running":
      return <Spinner label="running" />;
    case "done":
      return <span className="stage-icon ok" aria-label="done">✓</span>;
    case "failed":
      return <span className="stage-icon bad" aria-label="failed">✕</span>;
    case "skipped":
      return <span className="stage-icon skip" aria-label="skipped">–</span>;
    default:
      return <span className="stage-icon pending" aria-label="pending">○</span>;
  }
}

/** A failed job's error as a sentence a trader acts on (the server's text stays visible after it). */
export function failureSentence(job: Job): string {
  const error = (job.error ?? "").replace(/^[A-Z][A-Za-z]+(Error|Refused|Exception|Mismatch)(: )?/, "").trim();
  const what = job.kind === "open" ? "The position was not opened" : "The position was not closed";
  if (/compensation failed|a leg may be open/i.test(error)) {
    return `${what}, and a leg may still be open at a venue: an operator has been alerted. Do not open another position until it is resolved. (${error})`;
  }
  if (/kill switch/i.test(error)) return `${what}: the operator halted trading (kill switch). Try again once it is off.`;
  if (/rates are .* old|stale/i.test(error)) return `${what}: the market rates were stale. Wait a minute for a fresh poll and try again.`;
  if (/insufficient|margin|balance|capital/i.test(error)) return `${what}: not enough free balance at a venue. Deposit USDC or lower the size, then try again. (${error})`;
  if (job.kind === "open") return `${what}${error ? `: ${error}` : ""}. Every leg it had opened was closed again; you can try again.`;
  return `${what}${error ? `: ${error}` : ""}. The position is still open and protected; try closing again in a minute.`;
}

export function JobStages({ job }: { job: Job }) {
  // A stage still "running" in a job that failed is the one that failed: no spinner on a finished job.
  const stages = job.status === "failed" ? job.stages.map((s) => (s.status === "running" ? { ...s, status: "failed" as const } : s)) : job.stages;
  const reported = new Set(job.stages.map((s) => s.name));
  const pending = job.status === "running" ? PLANNED[job.kind].filter((name) => !reported.has(name)) : [];
  return (
    <div className="job">
      <ol className="stages" aria-label="Stages">
        {stages.map((stage, i) => (
          <li key={`${stage.name}-${i}`} className={`stage stage-${stage.status}`} data-status={stage.status}>
            <StageIcon status={stage.status} />
            <span className="stage-name">{stageLabel(stage.name)}</span>
            {stage.detail && <span className="stage-detail">{stage.detail}</span>}
          </li>
        ))}
        {pending.map((name) => (
          <li key={`pending-${name}`} className="stage stage-pending" data-status="pending">
            <StageIcon status="pending" />
            <span className="stage-name">{stageLabel(name)}</span>
          </li>
        ))}
      </ol>
      {job.status === "succeeded" && (
        <p className="job-result ok" role="status">
          {job.kind === "open" ? "Position opened." : "Position closed."}
        </p>
      )}
      {job.status === "failed" && (
        <p className="job-result bad" role="alert">{failureSentence(job)}</p>
      )}
    </div>
  );
}

/** Follows one job (polling every second while it runs) and renders its stages. */
export function JobProgress({ jobId }: { jobId: string }) {
  const job = useJob(jobId);
  if (job.data) return <JobStages job={job.data} />;
  if (job.error) return <Notice kind="error">{job.error instanceof Error ? job.error.message : "Could not load the job."}</Notice>;
  return <Notice kind="loading">Starting…</Notice>;
}
