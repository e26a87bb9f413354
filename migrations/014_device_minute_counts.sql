-- 014_device_minute_counts.sql — readings per device and minute, for "messages of the last 24 hours".
--
-- Counting a device's readings of the last 24 hours from messages reads every one of them (864,000
-- a day per device at 100 readings a second): far beyond 100 ms. The append transaction that
-- stores readings adds them here too, one row per device and minute (ON CONFLICT adds up), so the
-- device statistics query sums at most 1,440 rows per device and counts only the readings of the
-- one minute the window cuts exactly. Rows older than two days are deleted by the store's hourly
-- partition maintenance (a few thousand small rows a day).

CREATE TABLE device_minute_counts (
    device_id VARCHAR(100) NOT NULL REFERENCES devices(device_id),
    minute    TIMESTAMP WITH TIME ZONE NOT NULL,
    count     BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (device_id, minute)
);

INSERT INTO device_minute_counts (device_id, minute, count)
SELECT device_id, date_trunc('minute', received_at), count(*)
FROM messages
WHERE received_at >= NOW() - INTERVAL '2 days'
GROUP BY 1, 2;
