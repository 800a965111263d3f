-- The dashboard's lists, newest first per business, with and without a
-- status filter (the with-status indexes on leads and conversations exist).
CREATE INDEX IF NOT EXISTS idx_calls_business_status ON calls(business_id, status, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_leads_business_created ON leads(business_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_convos_business_updated ON conversations(business_id, updated_at DESC);
-- The figures' "recovered" test finds a call's conversation by call_id.
CREATE INDEX IF NOT EXISTS idx_convos_call ON conversations(call_id) WHERE call_id IS NOT NULL;
