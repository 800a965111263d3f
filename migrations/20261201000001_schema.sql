-- CallRecover schema. Every tenant table carries business_id; phone numbers are
-- stored E.164 and checked here so no code path can store a malformed one.

CREATE OR REPLACE FUNCTION is_e164(p TEXT) RETURNS BOOLEAN
    LANGUAGE SQL IMMUTABLE PARALLEL SAFE
    AS $$ SELECT p ~ '^\+[1-9][0-9]{6,14}$' $$;

CREATE OR REPLACE FUNCTION trigger_updated_at() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

CREATE TABLE businesses (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            TEXT NOT NULL CHECK (length(btrim(name)) > 0),
    owner_name      TEXT NOT NULL,
    owner_email     TEXT NOT NULL CHECK (owner_email LIKE '%_@_%'),
    owner_phone     TEXT NOT NULL CHECK (is_e164(owner_phone)),
    business_phone  TEXT NOT NULL CHECK (is_e164(business_phone)),
    twilio_number   TEXT NOT NULL UNIQUE CHECK (is_e164(twilio_number)),
    timezone        TEXT NOT NULL DEFAULT 'America/New_York',
    business_hours  JSONB NOT NULL DEFAULT '{
        "monday":    {"open": "08:00", "close": "17:00"},
        "tuesday":   {"open": "08:00", "close": "17:00"},
        "wednesday": {"open": "08:00", "close": "17:00"},
        "thursday":  {"open": "08:00", "close": "17:00"},
        "friday":    {"open": "08:00", "close": "17:00"},
        "saturday":  null,
        "sunday":    null
    }',
    services        TEXT[] NOT NULL DEFAULT '{}',
    avg_job_value   NUMERIC(10,2) NOT NULL DEFAULT 350.00 CHECK (avg_job_value >= 0),
    ai_greeting     TEXT,
    ai_instructions TEXT,
    notification_prefs JSONB NOT NULL DEFAULT '{"sms": true, "email": true, "quiet_start": "21:00", "quiet_end": "07:00"}',
    call_screening  BOOLEAN NOT NULL DEFAULT true,
    owner_status    TEXT NOT NULL DEFAULT 'available'
        CHECK (owner_status IN ('available', 'busy', 'offline', 'vacation')),
    owner_window_seconds INTEGER NOT NULL DEFAULT 60 CHECK (owner_window_seconds BETWEEN 0 AND 3600),
    disclose_bot    BOOLEAN NOT NULL DEFAULT true,
    google_place_id TEXT,
    subscription_status TEXT NOT NULL DEFAULT 'active'
        CHECK (subscription_status IN ('trial', 'active', 'paused', 'cancelled')),
    stripe_customer_id  TEXT,
    stripe_subscription_id TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER businesses_updated_at BEFORE UPDATE ON businesses
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

-- Every inbound call. screen_accepted_at is set when the owner pressed 1 on the
-- whisper: only then (and a bridged dial) does a call count as answered.
CREATE TABLE calls (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    twilio_call_sid TEXT NOT NULL UNIQUE,
    caller_phone    TEXT NOT NULL CHECK (is_e164(caller_phone)),
    status          TEXT NOT NULL DEFAULT 'ringing'
        CHECK (status IN ('ringing', 'answered', 'missed', 'voicemail', 'busy', 'failed')),
    dial_call_status TEXT,
    dial_call_sid   TEXT,
    screened        BOOLEAN NOT NULL DEFAULT true,
    screen_accepted_at TIMESTAMPTZ,
    duration_seconds INTEGER CHECK (duration_seconds >= 0),
    is_after_hours  BOOLEAN NOT NULL DEFAULT false,
    caller_state    TEXT,
    recording_url   TEXT,
    transcription   TEXT,
    ended_at        TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_calls_business ON calls(business_id, created_at DESC);
CREATE INDEX idx_calls_caller ON calls(business_id, caller_phone);

CREATE TABLE leads (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    phone           TEXT NOT NULL CHECK (is_e164(phone)),
    name            TEXT,
    email           TEXT,
    address         TEXT,
    service_needed  TEXT,
    service_category TEXT,
    preferred_time  TEXT,
    urgency         TEXT CHECK (urgency IN ('emergency', 'soon', 'flexible', 'unknown')),
    status          TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'contacted', 'qualifying', 'qualified', 'booked',
                          'completed', 'unresponsive', 'opted_out', 'lost')),
    source          TEXT NOT NULL DEFAULT 'missed_call'
        CHECK (source IN ('missed_call', 'web_form', 'reactivation', 'manual')),
    estimated_value NUMERIC(10,2),
    notes           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (business_id, phone)
);
CREATE INDEX idx_leads_business_status ON leads(business_id, status, created_at DESC);
CREATE TRIGGER leads_updated_at BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

CREATE TABLE conversations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    lead_id         UUID NOT NULL REFERENCES leads(id),
    call_id         UUID REFERENCES calls(id),
    status          TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'human_active', 'follow_up', 'closed_booked',
                          'closed_no_response', 'closed_opted_out', 'closed_manual')),
    follow_up_count INTEGER NOT NULL DEFAULT 0,
    next_follow_up_at TIMESTAMPTZ,
    needs_human     BOOLEAN NOT NULL DEFAULT false,
    qualification_data JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- At most one open conversation per lead: the database, not a read-then-write,
-- is what stops a second text-back when two calls race.
CREATE UNIQUE INDEX uq_conversations_open_per_lead ON conversations(business_id, lead_id)
    WHERE status IN ('active', 'human_active', 'follow_up');
CREATE INDEX idx_convos_business ON conversations(business_id, status, updated_at DESC);
CREATE TRIGGER conversations_updated_at BEFORE UPDATE ON conversations
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

-- Calls that joined an already open conversation (no second text-back).
CREATE TABLE conversation_calls (
    business_id     UUID NOT NULL REFERENCES businesses(id),
    conversation_id UUID NOT NULL REFERENCES conversations(id),
    call_id         UUID NOT NULL REFERENCES calls(id) UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Workflow tables: our own thin engine; underway supplies durable wake-ups.
CREATE TABLE workflow_runs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    kind            TEXT NOT NULL,
    subject_key     TEXT NOT NULL,
    conversation_id UUID REFERENCES conversations(id),
    status          TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'waiting', 'human', 'completed', 'failed', 'cancelled')),
    state           JSONB NOT NULL,
    wake_token      UUID,
    wake_at         TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (kind, subject_key)
);
CREATE INDEX idx_workflow_runs_business ON workflow_runs(business_id, status, updated_at DESC);
CREATE INDEX idx_workflow_runs_wake ON workflow_runs(wake_at) WHERE status IN ('active', 'waiting');
CREATE INDEX idx_workflow_runs_conversation ON workflow_runs(conversation_id);
CREATE TRIGGER workflow_runs_updated_at BEFORE UPDATE ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

CREATE TABLE workflow_events (
    id              BIGSERIAL PRIMARY KEY,
    business_id     UUID NOT NULL REFERENCES businesses(id),
    run_id          UUID NOT NULL REFERENCES workflow_runs(id),
    kind            TEXT NOT NULL,
    detail          JSONB NOT NULL DEFAULT '{}',
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_workflow_events_run ON workflow_events(run_id, id);

CREATE TABLE workflow_signals (
    id              BIGSERIAL PRIMARY KEY,
    business_id     UUID NOT NULL REFERENCES businesses(id),
    run_id          UUID NOT NULL REFERENCES workflow_runs(id),
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL DEFAULT '{}',
    dedupe_key      TEXT UNIQUE,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    consumed_at     TIMESTAMPTZ
);
CREATE INDEX idx_workflow_signals_pending ON workflow_signals(run_id, id) WHERE consumed_at IS NULL;

-- Messages: the conversation transcript and the SMS outbox in one table. An
-- outbound row is committed with its final body and a unique (run_id, purpose)
-- before any provider call, marked 'sending' in its own commit, and given the
-- provider's sid after: a retry that finds 'sending' reconciles first.
CREATE TABLE messages (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    conversation_id UUID REFERENCES conversations(id),
    run_id          UUID REFERENCES workflow_runs(id),
    purpose         TEXT,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    audience        TEXT NOT NULL DEFAULT 'customer' CHECK (audience IN ('customer', 'owner')),
    sender_type     TEXT NOT NULL CHECK (sender_type IN ('caller', 'ai', 'human', 'system')),
    from_phone      TEXT NOT NULL CHECK (is_e164(from_phone)),
    to_phone        TEXT NOT NULL CHECK (is_e164(to_phone)),
    body            TEXT NOT NULL,
    validity_seconds INTEGER CHECK (validity_seconds BETWEEN 1 AND 36000),
    twilio_message_sid TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed',
                          'blocked', 'received')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ,
    error_code      INTEGER,
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (run_id, purpose)
);
CREATE INDEX idx_messages_convo ON messages(conversation_id, created_at);
CREATE INDEX idx_messages_business ON messages(business_id, created_at DESC);
CREATE INDEX idx_messages_to ON messages(to_phone, created_at DESC);
CREATE INDEX idx_messages_pending ON messages(run_id) WHERE status IN ('queued', 'sending');
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

CREATE TABLE appointments (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    lead_id         UUID NOT NULL REFERENCES leads(id),
    conversation_id UUID REFERENCES conversations(id),
    starts_at       TIMESTAMPTZ NOT NULL,
    duration_minutes INTEGER NOT NULL DEFAULT 60 CHECK (duration_minutes > 0),
    service_type    TEXT,
    address         TEXT,
    status          TEXT NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')),
    notes           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_appointments_business ON appointments(business_id, starts_at);
CREATE TRIGGER appointments_updated_at BEFORE UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION trigger_updated_at();

CREATE TABLE review_requests (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    lead_id         UUID NOT NULL REFERENCES leads(id),
    phone           TEXT NOT NULL CHECK (is_e164(phone)),
    review_url      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'reminded', 'completed', 'opted_out')),
    sent_at         TIMESTAMPTZ,
    reminder_sent_at TIMESTAMPTZ,
    clicked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_review_requests_lead ON review_requests(business_id, lead_id, created_at DESC);

-- Opt-outs. business_id NULL = global. NULLS NOT DISTINCT keeps one global row per phone.
CREATE TABLE opt_outs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    phone           TEXT NOT NULL CHECK (is_e164(phone)),
    business_id     UUID REFERENCES businesses(id),
    reason          TEXT NOT NULL DEFAULT 'stop_keyword',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (phone, business_id)
);
CREATE INDEX idx_opt_outs_phone ON opt_outs(phone);

-- Numbers a carrier told us cannot take texts (landlines, invalid numbers).
CREATE TABLE unreachable_numbers (
    business_id     UUID NOT NULL REFERENCES businesses(id),
    phone           TEXT NOT NULL CHECK (is_e164(phone)),
    error_code      INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (business_id, phone)
);

CREATE TABLE audit_log (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID REFERENCES businesses(id),
    entity_type     TEXT NOT NULL,
    entity_id       UUID NOT NULL,
    action          TEXT NOT NULL,
    details         JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_audit_business ON audit_log(business_id, created_at DESC);

-- Every signature-valid webhook Twilio sent us, including ones for numbers we do
-- not serve (business_id NULL): the trail for disputes and debugging.
CREATE TABLE webhook_events (
    id              BIGSERIAL PRIMARY KEY,
    business_id     UUID REFERENCES businesses(id),
    endpoint        TEXT NOT NULL,
    provider_sid    TEXT,
    idempotency_token TEXT,
    outcome         TEXT NOT NULL,
    params          JSONB NOT NULL DEFAULT '{}',
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhook_events_business ON webhook_events(business_id, received_at DESC);
CREATE INDEX idx_webhook_events_sid ON webhook_events(provider_sid);

CREATE TABLE notifications (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    event           TEXT NOT NULL,
    conversation_id UUID REFERENCES conversations(id),
    data            JSONB NOT NULL DEFAULT '{}',
    read            BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_notifications_business ON notifications(business_id, created_at DESC);

CREATE TABLE daily_metrics (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id     UUID NOT NULL REFERENCES businesses(id),
    date            DATE NOT NULL,
    total_calls     INTEGER NOT NULL DEFAULT 0,
    missed_calls    INTEGER NOT NULL DEFAULT 0,
    recovered_calls INTEGER NOT NULL DEFAULT 0,
    leads_captured  INTEGER NOT NULL DEFAULT 0,
    leads_qualified INTEGER NOT NULL DEFAULT 0,
    appointments_booked INTEGER NOT NULL DEFAULT 0,
    estimated_revenue NUMERIC(10,2) NOT NULL DEFAULT 0,
    messages_sent   INTEGER NOT NULL DEFAULT 0,
    messages_received INTEGER NOT NULL DEFAULT 0,
    UNIQUE (business_id, date)
);
