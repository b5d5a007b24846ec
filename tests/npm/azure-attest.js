// Attests a quote through sgx-attestd with Azure's own SDK client (@azure/attestation), exactly
// as against Azure Attestation: POST /attest/SgxEnclave?api-version=2020-10-01 over HTTPS, the
// token validated by the SDK with the signers from /certs (key by kid, checked with x5c[0]),
// issuer, exp and nbf. Prints what the SDK parsed.
//
//   node azure-attest.js ENDPOINT QUOTE_FILE [RUNTIME_JSON_FILE]
// The endpoint's TLS certificate must be trusted (NODE_EXTRA_CA_CERTS for a test CA).
"use strict";
const fs = require("fs");
const { AttestationClient } = require("@azure/attestation");

async function main() {
  const [endpoint, quoteFile, runtimeFile] = process.argv.slice(2);
  if (!endpoint || !quoteFile) {
    console.error("usage: node azure-attest.js ENDPOINT QUOTE_FILE [RUNTIME_JSON_FILE]");
    process.exit(2);
  }
  const client = new AttestationClient(endpoint);
  const options = {
    validationOptions: {
      validateToken: true,
      validateExpirationTime: true,
      validateNotBeforeTime: true,
      validateIssuer: true,
      expectedIssuer: endpoint,
    },
  };
  if (runtimeFile) {
    options.runTimeJson = fs.readFileSync(runtimeFile);
  }
  const response = await client.attestSgxEnclave(fs.readFileSync(quoteFile), options);
  const body = response.body;
  const signers = await client.getAttestationSigners();
  if (!signers.some((s) => s.keyId === response.token.keyId)) {
    throw new Error("the token's kid is not among the service's signers");
  }
  const result = {
    verified_by: "@azure/attestation",
    algorithm: response.token.algorithm,
    keyId: response.token.keyId,
    issuer: body.issuer,
    mrEnclave: body.mrEnclave,
    mrSigner: body.mrSigner,
    productId: body.productId,
    svn: body.svn,
    isDebuggable: body.isDebuggable,
    enclaveHeldData: body.enclaveHeldData ? Buffer.from(body.enclaveHeldData).toString("utf8") : null,
    runTimeClaims: body.runTimeClaims,
    signers: signers.length,
  };
  console.log(JSON.stringify(result, null, 1));
  console.error(`@azure/attestation: attested over ${endpoint} (api-version 2020-10-01); the SDK ` +
                `validated the ${result.algorithm} token with signer ${result.keyId} from /certs`);
}

main().catch((e) => {
  console.error("@azure/attestation: FAILED: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
