-- underway's trigger NOTIFYs `task_change` for every task made pending, due
-- or not. A follow-up due in two hours woke every worker for an empty
-- dequeue (the most expensive statement we run), and its NOTIFY made the
-- scheduling commit take PostgreSQL's cluster-wide notify lock, which every
-- notifying commit holds through its WAL flush: such commits go one at a time.
-- Workers poll for tasks that come due later (`WORKER_POLL_MS`), so only a
-- task due now is announced; the condition is the dequeue's own
-- (`created_at + delay <= now()`). Replaces underway 0.2.0's function of the
-- same name; its trigger stays as it is.
CREATE OR REPLACE FUNCTION underway.task_change_notify()
RETURNS trigger AS $$
BEGIN
  IF new.state = 'pending' AND new.created_at + new.delay <= now() THEN
    PERFORM pg_notify('task_change', json_build_object('task_queue_name', new.task_queue_name)::text);
  END IF;
  RETURN new;
END;
$$ LANGUAGE plpgsql;
