// whoami.mjs: the AWS SDK for JavaScript v3, unmodified, asks STS who it
// is. Credentials come from the SDK's default Node.js provider chain; in
// the end-to-end test the only source it can find is the instance metadata
// service named by AWS_EC2_METADATA_SERVICE_ENDPOINT, i.e. imdsd.
//
// Environment:
//   E2E_STS_ENDPOINT  STS endpoint URL (a local STS such as moto); required
//   AWS_REGION        region (default us-east-1)
//
// Prints the caller's ARN on stdout and the credential source on stderr.
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const endpoint = process.env.E2E_STS_ENDPOINT;
if (!endpoint) {
  console.error("whoami.mjs: set E2E_STS_ENDPOINT to the STS endpoint URL");
  process.exit(2);
}

const credentials = fromNodeProviderChain();
const client = new STSClient({
  region: process.env.AWS_REGION || "us-east-1",
  endpoint,
  credentials,
});

try {
  const out = await client.send(new GetCallerIdentityCommand({}));
  const creds = await credentials();
  // Only the tail of the access key: never print a secret.
  console.error(`credentials: access key …${creds.accessKeyId.slice(-4)}, expires ${creds.expiration?.toISOString()}`);
  console.log(out.Arn);
} catch (err) {
  console.error(`whoami.mjs: ${err.name}: ${err.message}`);
  process.exit(1);
}
