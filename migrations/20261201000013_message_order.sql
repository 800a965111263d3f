-- A text's created_at is when it was written, not when its transaction began:
-- a round writes several texts in one transaction (the text-back and the
-- owner's alert; an emergency and a needs-a-human alert to the same owner),
-- and with now() they all had the transaction's one instant, so "oldest
-- first" (the outbox's send order, the transcript's reading order) fell back
-- to their random ids.
ALTER TABLE messages ALTER COLUMN created_at SET DEFAULT clock_timestamp();
