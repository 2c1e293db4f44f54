// Drives the web app's own Socket.IO client (frontend/js/socketio.js) against a relay with
// connection state recovery (`relay-conformance --interop --recovery`), in Node with its
// experimental WebSocket. Prints one JSON report on stdout for test_relay_web_client_recovery.py.
//
// usage: node --experimental-websocket --experimental-default-type=module web_client_recovery.mjs URL
import { SocketClient } from "../../../frontend/js/socketio.js";

const url = process.argv[2];
const report = { steps: [] };
const note = (step) => report.steps.push(step);

function once(client, event) {
  return new Promise((resolve) => {
    const off = client.on(event, (value) => {
      off();
      resolve(value);
    });
  });
}

function ack(client, ...args) {
  return new Promise((resolve, reject) => {
    client.emit(...args, (error, ...answer) => (error ? reject(error) : resolve(answer)));
  });
}

function nextNews(queue) {
  return new Promise((resolve) => {
    if (queue.items.length) return resolve(queue.items.shift());
    queue.waiter = resolve;
  });
}

const timer = setTimeout(() => {
  report.error = "timed out";
  console.log(JSON.stringify(report));
  process.exit(2);
}, 15000);

try {
  const news = { items: [], waiter: null };
  const a = new SocketClient({ url, reconnectDelay: 200, reconnectDelayMax: 400, auth: () => ({ token: "t" }) });
  a.on("news", (...args) => {
    const item = args;
    if (news.waiter) {
      const w = news.waiter;
      news.waiter = null;
      w(item);
    } else news.items.push(item);
  });
  const b = new SocketClient({ url });

  let connected = once(a, "connect");
  a.connect();
  note({ connect: await connected, pid: typeof a.pid, recovered: a.recovered });
  const firstId = a.id;
  const firstPid = a.pid;
  note({ join: await ack(a, "join", "r-web") });
  connected = once(b, "connect");
  b.connect();
  await connected;

  await ack(b, "to-room-all", "r-web", "news", { n: 1 });
  const first = await nextNews(news);
  note({ first, lastOffset: a.lastOffset });

  // the transport drops: the client reconnects by itself with pid + offset
  const dropped = once(a, "disconnect");
  a.ws.close();
  note({ disconnect: await dropped });
  connected = once(a, "connect");
  for (const n of [2, 3]) await ack(b, "to-room-all", "r-web", "news", { n });
  note({ reconnect: await connected, sameId: a.id === firstId, samePid: a.pid === firstPid, recovered: a.recovered });
  note({ replayed: [await nextNews(news), await nextNews(news)] });
  await ack(b, "to-room-all", "r-web", "news", { n: 4 });
  note({ live: await nextNews(news), lastOffset: a.lastOffset });
  note({ serverSaysRecovered: await ack(a, "recovered") });

  // ended for good, then connected again: a new session
  a.disconnect();
  connected = once(a, "connect");
  a.connect();
  note({ fresh: await connected, sameId: a.id === firstId, samePid: a.pid === firstPid, recovered: a.recovered });
  note({ serverSaysRecovered: await ack(a, "recovered") });
  a.disconnect();
  b.disconnect();
} catch (error) {
  report.error = String(error && error.stack ? error.stack : error);
}
clearTimeout(timer);
console.log(JSON.stringify(report));
process.exit(0);
