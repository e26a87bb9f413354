-- 002_seed_data.sql — three sample devices (SENSOR_001, SENSOR_002, SENSOR_003) for trying things out.
-- veep-bridge:opt-in seed
-- Applied only when asked for: migrate({ seed: true }) or postgresStore({ migrate: { seed: true } }).
-- Batches and messages are not seeded: the bridge creates them.

INSERT INTO devices (device_id, tenant_id, site_id) VALUES
    ('SENSOR_001', 'factory1', 'line1'),
    ('SENSOR_002', 'factory1', 'line1'),
    ('SENSOR_003', 'factory1', 'line2');
