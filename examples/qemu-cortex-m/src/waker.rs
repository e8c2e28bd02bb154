//! A slot for one task's waker, shared between thread mode and an interrupt handler: the
//! future registers its waker before it looks at the hardware and returns `Pending`, the
//! interrupt handler takes the waker and wakes it.

use core::cell::RefCell;
use core::task::Waker;

use cortex_m::interrupt::{self, Mutex};

/// One waker, behind a critical section (a single-core part: masking interrupts is enough).
pub struct WakerSlot(Mutex<RefCell<Option<Waker>>>);

impl WakerSlot {
    pub const fn new() -> Self {
        WakerSlot(Mutex::new(RefCell::new(None)))
    }

    /// Keeps `waker` for the next [`wake`](Self::wake), in place of the one kept before.
    pub fn register(&self, waker: &Waker) {
        interrupt::free(|cs| {
            let mut slot = self.0.borrow(cs).borrow_mut();
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        });
    }

    /// Wakes the waker registered last, if any (once: it is taken out).
    pub fn wake(&self) {
        if let Some(waker) = interrupt::free(|cs| self.0.borrow(cs).borrow_mut().take()) {
            waker.wake();
        }
    }
}
