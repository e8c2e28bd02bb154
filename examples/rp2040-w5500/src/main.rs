//! mqtt-ws on real hardware: a WIZnet W5500-EVB-Pico (RP2040 + W5500 Ethernet) running the async
//! MQTT 5 client over an embassy-net TCP socket, logging through defmt over RTT.
//!
//! It gets an address by DHCP, connects to the broker at [`BROKER`]:1883, subscribes to
//! [`TOPIC`], publishes a message at QoS 0, 1 and 2 to it once a second, logs what comes back,
//! and keeps the connection alive with PINGREQ while idle. On any error it reconnects.
//!
//! Time: embassy-time (the RP2040 timer, 1 MHz). Randomness: the network stack's seed comes from
//! the RP2040's ring oscillator (`RoscRng`); a WebSocket client would take its handshake nonce and
//! mask keys from the same source.

#![no_std]
#![no_main]

use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, StackResources};
use embassy_net_wiznet::chip::W5500;
use embassy_net_wiznet::{Device, Runner, State};
use embassy_rp::clocks::RoscRng;
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{DMA_CH0, DMA_CH1, SPI0};
use embassy_rp::spi::{Async, Config as SpiConfig, Spi};
use embassy_rp::{bind_interrupts, dma};
use embassy_time::{Delay, Duration, Timer};
use embedded_hal_bus::spi::ExclusiveDevice;
use mqtt_ws::io::asynch::Connection;
use mqtt_ws::mqtt::Qos;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::time::Instant;
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

/// The broker's IPv4 address: edit for your network.
const BROKER: Ipv4Address = Ipv4Address::new(192, 168, 1, 10);
/// The topic published to and subscribed to.
const TOPIC: &str = "mqtt-ws/w5500-evb-pico";

bind_interrupts!(struct Irqs {
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>, dma::InterruptHandler<DMA_CH1>;
});

type Spi0 = ExclusiveDevice<Spi<'static, SPI0, Async>, Output<'static>, Delay>;

#[embassy_executor::task]
async fn ethernet_task(runner: Runner<'static, W5500, Spi0, Input<'static>, Output<'static>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device<'static>>) -> ! {
    runner.run().await
}

fn now() -> Instant {
    Instant::from_millis(embassy_time::Instant::now().as_millis())
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let mut rng = RoscRng;

    // The W5500 on SPI0: MISO 16, CS 17, SCK 18, MOSI 19, RESET 20, INT 21.
    let mut spi_cfg = SpiConfig::default();
    spi_cfg.frequency = 50_000_000;
    let spi = Spi::new(p.SPI0, p.PIN_18, p.PIN_19, p.PIN_16, p.DMA_CH0, p.DMA_CH1, Irqs, spi_cfg);
    let cs = Output::new(p.PIN_17, Level::High);
    let w5500_int = Input::new(p.PIN_21, Pull::Up);
    let w5500_reset = Output::new(p.PIN_20, Level::High);
    let mac_addr = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    static STATE: StaticCell<State<8, 8>> = StaticCell::new();
    let state = STATE.init(State::<8, 8>::new());
    let spi_dev = unwrap!(ExclusiveDevice::new(spi, cs, Delay));
    let Ok((device, runner)) =
        embassy_net_wiznet::new(mac_addr, state, spi_dev, w5500_int, w5500_reset).await
    else {
        defmt::panic!("W5500 not found on SPI0");
    };
    spawner.spawn(unwrap!(ethernet_task(runner)));

    static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
    let (stack, net_runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        rng.next_u64(),
    );
    spawner.spawn(unwrap!(net_task(net_runner)));
    info!("waiting for DHCP");
    stack.wait_config_up().await;
    info!("address: {}", stack.config_v4().map(|c| c.address));

    let (mut sock_rx, mut sock_tx) = ([0u8; 1024], [0u8; 1024]);
    let (mut rx, mut tx, mut store) = ([0u8; 512], [0u8; 512], [0u8; 1024]);
    loop {
        let mut socket = TcpSocket::new(stack, &mut sock_rx, &mut sock_tx);
        socket.set_timeout(Some(Duration::from_secs(30)));
        if let Err(e) = socket.connect((BROKER, 1883)).await {
            warn!("TCP connect: {}", e);
            Timer::after_secs(5).await;
            continue;
        }
        let client: Client<SliceStore<'_, 4>> =
            Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
        let mut conn = Connection::new(socket, client, &mut rx, &mut tx);
        if let Err(e) = session(&mut conn).await {
            warn!("session ended: {}", e);
        }
        Timer::after_secs(5).await;
    }
}

type Conn<'a> = Connection<'a, TcpSocket<'a>, Client<SliceStore<'a, 4>>>;

/// Runs one MQTT session until it fails.
async fn session(
    conn: &mut Conn<'_>,
) -> Result<(), mqtt_ws::io::DriverError<embassy_net::tcp::Error, mqtt_ws::mqtt::client::Error>> {
    let mut options = ConnectOptions::new("w5500-evb-pico");
    options.keep_alive = 30;
    conn.connect(now(), &options).await?;
    let mut next_publish = None;
    let mut count = 0u32;
    loop {
        // Wake up for the client's timers (keep-alive) and for the next publish.
        let wake = [conn.client().poll_timeout(), next_publish]
            .into_iter()
            .flatten()
            .min()
            .map(|t: Instant| embassy_time::Instant::from_millis(t.as_millis()));
        let timer = async {
            match wake {
                Some(at) => Timer::at(at).await,
                None => core::future::pending().await,
            }
        };
        let event = match select(conn.poll(now()), timer).await {
            Either::First(event) => event?,
            Either::Second(()) => None,
        };
        match event {
            Some(Event::Connected(_)) => {
                info!("connected");
                let sub = [Subscription::new(TOPIC, Qos::ExactlyOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY).await?;
            }
            Some(Event::Subscribed { .. }) => next_publish = Some(now()),
            Some(Event::Message(m)) => info!("{}: {=[u8]:a} ({})", m.topic, m.payload, m.qos),
            Some(Event::Published { packet_id, reason_code: reason, .. }) => {
                info!("acknowledged: {} {}", packet_id, reason)
            }
            Some(
                Event::Refused { reason_code: reason, .. }
                | Event::Disconnected { reason_code: reason, .. },
            ) => {
                warn!("broker: {}", reason);
                return Ok(());
            }
            Some(other) => info!("{}", other),
            None => {}
        }
        if next_publish.is_some_and(|t| now() >= t) {
            count = count.wrapping_add(1);
            for qos in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
                let msg = Outgoing::new(TOPIC, b"hello from a W5500-EVB-Pico").qos(qos);
                conn.publish(now(), &msg).await?;
            }
            next_publish = Some(Instant::from_millis(now().as_millis() + 1000));
        }
    }
}
