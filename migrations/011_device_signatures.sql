-- 011_device_signatures.sql — device signatures: the reference schema's signature columns, and the key each check used.
--
-- devices.public_key (001, VARCHAR(88)) holds a device's Ed25519 public key as base58 of 32 bytes.
-- messages.device_signature holds a signed reading's signature as it arrived: base58 of 64 bytes
-- (at most 88 characters), a copy of the payload's "signature" member, which raw_data and
-- message_hash also cover (docs/hashing.md, section 6).
-- signature_verifications records each check of a reading's signature against its device's key:
-- is_valid, and when. The columns are the reference schema's; public_key (the key the check used) is a
-- veep-bridge addition, so that a signature can be checked again after the device's key is rotated.
-- The migration number 010 is left to the anchoring migration; the runner applies files in
-- version order and does not require consecutive numbers.

ALTER TABLE messages ADD COLUMN device_signature VARCHAR(88);

CREATE TABLE signature_verifications (
    verification_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id      UUID REFERENCES messages(message_id) ON DELETE CASCADE,
    is_valid        BOOLEAN NOT NULL,
    verified_at     TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    public_key      VARCHAR(88)
);

CREATE INDEX idx_signature_verifications_message_id ON signature_verifications(message_id);
