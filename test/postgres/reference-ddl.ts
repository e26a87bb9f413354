/**
 * The reference DDL of the three tables (the schema veep-bridge's tables are specified by), verbatim
 * with comments removed, as three blocks in the only order PostgreSQL accepts (the reference lists
 * messages before devices, which it references).
 */
export const SEED_DDL = {
  devices: `CREATE TABLE devices (
    device_id     VARCHAR(100) PRIMARY KEY,
    tenant_id     VARCHAR(100) NOT NULL,
    site_id       VARCHAR(100) NOT NULL,
    last_seen     TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    message_count BIGINT DEFAULT 0,
    public_key    VARCHAR(88),
    firmware_version VARCHAR(50),
    created_at    TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at    TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_devices_tenant_site ON devices(tenant_id, site_id);
CREATE INDEX idx_devices_last_seen ON devices(last_seen DESC);`,
  batches: `CREATE TABLE batches (
    batch_id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_hash          VARCHAR(64) NOT NULL,
    message_count       INTEGER NOT NULL CHECK (message_count > 0),
    start_timestamp     TIMESTAMP WITH TIME ZONE NOT NULL,
    end_timestamp       TIMESTAMP WITH TIME ZONE NOT NULL,
    solana_tx_signature VARCHAR(88),
    solana_block_number BIGINT,
    status              VARCHAR(20) NOT NULL DEFAULT 'pending',
    created_at          TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    confirmed_at        TIMESTAMP WITH TIME ZONE,
    CONSTRAINT check_timestamps CHECK (end_timestamp >= start_timestamp),
    CONSTRAINT check_status CHECK (status IN ('pending', 'hashing', 'complete', 'failed', 'blockchain_pending', 'blockchain_confirmed'))
);
CREATE INDEX idx_batches_status ON batches(status);
CREATE INDEX idx_batches_created_at ON batches(created_at DESC);
CREATE INDEX idx_batches_hash ON batches(batch_hash);`,
  messages: `CREATE TABLE messages (
    message_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id     UUID REFERENCES batches(batch_id) ON DELETE CASCADE,
    device_id    VARCHAR(100) NOT NULL,
    topic        VARCHAR(255) NOT NULL,
    message_hash VARCHAR(64) NOT NULL,
    raw_data     JSONB NOT NULL,
    received_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    processed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    CONSTRAINT fk_batch FOREIGN KEY (batch_id) REFERENCES batches(batch_id),
    CONSTRAINT fk_device FOREIGN KEY (device_id) REFERENCES devices(device_id)
);
CREATE INDEX idx_messages_batch_id ON messages(batch_id);
CREATE INDEX idx_messages_device_id ON messages(device_id);
CREATE INDEX idx_messages_received_at ON messages(received_at DESC);
CREATE INDEX idx_messages_hash ON messages(message_hash);
CREATE INDEX idx_messages_raw_data ON messages USING GIN (raw_data);`,
} as const;
