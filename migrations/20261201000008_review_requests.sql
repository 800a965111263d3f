-- Review requests: each one is a workflow run (kind review_request), maybe
-- prompted by an appointment; its tracked link /r/{token} is signed (HMAC of
-- the request's id), so no token is stored.
ALTER TABLE review_requests ADD COLUMN run_id UUID UNIQUE REFERENCES workflow_runs(id);
ALTER TABLE review_requests ADD COLUMN appointment_id UUID REFERENCES appointments(id);

-- 'cancelled': the business was paused or the number cannot take texts.
ALTER TABLE review_requests DROP CONSTRAINT review_requests_status_check;
ALTER TABLE review_requests ADD CONSTRAINT review_requests_status_check
    CHECK (status IN ('pending', 'sent', 'reminded', 'completed', 'opted_out', 'cancelled'));

-- Never more than one request per lead per 90 days, whatever the code checks:
-- two requests' 90-day windows may not overlap. The window is 7,776,000
-- seconds of elapsed time (no calendar days, so no DST or session-zone
-- dependence), which is what lets this function honestly be IMMUTABLE. The
-- application also locks the lead row, so two racing completions start one
-- request and tell the other "recently asked" instead of failing here.
CREATE OR REPLACE FUNCTION review_window(at TIMESTAMPTZ) RETURNS TSTZRANGE
    LANGUAGE SQL IMMUTABLE PARALLEL SAFE
    AS $$ SELECT tstzrange(at, at + make_interval(secs => 7776000), '[)') $$;

CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE review_requests ADD CONSTRAINT review_requests_one_per_lead_per_90_days
    EXCLUDE USING gist (lead_id WITH =, review_window(created_at) WITH &&);
