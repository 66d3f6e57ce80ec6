// Times one case of the case file written by `idsvc-webauthn-bench prepare` with
// @simplewebauthn/server, and prints one JSON line in the same shape as the C side.
//
// Usage: node bench.mjs --cases CASES.json --case NAME [--seconds S] [--warmup S]
//
// Each iteration parses the response JSON text and verifies it, because idsvc's verifier
// also starts from the text. The verifications run one after another on the main
// thread. WebCrypto hands digests and signature checks to libuv's thread pool, so the
// CPU time reported is that of the whole process, all threads included.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// The library downloads the CRL named in each certificate of a validated chain (the
// Windows Hello TPM chain names one at microsoft.com). This benchmark must not reach
// the network, so fetch fails at once; the library then treats the certificate as not
// revoked. idsvc has no revocation check either. The count goes into the output.
let blockedFetches = 0;
globalThis.fetch = async (url) => {
  blockedFetches += 1;
  throw new Error(`network access is disabled in this benchmark: ${url}`);
};

const { verifyRegistrationResponse, verifyAuthenticationResponse, SettingsService } =
  await import('@simplewebauthn/server');

function parseArguments(argv) {
  const options = { seconds: 2, warmup: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value after ${argv[i]}`);
    if (argv[i] === '--cases') options.cases = value;
    else if (argv[i] === '--case') options.name = value;
    else if (argv[i] === '--seconds') options.seconds = Number(value);
    else if (argv[i] === '--warmup') options.warmup = Number(value);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!options.cases || !options.name) {
    throw new Error('usage: node bench.mjs --cases CASES.json --case NAME [--seconds S] [--warmup S]');
  }
  if (!(options.seconds > 0) || !(options.warmup >= 0)) {
    throw new Error('--seconds must be greater than 0 and --warmup at least 0');
  }
  return options;
}

function printLine(line) {
  process.stdout.write(`${JSON.stringify({ side: 'simplewebauthn', ...line })}\n`);
}

// Returns a function that verifies the case once and resolves to its result.
function makeVerifier(testCase) {
  if (testCase.ceremony === 'registration') {
    const roots = testCase.roots.map((path) => readFileSync(path, 'utf8'));
    if (roots.length > 0) {
      SettingsService.setRootCertificates({ identifier: testCase.fmt, certificates: roots });
    }
    return async () => {
      const result = await verifyRegistrationResponse({
        response: JSON.parse(testCase.response),
        expectedChallenge: testCase.challenge,
        expectedOrigin: testCase.origin,
        expectedRPID: testCase.rp_id,
        requireUserVerification: testCase.require_uv,
      });
      if (!result.verified) throw new Error('the result has verified: false');
      if (result.registrationInfo.fmt !== testCase.fmt) {
        throw new Error(`format ${result.registrationInfo.fmt}, expected ${testCase.fmt}`);
      }
    };
  }

  const credential = {
    id: testCase.credential_id,
    publicKey: new Uint8Array(Buffer.from(testCase.public_key, 'base64url')),
    counter: testCase.stored_count,
  };
  return async () => {
    const result = await verifyAuthenticationResponse({
      response: JSON.parse(testCase.response),
      expectedChallenge: testCase.challenge,
      expectedOrigin: testCase.origin,
      expectedRPID: testCase.rp_id,
      credential,
      requireUserVerification: testCase.require_uv,
    });
    if (!result.verified) throw new Error('the result has verified: false');
  };
}

// Repeats verifications until the wall clock passes `seconds`; returns the count.
async function verifyFor(verify, seconds) {
  const end = performance.now() + seconds * 1000;
  let count = 0;
  do {
    await verify();
    count += 1;
  } while (performance.now() < end);
  return count;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const cases = JSON.parse(readFileSync(options.cases, 'utf8')).cases;
  const testCase = cases.find((item) => item.name === options.name);
  if (!testCase) throw new Error(`no case named ${options.name}`);
  if (testCase.compare === false) {
    printLine({ case: testCase.name, skipped: testCase.not_compared });
    return 1;
  }

  const verify = makeVerifier(testCase);

  // A benchmark of rejections measures nothing, so the case must pass first.
  try {
    await verify();
  } catch (error) {
    printLine({ case: testCase.name, rejected: error.message.split('\n')[0] });
    return 1;
  }

  if (options.warmup > 0) await verifyFor(verify, options.warmup);
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const ops = await verifyFor(verify, options.seconds);
  const wall = (performance.now() - wallStart) / 1000;
  const cpuUsed = process.cpuUsage(cpuStart);
  printLine({
    case: testCase.name,
    ceremony: testCase.ceremony,
    ops,
    wall_s: wall,
    cpu_s: (cpuUsed.user + cpuUsed.system) / 1e6,
    blocked_fetches: blockedFetches,
  });
  return 0;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error) => {
    process.stderr.write(`bench.mjs: ${error.message}\n`);
    process.exitCode = 2;
  },
);
