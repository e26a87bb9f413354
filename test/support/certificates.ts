import { execFileSync } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A throw-away CA, a server certificate it signed for 127.0.0.1 and localhost, and an unrelated CA. */
export interface TestCertificates {
  /** The CA that signed the server certificate (PEM). */
  readonly ca: string;
  /** Path of {@link TestCertificates.ca}. */
  readonly caFile: string;
  /** Path of the server certificate (PEM). */
  readonly cert: string;
  /** Path of the server certificate's private key (PEM, unencrypted). */
  readonly key: string;
  /** Another CA, which signed nothing the servers present (PEM). */
  readonly wrongCa: string;
  /** Path of {@link TestCertificates.wrongCa}. */
  readonly wrongCaFile: string;
}

/**
 * Makes {@link TestCertificates} in `dir` with `openssl`. A missing `openssl` makes this throw, so the
 * tests fail rather than skip. The files (and `dir`) are left readable by every user: servers started
 * as root drop to their own OS user and read them.
 */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const makeCa = (name: string, subject: string): void =>
    openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      subject,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  makeCa("ca", "/CN=veep-bridge test CA");
  makeCa("wrong-ca", "/CN=veep-bridge unrelated test CA");
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  await writeFile(
    join(dir, "server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "",
    ].join("\n"),
  );
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-set_serial",
    "1",
    "-days",
    "2",
    "-extfile",
    "server.ext",
    "-out",
    "server.crt",
  );
  await chmod(dir, 0o755);
  for (const file of ["ca.crt", "wrong-ca.crt", "server.crt", "server.key"]) {
    await chmod(join(dir, file), 0o644);
  }
  return {
    ca: await readFile(join(dir, "ca.crt"), "utf8"),
    caFile: join(dir, "ca.crt"),
    cert: join(dir, "server.crt"),
    key: join(dir, "server.key"),
    wrongCa: await readFile(join(dir, "wrong-ca.crt"), "utf8"),
    wrongCaFile: join(dir, "wrong-ca.crt"),
  };
}
