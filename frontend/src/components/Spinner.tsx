export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label} />;
}

/** A card-sized state for loading, empty and error cases, so every panel says what is going on. */
export function Notice({ kind, children }: { kind: "loading" | "empty" | "error"; children: React.ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : undefined}>
      {kind === "loading" && <Spinner />}
      <span>{children}</span>
    </div>
  );
}
