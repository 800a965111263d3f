-- A caller's own inbound texts (their state, for the texting window) without
-- reading every message of the business: found by profiling the benchmark,
-- where the lookup grew with the business's history (6.6 ms at 4,000 callers).
CREATE INDEX IF NOT EXISTS idx_messages_inbound_from ON messages(business_id, from_phone, created_at DESC)
    WHERE direction = 'inbound';
