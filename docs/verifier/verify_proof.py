#!/usr/bin/env python3
"""Check a veep-bridge inclusion proof (RFC 9162 section 2.1.3.2, SHA-256), standard library only.

Usage: verify_proof.py PROOF.json|- [TRUSTED_ROOT_HEX [TRUSTED_TREE_SIZE]]
PROOF.json is what `veep-bridge proof MESSAGE_ID` prints. Exit 0 when the proof holds, 1 otherwise.
"""
import hashlib, json, sys

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

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with (sys.stdin if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8")) as source:
        proof = json.load(source)
    ok = holds(proof, sys.argv[2] if len(sys.argv) > 2 else None, int(sys.argv[3]) if len(sys.argv) > 3 else None)
    print("proof holds" if ok else "proof does NOT hold")
    sys.exit(0 if ok else 1)
