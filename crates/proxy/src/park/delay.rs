//! How long a quiet keep-alive connection waits in its own task before it parks, per worker
//! thread: [`PARK_AFTER`] times a number of steps that follows how soon parked connections
//! come back. Thousands of busy clients, each sending its next request a few hundred
//! milliseconds after the last, would otherwise park and resume on every request (four
//! `epoll_ctl` and a task spawned each time); when most connections that left the lot came
//! back within the wait they had before parking, the wait doubles (up to [`MAX_STEPS`]), and
//! when few did (idle clients, closed at their deadline) it halves back to one step.

use super::PARK_AFTER;
use std::cell::Cell;
use std::time::Duration;

/// The longest wait before parking: `MAX_STEPS` × [`PARK_AFTER`].
pub const MAX_STEPS: u32 = 16;
/// Connections that leave the lot between two decisions.
const WINDOW: u32 = 64;

#[derive(Clone, Copy)]
struct State {
    steps: u32,
    /// Of the connections that left the lot since the last decision: how many came back
    /// within the wait, and how many left in all.
    quick: u32,
    seen: u32,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State { steps: 1, quick: 0, seen: 0 }) };
}

/// The wait before a quiet connection of this thread parks.
#[cfg(test)]
fn wait() -> Duration {
    PARK_AFTER * steps()
}

/// The wait before a quiet connection of this thread parks, in [`PARK_AFTER`]s.
pub fn steps() -> u32 {
    STATE.with(|s| s.get().steps)
}

/// A parked connection left this thread's lot after `stay`: resumed (bytes or a close came)
/// or not (its deadline, a stop).
pub fn left(stay: Duration, resumed: bool) {
    STATE.with(|s| {
        let mut st = s.get();
        st.seen += 1;
        if resumed && stay < PARK_AFTER * st.steps {
            st.quick += 1;
        }
        if st.seen >= WINDOW {
            if 2 * st.quick > st.seen {
                st.steps = (st.steps * 2).min(MAX_STEPS);
            } else if 8 * st.quick < st.seen {
                st.steps = (st.steps / 2).max(1);
            }
            st.quick = 0;
            st.seen = 0;
        }
        s.set(st);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leave(n: u32, stay: Duration, resumed: bool) {
        for _ in 0..n {
            left(stay, resumed);
        }
    }

    #[test]
    fn busy_clients_wait_longer_idle_ones_park_soon() {
        // Each test runs on its own thread: a fresh state.
        assert_eq!(wait(), PARK_AFTER);
        // Connections back 50 ms after parking: the wait doubles per window, up to the cap.
        leave(WINDOW, Duration::from_millis(50), true);
        assert_eq!(wait(), 2 * PARK_AFTER);
        leave(10 * WINDOW, Duration::from_millis(50), true);
        assert_eq!(wait(), MAX_STEPS * PARK_AFTER);
        // Some quick, most not: unchanged.
        leave(WINDOW / 4, Duration::from_millis(50), true);
        leave(3 * WINDOW / 4, Duration::from_secs(30), true);
        assert_eq!(wait(), MAX_STEPS * PARK_AFTER);
        // Idle clients closed at their deadline: back to one step.
        leave(10 * WINDOW, Duration::from_secs(5), false);
        assert_eq!(wait(), PARK_AFTER);
        // A resume after longer than the wait is not quick.
        leave(WINDOW, 2 * PARK_AFTER, true);
        assert_eq!(wait(), PARK_AFTER);
    }
}
