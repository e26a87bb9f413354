#!/usr/bin/env python3
"""Check a veep-bridge inclusion proof (RFC 9162 section 2.1.3.2, SHA-256), standard library only.

Usage: verify_proof.py PROOF.json|- [TRUSTED_ROOT_HEX [TRUSTED_TREE_SIZE]]
       verify_proof.py PROOF.json|- --memo MEMO_TEXT
PROOF.json is what `veep-bridge proof MESSAGE_ID` prints. MEMO_TEXT is the memo of the batch's
anchor transaction as a block explorer shows it:
- veep-bridge:v1:<batchId>:<messageCount>:<rootHex> (one batch): the proof must be for that batch
  and lead to that root with that message count;
- veep-bridge:v2:<batchCount>:<rootHex> (several batches): the proof leads to its batch root, and
  the leaf SHA-256(v1 memo of that batch) with the proof's "anchor"."aggregation" path must lead to
  that root with that batch count.
Exit 0 when the proof holds, 1 otherwise. Needs Python 3.10 or later.
"""
import hashlib, json, re, sys

MEMO = re.compile(r"^veep-bridge:v1:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([1-9][0-9]*):([0-9a-f]{64})$")
AGGREGATE = re.compile(r"^veep-bridge:v2:([1-9][0-9]*):([0-9a-f]{64})$")

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()

def root_from_audit_path(message_hash: bytes, index: int, size: int, path: list) -> bytes | None:
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, sha256(b"\x00" + message_hash)  # leaf = SHA-256(0x00 || hash)
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\x01" + p + r)  # node = SHA-256(0x01 || left || right)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None

def holds(proof: dict, trusted_root: str | None, trusted_size: int | None) -> bool:
    try:
        index, size = proof["leafIndex"], proof["treeSize"]
        if proof["algorithm"] != "sha256" or type(index) is not int or type(size) is not int:
            return False
        leaf, path = bytes.fromhex(proof["messageHash"]), [bytes.fromhex(h) for h in proof["auditPath"]]
        if len(leaf) != 32 or any(len(p) != 32 for p in path) or (trusted_size not in (None, size)):
            return False
        root = root_from_audit_path(leaf, index, size, path)
        return root is not None and root.hex() == proof["root"] == (trusted_root or proof["root"]).lower()
    except (KeyError, TypeError, ValueError, AttributeError):
        return False

def holds_for_aggregate(proof: dict, count: int, root: str) -> bool:
    try:
        batch_id, size, batch_root = str(proof["batchId"]).lower(), proof["treeSize"], proof["root"]
        step = proof["anchor"]["aggregation"]
        v1 = f"veep-bridge:v1:{batch_id}:{size}:{batch_root}".encode("ascii")
        aggregate = {"algorithm": "sha256", "messageHash": sha256(v1).hex(), "leafIndex": step["leafIndex"],
                     "treeSize": step["treeSize"], "auditPath": step["auditPath"], "root": root}
        return MEMO.match(v1.decode()) is not None and holds(aggregate, root, count) and holds(proof, None, None)
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeError):
        return False

def holds_for_memo(proof: dict, memo: str) -> bool:
    aggregate = AGGREGATE.match(memo.strip())
    if aggregate and isinstance(proof, dict):
        return holds_for_aggregate(proof, int(aggregate.group(1)), aggregate.group(2))
    match = MEMO.match(memo.strip())
    if not match or not isinstance(proof, dict):
        return False
    batch_id, count, root = match.group(1), int(match.group(2)), match.group(3)
    if str(proof.get("batchId", batch_id)).lower() != batch_id:
        return False
    return holds(proof, root, count)

if __name__ == "__main__":
    args = sys.argv[1:]
    memo = None
    if "--memo" in args:
        at = args.index("--memo")
        if at + 1 >= len(args):
            sys.exit(__doc__)
        memo = args[at + 1]
        del args[at:at + 2]
    if len(args) < 1:
        sys.exit(__doc__)
    with (sys.stdin if args[0] == "-" else open(args[0], encoding="utf-8")) as source:
        proof = json.load(source)
    if memo is not None:
        ok = holds_for_memo(proof, memo)
    else:
        ok = holds(proof, args[1] if len(args) > 1 else None, int(args[2]) if len(args) > 2 else None)
    print("proof holds" if ok else "proof does NOT hold")
    sys.exit(0 if ok else 1)
