-- underway 0.2's dequeue has no index to use: it scans and sorts every retained
-- task row. These two indexes take it from ~89 to ~664 jobs/s at 20k rows
-- (shared/reference/underway-0.2-notes.md). underway's own migrations create the
-- schema; ours run after them (see activities::db::migrate).
CREATE INDEX IF NOT EXISTS underway_task_pending_idx
    ON underway.task (task_queue_name, priority DESC, created_at, id)
    WHERE state IN ('pending', 'in_progress');
CREATE INDEX IF NOT EXISTS underway_task_id_idx ON underway.task (id);
