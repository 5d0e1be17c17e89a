// whoami-v2.cjs: the AWS SDK for JavaScript v2 (aws-sdk, in maintenance
// mode), unmodified, asks STS who it is. Credentials come from the SDK's
// default provider chain (AWS.CredentialProviderChain.defaultProviders);
// in the end-to-end test the only source it can find is the instance
// metadata service named by AWS_EC2_METADATA_SERVICE_ENDPOINT, i.e. imdsd.
//
// Environment:
//   E2E_STS_ENDPOINT  STS endpoint URL (a local STS such as moto); required
//   AWS_REGION        region (default us-east-1)
//
// Prints the caller's ARN on stdout and the credential source on stderr.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = "1";
const AWS = require("aws-sdk");

const endpoint = process.env.E2E_STS_ENDPOINT;
if (!endpoint) {
  console.error("whoami-v2.cjs: set E2E_STS_ENDPOINT to the STS endpoint URL");
  process.exit(2);
}

const sts = new AWS.STS({ region: process.env.AWS_REGION || "us-east-1", endpoint });
sts.getCallerIdentity({}, (err, out) => {
  if (err) {
    console.error(`whoami-v2.cjs: ${err.name}: ${err.message}`);
    process.exit(1);
  }
  const creds = sts.config.credentials;
  // Only the tail of the access key: never print a secret.
  console.error(`credentials: ${creds.constructor.name}, access key …${creds.accessKeyId.slice(-4)}, expires ${creds.expireTime?.toISOString()}`);
  console.log(out.Arn);
});
