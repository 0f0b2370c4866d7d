#!/usr/bin/env node
// A tickmesh client in Node.js: authenticate with an API key, make unary calls,
// consume Bridge.Subscribe, then print one JSON summary line.
//
//   node example.js --target 127.0.0.1:50054 --key tm_... \
//       [--billing 127.0.0.1:50055] [--bridge 127.0.0.1:50053 --symbols EURUSD,GBPUSD \
//        --messages 3 --best-effort --retries 5] [--timeout 30]
//
// --target is Storage (GetSubscription: the caller's tier), --billing adds
// Billing.GetTierCatalog, --bridge subscribes and stops after --messages tick
// batches; --retries resubscribes (resuming after the last sequence) that many
// times at most when the stream fails UNAVAILABLE; a Bridge of another tier pool
// (FAILED_PRECONDITION, WRONG_POOL) names the one that serves the key's tier, and the
// stream moves there (at most 3 times in a row). Without --key every address
// is a tickmesh sidecar, which attaches its own key. Exit status: 0 on success; the gRPC status code (1..16) on an RPC
// error, with its name on stderr; 64 on bad usage; 70 on any other failure.
'use strict';

const { parseArgs } = require('node:util');
const { load, connect, unary, poolAddress, grpc } = require('./tickmesh');

// Distinct from every gRPC status code (1..16), which an RPC error exits with.
const USAGE_ERROR = 64; // EX_USAGE
const OTHER_ERROR = 70; // EX_SOFTWARE, e.g. the stream ended before enough batches

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      key: { type: 'string' },
      billing: { type: 'string' },
      bridge: { type: 'string' },
      symbols: { type: 'string', default: 'EURUSD' },
      messages: { type: 'string', default: '3' },
      'best-effort': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30' },
      retries: { type: 'string', default: '0' },
      ca: { type: 'string' },
    },
  });
  const messages = Number(values.messages);
  const timeoutS = Number(values.timeout);
  const retries = Number(values.retries);
  if (!values.target || !(messages >= 1) || !(timeoutS > 0) || !(retries >= 0)) {
    throw new UsageError('needs --target HOST:PORT; --messages and --timeout > 0, --retries >= 0');
  }
  return {
    target: values.target,
    key: values.key,
    billing: values.billing,
    bridge: values.bridge,
    symbols: values.symbols.split(',').map((s) => s.trim()).filter(Boolean),
    messages,
    bestEffort: values['best-effort'],
    timeoutS,
    retries,
    ca: values.ca,
  };
}

class UsageError extends Error {}

/**
 * One Subscribe call, adding to `summary` until it holds `wanted` tick batches,
 * then cancel. `deadline` bounds the whole stream, so a silent server cannot hang us.
 */
function consumeOnce(bridge, request, wanted, deadline, summary, seen) {
  return new Promise((resolve, reject) => {
    let done = false;
    const call = bridge.Subscribe(request, { deadline });
    const finish = (err) => {
      if (done) return;
      done = true;
      call.cancel(); // frees our concurrent-stream slot on the Bridge now
      if (err) reject(err);
      else resolve();
    };
    call.on('data', (message) => {
      summary.messages += 1;
      // With `oneofs: true` the oneof's name holds the member that is set.
      switch (message.payload) {
        case 'ack':
          summary.ack = true;
          summary.ack_tier = message.ack.tier;
          summary.granted = message.ack.symbols;
          summary.refused = message.ack.refused.map((r) => r.symbol);
          break;
        case 'batch':
          summary.batches += 1;
          summary.ticks += message.batch.ticks.length;
          message.batch.ticks.forEach((tick) => seen.add(tick.symbol));
          // uint64 arrives as a decimal string (longs: String): compare as BigInt.
          if (BigInt(message.batch.last_seq) > BigInt(summary.last_seq)) {
            summary.last_seq = message.batch.last_seq;
          }
          break;
        case 'heartbeat':
          summary.heartbeats += 1;
          break;
        case 'gap':
          summary.gaps += 1;
          break;
        default:
          break;
      }
      if (summary.batches >= wanted) finish();
    });
    // Our own cancel() surfaces here as CANCELLED; finish() ignores it then.
    call.on('error', (err) => finish(err));
    call.on('end', () => finish(new Error('the server ended the stream early')));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Refusals by a Bridge of another tier pool followed in a row (clients/subscriber.py).
const MAX_POOL_MOVES = 3;

/**
 * Subscribe and collect until `wanted` tick batches arrived. A stream failing
 * UNAVAILABLE (the server or the sidecar restarting) is resubscribed at most
 * `retries` times, with a growing pause, resuming after the last sequence seen. A
 * WRONG_POOL refusal moves to the Bridge it names (`reconnect(address)` gives the
 * client there).
 */
async function consume(bridge, request, wanted, timeoutS, retries, reconnect) {
  const summary = {
    ack: false, granted: [], refused: [],
    messages: 0, batches: 0, heartbeats: 0, gaps: 0, ticks: 0, symbols: [], last_seq: '0',
    retries: 0, moved_to: [],
  };
  let moves = 0;
  const seen = new Set();
  const deadline = new Date(Date.now() + timeoutS * 1000);
  for (;;) {
    const resumed = { ...request, resume_from: summary.last_seq };
    try {
      await consumeOnce(bridge, resumed, wanted, deadline, summary, seen);
      break;
    } catch (err) {
      const moved = poolAddress(err);
      if (moved && moves < MAX_POOL_MOVES) {
        moves += 1;
        summary.moved_to.push(moved);
        console.error(`stream: ${err.details}; moving to ${moved}`);
        bridge = reconnect(moved);
        continue;
      }
      if (err.code !== grpc.status.UNAVAILABLE || summary.retries >= retries) throw err;
      summary.retries += 1;
      const pauseMs = Math.min(100 * 2 ** summary.retries, 2000);
      console.error(`stream: UNAVAILABLE (${err.details}); retry ${summary.retries}/${retries} in ${pauseMs} ms`);
      await sleep(pauseMs);
    }
  }
  summary.symbols = [...seen].sort();
  return summary;
}

async function run(options, clients) {
  const tickmesh = load();
  const result = {};

  const storage = connect(tickmesh.storage.v1.StorageService, options.target, options.key, { ca: options.ca });
  clients.push(storage);
  const { subscription } = await unary(storage, 'GetSubscription', {});
  result.tier = subscription.tier;
  console.log(`subscription: ${subscription.tier} (company ${subscription.company_id}, ${subscription.status})`);

  if (options.billing) {
    const billing = connect(tickmesh.billing.v1.BillingService, options.billing, options.key, { ca: options.ca });
    clients.push(billing);
    const { tiers } = await unary(billing, 'GetTierCatalog', {});
    // Prices in minor units; int64 stays a string, as in protobuf's JSON mapping.
    result.catalog = Object.fromEntries(tiers.map((t) => [t.tier, t.price_per_month.minor_units]));
    console.log(`catalog: ${tiers.map((t) => `${t.tier} ${t.price_per_month.minor_units}`).join(', ')}`);
  }

  if (options.bridge) {
    const bridgeAt = (address) => {
      const client = connect(tickmesh.bridge.v1.BridgeService, address, options.key, { ca: options.ca });
      clients.push(client);
      return client;
    };
    const request = { symbols: options.symbols, options: { best_effort: options.bestEffort } };
    const stream = await consume(
      bridgeAt(options.bridge), request, options.messages, options.timeoutS, options.retries, bridgeAt,
    );
    console.log(`stream: ${stream.ticks} ticks in ${stream.batches} batches of ${stream.symbols.join(' ')}`);
    Object.assign(result, stream);
  }
  return result;
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`usage: ${err.message}`);
    return USAGE_ERROR;
  }
  const clients = [];
  try {
    const summary = await run(options, clients);
    console.log(JSON.stringify(summary));
    return 0;
  } catch (err) {
    if (typeof err.code === 'number' && grpc.status[err.code] !== undefined) {
      console.error(`error: ${grpc.status[err.code]} (${err.code}): ${err.details}`);
      return err.code;
    }
    console.error(`error: ${err.message}`);
    return OTHER_ERROR;
  } finally {
    clients.forEach((client) => client.close());
  }
}

// Set exitCode rather than process.exit(): stdout is flushed before Node exits.
main().then((code) => {
  process.exitCode = code;
});
