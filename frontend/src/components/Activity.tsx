import { useState } from "react";
import { useActivity, useHistory } from "../api/hooks";
import { timeAgo } from "../format";
import { errorText } from "../api/client";
import { HistoryTable } from "./Positions";
import { Notice } from "./Spinner";

function Pager({ hasPrevious, next, onPrevious, onNext }: { hasPrevious: boolean; next: string | null; onPrevious: () => void; onNext: () => void }) {
  return (
    <div className="row gap pager">
      <button type="button" className="btn btn-small" disabled={!hasPrevious} onClick={onPrevious}>Newer</button>
      <button type="button" className="btn btn-small" disabled={!next} onClick={onNext}>Older</button>
    </div>
  );
}

/** Cursor pages: the stack of cursors that led here, so "Newer" goes back. */
function useCursorStack() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    hasPrevious: stack.length > 1,
    next: (c: string) => setStack((s) => [...s, c]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}

export function HistoryPanel() {
  const pages = useCursorStack();
  const history = useHistory(true, pages.cursor);
  if (!history.data) {
    return history.isLoading ? <Notice kind="loading">Loading history…</Notice> : <Notice kind="error">{errorText(history.error, "Could not load the history. Reload the page.")}</Notice>;
  }
  return (
    <>
      <HistoryTable positions={history.data.positions} />
      <div className="row-between">
        <span className="muted small">{history.data.total ?? history.data.positions.length} closed or failed · export:
          {" "}<a href="/api/v1/positions.csv" download>positions.csv</a> · <a href="/api/v1/funding.csv" download>funding.csv</a></span>
        <Pager hasPrevious={pages.hasPrevious} next={history.data.next_cursor} onPrevious={pages.previous}
          onNext={() => history.data?.next_cursor && pages.next(history.data.next_cursor)} />
      </div>
    </>
  );
}

export function ActivityPanel() {
  const pages = useCursorStack();
  const activity = useActivity(true, pages.cursor);
  if (!activity.data) {
    return activity.isLoading ? <Notice kind="loading">Loading activity…</Notice> : <Notice kind="error">{errorText(activity.error, "Could not load the activity. Reload the page.")}</Notice>;
  }
  if (activity.data.events.length === 0) return <Notice kind="empty">Nothing has happened yet: opens, closes, settings and kill-switch changes appear here.</Notice>;
  return (
    <>
      <ol className="activity" aria-label="Activity">
        {activity.data.events.map((e, i) => (
          <li key={`${e.at}-${i}`} className={`activity-item activity-${e.kind}`} data-kind={e.kind}>
            <time dateTime={e.at} title={e.at} className="muted small">{timeAgo(e.at)}</time>
            <span>{e.message}</span>
          </li>
        ))}
      </ol>
      <Pager hasPrevious={pages.hasPrevious} next={activity.data.next_cursor} onPrevious={pages.previous}
        onNext={() => activity.data?.next_cursor && pages.next(activity.data.next_cursor)} />
    </>
  );
}
