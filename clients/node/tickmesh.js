// Load tickmesh's contracts at run time and make authenticated clients.
//
// Nothing is generated: @grpc/proto-loader reads the same .proto files the
// Python servers are built from (../../proto), so a contract change needs no
// build step here.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');

// Why each option matters:
// - keepCase: our fields are snake_case (session_id, last_seq). Without it
//   proto-loader renames them to camelCase, and a request object written with
//   the .proto's names is silently sent empty.
// - longs: String: int64/uint64 (sequences, microsecond timestamps) would lose
//   precision as a JS Number past 2^53.
// - enums: String: tiers read as "TIER_FREE", not 1.
// - defaults: unset fields read as their zero value, as in every other language.
// - oneofs: SubscribeResponse.payload names the member that is set.
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Every .proto file under `root`, relative to it (what proto-loader resolves imports from). */
function protoFiles(root) {
  return fs
    .readdirSync(root, { recursive: true })
    .filter((name) => name.endsWith('.proto'))
    .map((name) => name.split(path.sep).join('/'))
    .sort();
}

/**
 * Load the contracts: returns the `tickmesh` namespace, e.g.
 * `load().storage.v1.StorageService` is a client constructor.
 * google/protobuf imports (Timestamp) are resolved by proto-loader itself.
 */
function load(protoRoot = PROTO_ROOT) {
  const definition = protoLoader.loadSync(protoFiles(protoRoot), {
    ...LOADER_OPTIONS,
    includeDirs: [protoRoot],
  });
  return grpc.loadPackageDefinition(definition).tickmesh;
}

/**
 * An interceptor that sends `authorization: Bearer <key>` on every call.
 *
 * An interceptor rather than CallCredentials: grpc-js refuses to combine call
 * credentials with an insecure (plaintext) channel, which is what a local mesh
 * serves. Over TLS, `grpc.credentials.createFromMetadataGenerator` with the
 * same header does the same job.
 */
function apiKeyInterceptor(apiKey) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${apiKey}`);
        next(metadata, listener);
      },
    });
}

// Reconnect within a second or two of a peer coming back (a restarted sidecar or
// server), not after grpc-js's default backoff, which grows to two minutes.
const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2000,
};

/**
 * A client of `Service` (a constructor from load()) at `target` ("host:port"),
 * authenticated with `apiKey`; without a key (a tickmesh sidecar at `target`
 * attaches its own) the calls carry no credentials. Pass `ca` (the mesh CA file
 * `tickmesh up` prints) for the mesh's TLS, `tls: true` for an endpoint with a publicly
 * trusted certificate; with neither, plaintext (a sidecar, or a mesh started with
 * --insecure on loopback).
 */
function connect(Service, target, apiKey, { tls = false, ca = undefined } = {}) {
  let credentials = grpc.credentials.createInsecure();
  if (ca) credentials = grpc.credentials.createSsl(fs.readFileSync(ca));
  else if (tls) credentials = grpc.credentials.createSsl();
  const interceptors = apiKey ? [apiKeyInterceptor(apiKey)] : [];
  return new Service(target, credentials, { ...CHANNEL_OPTIONS, interceptors });
}

/** Promise form of a unary call, with a deadline in seconds. */
function unary(client, method, request, timeoutS = 10) {
  const deadline = new Date(Date.now() + timeoutS * 1000);
  return new Promise((resolve, reject) => {
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// The rich error model's messages (google/rpc/status.proto, error_details.proto), the
// few fields read here: every tickmesh refusal carries an ErrorInfo in the trailer
// grpc-status-details-bin.
const RPC_TYPES = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } } },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
          },
        },
      },
    },
  },
});
const STATUS = RPC_TYPES.lookupType('google.rpc.Status');
const ERROR_INFO = RPC_TYPES.lookupType('google.rpc.ErrorInfo');

/** The ErrorInfo of a failed call ({reason, domain, metadata}), or null when it has none. */
function errorInfo(err) {
  const raw = err && err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (!raw.length) return null;
  const status = STATUS.decode(raw[0]);
  const any = status.details.find((d) => d.type_url.endsWith('/google.rpc.ErrorInfo'));
  return any ? ERROR_INFO.toObject(ERROR_INFO.decode(any.value), { defaults: true }) : null;
}

/**
 * Where a Bridge of another tier pool says this key's tier is served: the address of a
 * FAILED_PRECONDITION / WRONG_POOL refusal, or null (any other error, or an address
 * the refusing Bridge did not know yet). Reconnect there, as the Python SDK does.
 */
function poolAddress(err) {
  const info = errorInfo(err);
  return info && info.reason === 'WRONG_POOL' && info.metadata.address ? info.metadata.address : null;
}

module.exports = {
  PROTO_ROOT, LOADER_OPTIONS, load, apiKeyInterceptor, connect, unary, errorInfo, poolAddress, grpc,
};
