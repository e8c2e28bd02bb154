//! A millisecond clock from SysTick, counting from [`start`].
//!
//! SysTick counts core clock cycles down from [`RELOAD`] and wraps; its interrupt (once per
//! wrap, about once a second) counts the wraps. The time is the wraps and the current counter
//! value together, so it stays exact even when an interrupt is taken late, which happens under
//! QEMU on a loaded host: counting a 1 kHz interrupt instead loses time there. SysTick runs on
//! QEMU's virtual clock, which follows the host's clock, so keep-alive intervals are real time.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;

/// Core clock of the emulated board: the LM3S6965 runs from its 12 MHz crystal after reset;
/// QEMU's MPS2 models a 25 MHz system clock.
#[cfg(feature = "lm3s6965evb")]
const CORE_HZ: u64 = 12_000_000;
#[cfg(feature = "mps2-an386")]
const CORE_HZ: u64 = 25_000_000;

/// SysTick's largest reload value: it counts 2^24 cycles per wrap.
const RELOAD: u32 = 0x00FF_FFFF;
const CYCLES_PER_WRAP: u64 = RELOAD as u64 + 1;
/// The longest time between two SysTick interrupts, in whole milliseconds rounded up.
#[cfg(feature = "async")]
const WRAP_MS: u64 = (CYCLES_PER_WRAP * 1000).div_ceil(CORE_HZ);

static WRAPS: AtomicU32 = AtomicU32::new(0);

/// Starts the clock at zero.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

/// Milliseconds since [`start`]. Call from thread mode only (not from an interrupt handler).
pub fn now_ms() -> u64 {
    let cycles = loop {
        let wraps = WRAPS.load(Ordering::Acquire);
        let current = SYST::get_current();
        // A wrap whose interrupt is still pending: the counter was reloaded before it was read
        // if it is still in the upper half of its range.
        let pending = SCB::is_pendst_pending() && current > RELOAD / 2;
        if WRAPS.load(Ordering::Acquire) == wraps {
            let wraps = u64::from(wraps) + u64::from(pending);
            break wraps * CYCLES_PER_WRAP + u64::from(RELOAD - current);
        }
    };
    cycles / (CORE_HZ / 1000)
}

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::AcqRel);
    #[cfg(feature = "async")]
    TICK.wake();
}

/// The task waiting in [`at`] for the next SysTick interrupt.
#[cfg(feature = "async")]
static TICK: crate::waker::WakerSlot = crate::waker::WakerSlot::new();

/// A timer: completes once [`now_ms`] reaches `at_ms`.
///
/// It sleeps until the next SysTick interrupt while `at_ms` is further away than one SysTick
/// wrap ([`WRAP_MS`]: 1.4 s on the lm3s6965evb, 0.7 s on the mps2-an386), then yields (wakes its
/// own task and returns `Pending`) until `at_ms`. SysTick cannot interrupt at an arbitrary time
/// without a shorter period, which would lose time when QEMU delivers its interrupts late; an
/// exact wake-up needs a second timer (the boards' general-purpose timers).
#[cfg(feature = "async")]
pub async fn at(at_ms: u64) {
    core::future::poll_fn(|cx| {
        // Register first: a wrap from here on wakes this poll's waker.
        TICK.register(cx.waker());
        let now = now_ms();
        if now >= at_ms {
            return core::task::Poll::Ready(());
        }
        if at_ms - now <= WRAP_MS {
            cx.waker().wake_by_ref();
        }
        core::task::Poll::Pending
    })
    .await
}
