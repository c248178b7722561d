#!/usr/bin/env node
// Calls mesh.interop.Echo/Say through @grpc/grpc-js-xds, a third-party xDS client, and reports where the
// calls went. Used by tests/Mesh.Interop.Tests to check that the Mesh control plane works with it.
//
//   node grpc-js-xds-client.js <target> <calls> <proto> [--deadline-ms N] [--ready-timeout-ms N] [--timeout-ms N]
//
//   target            an xds:/// target, e.g. xds:///echo:9000
//   calls             how many unary calls to make, one after the other
//   proto             the path of echo.proto
//   --deadline-ms     the deadline of each call (default 5000)
//   --ready-timeout-ms how long the channel may take to become ready: xDS resolution and a connection (default 20000)
//   --timeout-ms      a hard limit on the whole run (default 60000)
//   --fail-calls N    after the calls, N more calls whose message asks the echo server to fail them (default 0)
//   --linger-ms N     keep the channel open N ms after the last call, so a load report (LRS) can carry them (default 0)
//
// The xDS bootstrap comes from GRPC_XDS_BOOTSTRAP_CONFIG (inline JSON) or GRPC_XDS_BOOTSTRAP (a file), e.g.
//   {"xds_servers":[{"server_uri":"127.0.0.1:PORT","channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],
//    "node":{"id":"grpc-js-interop","locality":{},"metadata":{"NAMESPACE":"default"}}}
// grpc-js-xds 1.14 rejects a node without "locality".
// GRPC_TRACE=xds_client,xds_resolver GRPC_VERBOSITY=DEBUG make grpc-js log the xDS exchange (and any NACK) to stderr.
//
// On success it prints one JSON line to stdout and exits 0:
//   {"counts":{"<backend>":n,...},"errors":n,"firstError":"..."}
// It exits 2 when it cannot set up (bad arguments, the proto does not load, the channel never becomes ready)
// and 3 when the hard limit runs out; the reason goes to stderr.
'use strict';

const grpc = require('@grpc/grpc-js');
const grpcXds = require('@grpc/grpc-js-xds');
const protoLoader = require('@grpc/proto-loader');

function fail(code, message) {
  process.stderr.write(`grpc-js-xds-client: ${message}\n`, () => process.exit(code));
}

function parseArgs(argv) {
  const positional = [];
  const options = { deadlineMs: 5000, readyTimeoutMs: 20000, timeoutMs: 60000, failCalls: 0, lingerMs: 0 };
  const names = {
    '--deadline-ms': 'deadlineMs', '--ready-timeout-ms': 'readyTimeoutMs', '--timeout-ms': 'timeoutMs',
    '--fail-calls': 'failCalls', '--linger-ms': 'lingerMs',
  };
  for (let i = 0; i < argv.length; i++) {
    const name = names[argv[i]];
    if (name === undefined) {
      positional.push(argv[i]);
      continue;
    }
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${argv[i - 1]} needs a positive whole number of milliseconds`);
    }
    options[name] = value;
  }
  if (positional.length !== 3) {
    throw new Error('usage: grpc-js-xds-client.js <target> <calls> <proto> [--deadline-ms N] [--ready-timeout-ms N] [--timeout-ms N]');
  }
  const [target, callsText, protoPath] = positional;
  const calls = Number(callsText);
  if (!Number.isInteger(calls) || calls <= 0) {
    throw new Error(`calls must be a positive whole number, not '${callsText}'`);
  }
  return { target, calls, protoPath, ...options };
}

function say(client, deadlineMs, message) {
  return new Promise((resolve) => {
    client.Say({ message }, { deadline: Date.now() + deadlineMs }, (error, reply) => resolve({ error, reply }));
  });
}

function describe(error) {
  return `${grpc.status[error.code] ?? error.code}: ${error.details ?? error.message}`;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    return fail(2, e.message);
  }

  // The hard limit: whatever happens below, the process ends.
  const hardLimit = setTimeout(() => fail(3, `the run did not finish within ${args.timeoutMs} ms`), args.timeoutMs);

  let client;
  try {
    // grpc-js-xds only reports a bad bootstrap as an obscure resolution error; check it first to say why.
    // (Its validator wants a node.locality object, even an empty one.)
    require('@grpc/grpc-js-xds/build/src/xds-bootstrap').loadBootstrapInfo();
    grpcXds.register();
    const definition = protoLoader.loadSync(args.protoPath, { keepCase: true, defaults: true });
    const Echo = grpc.loadPackageDefinition(definition).mesh.interop.Echo;
    client = new Echo(args.target, grpc.credentials.createInsecure());
  } catch (e) {
    clearTimeout(hardLimit);
    return fail(2, `setup failed: ${e.stack ?? e}`);
  }

  const ready = await new Promise((resolve) => client.waitForReady(Date.now() + args.readyTimeoutMs, (error) => resolve(error)));
  if (ready) {
    // A call that does not wait for readiness fails with what the resolver or balancer last reported.
    const probe = await say(client, 1000, 'probe');
    clearTimeout(hardLimit);
    client.close();
    const why = probe.error ? describe(probe.error) : 'a probe call then succeeded';
    return fail(2, `the channel to ${args.target} was not ready within ${args.readyTimeoutMs} ms (${ready.message}); ${why}`);
  }

  const counts = {};
  let errors = 0;
  let firstError = null;
  for (let i = 0; i < args.calls; i++) {
    const { error, reply } = await say(client, args.deadlineMs, `call ${i}`);
    if (error) {
      errors++;
      firstError ??= describe(error);
    } else {
      counts[reply.backend] = (counts[reply.backend] ?? 0) + 1;
    }
  }

  for (let i = 0; i < args.failCalls; i++) {
    const { error } = await say(client, args.deadlineMs, `fail ${i}`);
    if (error) {
      errors++;
      firstError ??= describe(error);
    }
  }

  if (args.lingerMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, args.lingerMs));
  }

  clearTimeout(hardLimit);
  client.close();
  const line = JSON.stringify({ counts, errors, firstError }) + '\n';
  // Exit explicitly: the xDS client may keep its ADS stream open after the channel closes.
  process.stdout.write(line, () => process.exit(0));
}

main().catch((e) => fail(2, `unexpected failure: ${e.stack ?? e}`));
