// Run by scripts/browser-test: node browser-test.js TCP_PORT WS_PORT CHAT_PORT
// (the example broker's listeners, the ws_chat example server's; WS_CHAT: its program).
'use strict';
const { spawn } = require('child_process');
const mqtt = require('mqtt');
const { chromium } = require('playwright-core');

const [tcpPort, wsPort, chatPort] = process.argv.slice(2);
const wsUrl = `ws://127.0.0.1:${wsPort}/mqtt`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}
const mosquittoPub = (topic, msg) =>
  run('mosquitto_pub', ['-h', '127.0.0.1', '-p', tcpPort, '-V', 'mqttv5', '-q', '1', '-t', topic, '-m', msg]);
const mosquittoSubOne = (topic) =>
  run('mosquitto_sub', ['-h', '127.0.0.1', '-p', tcpPort, '-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '15']);

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok -', what);
}

// MQTT.js in Node over WebSocket: QoS 0/1/2 round trips, MQTT 5.0 and 3.1.1.
async function mqttjsNode(protocolVersion) {
  const client = await mqtt.connectAsync(wsUrl, { protocolVersion, clientId: `node-v${protocolVersion}` });
  const got = [];
  client.on('message', (topic, payload, packet) => got.push([topic, payload.toString(), packet.qos]));
  await client.subscribeAsync('mqttjs/#', { qos: 2 });
  for (const qos of [0, 1, 2]) {
    await client.publishAsync(`mqttjs/q${qos}`, `qos ${qos}`, { qos });
  }
  await mosquittoPub('mqttjs/cli', 'from mosquitto_pub');
  for (let i = 0; i < 50 && got.length < 4; i++) await sleep(100);
  // Its own three in the order it sent them; mosquitto_pub's, another publisher's, anywhere
  // (MQTT 5.0 §4.6 orders the messages of one publisher, not those of two). It happens: MQTT.js
  // hands its QoS 2 message over at PUBREL, and the pieces of its PUBREC, each compressed in
  // Node's zlib thread pool, may reach the broker after mosquitto_pub's message has gone out.
  const own = got.filter(([topic]) => topic !== 'mqttjs/cli');
  const cli = got.filter(([topic]) => topic === 'mqttjs/cli');
  check(got.length === 4 && JSON.stringify(own) ===
    JSON.stringify([['mqttjs/q0', 'qos 0', 0], ['mqttjs/q1', 'qos 1', 1], ['mqttjs/q2', 'qos 2', 2]]) &&
    JSON.stringify(cli) === JSON.stringify([['mqttjs/cli', 'from mosquitto_pub', 1]]),
    `MQTT.js (protocol ${protocolVersion}) over WebSocket: QoS 0/1/2 and a mosquitto_pub message ${JSON.stringify(got)}`);
  await sleep(50); // end a tick after the last ack
  await client.endAsync();
}

const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});

async function browser() {
  const b = await launch();
  try {
    const page = await b.newPage();
    page.on('console', (m) => console.log('page:', m.text()));
    await page.goto(`http://127.0.0.1:${wsPort}/?id=browser-1`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'subscribed',
      null, { timeout: 15000 });
    check(true, 'the page connected over WebSocket and subscribed to chat/#');

    // Chromium offers permessage-deflate: the broker agrees (the page's MQTT.js runs with it
    // too) and inflates what Chromium compresses. A CONNECT (3.1.1, client id "x") gets CONNACK.
    const raw = await page.evaluate((url) => new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'mqtt');
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => ws.send(new Uint8Array(
        [0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x78]));
      ws.onmessage = (m) => {
        resolve({ extensions: ws.extensions, reply: Array.from(new Uint8Array(m.data)) });
        ws.close();
      };
      ws.onerror = () => reject(new Error('WebSocket error'));
    }), wsUrl);
    check(raw.extensions.startsWith('permessage-deflate'),
      `Chromium and the broker agreed to permessage-deflate (${raw.extensions})`);
    check(JSON.stringify(raw.reply) === '[32,2,0,0]',
      'Chromium\'s CONNECT over the compressed connection is answered with CONNACK');

    await mosquittoPub('chat/cli', 'hello from the command line');
    await page.waitForFunction(
      () => [...document.querySelectorAll('.msg')].some((d) => d.textContent === 'chat/cli hello from the command line'),
      null, { timeout: 15000 });
    check(true, 'a message from mosquitto_pub appears on the page');

    const sub = mosquittoSubOne('chat/browser');
    await sleep(500); // let mosquitto_sub subscribe
    await page.fill('#message', 'hello from the page');
    await page.click('#pub');
    const out = await sub;
    check(out.trim() === 'hello from the page', 'a message sent from the page reaches mosquitto_sub');
  } finally {
    await b.close();
  }
}

// Resolves once `done()` holds, checked at each of `emitter`'s `data` events (15 s at most).
function until(emitter, done, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for ' + what)), 15000);
    const look = () => {
      if (done()) {
        clearTimeout(timer);
        emitter.off('data', look);
        resolve();
      }
    };
    emitter.on('data', look);
    look();
  });
}

// The ws_chat example: its page in Chromium and its terminal client (`ws_chat client`) chat
// both ways through its server.
async function wsChat() {
  const b = await launch();
  try {
    const page = await b.newPage();
    page.on('console', (m) => console.log('chat page:', m.text()));
    await page.goto(`http://127.0.0.1:${chatPort}/`);
    const shown = (text) => page.waitForFunction(
      (t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === t),
      text, { timeout: 15000 });
    await shown('(connected)');
    check(true, 'the ws_chat page connected to its server (Origin allowed)');

    const client = spawn(process.env.WS_CHAT, ['client', `ws://127.0.0.1:${chatPort}/chat`],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => client.on('close', resolve));
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    // Sent once the client is connected: the page, connected first, gets it.
    client.stdin.write('hello from the terminal\n');
    await shown('hello from the terminal');
    check(true, 'a line typed in the ws_chat client appears on the page');

    await page.fill('#text', 'hello from the page');
    await page.press('#text', 'Enter');
    const line = '{"message":"hello from the page"}\n';
    await until(client.stdout, () => out.includes(line), 'the page\'s message in the client');
    check(true, 'a message sent from the page reaches the ws_chat client');

    // The end of its input: the client closes (close frame, the server's answer) and exits.
    client.stdin.end();
    check(await exited === 0, 'the ws_chat client closed and exited with status 0');
  } finally {
    await b.close();
  }
}

(async () => {
  await mqttjsNode(5);
  await mqttjsNode(4);
  await browser();
  await wsChat();
  console.log('browser test passed');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
