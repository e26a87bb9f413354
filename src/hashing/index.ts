export { canonicalJson } from "./canonical-json.js";
export { IncrementalMerkleTree } from "./incremental-merkle.js";
export { auditPath, inclusionProof, inclusionProofs, merkleRoot, merkleRootHex } from "./merkle.js";
export { hashCanonicalJson, messageHash } from "./message-hash.js";
export { createNodeHasher } from "./node-hasher.js";
export { bytesToHex, hexToBytes, sha256Hasher } from "./sha256-hasher.js";
export type { Hasher, InclusionProof } from "./types.js";
export { type VerifyInclusionOptions, verifyInclusion } from "./verify-inclusion.js";
