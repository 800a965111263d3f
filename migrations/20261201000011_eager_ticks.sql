-- Eager ticks: a run started or signalled is handed straight to a worker
-- (NOTIFY callrecover_kick) instead of through underway's queue. `kicked_at`
-- marks a run so handed; its `wake_at` is the lease: the timer sweep gives the
-- run to underway if no worker has moved it on by then (the notification was
-- lost, or the worker died). Cleared when the run is scheduled or swept.
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS kicked_at TIMESTAMPTZ;
