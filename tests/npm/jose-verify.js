// Verifies an sgx-attestd token with jose, a stock JWT library: the signature against the
// service's /certs (key chosen by kid), iss, exp/nbf/iat, and the algorithm. Then checks that a
// token with one changed payload byte is refused. Prints the verified claims as JSON.
//
//   node jose-verify.js ISSUER TOKEN_FILE [EXPECTED_ALG]
// Exit 0 when the token verifies and the tampered copy does not.
"use strict";
const fs = require("fs");
const jose = require("jose");

async function main() {
  const [issuer, tokenFile, expectedAlg] = process.argv.slice(2);
  if (!issuer || !tokenFile) {
    console.error("usage: node jose-verify.js ISSUER TOKEN_FILE [EXPECTED_ALG]");
    process.exit(2);
  }
  const token = fs.readFileSync(tokenFile, "utf8").trim();
  const jwks = jose.createRemoteJWKSet(new URL(issuer + "/certs"));
  const options = {
    issuer,
    requiredClaims: ["iat", "nbf", "exp", "jti"],
    algorithms: expectedAlg ? [expectedAlg] : ["RS256", "ES256"],
  };
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, options);
  if (protectedHeader.jku !== issuer + "/certs" || protectedHeader.typ !== "JWT") {
    throw new Error("unexpected header " + JSON.stringify(protectedHeader));
  }
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  claims["x-ms-sgx-svn"] = (claims["x-ms-sgx-svn"] || 0) + 1;
  const forged = [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join(".");
  try {
    await jose.jwtVerify(forged, jwks, options);
    throw new Error("a tampered token verified");
  } catch (e) {
    if (!(e instanceof jose.errors.JWSSignatureVerificationFailed)) throw e;
  }
  console.log(JSON.stringify({ verified_by: "jose", alg: protectedHeader.alg,
                               kid: protectedHeader.kid, claims: payload }, null, 1));
  console.error(`jose: signature (${protectedHeader.alg}, kid ${protectedHeader.kid}), iss, ` +
                "exp and nbf verified against " + issuer + "/certs; a tampered copy was refused");
}

main().catch((e) => {
  console.error("jose: FAILED: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
