//! A minimal Cortex-M firmware that links the parts of mqtt-ws its features select, so that
//! `scripts/size-table` can measure what each part costs in flash and static RAM.
//!
//! Every input comes through `core::hint::black_box` and every result goes out through it, so
//! the optimiser can neither evaluate the calls at compile time nor drop them.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::entry;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "codec")]
mod codec;
#[cfg(feature = "ws")]
mod ws;

#[entry]
fn main() -> ! {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 512];
    loop {
        // The "received" bytes: opaque to the optimiser.
        let input: &mut [u8] = black_box(&mut rx[..]);
        #[cfg(feature = "codec")]
        codec::exercise(input, &mut tx);
        #[cfg(feature = "client")]
        client::exercise(input, &mut tx);
        #[cfg(feature = "ws")]
        ws::exercise(input, &mut tx);
        black_box(input);
        black_box(&mut tx);
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        cortex_m::asm::nop();
    }
}
