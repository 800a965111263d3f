-- Owner notifications: the dashboard feed row is the notification's identity.
-- dedupe_key is unique per business ("alert_qualified:<run>", "daily:2026-12-01"),
-- so a retried caller inserts nothing and queues nothing twice. held_until is
-- set when quiet hours hold the SMS and email back.
ALTER TABLE notifications
    ADD COLUMN dedupe_key TEXT,
    ADD COLUMN held_until TIMESTAMPTZ;
CREATE UNIQUE INDEX uq_notifications_dedupe ON notifications(business_id, dedupe_key);

-- The email outbox: committed with its final subject and body in the caller's
-- transaction, sent by the notification dispatcher with no transaction open.
-- 'stored' = no SMTP server is configured: kept here for operators, never sent.
CREATE TABLE email_outbox (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    notification_id UUID REFERENCES notifications(id),
    dedupe_key      TEXT NOT NULL,
    to_address      TEXT NOT NULL CHECK (to_address LIKE '%_@_%'),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'stored')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (business_id, dedupe_key)
);
CREATE INDEX idx_email_outbox_due ON email_outbox(next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX idx_email_outbox_business ON email_outbox(business_id, created_at DESC);
CREATE TRIGGER email_outbox_updated_at BEFORE UPDATE ON email_outbox
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

-- Owner texts that belong to no run (the daily summary) are sent by the
-- dispatcher, which looks for them here; inbound rows ('received') stay out.
CREATE INDEX idx_messages_runless_due ON messages(next_attempt_at)
    WHERE run_id IS NULL AND status IN ('queued', 'sending');
