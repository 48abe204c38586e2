//! The concurrency cap (`http.concurrency`): at most that many requests in flight, for the
//! run's longest chain of dependent requests (the User query) with one permit kept for it.
//!
//! While a [`Reservation`] lives (the User chain's client handles hold it) and the cap is 2
//! or more, the other requests may hold at most `cap − 1` permits, so the User chain never
//! queues behind them: each of its requests goes out as soon as the previous answer is read,
//! even though it gives its permit back in between. Its requests are also *first in line*: when
//! it has to wait (a cap of 1), the next freed permit is its. Other waiters are served in FIFO
//! order. The total in flight never exceeds the cap; once the reservation is dropped every
//! permit is open to every request again.
//!
//! Why (docs/benchmarks.md): every round trip the User chain waits is added to the wall time,
//! while the org-wide sources only have to end before the snapshot header.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// A counting semaphore with a first-in-line queue and an optional permit kept for it.
pub(crate) struct Limiter {
    state: Mutex<State>,
}

struct State {
    /// The cap.
    total: usize,
    /// Permits nobody holds.
    free: usize,
    /// Permits held by requests that are not first in line.
    others_held: usize,
    /// Live [`Reservation`]s.
    reservations: usize,
    first_in_line: VecDeque<oneshot::Sender<Permit>>,
    others: VecDeque<oneshot::Sender<Permit>>,
}

impl State {
    /// How many permits requests that are not first in line may hold at once.
    fn others_cap(&self) -> usize {
        if self.reservations > 0 && self.total >= 2 { self.total - 1 } else { self.total }
    }

    /// Whether a request of this kind may take a free permit now.
    fn may_take(&self, first_in_line: bool) -> bool {
        self.free > 0 && (first_in_line || self.others_held < self.others_cap())
    }

    fn take(&mut self, first_in_line: bool) {
        self.free -= 1;
        if !first_in_line {
            self.others_held += 1;
        }
    }

    /// The waiter that gets the next permit, if any may have one now (the permit is taken).
    fn next_waiter(&mut self) -> Option<(oneshot::Sender<Permit>, bool)> {
        let first_in_line = if !self.first_in_line.is_empty() && self.may_take(true) {
            true
        } else if !self.others.is_empty() && self.may_take(false) {
            false
        } else {
            return None;
        };
        let queue = if first_in_line { &mut self.first_in_line } else { &mut self.others };
        let waiter = queue.pop_front()?;
        self.take(first_in_line);
        Some((waiter, first_in_line))
    }
}

/// One request's right to be in flight; dropping it hands the permit to the next waiter.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
    first_in_line: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        state.free += 1;
        if !self.first_in_line {
            state.others_held -= 1;
        }
        let next = state.next_waiter();
        drop(state);
        self.limiter.hand_over(next);
    }
}

/// Keeps one permit for first-in-line requests while it lives (with a cap of 2 or more).
pub(crate) struct Reservation {
    limiter: Arc<Limiter>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        state.reservations -= 1;
        let next = state.next_waiter();
        drop(state);
        self.limiter.hand_over(next);
    }
}

/// The limiter was dropped while a request waited (cannot happen while a client holds it).
#[derive(Debug)]
pub(crate) struct Closed;

impl Limiter {
    /// A limiter of `permits` requests in flight (0 is taken as 1).
    pub(crate) fn new(permits: usize) -> Arc<Limiter> {
        let total = permits.max(1);
        Arc::new(Limiter {
            state: Mutex::new(State {
                total,
                free: total,
                others_held: 0,
                reservations: 0,
                first_in_line: VecDeque::new(),
                others: VecDeque::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a permit for first-in-line requests until the reservation is dropped.
    pub(crate) fn reserve(self: &Arc<Self>) -> Reservation {
        self.lock().reservations += 1;
        Reservation { limiter: Arc::clone(self) }
    }

    /// Waits for a permit: at once when one may be taken and nobody of the same kind waits,
    /// else in the queue `first_in_line` chooses.
    pub(crate) async fn acquire(self: &Arc<Self>, first_in_line: bool) -> Result<Permit, Closed> {
        let granted = {
            let mut state = self.lock();
            let queue_empty =
                if first_in_line { state.first_in_line.is_empty() } else { state.others.is_empty() };
            if queue_empty && state.may_take(first_in_line) {
                state.take(first_in_line);
                return Ok(Permit { limiter: Arc::clone(self), first_in_line });
            }
            let (sender, receiver) = oneshot::channel();
            if first_in_line {
                state.first_in_line.push_back(sender);
            } else {
                state.others.push_back(sender);
            }
            receiver
        };
        granted.await.map_err(|_| Closed)
    }

    /// Sends a permit (already counted as taken) to a waiter, outside the lock. A waiter that
    /// gave up refuses it, and dropping the refused permit hands it to the next one.
    fn hand_over(self: &Arc<Self>, next: Option<(oneshot::Sender<Permit>, bool)>) {
        if let Some((waiter, first_in_line)) = next {
            drop(waiter.send(Permit { limiter: Arc::clone(self), first_in_line }));
        }
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.lock().free
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        let state = self.lock();
        state.first_in_line.len() + state.others.len()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    async fn until_waiting(limiter: &Limiter, count: usize) {
        while limiter.waiting() < count {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_first_in_line_request_overtakes_the_queue() {
        let limiter = Limiter::new(1);
        let held = limiter.acquire(false).await.unwrap();
        let (order_in, mut order_out) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for (name, first) in [("org 1", false), ("org 2", false), ("org 3", false), ("user", true)] {
            let shared = Arc::clone(&limiter);
            let order = order_in.clone();
            waiters.push(tokio::spawn(async move {
                let _permit = shared.acquire(first).await.unwrap();
                order.send(name).unwrap();
            }));
            // Queue them in this order.
            until_waiting(&limiter, waiters.len()).await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        drop(order_in);
        let mut order = Vec::new();
        while let Some(name) = order_out.recv().await {
            order.push(name);
        }
        assert_eq!(order, ["user", "org 1", "org 2", "org 3"]);
        assert_eq!(limiter.free(), 1);
    }

    #[tokio::test]
    async fn never_more_in_flight_than_the_cap() {
        let limiter = Limiter::new(2);
        let a = limiter.acquire(true).await.unwrap();
        let b = limiter.acquire(false).await.unwrap();
        assert_eq!(limiter.free(), 0);
        let third = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire(true).await.map(drop) }
        });
        until_waiting(&limiter, 1).await;
        assert!(!third.is_finished(), "a first-in-line request still waits for a free permit");
        drop(a);
        third.await.unwrap().unwrap();
        drop(b);
        assert_eq!(limiter.free(), 2);
    }

    #[tokio::test]
    async fn a_reservation_keeps_a_permit_for_the_first_in_line_until_it_is_dropped() {
        let limiter = Limiter::new(3);
        let reservation = limiter.reserve();
        let a = limiter.acquire(false).await.unwrap();
        let b = limiter.acquire(false).await.unwrap();
        // A third other request waits although a permit is free: it is kept for the User chain.
        assert!(limiter.acquire(false).now_or_never().is_none());
        assert_eq!(limiter.free(), 1);
        let user = limiter.acquire(true).now_or_never().expect("the kept permit is free").unwrap();
        drop(user);
        let third = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire(false).await.map(drop) }
        });
        until_waiting(&limiter, 1).await;
        drop(reservation);
        third.await.unwrap().unwrap();
        drop((a, b));
        assert_eq!(limiter.free(), 3);
    }

    #[test]
    fn a_cap_of_one_keeps_no_permit_back() {
        let limiter = Limiter::new(1);
        let _reservation = limiter.reserve();
        assert!(limiter.acquire(false).now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_keep_the_permit() {
        let limiter = Limiter::new(1);
        let held = limiter.acquire(false).await.unwrap();
        // Polled once, so that it queues, then dropped.
        assert!(limiter.acquire(true).now_or_never().is_none());
        assert_eq!(limiter.waiting(), 1);
        drop(held);
        assert_eq!((limiter.free(), limiter.waiting()), (1, 0));
        drop(limiter.acquire(false).await.unwrap());
        assert_eq!(limiter.free(), 1);
    }

    #[test]
    fn zero_is_taken_as_one() {
        assert_eq!(Limiter::new(0).free(), 1);
    }
}
