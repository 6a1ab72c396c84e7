import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Job } from "../api/schemas";
import { JobStages } from "../components/JobProgress";
import { OpenPositionModal } from "../components/OpenPositionModal";
import { mockApi, RATES, renderWithClient } from "./utils";

const T = "2026-11-25T06:00:00Z";

function stagesOf() {
  return within(screen.getByRole("list", { name: "Stages" })).getAllByRole("listitem");
}

describe("JobStages", () => {
  it("renders a spinner for the running stage, checks for done ones and greys the planned rest", () => {
    const job: Job = {
      job_id: "j1", position_id: "p1", kind: "open", status: "running", error: null,
      stages: [
        { name: "preflight", status: "done", at: T, detail: "" },
        { name: "reserve", status: "done", at: T, detail: "capital reserved" },
        { name: "open_long", status: "running", at: T, detail: "" },
      ],
    };
    renderWithClient(<JobStages job={job} />);
    const items = stagesOf();
    expect(items.map((li) => li.getAttribute("data-status"))).toEqual(["done", "done", "running", "pending", "pending", "pending"]);
    expect(items[0]).toHaveTextContent("Preflight checks");
    expect(within(items[0]!).getByLabelText("done")).toHaveTextContent("✓");
    expect(items[1]).toHaveTextContent("capital reserved");
    expect(within(items[2]!).getByRole("status", { name: "running" })).toBeInTheDocument();
    expect(items[3]).toHaveTextContent("Open short on Hyperliquid");
  });

  it("shows a cross and the error when a stage failed", () => {
    const job: Job = {
      job_id: "j1", position_id: "p1", kind: "open", status: "failed", error: "Hyperliquid rejected the order",
      stages: [
        { name: "preflight", status: "done", at: T, detail: "" },
        { name: "open_short", status: "failed", at: T, detail: "insufficient margin" },
        { name: "unwind", status: "done", at: T, detail: "" },
        { name: "validate_fills", status: "skipped", at: T, detail: "" },
      ],
    };
    renderWithClient(<JobStages job={job} />);
    const items = stagesOf();
    expect(items).toHaveLength(4); // no planned placeholders once the job is over
    expect(within(items[1]!).getByLabelText("failed")).toHaveTextContent("✕");
    expect(within(items[3]!).getByLabelText("skipped")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent(
      "The position was not opened: Hyperliquid rejected the order. Every leg it had opened was closed again; you can try again.");
  });

  it("marks the stage that was running when the job failed as failed, with no spinner, and says what to do", () => {
    const job: Job = {
      job_id: "j2", position_id: "p2", kind: "open", status: "failed", error: "StepRefused: kill switch is close-all",
      stages: [{ name: "preflight", status: "running", at: T, detail: "" }],
    };
    renderWithClient(<JobStages job={job} />);
    const items = stagesOf();
    expect(within(items[0]!).getByLabelText("failed")).toBeInTheDocument();
    expect(screen.queryByRole("status", { name: "running" })).toBeNull();
    expect(screen.getByRole("alert")).toHaveTextContent("the operator halted trading (kill switch). Try again once it is off.");
  });
});

describe("OpenPositionModal", () => {
  it("submits the order and polls the job until every stage is done", async () => {
    const running = (n: number): Job => ({
      job_id: "job-1", position_id: "pos-1", kind: "open", status: "running", error: null,
      stages: ["preflight", "reserve", "open_long", "open_short"].slice(0, n).map((name, i) => ({
        name, status: i === n - 1 ? "running" : "done", at: T, detail: "",
      })),
    });
    const done: Job = {
      job_id: "job-1", position_id: "pos-1", kind: "open", status: "succeeded", error: null,
      stages: ["preflight", "reserve", "open_long", "open_short", "validate_fills", "open"].map((name) => ({ name, status: "done", at: T, detail: "" })),
    };
    const { calls } = mockApi({
      "POST /positions/open": { status: 202, body: { job_id: "job-1", position_id: "pos-1", status: "pending" } },
      "GET /positions/jobs/job-1": [
        { status: 200, body: running(1) },
        { status: 200, body: running(3) },
        { status: 200, body: done },
      ],
    });
    renderWithClient(<OpenPositionModal rates={RATES as never} defaults={{ leverage: "3" }} maxPositionUsd="50000" onClose={() => {}} />);

    fireEvent.change(screen.getByLabelText("Asset (long on Asgard)"), { target: { value: "jitoSOL" } });
    const protocol = screen.getByLabelText("Protocol");
    expect(within(protocol).getAllByRole("option").map((o) => o.textContent)).toEqual(["Best available", "Kamino", "Drift"]);
    fireEvent.change(protocol, { target: { value: "kamino" } });
    expect(screen.getByText("+41.10%")).toBeInTheDocument(); // the matching opportunity's net APY
    fireEvent.change(screen.getByLabelText("Size (USD)"), { target: { value: "2500" } });
    fireEvent.click(screen.getByRole("button", { name: "Open position" }));

    await waitFor(() => expect(screen.getAllByRole("listitem").length).toBeGreaterThan(0));
    expect(calls.find((c) => c.path === "/positions/open")?.body).toEqual({ asset: "jitoSOL", protocol: "kamino", leverage: "3", size_usd: "2500" });
    expect(await screen.findByText("Position opened.", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(stagesOf().every((li) => li.getAttribute("data-status") === "done")).toBe(true);
    expect(stagesOf()).toHaveLength(6);
    const polls = calls.filter((c) => c.path === "/positions/jobs/job-1").length;
    expect(polls).toBeGreaterThanOrEqual(3);
    // Polling stops once the job is over.
    await new Promise((r) => setTimeout(r, 1300));
    expect(calls.filter((c) => c.path === "/positions/jobs/job-1").length).toBe(polls);
  }, 10_000);

  it("tells the trader a protocol without in-place rebalancing closes instead, before they open there", () => {
    renderWithClient(<OpenPositionModal rates={RATES as never} defaults={{ asset: "SOL" }} maxPositionUsd={null} onClose={() => {}} />);
    const protocol = screen.getByLabelText("Protocol");
    expect(within(protocol).getAllByRole("option").map((o) => o.textContent)).toEqual(["Best available", "marginfi (closes instead of rebalancing)"]);
    expect(screen.queryByRole("note")).toBeNull();
    fireEvent.change(protocol, { target: { value: "marginfi" } });
    expect(screen.getByRole("note")).toHaveTextContent("the bot closes it instead of rebalancing it");
  });

  it("sends protocol null for Best available and refuses a size under the minimum", async () => {
    const { calls } = mockApi({
      "POST /positions/open": { status: 400, body: { error: { code: "insufficient_balance", message: "Not enough USDC on Solana." } } },
    });
    renderWithClient(<OpenPositionModal rates={RATES as never} defaults={{}} maxPositionUsd={null} onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText("Size (USD)"), { target: { value: "10" } });
    fireEvent.click(screen.getByRole("button", { name: "Open position" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The minimum size is $50.00.");
    expect(calls).toHaveLength(0);

    fireEvent.change(screen.getByLabelText("Size (USD)"), { target: { value: "1000" } });
    fireEvent.click(screen.getByRole("button", { name: "Open position" }));
    expect(await screen.findByText("Not enough USDC on Solana.")).toBeInTheDocument();
    expect(calls[0]?.body).toMatchObject({ asset: "jitoSOL", protocol: null, size_usd: "1000" });
  });
});
